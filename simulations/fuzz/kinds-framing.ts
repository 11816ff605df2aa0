/**
 * Generators that break the framing of the wire format: where a message ends, how long a field
 * says it is, how a varint or a tag is spelled. Each breaks one thing inside otherwise valid
 * content, since a decoder that rejects a bad first byte proves little.
 */
import { illegal, legal, pickValid, spliceAtBoundary, type Draft, type GenContext } from './case-context.js';
import { randomBytes } from './random-bytes.js';
import { writeAnyElement, writeAnyValue } from './samples.js';
import { pick, unknownFieldNumber, type FieldInfo } from './schema.js';
import { fieldBoundaries, MAX_FIELD_NUMBER, RESERVED_FIELD_NUMBERS, readVarint, WIRE, WireWriter } from './wire.js';

/** Valid wire types a well-formed element can have. */
const ELEMENT_WIRE_TYPES = [WIRE.VARINT, WIRE.I64, WIRE.LEN, WIRE.SGROUP, WIRE.I32] as const;
const TWO_32 = 2 ** 32;
const TWO_31 = 2 ** 31;

/** A known field of one of the wire types, else an unknown field number. */
function knownOr(ctx: GenContext, wireType: number, test: (f: FieldInfo) => boolean = () => true): number {
  const known = pick(ctx.random, ctx.info.fields.filter((f) => f.wireType === wireType && test(f)));
  return known?.id ?? unknownFieldNumber(ctx.info, ctx.random);
}

/** A valid message cut at `cut`. Whole fields only (a top-level boundary) is still a valid message. */
export function truncationDraft(valid: Uint8Array, cut: number, boundaries: ReadonlySet<number>, hasRequired: boolean): Draft {
  const bytes = valid.slice(0, cut);
  const where = `valid ${valid.length}-byte message cut to its first ${cut} bytes`;
  if (!boundaries.has(cut)) return illegal(bytes, `${where}: the cut falls inside a field`);
  const note = `${where}: the cut falls between top-level fields, so the prefix is itself a message`;
  return hasRequired ? { bytes, note: `${note} (unless it drops a required field)`, legal: 'maybe' } : legal(bytes, note);
}

/** `truncated`: a valid message cut at a random byte, mostly inside a field. */
export function truncated(ctx: GenContext): Draft {
  const valid = pick(ctx.random, ctx.valid.filter((v) => v.length > 0 && v.length <= ctx.maxBytes));
  if (!valid) {
    // Nothing to cut: a 3-byte unknown varint field cut before its last byte.
    const w = new WireWriter().tag(unknownFieldNumber(ctx.info, ctx.random, true), WIRE.VARINT).varint(300);
    return illegal(w.finish().slice(0, w.length - 1), 'no non-empty valid message given: an unknown varint field cut inside its value');
  }
  const boundaries = new Set(fieldBoundaries(valid));
  const inside: number[] = [];
  for (let cut = 0; cut < valid.length; cut++) if (!boundaries.has(cut)) inside.push(cut);
  const cut = inside.length > 0 && ctx.random.next() < 0.9 ? inside[ctx.random.int(0, inside.length - 1)]! : ctx.random.int(0, valid.length - 1);
  return truncationDraft(valid, cut, boundaries, ctx.info.hasRequired);
}

/** `length_past_end`: a length prefix longer than the buffer, or than its parent message. */
export function lengthPastEnd(ctx: GenContext): Draft {
  const variant = ctx.random.int(0, 2);
  if (variant === 1) {
    const grown = growExistingLength(ctx);
    if (grown) return grown;
  }
  if (variant === 2) {
    const inner = pastParentEnd(ctx);
    if (inner) return inner;
  }
  const field = knownOr(ctx, WIRE.LEN);
  const payload = randomBytes(ctx.random, ctx.random.int(0, 8));
  const claim = payload.length + ctx.random.int(1, ctx.random.next() < 0.5 ? 16 : 1 << 20);
  const base = pickValid(ctx, 32);
  const w = new WireWriter().raw(base).tag(field, WIRE.LEN).varint(claim).raw(payload);
  return illegal(w.finish(), `field ${field} (LEN) at the end of a ${base.length}-byte valid message claims ${claim} bytes, ${payload.length} follow`);
}

