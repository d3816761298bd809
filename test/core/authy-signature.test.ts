// Tests X-Authy-Signature (src/core/authy-signature.ts): Rails Hash#to_query canonicalisation, the
// HMAC over `nonce|METHOD|url|params`, constant-time verification and the GET flattening, against
// the worked example of wire reference §3.3, signatures recorded from the real service by
// twilio/authy-java and seegno/authy-client, and authy-client's own verifyCallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  authySignature,
  flattenForGet,
  signedData,
  toQuery,
  verifyAuthySignature,
} from '../../src/core/authy-signature.ts';
import { parseUrlEncoded } from '../../src/core/params.ts';

// --- §3.3 worked example ---------------------------------------------------------------------

const EXAMPLE_KEY = '0123456789abcdef0123456789abcdef';
const EXAMPLE_URL = 'https://example.com/authy/callback';
const EXAMPLE_BODY = JSON.parse(
  '{"authy_id":1234567,"device_uuid":7654321,"callback_action":"approval_request_status","uuid":"4a725520-bff5-0135-eb01-0e5d90336a8c","status":"approved","approval_request":{"transaction":{"details":{"Amount":"10 BTC","Account Number":"23527922"},"device_details":{},"device_geolocation":"","device_signing_time":1700000005,"encrypted":false,"flagged":false,"hidden_details":{"ip":"10.0.0.1"},"message":"Login requested","reason":"","requester_details":null,"status":"approved","uuid":"4a725520-bff5-0135-eb01-0e5d90336a8c","created_at_time":1700000000,"customer_uuid":15083},"expiration_timestamp":1700086400,"logos":[{"res":"default","url":"https://example.com/a.png"},{"res":"low","url":"https://example.com/b.png"}],"app_id":"58547f6f4014250a11c201f6"},"signature":"c2lnbmF0dXJlLWJ5LWRldmljZQ==","device":{"id":7654321,"os_type":"android","city":null,"registration_date":1690000000}}',
) as unknown;
// Printed in the spec one pair per line; the signed string has them joined by nothing else.
const EXAMPLE_CANONICAL = [
  'approval_request%5Bapp_id%5D=58547f6f4014250a11c201f6',
  '&approval_request%5Bexpiration_timestamp%5D=1700086400',
  '&approval_request%5Blogos%5D%5B%5D%5Bres%5D=default',
  '&approval_request%5Blogos%5D%5B%5D%5Burl%5D=https%3A%2F%2Fexample.com%2Fa.png',
  '&approval_request%5Blogos%5D%5B%5D%5Bres%5D=low',
  '&approval_request%5Blogos%5D%5B%5D%5Burl%5D=https%3A%2F%2Fexample.com%2Fb.png',
  '&approval_request%5Btransaction%5D%5Bcreated_at_time%5D=1700000000',
  '&approval_request%5Btransaction%5D%5Bcustomer_uuid%5D=15083',
  '&approval_request%5Btransaction%5D%5Bdetails%5D%5BAccount+Number%5D=23527922',
  '&approval_request%5Btransaction%5D%5Bdetails%5D%5BAmount%5D=10+BTC',
  '&approval_request%5Btransaction%5D%5Bdevice_geolocation%5D=',
  '&approval_request%5Btransaction%5D%5Bdevice_signing_time%5D=1700000005',
  '&approval_request%5Btransaction%5D%5Bencrypted%5D=false',
  '&approval_request%5Btransaction%5D%5Bflagged%5D=false',
  '&approval_request%5Btransaction%5D%5Bhidden_details%5D%5Bip%5D=10.0.0.1',
  '&approval_request%5Btransaction%5D%5Bmessage%5D=Login+requested',
  '&approval_request%5Btransaction%5D%5Breason%5D=',
  '&approval_request%5Btransaction%5D%5Brequester_details%5D=',
  '&approval_request%5Btransaction%5D%5Bstatus%5D=approved',
  '&approval_request%5Btransaction%5D%5Buuid%5D=4a725520-bff5-0135-eb01-0e5d90336a8c',
  '&authy_id=1234567',
  '&callback_action=approval_request_status',
  '&device%5Bcity%5D=',
  '&device%5Bid%5D=7654321',
  '&device%5Bos_type%5D=android',
  '&device%5Bregistration_date%5D=1690000000',
  '&device_uuid=7654321',
  '&signature=c2lnbmF0dXJlLWJ5LWRldmljZQ%3D%3D',
  '&status=approved',
  '&uuid=4a725520-bff5-0135-eb01-0e5d90336a8c',
].join('');
const EXAMPLE_SIGNATURE = 'Gz14NdPLyeo0SeJV6URwYZ52XqDf5eW42Jcu45kWZD4=';

