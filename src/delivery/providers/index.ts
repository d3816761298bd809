// Provider URLs → providers. A channel's providers are a comma-separated priority list, from the
// environment (OPENFACTOR_SMS_PROVIDERS, …), the config file, or an application's own override.
import type { FastifyBaseLogger } from 'fastify';
import type { Channel, Provider } from '../provider.ts';
import { consoleProvider } from './console.ts';
import { httpGatewayProvider } from './http.ts';
import { smppProvider } from './smpp.ts';
import { smtpProvider } from './smtp.ts';
import { twilioProvider } from './twilio.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

/** A provider URL that cannot be used; the message names the scheme and host, never a credential. */
export class ProviderConfigError extends Error {}

/** Splits a list; commas inside a URL must be percent-encoded. */
export const splitProviderList = (list: string) => list.split(',').map((s) => s.trim()).filter(Boolean);

/** What a URL looks like without its credentials and secret options (for messages and listings). */
export function redactProviderUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username) u.username = u.username.length > 6 ? u.username.slice(0, 6) + '…' : '…';
    if (u.password) u.password = '…';
    for (const k of ['secret', 'token', 'password']) if (u.searchParams.has(k)) u.searchParams.set(k, '…');
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

export function createProvider(raw: string, channel: Channel, log: FastifyBaseLogger): Provider {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ProviderConfigError(`not a provider URL: ${redactProviderUrl(raw)}`);
  }
  const where = redactProviderUrl(raw);
  const opt = (k: string) => u.searchParams.get(k) ?? undefined;
  const timeoutMs = opt('timeout') === undefined ? DEFAULT_TIMEOUT_MS : Number(opt('timeout'));
  if (!Number.isInteger(timeoutMs) || timeoutMs < 50 || timeoutMs > 120_000) throw new ProviderConfigError(`${where}: timeout must be 50..120000 ms`);
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  const port = (fallback: number) => (u.port ? Number(u.port) : fallback);

  let p: Provider;
  switch (u.protocol) {
    case 'console:':
      p = consoleProvider(log);
      break;
    case 'twilio:': {
      if (!user || !pass || !u.hostname) throw new ProviderConfigError(`${where}: needs twilio://ACCOUNT_SID:AUTH_TOKEN@api-host`);
      if (!opt('from') && !(channel === 'sms' && opt('messaging_service'))) throw new ProviderConfigError(`${where}: needs ?from=+E164 (or messaging_service for SMS)`);
      const scheme = opt('tls') === 'off' ? 'http' : 'https';
      p = twilioProvider({ accountSid: user, authToken: pass, apiBase: `${scheme}://${u.host}`, from: opt('from'), messagingService: opt('messaging_service'), voice: opt('voice'), timeoutMs });
      break;
    }
    case 'smpp:':
    case 'ssmpp:': {
      if (!user || !u.hostname) throw new ProviderConfigError(`${where}: needs smpp://SYSTEM_ID:PASSWORD@host:port`);
      const enquireLinkMs = Number(opt('enquire_link') ?? 30_000);
      if (!Number.isInteger(enquireLinkMs) || enquireLinkMs < 100) throw new ProviderConfigError(`${where}: enquire_link must be a period in ms (100 or more)`);
      p = smppProvider({ enquireLinkMs, host: u.hostname, port: port(u.protocol === 'ssmpp:' ? 3550 : 2775), tls: u.protocol === 'ssmpp:', systemId: user, password: pass, systemType: opt('system_type'), source: opt('source') ?? 'OpenFactor', timeoutMs });
      break;
    }
    case 'smtp:':
    case 'smtps:':
      if (!u.hostname || !opt('from')) throw new ProviderConfigError(`${where}: needs smtp://[user:pass@]host:port?from=address`);
      p = smtpProvider({ host: u.hostname, port: port(u.protocol === 'smtps:' ? 465 : 587), secure: u.protocol === 'smtps:', user: user || undefined, pass, from: opt('from')!, verifyTls: opt('tls_verify') !== 'off', timeoutMs });
      break;
    case 'http:':
    case 'https:': {
      const secret = opt('secret');
      if (!secret || secret.length < 16) throw new ProviderConfigError(`${where}: needs ?secret= (16 characters or more) to sign requests`);
      const target = new URL(u);
      target.searchParams.delete('secret');
      target.searchParams.delete('timeout');
      p = httpGatewayProvider({ url: target.toString(), secret, timeoutMs });
      break;
    }
    default:
      throw new ProviderConfigError(`${where}: unknown provider scheme ${u.protocol} (console:, twilio://, smpp://, ssmpp://, smtp://, smtps://, http(s)://)`);
  }
  if (!p.channels.includes(channel)) throw new ProviderConfigError(`${where}: a ${p.kind} provider cannot send ${channel}`);
  return p;
}

export function createProviders(list: string, channel: Channel, log: FastifyBaseLogger): Provider[] {
  const urls = splitProviderList(list);
  if (urls.length === 0) throw new ProviderConfigError(`no ${channel} provider given`);
  return urls.map((u) => createProvider(u, channel, log));
}
