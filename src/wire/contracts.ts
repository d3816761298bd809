// Response contracts shared by every route (TypeBox → JSON Schema → OpenAPI and test-time checks).
import { Type } from '@sinclair/typebox';

export const ErrorBody = Type.Object(
  {
    message: Type.String(),
    success: Type.Literal(false),
    errors: Type.Record(Type.String(), Type.String()),
    error_code: Type.String({ pattern: '^6\\d{4}$' }),
  },
  { additionalProperties: Type.String(), description: 'Authy error body; field messages repeat at the top level.' },
);

/** Authy ids are positive integers. */
export const AuthyId = Type.Integer({ minimum: 1 });
