// The SMPP provider's PDUs, byte for byte, against SMPP 3.4 computed by hand. The fake SMSC of the
// other tests parses with the same `smpp` package the provider sends with, so a mistake both share
// (a default field, an encoding) would pass there; this SMSC is a plain TCP server that only
// frames PDUs and answers, and the expected bytes below follow the specification's layouts:
//   header (§3.2): command_length, command_id, command_status, sequence_number, 4 octets each;
//   bind_transceiver (§4.1.5): system_id\0 password\0 system_type\0 interface_version(0x34)
//     addr_ton addr_npi address_range\0;
//   submit_sm (§4.4.1): service_type\0 source_addr_ton source_addr_npi source_addr\0
//     dest_addr_ton dest_addr_npi destination_addr\0 esm_class protocol_id priority_flag
//     schedule_delivery_time\0 validity_period\0 registered_delivery replace_if_present_flag
//     data_coding sm_default_msg_id sm_length short_message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { createProvider } from '../../src/delivery/providers/index.ts';
import type { OutgoingMessage } from '../../src/delivery/provider.ts';
import { quietLog } from '../support/wait.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.of(0)]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const pdu = (commandId: number, seq: number, body: Buffer) => Buffer.concat([u32(16 + body.length), u32(commandId), u32(0), u32(seq), body]);

/** A bare SMSC: frames PDUs by command_length, keeps them, and answers binds and submits. */
async function rawSmsc() {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
        const p = buf.subarray(0, buf.readUInt32BE(0));
        buf = buf.subarray(p.length);
        received.push(Buffer.from(p));
        const id = p.readUInt32BE(4);
        const seq = p.readUInt32BE(12);
        if (id === 0x00000009) sock.write(pdu(0x80000009, seq, cstr('SMSC')));
        else if (id === 0x00000004) sock.write(pdu(0x80000004, seq, cstr(`msg${received.length}`)));
        else if (id === 0x00000015) sock.write(pdu(0x80000015, seq, Buffer.alloc(0)));
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    received,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const message = (text: string): OutgoingMessage => ({ id: 'SM0001', channel: 'sms', destination: '+351912345678', text, locale: 'pt', idempotencyKey: 'k1' });

test('bind_transceiver and a GSM-7 submit_sm are the bytes SMPP 3.4 gives', async () => {
  const smsc = await rawSmsc();
  const p = createProvider(`smpp://esme01:s3cret@127.0.0.1:${smsc.port}?source=OpenFactor&enquire_link=60000`, 'sms', quietLog);
  try {
    // € and braces are GSM-7 through the escape table (0x1B then 0x65, 0x28, 0x29).
    const r = await p.send(message('Code 1234 {€}'), new AbortController().signal);
    assert.ok(r.ok, JSON.stringify(r));
    const [bind, submit] = smsc.received;
    assert.deepEqual(
      bind,
      pdu(0x00000009, bind!.readUInt32BE(12), Buffer.concat([cstr('esme01'), cstr('s3cret'), cstr(''), hex('34 00 00'), cstr('')])),
      'bind_transceiver, interface_version 0x34 (SMPP 3.4)',
    );
    const short = hex('43 6F 64 65 20 31 32 33 34 20 1B 28 1B 65 1B 29'); // "Code 1234 " then ESC ( ESC e ESC )
    const expected = Buffer.concat([
      cstr(''), // service_type: the SMSC's default
      hex('05 00'), cstr('OpenFactor'), // source: alphanumeric (TON 5, NPI 0)
      hex('01 01'), cstr('351912345678'), // destination: international, ISDN, without "+"
      hex('00 00 00'), // esm_class (no UDH), protocol_id, priority_flag
      cstr(''), cstr(''), // schedule_delivery_time, validity_period: immediate, the SMSC's default
      hex('01 00'), // registered_delivery: a receipt, please; replace_if_present_flag
      hex('00 00'), // data_coding 0 (SMSC default alphabet, GSM 03.38), sm_default_msg_id
      Buffer.of(short.length), short,
    ]);
    assert.deepEqual(submit, pdu(0x00000004, submit!.readUInt32BE(12), expected), 'submit_sm');
    assert.equal(r.ok && r.providerMessageId, 'msg2', 'the message_id of submit_sm_resp');
  } finally {
    await p.close?.();
    await smsc.close();
  }
});

test('a UCS-2 text in two parts: UDHI, a concatenation header, UTF-16BE, a receipt asked for once', async () => {
  const smsc = await rawSmsc();
  const p = createProvider(`smpp://esme01:s3cret@127.0.0.1:${smsc.port}?source=%2B15550001&enquire_link=60000`, 'sms', quietLog);
  try {
    const text = 'ó'.repeat(70) + 'ão'; // 72 UCS-2 characters: over 70, so parts of up to 67
    const r = await p.send(message(text), new AbortController().signal);
    assert.ok(r.ok, JSON.stringify(r));
    const submits = smsc.received.filter((b) => b.readUInt32BE(4) === 0x00000004);
    assert.equal(submits.length, 2);
    const ref = submits[0]!.subarray(16).indexOf(hex('05 00 03'));
    assert.ok(ref > 0);
    const parts = ['ó'.repeat(67), 'ó'.repeat(3) + 'ão'];
    submits.forEach((got, i) => {
      const refByte = got[16 + ref + 3]!;
      const short = Buffer.concat([hex('05 00 03'), Buffer.of(refByte, 2, i + 1), Buffer.from(parts[i]!, 'utf16le').swap16()]);
      const expected = Buffer.concat([
        cstr(''),
        hex('01 01'), cstr('15550001'), // a numeric source: international, ISDN, without "+"
        hex('01 01'), cstr('351912345678'),
        hex('40 00 00'), // esm_class 0x40: UDHI
        cstr(''), cstr(''),
        Buffer.of(i === 0 ? 1 : 0, 0), // a receipt for the first part only
        hex('08 00'), // data_coding 8: UCS-2
        Buffer.of(short.length), short,
      ]);
      assert.deepEqual(got, pdu(0x00000004, got.readUInt32BE(12), expected), `part ${i + 1}`);
    });
    assert.equal(submits[0]![16 + ref + 3], submits[1]![16 + ref + 3], 'one reference for both parts');
  } finally {
    await p.close?.();
    await smsc.close();
  }
});
