/**
 * Protobuf wire primitives for the lean P4Runtime codecs (the target's lean-write.ts and
 * lean-read.ts, the client's lean-client-write.ts and lean-client-read.ts): a strict reader and
 * a growable writer over plain byte arrays.
 *
 * The lean codecs handle the common shape of a message only. The reader is deliberately narrower
 * than the protobuf specification: 32-bit varints of at most 5 bytes, field numbers strictly
 * ascending (equal only for consecutive elements of a repeated field), no unknown fields. Anything
 * else throws NOT_LEAN, and the caller hands the whole message to the generic protobufjs path,
 * which then decides (decodes it, or answers with its status). So the lean path never has to
 * reproduce protobufjs's handling of odd input: it only ever accepts input that both paths read
 * the same way.
 *
 * @example
 * const r = new LeanReader(bytes, 0, bytes.length);
 * const tag = r.tag();                // field << 3 | wire type
 * const w = new LeanWriter(256);
 * w.byte(0x08); w.varint32(300);      // field 1 = 300
 * w.finish();                         // Buffer 08 ac 02
 */

/** Thrown (one shared instance) when a message is not one the lean path handles; never escapes a codec. */
export const NOT_LEAN = new Error('not handled by the lean codec');

export function notLean(): never {
  throw NOT_LEAN;
}

const EMPTY_BUFFER = Buffer.alloc(0);

export class LeanReader {
  pos: number;
  /** Tags read so far (the precheck's field count, whose limit the lean path must respect too). */
  fields = 0;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    private readonly maxFields = Infinity,
  ) {
    this.pos = start;
  }

  /** A tag (field number << 3 | wire type); field numbers and wire types are the caller's to check. */
  tag(): number {
    if (++this.fields > this.maxFields) notLean();
    return this.varint32();
  }

  /** A varint of at most 5 bytes whose value fits 32 bits (else NOT_LEAN). */
  varint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    if (pos >= end) notLean();
    let b = buf[pos++]!;
    let v = b & 0x7f;
    if (b < 0x80) {
      this.pos = pos;
      return v;
    }
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= end) notLean();
      b = buf[pos++]!;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
    }
    if (pos >= end) notLean();
    b = buf[pos++]!;
    if (b > 0x0f) notLean();
    this.pos = pos;
    return (v | (b << 28)) >>> 0;
  }

  /** A varint for an int32 field: only non-negative values are lean (negatives take 10 bytes). */
  int32(): number {
    const v = this.varint32();
    if (v > 0x7fffffff) notLean();
    return v;
  }

  /** A varint of up to 10 bytes as an unsigned 64-bit bigint. */
  varint64(): bigint {
    let lo = 0;
    let hi = 0;
    const buf = this.buf;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) notLean();
      const b = buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else if (i < 9) hi |= (b & 0x7f) << (7 * i - 32);
      else if (b > 1) notLean();
      else hi |= b << 31;
      if (b < 0x80) return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
    return notLean();
  }

  /** The length of a length-delimited field; returns where it ends (checked against `end`). */
  sub(end: number = this.end): number {
    const len = this.varint32();
    const stop = this.pos + len;
    if (stop > end) notLean();
    return stop;
  }
}

/** Bytes a varint of an unsigned 32-bit value takes. */
export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Bytes a varint of an unsigned 64-bit bigint takes. */
export function varint64Size(v: bigint): number {
  let n = 1;
  for (let x = v >> 7n; x > 0n; x >>= 7n) n++;
  return n;
}

/** A growable output buffer. `finish()` hands the bytes over as a Buffer (no copy). */
export class LeanWriter {
  buf: Buffer = EMPTY_BUFFER;
  pos = 0;

  /** `capacity`: what to allocate when the writer first needs room (again, after a finish()). */
  constructor(private readonly capacity: number) {}

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.capacity, this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  varint32(v: number): void {
    const buf = this.buf;
    let x = v >>> 0;
    while (x >= 0x80) {
      buf[this.pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    buf[this.pos++] = x;
  }

  varint64(v: bigint): void {
    let x = v;
    while (x >= 0x80n) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    if (n > 32) this.buf.set(b, this.pos);
    else for (let i = 0, buf = this.buf, p = this.pos; i < n; i++) buf[p + i] = b[i]!; // a short copy beats set()'s call overhead
    this.pos += n;
  }

  /** The bytes written so far, as a Buffer over the same memory; the writer starts afresh. */
  finish(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = EMPTY_BUFFER;
    this.pos = 0;
    return out;
  }
}
