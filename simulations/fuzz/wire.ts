/**
 * A protobuf wire-format writer that, unlike protobufjs' Writer, is willing to write what a
 * correct encoder never would: field number 0 or above 2^29-1, wire types 6 and 7, varints longer
 * than 10 bytes or carrying bits past 64, length prefixes that lie. The fuzz generators build
 * every malformed message with it.
 *
 * Bytes go into one growable buffer (doubling), so writing a 100,000-level group bomb costs a
 * handful of allocations, not one per byte.
 *
 * @example
 * const w = new WireWriter();
 * w.tag(1, WIRE.LEN).varint(3).raw(new TextEncoder().encode('abc'));
 * w.tag(0, WIRE.VARINT).overlongVarint(1, 12); // field 0, a 12-byte varint
 * const bytes = w.finish();
 */

/** Wire types by name; 6 and 7 are not assigned by protobuf and every parser must reject them. */
export const WIRE = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;

/** The largest field number protobuf allows (2^29 - 1). */
export const MAX_FIELD_NUMBER = 0x1fffffff;
/** Field numbers protobuf reserves for its own use in .proto files; legal on the wire. */
export const RESERVED_FIELD_NUMBERS = { first: 19000, last: 19999 } as const;
/** A varint that needs more bytes than this cannot be valid (ceil(64 / 7)). */
export const MAX_VARINT_BYTES = 10;

const UINT64_MASK = (1n << 64n) - 1n;

/**
 * Bytes a minimal varint encoding of `value` takes (negative numbers: 64-bit two's complement).
 *
 * @example
 * varintLength(300); // 2
 */
export function varintLength(value: number | bigint): number {
  let v = toUnsigned(value);
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

/**
 * Bytes a tag with this field number takes (field numbers above 2^29-1 included).
 *
 * @example
 * tagLength(15); // 1
 */
export function tagLength(fieldNumber: number): number {
  return varintLength(BigInt(fieldNumber) * 8n);
}

/** Protobuf encodes negative integers as their 64-bit two's complement; mirror that here. */
function toUnsigned(value: number | bigint): bigint {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new RangeError(`varint value must be an integer, got ${value}`);
    return BigInt.asUintN(64, BigInt(value));
  }
  return value < 0n ? BigInt.asUintN(64, value) : value;
}

