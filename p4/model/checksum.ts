/**
 * Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) on frame bytes,
 * for rewriting addresses and ports without summing the packet again.
 *
 * @example
 * // the destination address at byte `o` changes from oldDst to newDst:
 * const hc = updateChecksum32(read16(f, ipOff + 10), oldDst, newDst);
 * write16(f, ipOff + 10, hc);
 */

/** The checksum after a 32-bit field changed from `from` to `to`. */
export function updateChecksum32(checksum: number, from: number, to: number): number {
  let sum = (~checksum & 0xffff) + (~(from >>> 16) & 0xffff) + (~from & 0xffff) + (to >>> 16) + (to & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The checksum after a 16-bit field changed from `from` to `to`. */
export function updateChecksum16(checksum: number, from: number, to: number): number {
  let sum = (~checksum & 0xffff) + (~from & 0xffff) + (to & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function read16(f: Uint8Array, o: number): number {
  return (f[o]! << 8) | f[o + 1]!;
}

export function write16(f: Uint8Array, o: number, v: number): void {
  f[o] = v >>> 8;
  f[o + 1] = v & 0xff;
}

export function read32(f: Uint8Array, o: number): number {
  return ((f[o]! << 24) | (f[o + 1]! << 16) | (f[o + 2]! << 8) | f[o + 3]!) >>> 0;
}

export function write32(f: Uint8Array, o: number, v: number): void {
  f[o] = v >>> 24;
  f[o + 1] = (v >>> 16) & 0xff;
  f[o + 2] = (v >>> 8) & 0xff;
  f[o + 3] = v & 0xff;
}
