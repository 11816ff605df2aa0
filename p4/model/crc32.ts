/**
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), table-driven: the hash of the pipeline's
 * action selector over (hdr.ipv4.src_addr, meta.l4_src_port) as 6 big-endian bytes.
 *
 * @example
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 * crc32AddrPort(0x0a000001, 80);                // the same as crc32 of [10,0,0,1,0,80]
 */
const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** CRC-32 of a byte string. */
export function crc32(bytes: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of addr (4 bytes, big-endian) followed by port (2 bytes, big-endian); no allocation. */
export function crc32AddrPort(addr: number, port: number): number {
  let c = -1;
  c = TABLE[(c ^ (addr >>> 24)) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ (addr >>> 16)) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ (addr >>> 8)) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ addr) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ (port >>> 8)) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ port) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
