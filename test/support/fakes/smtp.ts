// A local SMTP server (smtp-server) with AUTH and STARTTLS (its built-in self-signed certificate),
// whose received mails are parsed with mailparser.
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface FakeSmtp {
  url: string;
  mails: (ParsedMail & { envelopeTo: string[]; secured: boolean })[];
  /** Recipients refused with 550. */
  refuse: Set<string>;
  /** Answer RCPT with 451 (try again later). */
  tempFail: boolean;
  /** Never greet: the client waits until its own timeout. */
  hang: boolean;
  close(): Promise<void>;
}

export async function startFakeSmtp(user = 'mailer', pass = 'mail-secret'): Promise<FakeSmtp> {
  const fake = { mails: [] as FakeSmtp['mails'], refuse: new Set<string>(), hang: false, tempFail: false };
  const server = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onConnect(_session, cb) {
      if (fake.hang) return; // never answers
      cb();
    },
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === pass) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, cb) {
      if (fake.tempFail) return cb(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      if (fake.refuse.has(address.address)) {
        const err = Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 });
        return cb(err);
      }
      cb();
    },
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (mail) => {
          fake.mails.push(Object.assign(mail, { envelopeTo: session.envelope.rcptTo.map((r) => r.address), secured: session.secure }));
          cb();
        },
        (err) => cb(err),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = ((server as unknown as { server: import('node:net').Server }).server.address() as AddressInfo).port;
  return Object.assign(fake, {
    url: `smtp://${user}:${pass}@127.0.0.1:${port}?from=${encodeURIComponent('OpenFactor <codes@openfactor.test>')}&tls_verify=off`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}
