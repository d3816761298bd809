// One conformance suite for every provider: each runs against a local server that speaks its
// real protocol (Twilio's REST API, SMPP 3.4, SMTP, the signed JSON gateway), and must deliver
// exactly what it was given, report failures as passing or permanent, give up within its
// timeout, and turn the provider's receipts into message statuses.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createProvider } from '../../src/delivery/providers/index.ts';
import { Router, type AttemptLog } from '../../src/delivery/router.ts';
import { DeliveryMetrics } from '../../src/delivery/metrics.ts';
import type { Channel, OutgoingMessage, Provider, Receipt } from '../../src/delivery/provider.ts';
import { startFakeTwilio, twilioTestSignature, type FakeTwilio } from '../support/fakes/twilio.ts';
import { startFakeSmsc, type FakeSmsc } from '../support/fakes/smsc.ts';
import { startFakeSmtp, type FakeSmtp } from '../support/fakes/smtp.ts';
import { startFakeGateway, type FakeGateway } from '../support/fakes/gateway.ts';
import { quietLog, until } from '../support/wait.ts';

const quiet = quietLog;

interface Received {
  destination: string;
  text: string;
}

/** What each protocol needs the suite to be able to do with its server. */
interface Double {
  url: string;
  received(): Received[];
  failing(on: boolean): void;
  hanging(on: boolean): void;
  refuse(destination: string): void;
  /** Makes the server report delivery of the last message; resolves with the receipt OpenFactor read. */
  deliveredReceipt?(provider: Provider, providerMessageId: string): Promise<Receipt | undefined>;
  /** The server's receipt with a wrong signature must be refused. */
  forgedReceipt?(provider: Provider, providerMessageId: string): Promise<boolean>;
  close(): Promise<void>;
}

interface Case {
  name: string;
  channel: Channel;
  destination: string;
  start(): Promise<Double>;
  /** The development provider has no server that could fail, hang or refuse. */
  cannotFail?: true;
}

const unescapeXml = (s: string) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'");

function twilioDouble(channel: 'sms' | 'voice'): () => Promise<Double> {
  return async () => {
    const tw: FakeTwilio = await startFakeTwilio();
    let lastBody = '';
    return {
      url: tw.url + '&timeout=2000', // room for a loaded machine; the timeout test still sees it give up
      received: () =>
        tw.requests.filter((r) => r.sid && r.resource === (channel === 'sms' ? 'Messages' : 'Calls')).map((r) => ({
          destination: r.form.get('To')!,
          text: channel === 'sms' ? r.form.get('Body')! : unescapeXml(/<Say[^>]*>([\s\S]*)<\/Say>/.exec(r.form.get('Twiml')!)![1]),
        })),
      failing: (on) => (tw.mode = on ? 'fail' : 'ok'),
      hanging: (on) => (tw.mode = on ? 'hang' : 'ok'),
      refuse: (d) => tw.invalidNumbers.add(d),
      async deliveredReceipt(p, sid) {
        const url = `https://openfactor.test/delivery/receipts/SMx`;
        const form = new URLSearchParams(channel === 'sms' ? { AccountSid: tw.accountSid, MessageSid: sid, MessageStatus: 'delivered' } : { AccountSid: tw.accountSid, CallSid: sid, CallStatus: 'completed' });
        lastBody = form.toString();
        const check = p.readReceipt!({ url, headers: { 'x-twilio-signature': twilioTestSignature(tw.authToken, url, form) }, rawBody: Buffer.from(lastBody) });
        return check.genuine ? check.receipt : undefined;
      },
      async forgedReceipt(p, sid) {
        const url = `https://openfactor.test/delivery/receipts/SMx`;
        const form = new URLSearchParams({ AccountSid: tw.accountSid, MessageSid: sid, MessageStatus: 'delivered' });
        return !p.readReceipt!({ url, headers: { 'x-twilio-signature': twilioTestSignature('not-the-token', url, form) }, rawBody: Buffer.from(form.toString()) }).genuine;
      },
      close: () => tw.close(),
    };
  };
}

const consoleLines: { message_id: string; channel: string; to: string }[] = [];
const recordingLog = { ...quiet, child: () => recordingLog, info: (o: { message_id: string; channel: string; to: string }) => void consoleLines.push(o) };