test('§3.3 worked example: canonical params, signed data and signature', () => {
  assert.equal(toQuery(EXAMPLE_BODY), EXAMPLE_CANONICAL);
  assert.equal(
    signedData('1700000000', 'POST', EXAMPLE_URL, EXAMPLE_BODY),
    `1700000000|POST|${EXAMPLE_URL}|${EXAMPLE_CANONICAL}`,
  );
  assert.equal(authySignature(EXAMPLE_KEY, '1700000000', 'POST', EXAMPLE_URL, EXAMPLE_BODY), EXAMPLE_SIGNATURE);
});

test('the method is upper-cased and the query string of the URL is not signed', () => {
  assert.equal(authySignature(EXAMPLE_KEY, '1700000000', 'post', `${EXAMPLE_URL}?a=1&b=2`, EXAMPLE_BODY), EXAMPLE_SIGNATURE);
  assert.notEqual(authySignature(EXAMPLE_KEY, '1700000000', 'POST', `${EXAMPLE_URL}/`, EXAMPLE_BODY), EXAMPLE_SIGNATURE);
});

// --- twilio/authy-java src/test/java/com/authy/TestAuthyUtil.java (captures from Dec 2017) -----

const JAVA_KEY = 'FU10H0uCafgKnXvPfDm5iAisVuHDgXJA';
const JAVA_URL = 'https://requestb.in/ui9vdiui';

