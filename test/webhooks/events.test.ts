// The webhook events the admin API offers are the ones OpenFactor sends. `emit` accepts only
// EMITTED_WEBHOOK_EVENTS (the compiler holds that side); this holds the other: each listed event
// is named by some emit in the sources, so the list cannot offer an event nothing sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EMITTED_WEBHOOK_EVENTS, WEBHOOK_EVENTS } from '../../src/features/webhooks/service.ts';

const src = new URL('../../src', import.meta.url).pathname;
const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []));

test('every event offered is emitted somewhere; the rest of Authy\'s list is accepted but never emitted', () => {
  const code = files(src)
    .filter((f) => !f.endsWith(join('features', 'webhooks', 'service.ts')))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  // An emit names its event as its third argument: a literal, or a conditional between two.
  const emitted = new Set<string>();
  for (const m of code.matchAll(/\.(?:emit|eventSteps)\(\s*[\w.]+\s*,\s*[\w.]+\s*,\s*([^,]+),/g)) for (const e of m[1].matchAll(/'([a-z_]+)'/g)) emitted.add(e[1]);
  assert.deepEqual([...EMITTED_WEBHOOK_EVENTS].filter((e) => !emitted.has(e)), [], 'listed but never emitted');
  assert.deepEqual([...emitted].filter((e) => (WEBHOOK_EVENTS as readonly string[]).includes(e) && !(EMITTED_WEBHOOK_EVENTS as readonly string[]).includes(e)), [], 'emitted but not listed');
  assert.ok(EMITTED_WEBHOOK_EVENTS.length < WEBHOOK_EVENTS.length);
});