export class WireWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Drops what was written, keeping the buffer for reuse. */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /** A copy of the bytes written: later writes do not change it, and it owns its ArrayBuffer. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  byte(value: number): this {
    this.ensure(1);
    this.buf[this.pos++] = value & 0xff;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** `count` copies of one byte: the bulk of bombs (group tags, continuation bytes, padding). */
  fill(value: number, count: number): this {
    this.ensure(count);
    this.buf.fill(value & 0xff, this.pos, this.pos + count);
    this.pos += count;
    return this;
  }

  /** Repeats `unit` `count` times, doubling the copied span so big repeats stay cheap. */
  repeat(unit: Uint8Array, count: number): this {
    if (count <= 0 || unit.length === 0) return this;
    const total = unit.length * count;
    this.ensure(total);
    const start = this.pos;
    this.buf.set(unit, start);
    let done = unit.length;
    while (done < total) {
      const n = Math.min(done, total - done);
      this.buf.copyWithin(start + done, start, start + n);
      done += n;
    }
    this.pos += total;
    return this;
  }

  /** A minimal varint; negative numbers become 10-byte two's complement, as int32/int64 do. */
  varint(value: number | bigint): this {
    if (typeof value === 'number' && value >= 0 && value <= Number.MAX_SAFE_INTEGER) return this.safeVarint(value);
    let v = toUnsigned(value);
    this.ensure(MAX_VARINT_BYTES + 1);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  /**
   * `value` spread over exactly `totalBytes` bytes by padding with continuation bytes. Up to 10
   * bytes this is a legal (non-minimal) encoding; 11 or more is malformed everywhere.
   */
  overlongVarint(value: number | bigint, totalBytes: number): this {
    const minimal = varintLength(value);
    if (totalBytes < minimal) throw new RangeError(`${totalBytes} bytes cannot hold a ${minimal}-byte varint`);
    this.ensure(totalBytes);
    if (typeof value === 'number' && value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
      let n = value;
      for (let i = 0; i < totalBytes - 1; i++) {
        this.buf[this.pos++] = (n % 128) | 0x80;
        n = Math.floor(n / 128);
      }
      this.buf[this.pos++] = n % 128;
      return this;
    }
    let v = toUnsigned(value);
    for (let i = 0; i < totalBytes - 1; i++) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v & 0x7fn);
    return this;
  }

  /**
   * A 10-byte varint whose last byte carries bits 64..70: its value does not fit in 64 bits.
   * Go and upb reject it; decoders that silently drop the high bits accept it.
   *
   * @param lastByte the 10th byte, 2..0x7f (1 would be the legal top bit of a uint64).
   */
  overflowVarint(low63: bigint = UINT64_MASK >> 1n, lastByte = 0x7f): this {
    if (lastByte < 2 || lastByte > 0x7f) throw new RangeError('lastByte must be in 2..0x7f to overflow 64 bits');
    this.overlongVarint(low63 & (UINT64_MASK >> 1n), MAX_VARINT_BYTES - 1);
    this.buf[this.pos - 1] = (this.buf[this.pos - 1] ?? 0) | 0x80;
    return this.byte(lastByte);
  }

  /** A tag for any field number (0 and > 2^29-1 included) and any wire type 0..7. */
  tag(fieldNumber: number, wireType: number): this {
    if (fieldNumber < 0 || !Number.isInteger(fieldNumber)) throw new RangeError(`bad field number ${fieldNumber}`);
    const wt = wireType & 7;
    if (fieldNumber < 2 ** 50) return this.safeVarint(fieldNumber * 8 + wt);
    return this.varint((BigInt(fieldNumber) << 3n) | BigInt(wt));
  }

  /** Tag, length and payload; the length is the payload's real length. */
  lengthDelimited(fieldNumber: number, payload: Uint8Array): this {
    return this.tag(fieldNumber, WIRE.LEN).varint(payload.length).raw(payload);
  }

  /** Little-endian 32 bits (fixed32, sfixed32 and float share the encoding). */
  fixed32(value: number): this {
    this.ensure(4);
    const v = value >>> 0;
    this.buf[this.pos++] = v & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = v >>> 24;
    return this;
  }

  /** Little-endian 64 bits (fixed64, sfixed64, double). */
  fixed64(value: number | bigint): this {
    const v = toUnsigned(value);
    this.fixed32(Number(v & 0xffffffffn));
    return this.fixed32(Number(v >> 32n));
  }

  startGroup(fieldNumber: number): this {
    return this.tag(fieldNumber, WIRE.SGROUP);
  }

  endGroup(fieldNumber: number): this {
    return this.tag(fieldNumber, WIRE.EGROUP);
  }

  /**
   * Messages nested through `fieldNumbers` (outermost first), each length-delimited, with `inner`
   * at the bottom. `levels[i]`, if given, is written inside the message that field i opens, before
   * the next level (a nested type's required fields, say). Lengths are computed inside-out first,
   * so the bytes are written once, front to back, however deep the nesting.
   */
  nested(fieldNumbers: readonly number[], inner: Uint8Array, levels: readonly Uint8Array[] = []): this {
    const payloads = nestedPayloads(fieldNumbers, inner.length, levels);
    for (let i = 0; i < fieldNumbers.length; i++) {
      this.tag(fieldNumbers[i] ?? 0, WIRE.LEN).varint(payloads[i] ?? 0);
      const content = levels[i];
      if (content) this.raw(content);
    }
    return this.raw(inner);
  }

  /** Number arithmetic for values below 2^53: no BigInt allocated per byte. */
  private safeVarint(value: number): this {
    this.ensure(MAX_VARINT_BYTES);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  private ensure(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.buf.length) return;
    const next = new Uint8Array(Math.max(needed, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

/**
 * The minimal varint encoding of `value`, as its own array.
 *
 * @example
 * encodeVarint(300); // Uint8Array [0xac, 0x02]
 */
export function encodeVarint(value: number | bigint): Uint8Array {
  return new WireWriter(16).varint(value).finish();
}

/**
 * Total bytes `WireWriter.nested` writes for these arguments (an inner of `innerLength` bytes).
 *
 * @example
 * nestedLength([5, 5], 0); // 4: two levels of tag + zero-ish length
 */
export function nestedLength(fieldNumbers: readonly number[], innerLength: number, levels: readonly Uint8Array[] = []): number {
  if (fieldNumbers.length === 0) return innerLength;
  const first = nestedPayloads(fieldNumbers, innerLength, levels)[0] ?? 0;
  return tagLength(fieldNumbers[0] ?? 0) + varintLength(first) + first;
}

/** Payload length of each nesting level, innermost first computed. */
function nestedPayloads(fieldNumbers: readonly number[], innerLength: number, levels: readonly Uint8Array[]): number[] {
  const payloads = new Array<number>(fieldNumbers.length);
  let below = innerLength;
  for (let i = fieldNumbers.length - 1; i >= 0; i--) {
    payloads[i] = (levels[i]?.length ?? 0) + below;
    below = tagLength(fieldNumbers[i] ?? 0) + varintLength(payloads[i] ?? 0) + (payloads[i] ?? 0);
  }
  return payloads;
}

/** A varint read at `pos`: its value (exact below 2^53) and where the next item starts. */
export interface VarintRead {
  readonly value: number;
  readonly next: number;
}

/**
 * Reads one varint the strict way: at most 10 bytes, no bits past 64; undefined if malformed.
 *
 * @example
 * readVarint(Uint8Array.of(0xac, 0x02), 0); // { value: 300, next: 2 }
 */
export function readVarint(bytes: Uint8Array, pos: number): VarintRead | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const b = bytes[pos + i];
    if (b === undefined) return undefined;
    if (i === MAX_VARINT_BYTES - 1 && b > 1) return undefined;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return { value, next: pos + i + 1 };
  }
  return undefined;
}

/**
 * Offsets at which a top-level field starts or the message ends, as far as the bytes are
 * well-formed: a cut at one of these offsets leaves whole fields only. Scanning stops at the first
 * malformed element, so for a valid message the last offset is its length.
 *
 * @example
 * fieldBoundaries(Uint8Array.of(0x08, 0x01, 0x12, 0x00)); // [0, 2, 4]
 */
export function fieldBoundaries(bytes: Uint8Array): number[] {
  const out = [0];
  let pos = 0;
  while (pos < bytes.length) {
    const next = skipField(bytes, pos, 0);
    if (next === undefined) break;
    out.push(next);
    pos = next;
  }
  return out;
}

/** End of the field whose tag starts at `pos`, or undefined if it is malformed or incomplete. */
function skipField(bytes: Uint8Array, pos: number, depth: number): number | undefined {
  const tag = readVarint(bytes, pos);
  if (!tag || depth > 100) return undefined;
  const fieldNumber = Math.floor(tag.value / 8);
  if (fieldNumber < 1 || fieldNumber > MAX_FIELD_NUMBER) return undefined;
  const at = tag.next;
  switch (tag.value % 8) {
    case WIRE.VARINT:
      return readVarint(bytes, at)?.next;
    case WIRE.I64:
      return at + 8 <= bytes.length ? at + 8 : undefined;
    case WIRE.I32:
      return at + 4 <= bytes.length ? at + 4 : undefined;
    case WIRE.LEN: {
      const len = readVarint(bytes, at);
      return len && len.next + len.value <= bytes.length ? len.next + len.value : undefined;
    }
    case WIRE.SGROUP:
      return skipGroup(bytes, at, fieldNumber, depth + 1);
    default:
      return undefined;
  }
}

function skipGroup(bytes: Uint8Array, pos: number, fieldNumber: number, depth: number): number | undefined {
  let at = pos;
  for (;;) {
    const tag = readVarint(bytes, at);
    if (!tag) return undefined;
    if (tag.value % 8 === WIRE.EGROUP) return Math.floor(tag.value / 8) === fieldNumber ? tag.next : undefined;
    const next = skipField(bytes, at, depth);
    if (next === undefined) return undefined;
    at = next;
  }
}