const JAVA_POST: { name: string; nonce: string; signature: string; body: string }[] = [
  {
    name: 'testValidSignatureApprovedPost',
    nonce: '1512923419',
    signature: '6uKAaKxCkkFEyQujwdudyPNUgRi2fY5otoCOQN7VjCw=',
    body: '{"authy_id":688611,"device_uuid":2102943,"callback_action":"approval_request_status","uuid":"4a725520-bff5-0135-eb01-0e5d90336a8c","status":"approved","approval_request":{"transaction":{"details":null,"device_details":{},"device_geolocation":"","device_signing_time":1512923419,"encrypted":false,"flagged":false,"hidden_details":null,"message":"Authorize OneTouch Unit Test","reason":"","requester_details":null,"status":"approved","uuid":"4a725520-bff5-0135-eb01-0e5d90336a8c","created_at_time":1512923400,"customer_uuid":15083},"expiration_timestamp":1513009800,"logos":null,"app_id":"582380eb7e1caa03317ec08c"},"signature":"pQmypvnmoIb7qIHrKcd3nwPArh8Ecr8L87XTYqqAfagDkXhOD7CulSdDkE0ImFBzigwc+vxwZsgxBnhFmU2c9kYuvMJiPLeS8NCpRucg7eHeGPM0jQbKveqzFcZ9L6P1kRHjSYwS7dLqEINBffNckK7O9LHz13XYklxXvYUwvemtj+yEemyCJbmlJbCSlUTyajr3WSRPMYZV7xXTNtWp2XvcRSclP8izgA1cV/cw7ctDYIPG6wUXJGSIs/kg3hTDeN1Z3YBq1fnMkfxeb5g9bRveRlCjXpQ6xFh1wQEUbbtJpf+uRgxddbQwxfda9gIb5osOEhKRv5HoJ03yOvKiBQ==","device":{"city":null,"country":"Colombia","ip":"190.130.65.251","region":null,"registration_city":null,"registration_country":"Colombia","registration_ip":"190.130.66.242","registration_method":"sms","registration_region":null,"os_type":"android","last_account_recovery_at":null,"id":2102943,"registration_date":1505418165,"last_sync_date":1505418173}}',
  },
  {
    name: 'testValidSignatureDeniedWithDetailsPost',
    nonce: '1512940231',
    signature: 'HFc5mICOVRrEmpmBoIuubKWcN0YYd50TaO7YQJFrnlM=',
    body: '{"authy_id":688611,"device_uuid":2102943,"callback_action":"approval_request_status","uuid":"6edb8f40-c01c-0135-c648-0e00ace7f69c","status":"denied","approval_request":{"transaction":{"details":{"username":"User","location":"California,USA","cosa1":"cosa1","cosa2":"cosa2"},"device_details":{},"device_geolocation":"","device_signing_time":1512940232,"encrypted":false,"flagged":false,"hidden_details":{"ip_address":"10.10.3.203"},"message":"Authorize OneTouch Unit Test","reason":"","requester_details":null,"status":"denied","uuid":"6edb8f40-c01c-0135-c648-0e00ace7f69c","created_at_time":1512940211,"customer_uuid":15083},"expiration_timestamp":1513026611,"logos":null,"app_id":"582380eb7e1caa03317ec08c"},"signature":"jTLeK9tHUAhJRexjBIq3DVowPRKE+8578YzJD5yizXqYqmeQT7t8NS1uFfbmjHKabgIvC0N/WEFfyvKWjARrNVR6FJ5EjbOZJy7ouQT+9iTaorsJDVPUPeVnQUUTi3noXcSonGN0+YW7foHf8zMnTTyQBbjurexv2dkfu0fLdiF8I6xRhMeq5sf5APdZCt7NsFIM95N0wO6MHoD5sLL8yFrB1C/RB35n6BIxgTWz0TjtbcO+V/rqjgMK47xTITPsbEo46ammhRl4vU5flcM2O6KE6Q7tKLCftAzs/3xu13w1KKkFXmCqXpeB29lSNU2wveGI7nB2eIk41medDJ81Dg==","device":{"city":null,"country":"Colombia","ip":"190.130.65.251","region":null,"registration_city":null,"registration_country":"Colombia","registration_ip":"190.130.66.242","registration_method":"sms","registration_region":null,"os_type":"android","last_account_recovery_at":null,"id":2102943,"registration_date":1505418165,"last_sync_date":1505418173}}',
  },
  {
    name: 'testValidSignatureApprovedWithDetailsAndLogosPost',
    nonce: '1512940917',
    signature: 'IFD2P2f5w2Jis1uref9Blu7a0liztOsnso16Gh6y054=',
    body: '{"authy_id":688611,"device_uuid":2102943,"callback_action":"approval_request_status","uuid":"098c3580-c01e-0135-eb00-0e5d90336a8c","status":"approved","approval_request":{"transaction":{"details":{"username":"User","location":"California,USA","cosa1":"cosa1","cosa2":"cosa2"},"device_details":{},"device_geolocation":"","device_signing_time":1512940918,"encrypted":false,"flagged":false,"hidden_details":{"ip_address":"10.10.3.203"},"message":"Authorize OneTouch Unit Test","reason":"","requester_details":null,"status":"approved","uuid":"098c3580-c01e-0135-eb00-0e5d90336a8c","created_at_time":1512940900,"customer_uuid":15083},"expiration_timestamp":1513027300,"logos":[{"res":"default","url":"https://www.itsalllost.com/wp-content/uploads/2017/04/twilio-logo-red.png"},{"res":"med","url":"https://www.itsalllost.com/wp-content/uploads/2017/04/twilio-logo-red.png"}],"app_id":"582380eb7e1caa03317ec08c"},"signature":"qOLMuHVy4KITm2nSd1PxJCv+ydjcduKwxz2Fc7pMrDm7QtU2hMAnY5AUxdwlae5WJmEWNM8OctdGhMJweTwICkkOgYm2v+u7k/wz5zuPozDDnMqJWBjiCfbKNpKqf8CQ2dBndtxi2Sl7/y57KiXYJfTlGHNBhCoTxVzVBNDEPu6OLV6KA60mcEW87tg1b4Q/p69ZkYb5B1f9Ujk/ueCbCK6JDhtUf1v3/baNgO8o/mp2EydiFughqpiHIIOR0VY9/o/hh5a7z6FG4OxZ3WmS7q2506Wy698LW3ZRNl0aXwtFIat4IyCSSuDQFW9LZEcXdQK4YixSJ8b5H8vlRErSPQ==","device":{"city":null,"country":"Colombia","ip":"190.130.65.251","region":null,"registration_city":null,"registration_country":"Colombia","registration_ip":"190.130.66.242","registration_method":"sms","registration_region":null,"os_type":"android","last_account_recovery_at":null,"id":2102943,"registration_date":1505418165,"last_sync_date":1505418173}}',
  },
];

