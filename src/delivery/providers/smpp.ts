// SMPP 3.4 over TCP (or TLS with ssmpp://) with the `smpp` package: one bound transceiver session,
// kept alive with enquire_link and re-bound with backoff; GSM-7 or UCS-2 as the text needs, long
// texts as UDH-concatenated parts; deliver_sm receipts become message statuses.
//   smpp://SYSTEM_ID:PASSWORD@host:2775?source=OpenFactor
//   options: system_type, timeout (ms), enquire_link (keep-alive period, ms, default 30000)
import { randomInt } from 'node:crypto';
import type smppTypes from 'smpp';
import type { Session } from 'smpp';
import { lazy } from '../../core/lazy.ts';

const smpp = lazy<typeof smppTypes>('smpp');
import { concatHeader, smsParts } from '../../core/sms.ts';
import type { OutgoingMessage, Provider, Receipt, ReceiptStatus, SendResult } from '../provider.ts';

/** submit_sm statuses about the destination or content: another provider would fail too. */
const PERMANENT = new Set([0x01, 0x0a, 0x0b, 0x45]); // message length, invalid source or destination, submit failed
const RECEIPT_STAT: Record<string, ReceiptStatus> = { DELIVRD: 'delivered', EXPIRED: 'undelivered', DELETED: 'undelivered', UNDELIV: 'undelivered', REJECTD: 'undelivered', UNKNOWN: 'undelivered' };
/** message_state TLV values (SMPP 3.4 §5.2.28). */
const STATE: Record<number, ReceiptStatus> = { 2: 'delivered', 3: 'undelivered', 4: 'undelivered', 5: 'undelivered', 7: 'undelivered', 8: 'undelivered' };

const MAX_BACKOFF_MS = 30_000;

export interface SmppOptions {
  host: string;
  port: number;
  tls: boolean;
  systemId: string;
  password: string;
  systemType?: string;
  source: string;
  timeoutMs: number;
  enquireLinkMs: number;
}


/** Reads a delivery receipt: the TLVs when present, else the conventional text (`id:… stat:DELIVRD`). */
export function readSmppReceipt(pdu: { esm_class?: number; receipted_message_id?: string; message_state?: number; short_message?: { message?: string | Buffer } }): Receipt | undefined {
  if (((pdu.esm_class ?? 0) & 0x3c) !== 0x04) return undefined; // not a delivery receipt
  const text = String(pdu.short_message?.message ?? '');
  const id = pdu.receipted_message_id || /\bid:(\S+)/i.exec(text)?.[1];
  const stat = /\bstat:(\w+)/i.exec(text)?.[1]?.toUpperCase();
  const status = (pdu.message_state !== undefined ? STATE[pdu.message_state] : undefined) ?? (stat ? RECEIPT_STAT[stat] : undefined);
  if (!id || !status) return undefined;
  const err = /\berr:(\w+)/i.exec(text)?.[1];
  return { providerMessageId: id, status, detail: status === 'delivered' ? undefined : `smpp ${stat ?? `state ${pdu.message_state}`}${err ? ` err:${err}` : ''}` };
}