const CASES: Case[] = [
  ...(['sms', 'voice', 'email'] as const).map((channel): Case => ({
    name: `console ${channel}`,
    channel,
    destination: channel === 'email' ? 'ana@example.com' : '+14155550142',
    cannotFail: true,
    async start() {
      // Nothing leaves the machine: what it "delivers" is a log line (checked below); the text
      // stays in the outbox, where test/delivery/outbox.test.ts reads it back.
      return { url: 'console:', received: () => [], failing() {}, hanging() {}, refuse() {}, close: async () => {} } as Double;
    },
  })),
  { name: 'twilio sms', channel: 'sms', destination: '+14155550142', start: twilioDouble('sms') },
  { name: 'twilio voice', channel: 'voice', destination: '+14155550142', start: twilioDouble('voice') },
  {
    name: 'smpp',
    channel: 'sms',
    destination: '+14155550142',
    async start() {
      const smsc: FakeSmsc = await startFakeSmsc();
      return {
        url: smsc.url + '&timeout=2000', // room for a loaded machine; the timeout test still sees it give up
        received: () => smsc.messages.map((m) => ({ destination: '+' + m.destination, text: m.text })),
        failing: (on) => (smsc.throttle = on),
        hanging: (on) => (smsc.delayMs = on ? 5000 : 0),
        refuse: (d) => smsc.refuse.add(d.replace(/^\+/, '')),
        deliveredReceipt: (_p, id) =>
          new Promise((resolve) => {
            // The SMSC pushes receipts over the bound session (deliver_sm) as soon as it has the message.
            const timer = setTimeout(() => resolve(undefined), 3000);
            pushed.push((r) => {
              if (r.providerMessageId === id) (clearTimeout(timer), resolve(r));
            });
            for (const r of early) if (r.providerMessageId === id) (clearTimeout(timer), resolve(r));
          }),
        close: () => smsc.close(),
      };
    },
  },
  {
    name: 'smtp',
    channel: 'email',
    destination: 'ana@example.com',
    async start() {
      const smtp: FakeSmtp = await startFakeSmtp();
      return {
        url: smtp.url + '&timeout=1500',
        received: () => smtp.mails.map((m) => ({ destination: m.envelopeTo[0], text: `${m.subject}\n\n${String(m.text).trim()}` })),
        failing: (on) => (smtp.tempFail = on),
        hanging: (on) => (smtp.hang = on),
        refuse: (d) => smtp.refuse.add(d),
        close: () => smtp.close(),
      };
    },
  },
  ...(['sms', 'voice'] as const).map((channel): Case => ({
    name: `http gateway ${channel}`,
    channel,
    destination: '+14155550142',
    async start() {
      const gw: FakeGateway = await startFakeGateway();
      const signed = (secret: string, body: string) => {
        const ts = String(Math.floor(Date.now() / 1000));
        return { ts, sig: 'v1=' + createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex') };
      };
      return {
        url: gw.url + '&timeout=2000', // room for a loaded machine; the timeout test still sees it give up
        received: () => gw.delivered.map((m) => ({ destination: m.to, text: m.text })),
        failing: (on) => (gw.mode = on ? 'fail' : 'ok'),
        hanging: (on) => (gw.mode = on ? 'hang' : 'ok'),
        refuse: (d) => gw.refuse.add(d),
        async deliveredReceipt(p, id) {
          const body = JSON.stringify({ id, status: 'delivered' });
          const { ts, sig } = signed(gw.secret, body);
          const check = p.readReceipt!({ url: 'x', headers: { 'x-openfactor-timestamp': ts, 'x-openfactor-signature': sig }, rawBody: Buffer.from(body) });
          return check.genuine ? check.receipt : undefined;
        },
        async forgedReceipt(p, id) {
          const body = JSON.stringify({ id, status: 'delivered' });
          const { ts, sig } = signed('some-other-secret', body);
          return !p.readReceipt!({ url: 'x', headers: { 'x-openfactor-timestamp': ts, 'x-openfactor-signature': sig }, rawBody: Buffer.from(body) }).genuine;
        },
        close: () => gw.close(),
      };
    },
  })),
];

/** Receipts pushed by providers over their own connections (SMPP), and those that came early. */
const pushed: ((r: Receipt) => void)[] = [];
const early: Receipt[] = [];

const attemptLog = (): AttemptLog & { outcomes: string[] } => {
  const outcomes: string[] = [];
  return { outcomes, start: async () => outcomes.length, finish: async (_id, outcome) => void outcomes.push(outcome) };
};

let n = 0;
const message = (channel: Channel, destination: string, text: string): OutgoingMessage => ({
  id: `${channel === 'sms' ? 'SM' : channel === 'voice' ? 'CA' : 'EM'}${(++n).toString(16).padStart(32, '0')}`,
  channel,
  destination,
  text,
  locale: 'en',
  idempotencyKey: `key-${n}`,
});

const TEXTS = {
  plain: (ch: Channel) => (ch === 'email' ? 'Your Test Bank code\n\nYour Test Bank code is 1234567. It expires in 10 minutes.' : 'Your Test Bank code is: 1234567'),
  unicode: (ch: Channel) => (ch === 'email' ? 'Код Test Bank\n\nВаш код Test Bank: 7654321 — 验证码 🙂' : 'Ваш код Test Bank: 7654321 — 验证码 🙂'),
  long: (ch: Channel) => (ch === 'email' ? 'Long\n\n' : '') + 'Your Test Bank code is 1234567. '.repeat(8) + 'Extension chars {[€]} end.',
};

for (const c of CASES) {
  describe(`provider conformance: ${c.name}`, () => {
    let d: Double;
    let p: Provider;
    let router: Router;
    before(async () => {
      d = await c.start();
      p = createProvider(d.url, c.channel, c.cannotFail ? recordingLog : quiet);
      p.onReceipt?.((r) => {
        early.push(r);
        for (const f of pushed) f(r);
      });
      router = new Router(c.channel, [p], new DeliveryMetrics(), { failures: 1000, coolDownMs: 1 });
    });
    after(async () => {
      await p.close?.();
      await d.close();
    });

    test('its label names no credential', () => {
      assert.ok(!/secret|mail-secret|[0-9a-f]{32}/.test(p.label.replace(/^twilio:AC[0-9a-f]{32}$/, 'twilio')), p.label);
      assert.ok(!p.label.includes(new URL(d.url).password || '\u0000'), p.label);
    });

    for (const [kind, text] of Object.entries(TEXTS)) {
      test(`delivers a ${kind} text exactly, to the right destination`, async () => {
        const before = d.received().length;
        const m = message(c.channel, c.destination, text(c.channel));
        const log = attemptLog();
        const r = await router.send(m, log);
        assert.ok(r.ok, JSON.stringify(r));
        assert.ok(r.providerMessageId.length > 0);
        assert.deepEqual(log.outcomes, ['accepted']);
        if (c.cannotFail) {
          // The console's delivery is its log line: it names the message and its channel, masks the
          // destination (what is left of it is the destination's), and never shows the text.
          assert.equal(r.providerMessageId, `console-${m.id}`);
          const line = consoleLines.at(-1)!;
          assert.deepEqual([line.message_id, line.channel], [m.id, c.channel]);
          if (c.channel === 'email') assert.equal(line.to, 'a…@example.com');
          else assert.equal(line.to, `+1-XXX-XXX-XX${c.destination.slice(-2)}`, 'the country code and the last two digits only');
          assert.ok(!JSON.stringify(line).includes(c.destination) && !JSON.stringify(line).includes(m.text.slice(0, 12)), JSON.stringify(line));
          return;
        }
        await until('the server has it', () => d.received().length > before);
        const got = d.received().at(-1)!;
        assert.equal(got.destination, c.destination);
        // Voice reads the text as it is; every other channel carries it byte for byte.
        assert.equal(got.text, m.text);
      });
    }

    const failable = { skip: c.cannotFail ? 'the console provider has no server that could fail' : false };

    test('a passing failure is reported as such (the next provider or a later round may work)', failable, async () => {
      d.failing(true);
      try {
        const r = await router.send(message(c.channel, c.destination, TEXTS.plain(c.channel)), attemptLog());
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.permanent, false, JSON.stringify(r));
      } finally {
        d.failing(false);
      }
    });

    test('a refused destination is permanent: no other provider is asked', failable, async () => {
      const dest = c.channel === 'email' ? 'nobody@example.com' : '+14155550199';
      d.refuse(dest);
      const r = await router.send(message(c.channel, dest, TEXTS.plain(c.channel)), attemptLog());
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.permanent, true, JSON.stringify(r));
    });

    test('a provider that does not answer is given up on after its timeout', failable, async () => {
      d.hanging(true);
      try {
        const started = Date.now();
        const log = attemptLog();
        const r = await router.send(message(c.channel, c.destination, TEXTS.plain(c.channel)), log);
        const took = Date.now() - started;
        assert.equal(r.ok, false);
        assert.deepEqual(log.outcomes, ['timeout'], r.ok ? 'sent' : r.error);
        assert.ok(took < p.timeoutMs + 1500, `gave up after ${took} ms (timeout ${p.timeoutMs} ms)`);
      } finally {
        d.hanging(false);
      }
      // And it works again afterwards.
      const r = await router.send(message(c.channel, c.destination, TEXTS.plain(c.channel)), attemptLog());
      assert.ok(r.ok, JSON.stringify(r));
    });

    if (c.channel !== 'email' && !c.cannotFail) {
      test('its delivery receipts are read, and forged ones refused', async () => {
        const r = await router.send(message(c.channel, c.destination, TEXTS.plain(c.channel)), attemptLog());
        assert.ok(r.ok);
        const receipt = await d.deliveredReceipt!(p, r.providerMessageId);
        assert.deepEqual(receipt && { id: receipt.providerMessageId, status: receipt.status }, { id: r.providerMessageId, status: 'delivered' });
        if (d.forgedReceipt) assert.equal(await d.forgedReceipt(p, r.providerMessageId), true, 'forged receipt refused');
      });
    }
  });
}