const JAVA_GET: { name: string; nonce: string; signature: string; query: string }[] = [
  {
    name: 'testValidSignatureApprovedGet',
    nonce: '1512937258',
    signature: 'W0YumwSPoL+2CX1q4XoUSY5gOmWmnrkXUmlm7NE6iGY=',
    query: 'approval_request%5Bapp_id%5D=582380eb7e1caa03317ec08c&approval_request%5Bexpiration_timestamp%5D=1513023630&approval_request%5Blogos%5D=&approval_request%5Btransaction%5D%5Bcreated_at_time%5D=1512937230&approval_request%5Btransaction%5D%5Bcustomer_uuid%5D=15083&approval_request%5Btransaction%5D%5Bdetails%5D=&approval_request%5Btransaction%5D%5Bdevice_geolocation%5D=&approval_request%5Btransaction%5D%5Bdevice_signing_time%5D=1512937257&approval_request%5Btransaction%5D%5Bencrypted%5D=false&approval_request%5Btransaction%5D%5Bflagged%5D=false&approval_request%5Btransaction%5D%5Bhidden_details%5D=&approval_request%5Btransaction%5D%5Bmessage%5D=Authorize+OneTouch+Unit+Test&approval_request%5Btransaction%5D%5Breason%5D=&approval_request%5Btransaction%5D%5Brequester_details%5D=&approval_request%5Btransaction%5D%5Bstatus%5D=approved&approval_request%5Btransaction%5D%5Buuid%5D=7e272da0-c015-0135-eafc-0e5d90336a8c&authy_id=688611&callback_action=approval_request_status&device%5Bcity%5D=&device%5Bcountry%5D=Colombia&device%5Bid%5D=2102943&device%5Bip%5D=190.130.65.251&device%5Blast_account_recovery_at%5D=&device%5Blast_sync_date%5D=1505418173&device%5Bos_type%5D=android&device%5Bregion%5D=&device%5Bregistration_city%5D=&device%5Bregistration_country%5D=Colombia&device%5Bregistration_date%5D=1505418165&device%5Bregistration_ip%5D=190.130.66.242&device%5Bregistration_method%5D=sms&device%5Bregistration_region%5D=&device_uuid=2102943&signature=YnZe2qSWEAYAROAhykwbeIOV2Ym%2Fg4y9rlIQc6ePtvTt9UDDotl7p2H%2FpC3EFNG5XsDaMkJuZmXSd0UW%2FtiuR2l%2BJ%2Fvta5yXVArq6d1uNspB1u%2BWYjumDhTLFQI0Ox6BGQMhTlWkQK96dh0bJQqyPP7I5f4xQZMmNIClCKZa%2BzUqmPA7zo1Qokz9w0u917zKt%2BsLLxLLXblhdYvFIvfVqGAtiBQzbUh9UCCuOp6jcF7HkZiGs2nFIAlwVFffhK%2BxXnEXvG9yA3KnMRX6Y31yxWd3ApRoDNbLpCOSgFlkYAasQ8hBkcSy3AyyfT4TMhyeemI3IW6GFTADrXXO%2BzvpcA%3D%3D&status=approved&uuid=7e272da0-c015-0135-eafc-0e5d90336a8c',
  },
  {
    name: 'testValidSignatureApprovedWithDetailsGet',
    nonce: '1512942246',
    signature: 'oCSbVsRS7uwKH1bRAnyem3pz9rTBSMpcEaS6W33DqmM=',
    query: 'approval_request%5Bapp_id%5D=582380eb7e1caa03317ec08c&approval_request%5Bexpiration_timestamp%5D=1513028630&approval_request%5Blogos%5D=&approval_request%5Btransaction%5D%5Bcreated_at_time%5D=1512942230&approval_request%5Btransaction%5D%5Bcustomer_uuid%5D=15083&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa1%5D=cosa1&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa2%5D=cosa2&approval_request%5Btransaction%5D%5Bdetails%5D%5Blocation%5D=California%2CUSA&approval_request%5Btransaction%5D%5Bdetails%5D%5Busername%5D=User&approval_request%5Btransaction%5D%5Bdevice_geolocation%5D=&approval_request%5Btransaction%5D%5Bdevice_signing_time%5D=1512942247&approval_request%5Btransaction%5D%5Bencrypted%5D=false&approval_request%5Btransaction%5D%5Bflagged%5D=false&approval_request%5Btransaction%5D%5Bhidden_details%5D%5Bip_address%5D=10.10.3.203&approval_request%5Btransaction%5D%5Bmessage%5D=Authorize+OneTouch+Unit+Test&approval_request%5Btransaction%5D%5Breason%5D=&approval_request%5Btransaction%5D%5Brequester_details%5D=&approval_request%5Btransaction%5D%5Bstatus%5D=approved&approval_request%5Btransaction%5D%5Buuid%5D=224fdf40-c021-0135-fa62-06ca50569adc&authy_id=688611&callback_action=approval_request_status&device%5Bcity%5D=&device%5Bcountry%5D=Colombia&device%5Bid%5D=2102943&device%5Bip%5D=190.130.65.251&device%5Blast_account_recovery_at%5D=&device%5Blast_sync_date%5D=1505418173&device%5Bos_type%5D=android&device%5Bregion%5D=&device%5Bregistration_city%5D=&device%5Bregistration_country%5D=Colombia&device%5Bregistration_date%5D=1505418165&device%5Bregistration_ip%5D=190.130.66.242&device%5Bregistration_method%5D=sms&device%5Bregistration_region%5D=&device_uuid=2102943&signature=rRf5hjOsPql%2Fumb%2FzI6azWUx2Xx8s6hhKeOYXob0tqhIA7WUtUcvXDNfn%2BX%2FnAqOiBDcGr41aNU6mFw1nCbQI3jwtm9n%2F7RVtxrJN%2B85370dY0nOUpl19IGJ6xwyRa0U76svfePBROnrobGdyCvtHw6G4tT%2BJ3oo2T7Ji1TZ4scFLaRfiA95VmFYgJd6tEqoBom%2FtX8itKyxa%2FFTVSc8OriSusyX8GpxqSAKl9GjVKGp7W0p%2FGTzTU9lzVAIPHsIyX9%2FH%2BKUGk5d7oglcPb%2B0HX2V1ruSIg5IId5j3yrBPd%2Bjxf3HLTcrPMGjFZJhapMOwE4fgEWG9p6pfBYOyyauw%3D%3D&status=approved&uuid=224fdf40-c021-0135-fa62-06ca50569adc',
  },
  {
    name: 'testValidSignatureApprovedWithDetailsAndLogosGet',
    nonce: '1512943081',
    signature: '5TM5uf+8WlPMjkREHeS39XUHv8CHjhq3/u/+/lWU7cg=',
    query: 'approval_request%5Bapp_id%5D=582380eb7e1caa03317ec08c&approval_request%5Bexpiration_timestamp%5D=1513029464&approval_request%5Blogos%5D%5B%5D%5Bres%5D=default&approval_request%5Blogos%5D%5B%5D%5Burl%5D=https%3A%2F%2Fwww.itsalllost.com%2Fwp-content%2Fuploads%2F2017%2F04%2Ftwilio-logo-red.png&approval_request%5Btransaction%5D%5Bcreated_at_time%5D=1512943064&approval_request%5Btransaction%5D%5Bcustomer_uuid%5D=15083&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa1%5D=cosa1&approval_request%5Btransaction%5D%5Bdetails%5D%5Bcosa2%5D=cosa2&approval_request%5Btransaction%5D%5Bdetails%5D%5Blocation%5D=California%2CUSA&approval_request%5Btransaction%5D%5Bdetails%5D%5Busername%5D=User&approval_request%5Btransaction%5D%5Bdevice_geolocation%5D=&approval_request%5Btransaction%5D%5Bdevice_signing_time%5D=1512943081&approval_request%5Btransaction%5D%5Bencrypted%5D=false&approval_request%5Btransaction%5D%5Bflagged%5D=false&approval_request%5Btransaction%5D%5Bhidden_details%5D%5Bip_address%5D=10.10.3.203&approval_request%5Btransaction%5D%5Bmessage%5D=Authorize+OneTouch+Unit+Test&approval_request%5Btransaction%5D%5Breason%5D=&approval_request%5Btransaction%5D%5Brequester_details%5D=&approval_request%5Btransaction%5D%5Bstatus%5D=approved&approval_request%5Btransaction%5D%5Buuid%5D=133c7590-c023-0135-fa61-06ca50569adc&authy_id=688611&callback_action=approval_request_status&device%5Bcity%5D=&device%5Bcountry%5D=Colombia&device%5Bid%5D=2102943&device%5Bip%5D=190.130.65.251&device%5Blast_account_recovery_at%5D=&device%5Blast_sync_date%5D=1505418173&device%5Bos_type%5D=android&device%5Bregion%5D=&device%5Bregistration_city%5D=&device%5Bregistration_country%5D=Colombia&device%5Bregistration_date%5D=1505418165&device%5Bregistration_ip%5D=190.130.66.242&device%5Bregistration_method%5D=sms&device%5Bregistration_region%5D=&device_uuid=2102943&signature=Q%2FTaHEbdfmBBw%2BT%2BgVBrM8Sw%2BdqT%2FnhdO6BJNc%2F7herUg4BxAwziQhdmQhqjY2nvtVJkWEa9PdB11tNjTcbMQs8cchyPPNLUvp8L7C82snxcH%2Fgdde65Z%2B39Aug5hCcXUoQ92PsRckvexkrCQASDWbvmJZnjVM5t3j%2BKXn2QVyZkc63GBE1W9GPNM7bmlL2ZOENPoxpUq9%2B%2FawTEb8WMDebDcFEPGSgNFcvk6%2FJTSwjzmmm8Ypk82s4P1lUq74WWxaDM7XJH2Q4mo9vHkDaRIweEx%2BliMqUQYoCtApD0vsPSe4Exfp5tfcelWE9xrte%2FF3qKiPSnV8xS0SY9L20%2F7A%3D%3D&status=approved&uuid=133c7590-c023-0135-fa61-06ca50569adc',
  },
];