export function smppProvider(o: SmppOptions): Provider {
  const listeners: ((r: Receipt) => void)[] = [];
  let session: Session | undefined;
  let bound: Promise<Session> | undefined;
  let backoffMs = 0;
  let retryAt = 0;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const alphanumericSource = /[^\d+]/.test(o.source);

  function bind(): Promise<Session> {
    return new Promise((resolve, reject) => {
      // The package hands these to net.connect (tls.connect): noDelay sends each PDU at once. With
      // Nagle's algorithm a submit_sm waited for the SMSC's delayed ACK of the one before (up to
      // 40 ms), so 32 messages out at a time made about 800 a second at most (bench: the outbox).
      const options = { host: o.host, port: o.port, tls: o.tls, noDelay: true, auto_enquire_link_period: o.enquireLinkMs };
      const s: Session = smpp().connect(options);
      let settled = false;
      const fail = (why: string) => {
        if (!settled) {
          settled = true;
          reject(new Error(why));
        }
      };
      s.on('error', (e: Error) => fail(`smpp connection: ${e.message}`));
      s.on('close', () => {
        fail('smpp connection closed before bind');
        if (session === s) lost();
      });
      s.on('connect', () => {
        // interface_version 0x34: we speak SMPP 3.4 (the `smpp` package would say 0x50, SMPP 5.0).
        s.bind_transceiver({ system_id: o.systemId, password: o.password, system_type: o.systemType ?? '', interface_version: 0x34 }, (pdu: { command_status: number }) => {
          if (pdu.command_status !== 0) {
            fail(`smpp bind refused (status 0x${pdu.command_status.toString(16)})`);
            s.close();
            return;
          }
          settled = true;
          session = s;
          backoffMs = 0;
          resolve(s);
        });
      });
      s.on('deliver_sm', (pdu: any) => {
        s.send(pdu.response());
        const receipt = readSmppReceipt(pdu);
        if (receipt) for (const l of listeners) l(receipt);
      });
      s.on('unbind', (pdu: any) => {
        s.send(pdu.response());
        s.close();
      });
    });
  }

  /** The session dropped: re-bind in the background (receipts keep arriving), with backoff. */
  function lost() {
    session = undefined;
    bound = undefined;
    if (closed) return;
    backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs ? backoffMs * 2 : 1000);
    retryAt = Date.now() + backoffMs;
    clearTimeout(reconnectTimer);
    // The timer may fire a little before Date.now() reaches retryAt (timers count from the event
    // loop's cached time): it is the retry, so it does not wait for retryAt.
    reconnectTimer = setTimeout(() => {
      retryAt = 0;
      void ready().catch(() => {});
    }, backoffMs);
    reconnectTimer.unref();
  }

  function ready(): Promise<Session> {
    if (closed) return Promise.reject(new Error('smpp provider closed'));
    if (bound) return bound;
    if (Date.now() < retryAt) return Promise.reject(new Error('smpp: reconnecting after a failure'));
    bound = bind().catch((e) => {
      lost();
      throw e;
    });
    return bound;
  }

  function submit(s: Session, fields: Record<string, unknown>): Promise<{ command_status: number; message_id?: string }> {
    return new Promise((resolve, reject) => {
      if (!s.submit_sm(fields, resolve)) reject(new Error('smpp: connection not writable'));
    });
  }

  return {
    kind: 'smpp',
    label: `smpp:${o.host}:${o.port}`,
    channels: ['sms'],
    idempotent: false,
    timeoutMs: o.timeoutMs,

    async send(m: OutgoingMessage, signal: AbortSignal): Promise<SendResult> {
      // The router bounds the wait; after a timeout no further part goes out.
      const s = await ready();
      const { encoding, parts } = smsParts(m.text);
      const ref = randomInt(256);
      let firstId: string | undefined;
      for (let i = 0; i < parts.length; i++) {
        if (signal.aborted) return { ok: false, error: `smpp: timed out at part ${i + 1}/${parts.length}` };
        const message = parts.length > 1 ? { udh: concatHeader(ref, parts.length, i + 1), message: parts[i] } : { message: parts[i] };
        const resp = await submit(s, {
            source_addr: alphanumericSource ? o.source : o.source.replace(/^\+/, ''),
            source_addr_ton: alphanumericSource ? 5 : 1,
            source_addr_npi: alphanumericSource ? 0 : 1,
            destination_addr: m.destination.replace(/^\+/, ''),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            data_coding: encoding === 'gsm7' ? 0x00 : 0x08,
            esm_class: parts.length > 1 ? 0x40 : 0x00, // UDHI: the parts carry a concatenation header
            registered_delivery: i === 0 ? 1 : 0,
            short_message: message,
          });
        if (resp.command_status !== 0) {
          const status = resp.command_status;
          return { ok: false, error: `smpp submit_sm refused (status 0x${status.toString(16)})${i > 0 ? ` at part ${i + 1}/${parts.length}` : ''}`, permanent: PERMANENT.has(status) };
        }
        firstId ??= resp.message_id;
      }
      return { ok: true, providerMessageId: firstId ?? m.id };
    },

    onReceipt(listener) {
      listeners.push(listener);
    },

    async close() {
      closed = true;
      clearTimeout(reconnectTimer);
      const s = session;
      session = undefined;
      if (s) await new Promise<void>((resolve) => {
        const timer = setTimeout(() => (s.destroy(), resolve()), 1000);
        s.unbind(() => s.close(() => (clearTimeout(timer), resolve())));
      });
    },
  };
}
