// Provider lists and delivery settings come from the environment or from a config file with the
// same KEY=VALUE content; the environment wins, and a malformed file stops the start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'openfactor-config-'));
const base = { OPENFACTOR_DATA_DIR: dir, OPENFACTOR_MASTER_KEY: 'a'.repeat(64), OPENFACTOR_ADMIN_TOKEN: 'x'.repeat(32) };

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('defaults: every channel on the console provider, 32 at once, 60 s lease, breaker 3 failures / 30 s', () => {
  const c = loadConfig(base);
  assert.deepEqual(c.providers, { sms: 'console:', voice: 'console:', email: 'console:' });
  assert.equal(c.outboxConcurrency, 32);
  assert.equal(c.outboxLeaseMs, 60_000);
  assert.equal(c.providerFailures, 3);
  assert.equal(c.providerCoolDownMs, 30_000);
});

test('a config file sets the same variables; the environment wins over it', () => {
  const file = join(dir, 'openfactor.conf');
  writeFileSync(
    file,
    [
      '# delivery',
      'OPENFACTOR_SMS_PROVIDERS=smpp://id:pw@smsc.example:2775?source=Bank,twilio://AC1:tok@api.twilio.com?from=%2B15005550006',
      'OPENFACTOR_EMAIL_PROVIDERS="smtp://mail.example:587?from=codes%40bank.example"',
      'OPENFACTOR_OUTBOX_CONCURRENCY = 8',
      '',
    ].join('\n'),
  );
  const c = loadConfig({ ...base, OPENFACTOR_CONFIG: file, OPENFACTOR_OUTBOX_CONCURRENCY: '16' });
  assert.equal(c.providers.sms, 'smpp://id:pw@smsc.example:2775?source=Bank,twilio://AC1:tok@api.twilio.com?from=%2B15005550006');
  assert.equal(c.providers.email, 'smtp://mail.example:587?from=codes%40bank.example', 'quotes removed');
  assert.equal(c.providers.voice, 'console:');
  assert.equal(c.outboxConcurrency, 16, 'the environment wins');
  assert.equal(c.configFile, file);
});

test('a malformed config file or setting stops the start, naming the line or the variable', () => {
  const file = join(dir, 'bad.conf');
  writeFileSync(file, 'OPENFACTOR_SMS_PROVIDERS=console:\nthis is not a setting\n');
  assert.throws(() => loadConfig({ ...base, OPENFACTOR_CONFIG: file }), /bad\.conf:2: expected KEY=VALUE/);
  assert.throws(() => loadConfig({ ...base, OPENFACTOR_OUTBOX_LEASE_MS: '10' }), /OPENFACTOR_OUTBOX_LEASE_MS must be an integer from 1000/);
});
