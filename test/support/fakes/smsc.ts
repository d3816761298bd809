// A local SMSC speaking SMPP 3.4 through the `smpp` package's server side: checks the bind,
// answers submit_sm, reassembles UDH-concatenated parts, and sends deliver_sm receipts.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import smpp, { type PDU, type Session } from 'smpp';

export interface SmscMessage {
  destination: string;
  source: string;
  sourceTon: number;
  dataCoding: number;
  /** The whole text, parts joined in sequence order. */
  text: string;
  parts: number;
  messageId: string;
  receivedAt: number;
}

export interface FakeSmsc {
  url: string;
  messages: SmscMessage[];
  /** Every submit_sm (one per part). */
  submits: PDU[];
  binds: number;
  enquireLinks: number;
  /** Delay before each submit_sm_resp. */
  delayMs: number;
  /** Destinations refused with ESME_RINVDSTADR. */
  refuse: Set<string>;
  /** Answer every submit_sm with ESME_RTHROTTLED (a passing failure). */
  throttle: boolean;
  /** Receipt `stat:` per destination (default DELIVRD); none sent when `receipts` is false. */
  receiptStat: Map<string, string>;
  receipts: boolean;
  /** Drops every connection (the client must re-bind). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startFakeSmsc(systemId = 'openfactor', password = 'secret12'): Promise<FakeSmsc> {
  const partsByRef = new Map<string, { total: number; got: Map<number, string>; first: PDU; messageId: string }>();
  const sessions = new Set<Session>();
  const fake: FakeSmsc = {
    url: '',
    messages: [],
    submits: [],
    binds: 0,
    enquireLinks: 0,
    delayMs: 0,
    refuse: new Set(),
    throttle: false,
    receiptStat: new Map(),
    receipts: true,
    dropAll: () => {
      for (const s of sessions) s.destroy();
    },
    close: async () => {},
  };

  const receipt = (s: Session, m: SmscMessage) => {
    if (!fake.receipts) return;
    const stat = fake.receiptStat.get(m.destination) ?? 'DELIVRD';
    const date = '2611231200';
    s.deliver_sm({
      source_addr: m.destination,
      destination_addr: m.source,
      esm_class: 0x04,
      short_message: { message: `id:${m.messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${date} done date:${date} stat:${stat} err:000 text:` },
    });
  };

  const server = smpp.createServer({}, (session) => {
    sessions.add(session);
    let bound = false;
    session.on('close', () => sessions.delete(session));
    session.on('error', () => sessions.delete(session));
    session.on('bind_transceiver', (pdu: PDU) => {
      if (pdu.system_id !== systemId || pdu.password !== password) {
        session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
        return session.close();
      }
      bound = true;
      fake.binds++;
      session.send(pdu.response({ system_id: 'FakeSMSC' }));
    });
    session.on('enquire_link', (pdu: PDU) => {
      fake.enquireLinks++;
      session.send(pdu.response());
    });
    session.on('unbind', (pdu: PDU) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('deliver_sm_resp', () => {});
    session.on('submit_sm', (pdu: PDU) => {
      if (!bound) return session.send(pdu.response({ command_status: 0x04 })); // ESME_RINVBNDSTS
      fake.submits.push(pdu);
      const answer = () => {
        if (fake.throttle) return session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
        if (fake.refuse.has(pdu.destination_addr)) return session.send(pdu.response({ command_status: smpp.ESME_RINVDSTADR }));
        const messageId = randomBytes(8).toString('hex');
        session.send(pdu.response({ message_id: messageId }));
        const sm = pdu.short_message as { udh?: Buffer[]; message: string };
        const concat = sm.udh?.find((u) => u[0] === 0x00);
        const base = { destination: pdu.destination_addr, source: pdu.source_addr, sourceTon: pdu.source_addr_ton, dataCoding: pdu.data_coding, receivedAt: Date.now() };
        if (!concat) {
          const m: SmscMessage = { ...base, text: sm.message, parts: 1, messageId };
          fake.messages.push(m);
          if (pdu.registered_delivery & 1) receipt(session, m);
          return;
        }
        const [, , ref, total, seq] = concat; // the package hands each information element as IEI, length, data
        const key = `${pdu.destination_addr}:${ref}`;
        const entry = partsByRef.get(key) ?? { total, got: new Map(), first: pdu, messageId };
        if (seq === 1) entry.messageId = messageId;
        entry.got.set(seq, sm.message);
        partsByRef.set(key, entry);
        if (entry.got.size === entry.total) {
          partsByRef.delete(key);
          const text = [...entry.got.entries()].sort(([a], [b]) => a - b).map(([, t]) => t).join('');
          const m: SmscMessage = { ...base, text, parts: total, messageId: entry.messageId };
          fake.messages.push(m);
          if (entry.first.registered_delivery & 1) receipt(session, m);
        }
      };
      if (fake.delayMs > 0) setTimeout(answer, fake.delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  fake.url = `smpp://${systemId}:${password}@127.0.0.1:${port}?source=OpenFactor`;
  fake.close = async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return fake;
}
