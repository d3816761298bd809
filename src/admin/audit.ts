// The audit trail: who changed what, when, from where, with what before and after. Append-only
// and chained: each entry's hash is an HMAC, under a key derived from the master key, of the
// previous entry's hash and its own fields, and the newest entry is recorded apart (the head).
// An entry edited, deleted, or cut from the end breaks the chain, and without the master key
// the chain cannot be forged again. Secrets never enter it.
import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { constantTimeEqual, deriveKey, type MasterKey } from '../core/crypto.ts';
import type { Dialect } from '../store/db.ts';
import type { AuditLogTable, DB } from '../store/schema.ts';
import * as q from './audit-queries.ts';

/** The first entry's `prev_hash`: nothing came before it. */
export const GENESIS = '0'.repeat(64);

export interface AuditEntry {
  actor: string;
  actorKind: AuditLogTable['actor_kind'];
  ip?: string | null;
  action: string;
  appId?: number | null;
  /** What was acted on (ids, names): JSON. */
  target?: Record<string, unknown>;
  /** What changed (before/after, parameters), secrets hidden: JSON. */
  detail?: Record<string, unknown>;
}

export type AuditProblem =
  | { id: number; problem: 'edited' }
  | { id: number; problem: 'entries_missing_before' }
  | { id: number; problem: 'unknown_key'; key_id: string }
  | { id: number | null; problem: 'entries_missing_at_end' | 'head_edited' | 'head_missing' | 'anchor_edited' };

export interface AuditReport {
  entries: number;
  first_id: number | null;
  last_id: number | null;
  problems: AuditProblem[];
}

const macKey = (mk: MasterKey) => deriveKey(mk, 'audit-chain');
const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('hex');
const entryText = (prev: string, e: Pick<AuditLogTable, 'at' | 'actor' | 'actor_kind' | 'ip' | 'action' | 'app_id' | 'target' | 'detail'>) =>
  `${prev}\n${JSON.stringify([Number(e.at), e.actor, e.actor_kind, e.ip, e.action, e.app_id === null ? null : Number(e.app_id), e.target, e.detail])}`;
const markText = (name: 'head' | 'anchor', entryId: number, hash: string) => `${name}:${entryId}:${hash}`;

/** Values under these names are never written (a key, a password, a provider's credentials). */
const SECRET_NAME = /secret|password|token|api_?key|credential|auth/i;

/** A copy of `value` safe to keep: secrets by name, and credentials inside URLs, hidden. */
export function withoutSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (typeof value === 'string') return value.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1[hidden]@').slice(0, 2000);
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => withoutSecrets(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_NAME.test(k) ? '[hidden]' : withoutSecrets(v, depth + 1)]));
  }
  return value;
}

