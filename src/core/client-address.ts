// What a per-client allowance is counted under (auth failures, device registrations).
import ipaddr from 'ipaddr.js';

/**
 * An IPv4 address, or an IPv6 /64 (one subscriber's usual share, which holds more addresses than
 * anyone could try). An IPv4-mapped address counts as its IPv4 address.
 */
export function addressKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const addr = ipaddr.process(ip);
  return addr.kind() === 'ipv4' ? addr.toString() : `${ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/64`).toString()}/64`;
}
