#!/usr/bin/env node
// `npx openfactor …`: runs the TypeScript CLI through tsx (no build step).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli.ts');
