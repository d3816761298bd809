// Where OpenFactor may send HTTP requests that someone else chose the URL of: OneTouch callbacks,
// webhooks and Web Push endpoints. By default only public addresses. Otherwise an API key (or a
// device) could make the server call 127.0.0.1, the operator's 10.x network or a cloud metadata
// service at 169.254.169.254, and read what answers from the delivery log (SSRF).
//
// The check is made on the addresses a connection actually uses: names are resolved by a guarded
// lookup inside the connection, so a name cannot resolve to a public address when checked and to
// a private one when connected (DNS rebinding). Private networks an operator trusts are allowed
// with OPENFACTOR_ALLOW_PRIVATE_NETWORKS.
import { lookup as dnsLookup, promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Agent as HttpAgent } from 'undici';
import { lazy } from '../core/lazy.ts';

const undici = lazy<typeof import('undici')>('undici');

type Network = [ipaddr.IPv4 | ipaddr.IPv6, number];
type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** What `refusal` says a private address needs, in every message. */
const HINT = 'allow its network with OPENFACTOR_ALLOW_PRIVATE_NETWORKS';

export class Destinations {
  private readonly allowed: Network[];
  /** For undici requests (callbacks, webhooks): made at the first one. */
  private agent?: HttpAgent;
  get dispatcher(): HttpAgent {
    return (this.agent ??= new (undici().Agent)({ connect: { lookup: this.lookup } }));
  }

  /** `allow`: CIDR blocks that may be reached although not public (`10.0.0.0/8`, `::1/128`). */
  constructor(allow: readonly string[]) {
    this.allowed = allow.map((cidr) => {
      const [ip, bits] = ipaddr.parseCIDR(cidr);
      return isMapped(ip) ? [ip.toIPv4Address(), Math.max(bits - 96, 0)] : [ip, bits];
    });
  }

  /**
   * Why `address` (an IP) may not be called ("127.0.0.1, a loopback address, …"), or undefined.
   * An IPv6 address that carries an IPv4 one (mapped, compatible, translated, NAT64, 6to4) is
   * judged as that IPv4 address: that is where a packet to it may end up.
   */
  refusal(address: string): string | undefined {
    const parsed = ipaddr.parse(address);
    const ip = parsed.kind() === 'ipv6' ? (embeddedIPv4(parsed as ipaddr.IPv6) ?? parsed) : parsed;
    if (this.allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return undefined;
    const range = ip.range();
    return range === 'unicast' ? undefined : `${address}, a ${range} address, not a public one (${HINT})`;
  }

  /** Why `url` may not be called, or undefined. Checks an IP host; a name is checked when connecting. */
  refusalOfHost(url: URL): string | undefined {
    const host = hostOf(url);
    const refused = isIP(host) ? this.refusal(host) : undefined;
    return refused && `the host is ${refused}`;
  }

  /**
   * For a URL being registered: why it may not be called, or undefined. A name is resolved now so
   * that a wrong one is refused at once; one that does not resolve yet is accepted (the delivery's
   * own lookup decides).
   */
  async check(raw: string): Promise<string | undefined> {
    const bad = unsafeUrl(raw);
    if (bad) return bad;
    const url = new URL(raw);
    const host = hostOf(url);
    if (isIP(host)) return this.refusalOfHost(url);
    const addresses = await dns.lookup(host, { all: true }).catch(() => []);
    const refused = addresses.map((a) => this.refusal(a.address)).find(Boolean);
    return refused && `${host} resolves to ${refused}`;
  }

  /** dns.lookup that fails when any address of the name is not allowed (for net.connect and agents). */
  readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const refused = addresses.map((a) => this.refusal(a.address)).find(Boolean);
      if (refused) return callback(Object.assign(new Error(`${hostname} resolves to ${refused}`), { code: 'EPRIVATEADDRESS' }), '');
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };

  /** An https.Agent whose connections go through the guarded lookup (Web Push). */
  httpsAgent(options: AgentOptions = {}): HttpsAgent {
    return new HttpsAgent({ ...options, lookup: this.lookup as AgentOptions['lookup'] });
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }

  /** Sends one request through the guard: the status, or an error saying why it was not sent. */
  async send(req: { url: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }, timeoutMs: number): Promise<number> {
    // Again here: a URL stored before these checks existed is still refused.
    const refused = unsafeUrl(req.url) ?? this.refusalOfHost(new URL(req.url));
    if (refused) throw new Error(refused);
    const res = await undici().request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      dispatcher: this.dispatcher,
      signal: AbortSignal.timeout(timeoutMs), // fails with a TimeoutError
    });
    await res.body.dump();
    return res.statusCode;
  }
}

/** The URL's host without the brackets of an IPv6 literal. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Why a URL is unusable whatever its host: not http(s), or with spaces or control characters
 * (URL parsers drop CR, LF and tabs silently, so what is stored and shown differs from what is
 * called, and a raw CR/LF in a request line would split it). Undefined when it is fine.
 */
export function unsafeUrl(raw: string): string | undefined {
  if (CONTROL_OR_SPACE.test(raw)) return 'the URL contains spaces or control characters';
  if (!URL.canParse(raw)) return 'the URL is not a valid URL';
  const { protocol } = new URL(raw);
  return protocol === 'http:' || protocol === 'https:' ? undefined : 'the URL must be http or https';
}

/** C0 and C1 controls, DEL and space: never part of a URL we accept. */
export const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f-\u009f]/;

// Prefixes whose last 32 bits are an IPv4 address: IPv4-compatible (::/96, deprecated but still
// routed by some stacks), IPv4-translated (::ffff:0:0:0/96, RFC 6145) and the NAT64 well-known
// prefix (64:ff9b::/96, RFC 6052). Mapped addresses (::ffff:0:0/96) are ipaddr.js's own case.
const LAST_32_BITS: Network[] = ['::/96', '::ffff:0:0:0/96', '64:ff9b::/96'].map((c) => ipaddr.parseCIDR(c));
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16');

/** The IPv4 address an IPv6 one carries (and reaches), or undefined. `::` and `::1` stay IPv6. */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  if (ip.isIPv4MappedAddress()) return ip.toIPv4Address();
  const p = ip.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  if (ip.match(SIX_TO_FOUR)) return v4(p[1], p[2]); // 2002:AABB:CCDD::/48 is AA.BB.CC.DD's
  const loopbackOrUnspecified = p.slice(0, 7).every((x) => x === 0) && p[7] <= 1;
  if (!loopbackOrUnspecified && LAST_32_BITS.some((net) => ip.match(net))) return v4(p[6], p[7]);
  return undefined;
}

/** ::ffff:10.0.0.1 reaches 10.0.0.1: judge it as the IPv4 address it is. */
const isMapped = (ip: ipaddr.IPv4 | ipaddr.IPv6): ip is ipaddr.IPv6 => ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress();