for (const v of JAVA_POST) {
  test(`authy-java POST vector ${v.name}`, () => {
    assert.equal(authySignature(JAVA_KEY, v.nonce, 'POST', JAVA_URL, JSON.parse(v.body)), v.signature);
  });
}

for (const v of JAVA_GET) {
  test(`authy-java GET vector ${v.name}: signs the Rack-parsed query`, () => {
    const params = parseUrlEncoded(v.query);
    assert.equal(authySignature(JAVA_KEY, v.nonce, 'GET', JAVA_URL, params), v.signature);
    // What Authy put in the URL was the to_query string itself, which is what flattenForGet emits.
    assert.equal(flattenForGet(params), v.query);
  });
}

// The same file's older revision kept one vector in src/test/resources/com/authy/api/test.properties
// (another key and URL, Jan 2017): string-typed numbers and `logos: ""` sign as plain strings.
test('authy-java test.properties POST vector (2017-01)', () => {
  const body = JSON.parse(
    '{ "device_uuid": "cea50e20-3aeb-0133-f92a-34363b620e52", "callback_action": "approval_request_status", "uuid": "cdbabf40-1c65-0133-d113-34363b620e52", "status": "approved", "approval_request": { "transaction": { "details": { "Email Address": "jdoe@example.com" }, "device_details": {}, "device_geolocation": "", "device_signing_time": "946641599", "encrypted": false, "flagged": false, "hidden_details": { "ip": "1.1.1.1" }, "message": "Request to Login", "reason": "", "requester_details": "", "status": "approved", "uuid": "cdbabf40-1c65-0133-d113-34363b620e52", "created_at_time": "946641599", "customer_uuid": "25e026b36343-a29f-3310-bea3-02e05aec" }, "logos": "", "expiration_timestamp": "946641599" }, "signature": "rzqf/n08coE0Vi7IjbzAbt0IYMprJGAUx18kSJWE37K0mhvCGwepkm/pSDXuSs+5kSUFK80L9RT7/BZ7YwojSt5WhPnpRSImm5qKlvsNnGOPYCKVcFJxXCNJhtaztL/2BjOMzdC5yNHH5uJIDGBhlb5fLVErsvauvxXWo/Cj2STfITdSPULFz6XcbM1BDIriW7kP0GkELfUqE1iEuONEdhKYmPGolh3/U4t8i0NYkQSPhbOGG1DZEsxhnxtelyBNOGK9sFojTsAg7dWesRYnyDkjTHZ1MvggdZwXo4qxphrY2Ve7+o04EHPZW9RPvakwl9yQ6rVsspVF/xZT14BsgA==", "authy_id": 1234 }',
  ) as unknown;
  assert.equal(
    authySignature('xzfVSc8CTwU2Mpl959CcMhw3fZBfI5F0', '1483484754', 'POST', 'http://f617c113.ngrok.io/approved', body),
    'q+Dz2RZyHEuBkr6n5tIeTUmTa6+nUeQOxKmaoYSrQWA=',
  );
});

