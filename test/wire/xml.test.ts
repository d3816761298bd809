import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXmlBody, toXml } from '../../src/wire/xml.ts';
import { BadInput } from '../../src/core/errors.ts';

test('Rails-style rendering: <hash>, dasherized keys, type and nil attributes, arrays', () => {
  const xml = toXml({ message: 'Token is valid.', token: 'is valid', success: 'true', device: { id: null, os_type: 'sms', registration_date: 1690000000 }, devices: ['iphone'], none: [] }, 'hash');
  assert.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?>\n<hash>\n  <message>Token is valid.</message>\n  <token>is valid</token>\n  <success>true</success>\n' +
      '  <device>\n    <id nil="true"/>\n    <os-type>sms</os-type>\n    <registration-date type="integer">1690000000</registration-date>\n  </device>\n' +
      '  <devices type="array">\n    <device>iphone</device>\n  </devices>\n  <none type="array"/>\n</hash>\n',
  );
});

test('text is escaped and characters XML cannot carry are dropped', () => {
  assert.match(toXml({ name: 'A & B <c> "d"\u0001' }, 'hash'), /<name>A &amp; B &lt;c&gt; &quot;d&quot;<\/name>/);
});

test('java-xml request bodies become the same parameters as JSON', () => {
  const p = parseXmlBody('<?xml version="1.0"?><user><cellphone>415-555-0142</cellphone><country_code>1</country_code><email>a@b.co</email></user>');
  const user = { cellphone: '415-555-0142', country_code: '1', email: 'a@b.co' };
  assert.deepEqual(JSON.parse(JSON.stringify(p)), { ...user, user }, 'user[…] as a form sends it, and each child as a parameter of its own');
});

test('Rails names: dashes read as underscores; the root element\'s children are parameters (api_key included)', () => {
  const p = parseXmlBody('<hash><api-key>K1</api-key><phone-number>415-555-0142</phone-number><via>sms</via></hash>');
  assert.equal(p.api_key, 'K1');
  assert.equal(p.phone_number, '415-555-0142');
  assert.equal(p.via, 'sms');
  assert.equal((parseXmlBody('<user><api_key>K2</api_key><email>a@b.co</email></user>').api_key), 'K2');
  // The root keeps its own name when a child shares it.
  assert.deepEqual(JSON.parse(JSON.stringify(parseXmlBody('<user><user>x</user></user>'))), { user: { user: 'x' } });
});

test('DTDs and malformed XML are refused', () => {
  assert.throws(() => parseXmlBody('<!DOCTYPE x [<!ENTITY a "aaaa">]><user>&a;</user>'), BadInput);
  assert.throws(() => parseXmlBody('<user><email>a</user>'), BadInput);
});
