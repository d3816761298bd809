// Rails-style XML (wire reference §4): `<hash>` root, dasherized keys, `type`/`nil` attributes,
// `<errors>` root for errors. Request bodies in XML become the same parameter map as JSON.
import { XMLParser } from 'fast-xml-parser';
import { BadInput, fail } from '../core/errors.ts';
import { fromDocument, isBag, type Params } from '../core/params.ts';

// Characters XML 1.0 cannot carry at all are dropped; the rest are escaped.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const HAS_INVALID_XML = new RegExp(INVALID_XML.source, 'u');
const escapeXml = (s: string) =>
  s.replace(INVALID_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Rails dasherizes underscores, but a leading underscore (`_app_name`) must stay a valid name. */
const tag = (key: string) => {
  const lead = /^_*/.exec(key)![0];
  const name = lead + key.slice(lead.length).replace(/_/g, '-');
  return /^[A-Za-z_][\w.-]*$/.test(name) ? name : 'item';
};
const singular = (name: string) => (name.endsWith('s') && name.length > 1 ? name.slice(0, -1) : 'item');

function element(name: string, value: unknown, indent: string): string {
  const t = tag(name);
  if (value === null || value === undefined) return `${indent}<${t} nil="true"/>\n`;
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}<${t} type="array"/>\n`;
    const child = singular(t);
    return `${indent}<${t} type="array">\n${value.map((v) => element(child, v, indent + '  ')).join('')}${indent}</${t}>\n`;
  }
  if (typeof value === 'object') {
    const inner = Object.entries(value).map(([k, v]) => element(k, v, indent + '  ')).join('');
    return inner ? `${indent}<${t}>\n${inner}${indent}</${t}>\n` : `${indent}<${t}/>\n`;
  }
  if (typeof value === 'boolean') return `${indent}<${t} type="boolean">${value}</${t}>\n`;
  if (typeof value === 'number') {
    return `${indent}<${t} type="${Number.isInteger(value) ? 'integer' : 'float'}">${value}</${t}>\n`;
  }
  return `${indent}<${t}>${escapeXml(String(value))}</${t}>\n`;
}

export function toXml(body: Record<string, unknown>, root: 'hash' | 'errors'): string {
  const inner = Object.entries(body).map(([k, v]) => element(k, v, '  ')).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}>\n${inner}</${root}>\n`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  // Rails reads `<api-key>` as `api_key`, `<country-code>` as `country_code`.
  transformTagName: (name) => name.replace(/-/g, '_'),
});

/** `<user><cellphone>…</cellphone></user>` → `{ user: { cellphone: "…" } }`. */
export function parseXmlBody(text: string): Params {
  if (!text.trim()) return Object.create(null);
  if (HAS_INVALID_XML.test(text)) {
    throw new BadInput(fail('INVALID_REQUEST', { message: 'Invalid request: the XML body has characters XML does not allow' }));
  }
  // No DTDs at all: no entity expansion, no external entities.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new BadInput(fail('INVALID_REQUEST', { message: 'Invalid request: XML document type declarations are not accepted' }));
  }
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch {
    throw new BadInput(fail('INVALID_REQUEST', { message: 'Invalid request: the XML body is not well-formed' }));
  }
  const value = fromDocument(doc);
  return isBag(value) ? withRootLifted(value) : Object.create(null);
}

/**
 * `<user><api_key>…</api_key><email>…</email></user>`: the root element's children are also
 * parameters of their own (the API key above all), as they would be in a form; the root keeps
 * its name for handlers that read `user[…]`.
 */
function withRootLifted(doc: Params): Params {
  const out: Params = Object.create(null);
  for (const inner of Object.values(doc)) if (isBag(inner)) for (const [k, v] of Object.entries(inner)) out[k] = v;
  for (const [k, v] of Object.entries(doc)) out[k] = v;
  return out;
}