// --- seegno/authy-client test/client_test.js "should verify the signature of a POST request" ----

test('seegno/authy-client recorded POST vector', () => {
  const body = {
    approval_request: {
      expiration_timestamp: 1455911778,
      logos: null,
      transaction: {
        created_at_time: 1455825378,
        customer_uuid: '2ccf0040-ed25-0132-5987-0e67b818e6fb',
        details: {},
        device_details: null,
        device_geolocation: null,
        device_signing_time: 0,
        encrypted: false,
        flagged: false,
        hidden_details: {},
        message: '.',
        reason: null,
        requester_details: null,
        status: 'approved',
        uuid: '996201c0-b7a7-0133-7c06-0e67b818e6fb',
      },
    },
    authy_id: 1234567,
    callback_action: 'approval_request_status',
    device_uuid: '4d89c320-a9bb-0133-7c02-0e67b818e6fb',
    signature:
      'BObhJgZwgU7O9r4Uo9VT6j6shAOe7y/IRGpW/N0Uq34/XHZU9E+aHOI5rcQzW1ZgNCECzVrqrsnjhYEK4Zq1naKWu0YNkuvILmMz8IxJEQH+c+6x186fjIjxvP4nu4p/pfUDomo/za24s1XOjtNlVsrDTDXClHUh5MjFQbyBjhFd8gOtmGVatN7K2Lx71I8YR2JDLbRX4DlJEMu++PLBn1nqQH9tbNYzX5jjX87CXPBtDfRwfWSs/imnfZ9zkDq4ZKuBcuwzQNsxKlby6782X0o78rYhCHrcDnHgRtyMGvX9ovK3XTt6M7p6i9SKaRgBWIOFVPygxv15iJesqt9cng==',
    status: 'approved',
    uuid: '996221c0-b7a7-0133-7c06-0e67b818e6fb',
  };
  assert.equal(
    authySignature('1DS9YIwGquvvIdx8GdcdqZGLAewZZyhd', '1455825429', 'POST', 'https://foo.bar/', body),
    'hqB6las54sMBA83GKs0U1QQi9ocJ2tH20SXHZNzfqqQ=',
  );
});

