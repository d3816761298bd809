// Hostile input shared by the bad-input tests: malformed, oversized and wrongly typed bodies,
// and the check that an answer is a 4xx Authy error body without a stack trace.
import assert from 'node:assert/strict';

export const NASTY = [
  'ü→漢字🙂', '\u0000\u0001\u001f\u007f', "' OR 1=1; DROP TABLE users; --", '"; DELETE FROM users; --', '<x>&amp;</y>]]>', '%00', '../../etc/passwd', 'A'.repeat(5000),
];

export interface BadBody {
  name: string;
  contentType?: string;
  body: string;
  /** Well-formed, with hostile values: a route that reads no parameter may accept it. */
  wellFormed?: boolean;
}

export function badBodies(): BadBody[] {
  const out: BadBody[] = [];
  for (const v of NASTY) {
    const name = JSON.stringify(v.slice(0, 12));
    out.push({ name: `form ${name}`, wellFormed: true, contentType: 'application/x-www-form-urlencoded', body: `user[email]=${encodeURIComponent(v)}&user[cellphone]=${encodeURIComponent(v)}&user[country_code]=${encodeURIComponent(v)}&type=${encodeURIComponent(v)}&data=${encodeURIComponent(v)}&user_ip=${encodeURIComponent(v)}&force=${encodeURIComponent(v)}&action=${encodeURIComponent(v)}&action_message=${encodeURIComponent(v)}&locale=${encodeURIComponent(v)}&qr_size=${encodeURIComponent(v)}&label=${encodeURIComponent(v)}&email=${encodeURIComponent(v)}` });
    out.push({ name: `json ${name}`, wellFormed: true, contentType: 'application/json', body: JSON.stringify({ user: { email: v, cellphone: v, country_code: v }, type: v, data: v, user_ip: v, send_install_link_via_sms: v, force: v, action: v, action_message: v, locale: v, qr_size: v, label: v, email: v }) });
    if (!/[<&\u0000-\u001f]/.test(v)) out.push({ name: `xml ${name}`, wellFormed: true, contentType: 'application/xml', body: `<user><email>${v}</email><cellphone>${v}</cellphone></user>` });
    else out.push({ name: `xml broken by ${name}`, contentType: 'application/xml', body: `<user><email>${v}</email><cellphone>${v}</cellphone></user>` });
  }
  out.push(
    { name: 'truncated JSON', contentType: 'application/json', body: '{"user":{"email":"a@b.c"' },
    { name: 'JSON array', contentType: 'application/json', body: '[1,2,3]' },
    { name: 'JSON string', contentType: 'application/json', body: '"hello"' },
    { name: 'JSON wrong types', wellFormed: true, contentType: 'application/json', body: '{"user":[1,2],"type":{"a":1},"data":[1],"user_ip":42,"send_install_link_via_sms":{"x":1}}' },
    { name: 'JSON user as string', wellFormed: true, contentType: 'application/json', body: '{"user":"x","data":"y"}' },
    { name: 'JSON deep', contentType: 'application/json', body: '['.repeat(5000) + ']'.repeat(5000) },
    { name: 'JSON deep object', contentType: 'application/json', body: '{"a":'.repeat(3000) + '1' + '}'.repeat(3000) },
    { name: 'JSON __proto__', wellFormed: true, contentType: 'application/json', body: '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}' },
    { name: 'JSON huge number', wellFormed: true, contentType: 'application/json', body: '{"user":{"country_code":1e400,"cellphone":123456789012345678901234567890}}' },
    { name: 'form conflicting shapes', contentType: 'application/x-www-form-urlencoded', body: 'user=1&user[email]=x' },
    { name: 'form bad escapes', contentType: 'application/x-www-form-urlencoded', body: 'user[email]=%E0%A4%A&x=%' },
    { name: 'form deep', contentType: 'application/x-www-form-urlencoded', body: 'a' + '[b]'.repeat(100) + '=1' },
    { name: 'form many', contentType: 'application/x-www-form-urlencoded', body: Array.from({ length: 5000 }, (_, i) => `k${i}=v`).join('&') },
    { name: 'XML entity bomb', contentType: 'application/xml', body: '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><user>&b;</user>' },
    { name: 'XML broken', contentType: 'text/xml', body: '<user><email>x</user>' },
    { name: 'unknown format', contentType: 'text/plain', body: 'hello' },
    { name: 'unknown format binary', contentType: 'application/octet-stream', body: '\u0000\u0001\u0002' },
    { name: 'multipart', contentType: 'multipart/form-data; boundary=x', body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--' },
    { name: 'no content type', body: 'user[email]=a' },
    { name: 'garbage content type', contentType: ';;;', body: 'a=1' },
    { name: 'oversized 1 MB form', contentType: 'application/x-www-form-urlencoded', body: 'user[email]=' + 'a'.repeat(1_000_000) },
    { name: 'oversized 1 MB JSON', contentType: 'application/json', body: JSON.stringify({ user: { email: 'a'.repeat(1_000_000) } }) },
  );
  return out;
}

export function assertAuthyError(r: { status: number; text: string; json: any; contentType: string }, what: string) {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: expected a 4xx, got ${r.status} ${r.text.slice(0, 200)}`);
  assert.doesNotMatch(r.text, /\bat .*\.(ts|js):\d+/, `${what}: no stack trace`);
  if (r.contentType.includes('xml')) {
    assert.match(r.text, /<errors>[\s\S]*<error-code>6\d{4}<\/error-code>/, what);
  } else {
    assert.equal(r.json?.success, false, `${what}: ${r.text.slice(0, 200)}`);
    assert.equal(typeof r.json.message, 'string', what);
    assert.match(r.json.error_code, /^6\d{4}$/, what);
  }
}

