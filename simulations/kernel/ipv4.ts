/**
 * IPv4 arithmetic for the synthetic kernel: prefixes as iproute2 reads them on its command line
 * (`default`, `a.b.c.d`, `a.b.c.d/len`), masks, networks and containment, on unsigned 32-bit
 * numbers.
 *
 * @example
 * parsePrefix('10.96.0.0/12'); // { addr: 0x0a600000, len: 12 }
 * contains({ addr: 0x0a600000, len: 12 }, parseIpv4('10.96.0.1')!); // true
 */
import { formatIpv4, parseIpv4 } from '../../messages/validate.js';

export { formatIpv4, parseIpv4 };

export interface Prefix {
  readonly addr: number;
  readonly len: number;
}

/** The netmask of a prefix length, unsigned. */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** The network address of `addr` under `len`. */
export function networkOf(addr: number, len: number): number {
  return (addr & maskOf(len)) >>> 0;
}

export function contains(prefix: Prefix, addr: number): boolean {
  return networkOf(addr, prefix.len) === networkOf(prefix.addr, prefix.len);
}

/**
 * `a.b.c.d` (a /32) or `a.b.c.d/len`, and `default` when `allowDefault` (route destinations);
 * undefined when iproute2 would refuse it.
 */
export function parsePrefix(text: string, allowDefault = false): Prefix | undefined {
  if (allowDefault && text === 'default') return { addr: 0, len: 0 };
  const slash = text.indexOf('/');
  const addr = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (addr === undefined) return undefined;
  if (slash < 0) return { addr, len: 32 };
  const lenText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]?)$/.test(lenText)) return undefined;
  const len = Number(lenText);
  return len <= 32 ? { addr, len } : undefined;
}

/** As `ip route` prints a destination: `default`, `a.b.c.d` for a /32, else `a.b.c.d/len`. */
export function formatDst(dst: string, len: number): string {
  if (len === 0) return 'default';
  return len === 32 ? dst : `${dst}/${len}`;
}