export class AuditTrail {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly keys: MasterKey[],
    private readonly dialect: Dialect,
  ) {}

  /** Appends one entry after the head, under the trail's lock; returns its id. */
  async append(e: AuditEntry, now = Date.now()): Promise<number> {
    const mk = this.keys[0];
    const key = macKey(mk);
    const row = {
      at: now,
      actor: e.actor,
      actor_kind: e.actorKind,
      ip: e.ip ?? null,
      action: e.action,
      app_id: e.appId ?? null,
      target: JSON.stringify(withoutSecrets(e.target ?? {})),
      detail: JSON.stringify(withoutSecrets(e.detail ?? {})),
    };
    return q.withAuditLock(this.db, this.dialect, async (trx) => {
      // The chain goes on from the head, not from the newest row: entries cut from the end stay missed.
      const prev = (await q.readMark(trx, 'head'))?.hash ?? GENESIS;
      const hash = hmac(key, entryText(prev, row));
      const id = await q.insertEntry(trx, { ...row, key_id: mk.id, prev_hash: prev, hash });
      await q.writeMark(trx, 'head', { entry_id: id, hash, key_id: mk.id, mac: hmac(key, markText('head', id, hash)) });
      return id;
    });
  }

  /** Walks the whole trail in order and says where the chain breaks. */
  async verify(db: Kysely<DB> = this.db): Promise<AuditReport> {
    const keyOf = new Map(this.keys.map((k) => [k.id, macKey(k)]));
    const problems: AuditProblem[] = [];
    const marked = async (name: 'head' | 'anchor') => {
      const m = await q.readMark(db, name);
      const key = m && keyOf.get(m.key_id);
      return m && { entry_id: Number(m.entry_id), hash: m.hash, genuine: !!key && constantTimeEqual(hmac(key, markText(name, Number(m.entry_id), m.hash)), m.mac) };
    };
    // Entries retention dropped end at the anchor: the oldest kept entry follows it.
    const anchor = await marked('anchor');
    let prev: { id: number; hash: string } | undefined = anchor?.genuine ? { id: anchor.entry_id, hash: anchor.hash } : undefined;
    let first: number | null = null;
    let entries = 0;
    for (let after = 0; ; ) {
      const page = await q.entriesAfter(db, after, 1000);
      if (page.length === 0) break;
      for (const e of page) {
        const id = Number(e.id);
        entries++;
        first ??= id;
        const key = keyOf.get(e.key_id);
        if (!key) problems.push({ id, problem: 'unknown_key', key_id: e.key_id });
        else if (!constantTimeEqual(hmac(key, entryText(e.prev_hash, e)), e.hash)) problems.push({ id, problem: 'edited' });
        // The first entry kept follows the genesis; every later one, the entry before it.
        if (e.prev_hash !== (prev?.hash ?? GENESIS)) problems.push({ id, problem: 'entries_missing_before' });
        prev = { id, hash: e.hash };
      }
      after = Number(page[page.length - 1].id);
    }
    const head = await marked('head');
    if (anchor && !anchor.genuine) problems.push({ id: anchor.entry_id, problem: 'anchor_edited' });
    if (!head) {
      if (entries > 0) problems.push({ id: null, problem: 'head_missing' });
    } else if (!head.genuine) problems.push({ id: head.entry_id, problem: 'head_edited' });
    else if (!prev || head.entry_id !== prev.id || head.hash !== prev.hash) problems.push({ id: head.entry_id, problem: 'entries_missing_at_end' });
    return { entries, first_id: first, last_id: entries > 0 ? prev!.id : null, problems };
  }

  /**
   * Retention: drops the entries written before `cut`, and anchors the chain at the last one
   * dropped, so that the oldest kept entry still verifies (and a deletion by hand still shows).
   */
  async dropBefore(cut: number): Promise<number> {
    const mk = this.keys[0];
    return q.withAuditLock(this.db, this.dialect, async (trx) => {
      const last = await q.lastBefore(trx, cut);
      if (!last) return 0;
      await q.writeMark(trx, 'anchor', { entry_id: last.id, hash: last.hash, key_id: mk.id, mac: hmac(macKey(mk), markText('anchor', last.id, last.hash)) });
      return q.dropThrough(trx, last.id);
    });
  }

  /**
   * After a master-key rotation: the trail is checked with the keys that wrote it, then chained
   * again under the current key (every entry, the anchor and the head), so that the old key may be
   * dropped. A trail that does not verify is left as it is: chaining it again would hide the break.
   */
  async rechain(): Promise<{ rechained: number; report?: undefined; before?: { head: string | null; byKey: Record<string, number> } } | { rechained: 0; report: AuditReport; before?: undefined }> {
    const mk = this.keys[0];
    const key = macKey(mk);
    return q.withAuditLock(this.db, this.dialect, async (trx) => {
      const report = await this.verify(trx);
      if (report.problems.length > 0) return { rechained: 0, report };
      const [anchor, head] = [await q.readMark(trx, 'anchor'), await q.readMark(trx, 'head')];
      // Everything already under the current key: nothing to do.
      if ([anchor, head].every((m) => !m || m.key_id === mk.id) && !(await q.anyEntryNotWith(trx, mk.id))) return { rechained: 0 };
      // The anchor keeps the dropped entry's hash (it cannot be computed again); only its MAC is new.
      if (anchor) await q.writeMark(trx, 'anchor', { entry_id: Number(anchor.entry_id), hash: anchor.hash, key_id: mk.id, mac: hmac(key, markText('anchor', Number(anchor.entry_id), anchor.hash)) });
      let prev = anchor?.hash ?? GENESIS;
      let last: number | undefined;
      let n = 0;
      // What the chain was, for the record of the rotation (kept outside the trail too, it is proof).
      const byKey: Record<string, number> = {};
      for (let after = 0; ; ) {
        const page = await q.entriesAfter(trx, after, 1000);
        if (page.length === 0) break;
        for (const e of page) {
          byKey[e.key_id] = (byKey[e.key_id] ?? 0) + 1;
          const hash = hmac(key, entryText(prev, e));
          await q.rewriteChain(trx, Number(e.id), { prev_hash: prev, hash, key_id: mk.id });
          prev = hash;
          last = Number(e.id);
          n++;
        }
        after = Number(page[page.length - 1].id);
      }
      if (last !== undefined) await q.writeMark(trx, 'head', { entry_id: last, hash: prev, key_id: mk.id, mac: hmac(key, markText('head', last, prev)) });
      return { rechained: n, before: { head: head?.hash ?? null, byKey } };
    });
  }

  search = (f: q.AuditFilter, limit: number, below?: number) => q.searchEntries(this.db, f, limit, below);
}

/** What the services write to the trail (a lockout, a recovery step): appending is all they need. */
export type ServiceAudit = Pick<AuditTrail, 'append'>;

/**
 * A step the service or a device took for users of one person, who may have accounts in several
 * applications: one entry per application, so that each one's administrators find theirs. Written
 * after the change commits; a failure to write is logged and the change stands. The users are
 * named `users` (Authy IDs): a name with "auth" in it would be hidden as a secret.
 */
export async function auditForUsers(
  audit: ServiceAudit | undefined,
  log: FastifyBaseLogger,
  e: Omit<AuditEntry, 'appId'> & { target: Record<string, unknown> },
  users: readonly { app_id: number; id: number }[],
): Promise<void> {
  if (!audit) return;
  const byApp = new Map<number, number[]>();
  for (const u of users) byApp.set(Number(u.app_id), [...(byApp.get(Number(u.app_id)) ?? []), Number(u.id)]);
  for (const [appId, ids] of byApp) {
    await audit.append({ ...e, appId, target: { ...e.target, users: ids } }).catch((err) => log.error({ event: 'audit_append_failed', action: e.action, err: (err as Error).message }, 'audit entry not written'));
  }
}

/** An entry as the admin API and the export show it. */
export const auditView = (e: q.AuditRow) => ({
  id: Number(e.id),
  at: new Date(Number(e.at)).toISOString(),
  actor: e.actor,
  actor_kind: e.actor_kind,
  ip: e.ip,
  action: e.action,
  app_id: e.app_id === null ? null : Number(e.app_id),
  target: JSON.parse(e.target) as Record<string, unknown>,
  detail: JSON.parse(e.detail) as Record<string, unknown>,
  hash: e.hash,
});
