// DATABASE_URL is PostgreSQL (postgres://, postgresql://) or SQLite (a path, or sqlite:PATH).
// Anything else used to become a SQLite file named after the URL; now the CLI and the server
// refuse it, naming the variable and the scheme, never the URL's password, and create nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/process.ts';

const baseEnv = (dir: string) => ({ ...process.env, OPENFACTOR_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' });

test('mysql:// and a misspelt postgress:// are refused, with nothing created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openfactor-dburl-'));
  try {
    for (const url of ['mysql://app:s3cret-pass@db.example/openfactor', 'postgress://postgres:s3cret-pass@127.0.0.1/openfactor']) {
      for (const command of [['migrate'], ['serve']]) {
        const r = runCli(command, { ...baseEnv(dir), DATABASE_URL: url, PORT: '0' });
        assert.equal(r.status, 1, `${command[0]} with ${url.split(':')[0]}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /DATABASE_URL must be postgres:\/\/… or postgresql:\/\/… \(PostgreSQL\), or a file path or sqlite:PATH \(SQLite\)/);
        assert.match(r.stderr, new RegExp(`"${url.split(':')[0]}://…" is neither`));
        assert.doesNotMatch(r.stderr + r.stdout, /s3cret-pass/, 'the password is never printed');
      }
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f !== 'data'), [], 'no SQLite file named after the URL');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a plain path and sqlite:PATH are SQLite files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openfactor-dburl-'));
  try {
    for (const url of [join(dir, 'plain.db'), `sqlite:${join(dir, 'prefixed.db')}`]) {
      const r = runCli(['migrate'], { ...baseEnv(dir), DATABASE_URL: url });
      assert.equal(r.status, 0, r.stderr);
    }
    assert.ok(existsSync(join(dir, 'plain.db')));
    assert.ok(existsSync(join(dir, 'prefixed.db')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