// --- authy-client (npm) verifyCallback as an independent verifier -------------------------------

test('authy-client verifyCallback accepts our signature and rejects a one-character change', async () => {
  const { Client } = createRequire(import.meta.url)('authy-client');
  const key = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0';
  const nonce = '1705053601';
  // §3.2 shape, device_uuid as a string (authy-client rejects a number there).
  const body = JSON.parse(
    '{"authy_id":48211907,"device_uuid":"7654321","callback_action":"approval_request_status","uuid":"5e1b2c40-3f7a-0136-9a1c-0a5f8e4b7d21","status":"approved","approval_request":{"transaction":{"details":{"Amount":"10 BTC"},"device_details":{},"device_geolocation":"","device_signing_time":1705053601,"encrypted":false,"flagged":false,"hidden_details":{"ip":"203.0.113.5"},"message":"Login requested","reason":"","requester_details":null,"status":"approved","uuid":"5e1b2c40-3f7a-0136-9a1c-0a5f8e4b7d21","created_at_time":1705053600,"customer_uuid":15083},"expiration_timestamp":1705140000,"logos":null,"app_id":"65a1f0c2e4b0a1b2c3d4e5f7"},"signature":"dGhlIGRldmljZSdzIFJTQSBzaWduYXR1cmU=","device":{"city":null,"country":"Portugal","ip":"198.51.100.7","region":null,"registration_city":null,"registration_country":"Portugal","registration_ip":"198.51.100.9","registration_method":"sms","registration_region":null,"os_type":"android","last_account_recovery_at":null,"id":7654321,"registration_date":1690000000,"last_sync_date":1704067200}}',
  );
  // Its Signature assert signs `${protocol}://${headers.host}${url}` without the query.
  const signature = authySignature(key, nonce, 'POST', 'https://example.com/authy/callback', body);
  const request = (b: unknown) => ({
    body: b,
    headers: { host: 'example.com', 'x-authy-signature': signature, 'x-authy-signature-nonce': nonce },
    method: 'POST',
    protocol: 'https',
    url: '/authy/callback',
  });
  const client = new Client({ key });

  await client.verifyCallback(request(body));

  const tampered = structuredClone(body);
  tampered.approval_request.transaction.details.Amount = '19 BTC';
  await assert.rejects(
    async () => client.verifyCallback(request(tampered)),
    (e: { name?: string; errors?: Record<string, unknown> }) => {
      assert.equal(e.name, 'ValidationFailedError');
      assert.deepEqual(Object.keys(e.errors ?? {}), ['headers']); // only the signature failed
      return true;
    },
  );
});

// --- to_query edge cases --------------------------------------------------------------------------

test('null gives `key=`, {} and [] vanish, booleans and integers print as text', () => {
  assert.equal(toQuery({ a: null }), 'a=');
  assert.equal(toQuery({ a: {}, b: [], c: 1 }), 'c=1');
  assert.equal(toQuery({ x: { y: {}, z: [], w: null } }), 'x%5Bw%5D=');
  assert.equal(toQuery({ t: true, f: false }), 'f=false&t=true');
  assert.equal(toQuery({ n: 0, m: -5, big: 12345678901234567890n }), 'big=12345678901234567890&m=-5&n=0');
  assert.equal(toQuery({ a: undefined, b: '' }), 'b=');
  assert.equal(toQuery({}), '');
  assert.equal(toQuery(null), '');
  assert.throws(() => toQuery([1, 2]), TypeError);
  assert.throws(() => toQuery('a=1'), TypeError);
});