/** A top-level LEN field of a valid message re-prefixed with a length that runs past the end. */
function growExistingLength(ctx: GenContext): Draft | undefined {
  const base = pickValid(ctx, 16);
  const lens = fieldBoundaries(base).filter((at) => at < base.length && (readVarint(base, at)?.value ?? 0) % 8 === WIRE.LEN);
  const at = pick(ctx.random, lens);
  if (at === undefined) return undefined;
  const tag = readVarint(base, at)!;
  const len = readVarint(base, tag.next)!;
  const claim = base.length - len.next + ctx.random.int(1, 4096);
  const w = new WireWriter().raw(base.subarray(0, tag.next)).varint(claim).raw(base.subarray(len.next));
  return illegal(w.finish(), `field ${Math.floor(tag.value / 8)} of a valid message re-prefixed with length ${claim} (was ${len.value}), past the end`);
}

/**
 * Inside a known message field, a LEN field claims more than its parent holds but less than the
 * whole buffer: decoders that check lengths against the buffer instead of the parent accept it.
 */
function pastParentEnd(ctx: GenContext): Draft | undefined {
  const parent = pick(ctx.random, ctx.info.fields.filter((f) => f.message && f.wireType === WIRE.LEN));
  if (!parent) return undefined;
  const extra = ctx.random.int(1, 32);
  const payload = randomBytes(ctx.random, ctx.random.int(0, 8));
  const inner = new WireWriter().tag(ctx.random.int(1, 15), WIRE.LEN).varint(payload.length + extra).raw(payload).finish();
  // The trailer only has to exist so the buffer is long enough: small unknown varint fields.
  const trailer = new WireWriter();
  const filler = unknownFieldNumber(ctx.info, ctx.random, true);
  while (trailer.length < extra) trailer.tag(filler, WIRE.VARINT).varint(ctx.random.int(0, 127));
  const w = new WireWriter().lengthDelimited(parent.id, inner).raw(trailer.finish());
  return illegal(w.finish(), `in message field ${parent.id}, a LEN field claims ${extra} bytes past its parent's end (the buffer has them)`);
}

/** `length_near_2_32`: a length of 2^31..2^32-1, 2^32+k or 2^64-1 with a few bytes after it. */
export function lengthNear2p32(ctx: GenContext): Draft {
  const tail = ctx.random.int(0, 16);
  const claims: [number | bigint, string][] = [
    [TWO_32 - 1, '2^32-1'],
    [TWO_32 - 2, '2^32-2'],
    [TWO_31, '2^31'],
    [TWO_31 + 1, '2^31+1'],
    [TWO_31 - 1, '2^31-1'],
    [TWO_31 + ctx.random.int(2, 1 << 30), '2^31+r'],
    [TWO_32 + tail, `2^32+${tail}: a decoder that keeps 32 bits reads ${tail} and finds exactly that many`],
    [(1n << 64n) - 1n, '2^64-1'],
  ];
  const [claim, label] = claims[ctx.random.int(0, claims.length - 1)]!;
  const field = knownOr(ctx, WIRE.LEN);
  const element = new WireWriter().tag(field, WIRE.LEN).varint(claim).raw(randomBytes(ctx.random, tail)).finish();
  const base = pickValid(ctx, element.length);
  return illegal(spliceAtBoundary(ctx.random, base, element), `field ${field} (LEN) claims length ${label}, ${tail} bytes follow it`);
}