test('lists keep their order, maps inside lists keep their key order, to any depth', () => {
  assert.equal(toQuery({ a: [3, 1, 2] }), 'a%5B%5D=3&a%5B%5D=1&a%5B%5D=2');
  assert.equal(
    toQuery({ l: [{ url: 'u1', res: 'r1' }, { res: 'r2' }] }),
    'l%5B%5D%5Burl%5D=u1&l%5B%5D%5Bres%5D=r1&l%5B%5D%5Bres%5D=r2',
  );
  // The prefix `l[][m]` still contains `[]`, so Rails does not sort there either.
  assert.equal(toQuery({ l: [{ m: { b: 1, a: 2 } }] }), 'l%5B%5D%5Bm%5D%5Bb%5D=1&l%5B%5D%5Bm%5D%5Ba%5D=2');
  // Array#to_query renders an empty list as `key[]=` (a map drops it first, a list does not).
  assert.equal(toQuery({ l: [[], ['x']] }), 'l%5B%5D%5B%5D=&l%5B%5D%5B%5D=x');
});

test('encoding: unreserved bytes stay, space is +, everything else is %XX per UTF-8 byte', () => {
  assert.equal(toQuery({ v: 'a|b&c*d~e' }), 'v=a%7Cb%26c%2Ad~e');
  assert.equal(toQuery({ v: "A-z_0.9 !'()+=%/?#" }), 'v=A-z_0.9+%21%27%28%29%2B%3D%25%2F%3F%23');
  assert.equal(toQuery({ é: 'ü €😀' }), '%C3%A9=%C3%BC+%E2%82%AC%F0%9F%98%80');
  assert.equal(toQuery({ 'a[b]': 'x' }), 'a%5Bb%5D=x');
});

test('maps sort by byte order of the encoded pairs, not by key or locale', () => {
  assert.equal(toQuery({ a: 1, B: 2 }), 'B=2&a=1');
  // "+" (0x2B) < "=" (0x3D) < "_" (0x5F): sorting raw keys would give a, a b, a_b.
  assert.equal(toQuery({ a_b: 1, a: 2, 'a b': 3 }), 'a+b=3&a=2&a_b=1');
  // "%5B" sorts before "_", so device[...] comes before device_uuid.
  assert.equal(toQuery({ device_uuid: '1', device: { id: 2 } }), 'device%5Bid%5D=2&device_uuid=1');
});

test('§2.21 webhooks docs example: signed data', () => {
  assert.equal(
    signedData('1427849783.886085', 'post', 'https://api.authy.com/dashboard/json/application/webhooks', {
      b: 'val|ue&2',
      a: 'value1',
    }),
    '1427849783.886085|POST|https://api.authy.com/dashboard/json/application/webhooks|a=value1&b=val%7Cue%262',
  );
});

// --- verification and GET ------------------------------------------------------------------------

test('verifyAuthySignature: right, tampered, wrong length, other nonce, missing', () => {
  const check = (nonce: string, sig: string | undefined) =>
    verifyAuthySignature(EXAMPLE_KEY, nonce, 'POST', EXAMPLE_URL, EXAMPLE_BODY, sig);
  assert.equal(check('1700000000', EXAMPLE_SIGNATURE), true);
  const flipped = (EXAMPLE_SIGNATURE[0] === 'A' ? 'B' : 'A') + EXAMPLE_SIGNATURE.slice(1);
  assert.equal(check('1700000000', flipped), false);
  assert.equal(check('1700000000', EXAMPLE_SIGNATURE.slice(0, -1)), false);
  assert.equal(check('1700000000', `${EXAMPLE_SIGNATURE}=`), false);
  assert.equal(check('1700000000', ''), false);
  assert.equal(check('1700000000', undefined), false);
  assert.equal(check('1700000001', EXAMPLE_SIGNATURE), false);
  assert.equal(verifyAuthySignature('x' + EXAMPLE_KEY.slice(1), '1700000000', 'POST', EXAMPLE_URL, EXAMPLE_BODY, EXAMPLE_SIGNATURE), false);
});

test('flattenForGet: the query string is the signed string and survives a Rack round trip', () => {
  const query = flattenForGet(EXAMPLE_BODY);
  assert.equal(query, EXAMPLE_CANONICAL);
  const received = parseUrlEncoded(query);
  assert.equal(toQuery(received), query);
  const sent = authySignature(EXAMPLE_KEY, '1700000000', 'GET', EXAMPLE_URL, EXAMPLE_BODY);
  assert.equal(verifyAuthySignature(EXAMPLE_KEY, '1700000000', 'GET', `${EXAMPLE_URL}?${query}`, received, sent), true);
});