/** `overlong_varint`: a value, tag or length spelled in 11+ bytes, past 64 bits, or never ended. */
export function overlongVarint(ctx: GenContext): Draft {
  const r = ctx.random;
  const w = new WireWriter();
  const n = r.int(11, 20);
  let note: string;
  switch (r.int(0, 5)) {
    case 0: {
      const f = knownOr(ctx, WIRE.VARINT);
      w.tag(f, WIRE.VARINT).overlongVarint(r.int(0, 300), n);
      note = `field ${f} (varint) value spelled in ${n} bytes`;
      break;
    }
    case 1: {
      const f = knownOr(ctx, WIRE.VARINT);
      w.overlongVarint(f * 8, n).varint(r.int(0, 300));
      note = `the tag of field ${f} spelled in ${n} bytes`;
      break;
    }
    case 2: {
      const f = knownOr(ctx, WIRE.LEN);
      w.tag(f, WIRE.LEN).overlongVarint(2, n).raw(Uint8Array.of(0x61, 0x62));
      note = `the length prefix of field ${f} (LEN, 2 bytes) spelled in ${n} bytes`;
      break;
    }
    case 3: {
      const f = knownOr(ctx, WIRE.VARINT);
      const last = r.int(2, 0x7f);
      w.tag(f, WIRE.VARINT).overflowVarint(BigInt(r.int(0, 0x7fffffff)), last);
      note = `field ${f} (varint): a 10-byte varint whose last byte 0x${last.toString(16)} sets bits past 64`;
      break;
    }
    case 4: {
      const f = unknownFieldNumber(ctx.info, r);
      w.tag(f, WIRE.VARINT).overlongVarint(r.int(0, 300), n);
      note = `unknown field ${f} (varint) spelled in ${n} bytes: skipping it must still bound the varint`;
      break;
    }
    default: {
      const f = knownOr(ctx, WIRE.VARINT);
      w.tag(f, WIRE.VARINT).fill(0xff, n + r.int(0, 20));
      note = `field ${f} (varint): continuation bytes to the end of the buffer, no terminating byte`;
      return illegal(new WireWriter().raw(pickValid(ctx, w.length)).raw(w.finish()).finish(), note);
    }
  }
  const element = w.finish();
  return illegal(spliceAtBoundary(r, pickValid(ctx, element.length), element), note);
}

/** `field_number_zero`: field 0 under a valid wire type, at the top level or nested. */
export function fieldNumberZero(ctx: GenContext): Draft {
  const r = ctx.random;
  const wt = ELEMENT_WIRE_TYPES[r.int(0, ELEMENT_WIRE_TYPES.length - 1)]!;
  const w = new WireWriter();
  let how = 'a plain tag';
  if (r.next() < 0.25) {
    const width = r.int(2, 5);
    writeAnyValue(w.overlongVarint(wt, width), 0, wt, r);
    how = `a tag padded to ${width} bytes`;
  } else {
    writeAnyElement(w, 0, wt, r);
  }
  let element = w.finish();
  const parent = pick(r, ctx.info.fields.filter((f) => f.message && f.wireType === WIRE.LEN));
  let where = 'top level';
  if (parent && r.next() < 0.3) {
    element = new WireWriter().lengthDelimited(parent.id, element).finish();
    where = `inside message field ${parent.id}`;
  }
  return illegal(spliceAtBoundary(r, pickValid(ctx, element.length), element), `field number 0 with wire type ${wt} (${how}) at ${where}`);
}

/** `huge_field_number`: field numbers past 2^29-1 (illegal) or 2^29-1 and 19000-19999 (legal). */
export function hugeFieldNumber(ctx: GenContext): Draft {
  const r = ctx.random;
  const wt = ELEMENT_WIRE_TYPES[r.int(0, ELEMENT_WIRE_TYPES.length - 1)]!;
  const roll = r.next();
  let n: number;
  let label: string;
  if (roll < 0.2) {
    n = r.int(RESERVED_FIELD_NUMBERS.first, RESERVED_FIELD_NUMBERS.last);
    label = `reserved field number ${n}`;
  } else if (roll < 0.3) {
    n = MAX_FIELD_NUMBER;
    label = `the largest legal field number ${n}`;
  } else {
    const choices = [MAX_FIELD_NUMBER + 1, MAX_FIELD_NUMBER + r.int(2, 1 << 20), TWO_32 - 1, TWO_32, 2 ** 40 + 1, 2 ** 53 - 1];
    n = choices[r.int(0, choices.length - 1)]!;
    label = `field number ${n} (> 2^29-1)`;
  }
  const element = writeAnyElement(new WireWriter(), n, wt, r).finish();
  const bytes = spliceAtBoundary(r, pickValid(ctx, element.length), element);
  if (n > MAX_FIELD_NUMBER) return illegal(bytes, `${label}, wire type ${wt}`);
  return legal(bytes, `${label}, wire type ${wt}: reserved numbers are a .proto rule only; parsers keep it as an unknown field`);
}
