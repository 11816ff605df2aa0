/**
 * Structurally malformed protobuf messages for robustness tests: every process that decodes bus
 * messages must turn each of these into a typed error (or, for the legal ones, a message), never
 * a crash, a hang or an unbounded allocation. The original manager crashed on exactly this kind
 * of input from a fuzzer; these cases make that a test.
 *
 * Cases cycle through MALFORMED_KINDS, so any run of N >= MALFORMED_KINDS.length cases holds every
 * kind. Each case draws from its own Random, seeded from the run's Random and the case index:
 * the same seed gives the same bytes, and case i is the same whatever `start` and `count` are.
 *
 * Each case says honestly whether protobuf accepts it (`legal`): several kinds, or variants of
 * them, are legal protobuf that a decoder must accept (unknown fields, a repeated singular field,
 * reserved field numbers, a wire-type mismatch on a known field, which parsers keep as unknown).
 */
import protobuf from 'protobufjs';
import { seededRandom, type Random } from '../../core/random.js';
import { illegal, legal, pickValid, type Draft, type GenContext, type KindGenerator, type Legality, type Violation } from './case-context.js';
import { countBomb, deepNesting, groupBomb, hugeRepeated } from './kinds-bombs.js';
import { duplicateSingular, invalidUtf8, unknownFields, wrongWireType } from './kinds-fields.js';
import { fieldNumberZero, hugeFieldNumber, lengthNear2p32, lengthPastEnd, overlongVarint, truncated, truncationDraft } from './kinds-framing.js';
import { randomBytes } from './random-bytes.js';
import { inspectSchema, pick, unknownFieldNumber } from './schema.js';
import { fieldBoundaries, WIRE, WireWriter } from './wire.js';

export type { Legality, Violation } from './case-context.js';
export { GROUP_BOMB_DEPTH, RECURSION_LIMIT } from './kinds-bombs.js';

/**
 * Every kind of case, in the order the generator cycles through them:
 * - `truncated` a valid message cut at a byte boundary (legal only when the cut falls between fields)
 * - `length_past_end` a length prefix larger than what follows (or than its parent message)
 * - `length_near_2_32` a length of 2^31..2^32-1, 2^32+k (wraps to k in 32 bits) or 2^64-1
 * - `overlong_varint` varints of 11+ bytes (values, tags, lengths, unterminated) or past 64 bits
 * - `wrong_wire_type` a known field under another wire type (legal if well-formed; 4, 6, 7 are not)
 * - `field_number_zero` field number 0 under every wire type, top level or nested
 * - `huge_field_number` field numbers above 2^29-1 (legal: 2^29-1 itself and reserved 19000–19999)
 * - `unknown_fields` a valid message plus unknown fields of every wire type (legal)
 * - `deep_nesting` 100–1000 nested messages through recursive known fields or unknown blobs
 * - `group_bomb` 100,000 nested start-group tags, unclosed or balanced (exceeds maxBytes by design)
 * - `huge_repeated` tens of thousands of repeated elements (legal), or a packed length claiming ~2^31
 * - `count_bomb` as many tiny fields as fit in maxBytes, up to 200,000 (legal)
 * - `invalid_utf8` a known string field holding invalid UTF-8
 * - `duplicate_singular` a singular field sent several times with different values (legal)
 * - `random_bytes` uniform random bytes, length 0..maxBytes
 * - `empty` zero bytes (legal unless the type has required fields)
 * - `other_type` a valid message of another type, as given in `others`
 * - `oversize` a well-formed message of `oversizeBytes` (default 2 MiB), over maxBytes on purpose
 */
export const MALFORMED_KINDS = [
  'truncated',
  'length_past_end',
  'length_near_2_32',
  'overlong_varint',
  'wrong_wire_type',
  'field_number_zero',
  'huge_field_number',
  'unknown_fields',
  'deep_nesting',
  'group_bomb',
  'huge_repeated',
  'count_bomb',
  'invalid_utf8',
  'duplicate_singular',
  'random_bytes',
  'empty',
  'other_type',
  'oversize',
] as const;

export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** The only kinds whose bytes may exceed maxBytes: it is their point (see `oversize` on a case). */
export const SIZE_EXEMPT_KINDS: readonly MalformedKind[] = ['group_bomb', 'oversize'];

export const DEFAULT_MAX_BYTES = 64 * 1024;
export const DEFAULT_OVERSIZE_BYTES = 2 * 1024 * 1024;
/** Below this, some kinds cannot build their case with a valid message around it. */
export const MIN_MAX_BYTES = 64;

export interface MalformedCase {
  /** Position in the run; with the run's seed, enough to regenerate the case. */
  readonly index: number;
  readonly kind: MalformedKind;
  readonly bytes: Uint8Array;
  /** What the case is, in words, for a failure report. */
  readonly note: string;
  /** Whether a receiver must accept it; see Legality. */
  readonly legal: Legality;
  /** Why it must be rejected, when `legal` is false. */
  readonly violation?: Violation;
  /** The bytes exceed maxBytes (only SIZE_EXEMPT_KINDS do). */
  readonly oversize: boolean;
}

export interface MalformedOptions {
  /** The message type the receiver expects. */
  readonly type: protobuf.Type;
  /** Valid encodings of `type`: cut, extended and spliced into (if none, the smallest valid message stands in). */
  readonly valid: readonly Uint8Array[];
  readonly random: Random;
  readonly count: number;
  /** The receiver's size limit; every case but SIZE_EXEMPT_KINDS fits. Default 64 KiB. */
  readonly maxBytes?: number;
  /** Valid encodings of other types, for `other_type`. */
  readonly others?: readonly Uint8Array[];
  /** Index of the first case (cases before it are skipped, not generated). Default 0. */
  readonly start?: number;
  /** Only these kinds, cycled in this order. Default MALFORMED_KINDS. */
  readonly kinds?: readonly MalformedKind[];
  /** Size of `oversize` cases. Default 2 MiB. */
  readonly oversizeBytes?: number;
}

const GENERATORS: Record<MalformedKind, KindGenerator> = {
  truncated,
  length_past_end: lengthPastEnd,
  length_near_2_32: lengthNear2p32,
  overlong_varint: overlongVarint,
  wrong_wire_type: wrongWireType,
  field_number_zero: fieldNumberZero,
  huge_field_number: hugeFieldNumber,
  unknown_fields: unknownFields,
  deep_nesting: deepNesting,
  group_bomb: groupBomb,
  huge_repeated: hugeRepeated,
  count_bomb: countBomb,
  invalid_utf8: invalidUtf8,
  duplicate_singular: duplicateSingular,
  random_bytes: randomBytesCase,
  empty: emptyCase,
  other_type: otherType,
  oversize,
};

/**
 * Malformed encodings of `options.type`, generated lazily (group bombs and oversize cases are
 * large; a consumer that decodes and drops each case keeps memory flat). Options are checked
 * when called, not when iteration starts.
 *
 * @example
 * const type = root.lookupType('infra.v1.CreateNetworkRequest');
 * for (const c of malformedCases({ type, valid, random: seededRandom(42), count: 500 })) {
 *   const reply = await handler(c.bytes);
 *   if (c.legal === false) expect(reply.error, `#${c.index} ${c.kind}: ${c.note}`).to.exist;
 * }
 */
export function malformedCases(options: MalformedOptions): IterableIterator<MalformedCase> {
  const kinds = options.kinds ?? MALFORMED_KINDS;
  const start = options.start ?? 0;
  checkOptions(options, kinds, start);
  const base: Omit<GenContext, 'random'> = {
    info: inspectSchema(options.type),
    valid: options.valid,
    others: options.others ?? [],
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    oversizeBytes: options.oversizeBytes ?? DEFAULT_OVERSIZE_BYTES,
  };
  // One draw from the caller's Random seeds the whole run; each case then derives its own.
  const runSeed = options.random.int(0, 0xffffffff);
  return (function* generate(): Generator<MalformedCase> {
    for (let index = start; index < start + options.count; index++) {
      const kind = kinds[index % kinds.length]!;
      const ctx: GenContext = { ...base, random: seededRandom(caseSeed(runSeed, index)) };
      yield finish(index, kind, GENERATORS[kind](ctx), base.maxBytes);
    }
  })();
}

function checkOptions(options: MalformedOptions, kinds: readonly MalformedKind[], start: number): void {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(options.count) || options.count < 0) throw new RangeError(`count must be a non-negative integer, got ${options.count}`);
  if (!Number.isInteger(start) || start < 0) throw new RangeError(`start must be a non-negative integer, got ${start}`);
  if (!Number.isInteger(maxBytes) || maxBytes < MIN_MAX_BYTES) throw new RangeError(`maxBytes must be an integer >= ${MIN_MAX_BYTES}, got ${maxBytes}`);
  if (kinds.length === 0) throw new RangeError('kinds must name at least one kind');
  for (const k of kinds) if (!(k in GENERATORS)) throw new RangeError(`unknown kind ${String(k)}`);
}

/** A 32-bit seed from (run seed, index), well mixed so neighbouring cases look unrelated. */
function caseSeed(runSeed: number, index: number): number {
  let h = Math.imul(runSeed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

function finish(index: number, kind: MalformedKind, draft: Draft, maxBytes: number): MalformedCase {
  const oversize = draft.bytes.length > maxBytes;
  if (oversize && !SIZE_EXEMPT_KINDS.includes(kind)) {
    // A generator broke its budget: a bug here, not a property of the input.
    throw new Error(`malformed ${kind} case #${index} is ${draft.bytes.length} bytes, over maxBytes ${maxBytes}`);
  }
  const c: MalformedCase = { index, kind, bytes: draft.bytes, note: draft.note, legal: draft.legal, oversize };
  return draft.violation === undefined ? c : { ...c, violation: draft.violation };
}

/**
 * Every strict prefix of a valid message (lengths 0 .. n-1), each tagged legal when the cut falls
 * between top-level fields. Copies each prefix so a decoder cannot read past its end into the
 * rest: O(n²) bytes, meant for small messages.
 *
 * @example
 * for (const c of allTruncations(valid)) if (c.legal === false) expect(() => type.decode(c.bytes)).to.throw();
 */
export function allTruncations(valid: Uint8Array, options: { readonly type?: protobuf.Type } = {}): MalformedCase[] {
  const boundaries = new Set(fieldBoundaries(valid));
  const hasRequired = options.type ? inspectSchema(options.type).hasRequired : false;
  const out: MalformedCase[] = [];
  for (let cut = 0; cut < valid.length; cut++) out.push(finish(cut, 'truncated', truncationDraft(valid, cut, boundaries, hasRequired), Infinity));
  return out;
}

function randomBytesCase(ctx: GenContext): Draft {
  // Half the cases short: most decoder paths are reached within the first few dozen bytes.
  const max = ctx.random.next() < 0.5 ? Math.min(64, ctx.maxBytes) : ctx.maxBytes;
  const bytes = randomBytes(ctx.random, ctx.random.int(0, max));
  return { bytes, note: `${bytes.length} uniform random bytes`, legal: 'maybe' };
}

function emptyCase(ctx: GenContext): Draft {
  const bytes = new Uint8Array(0);
  if (ctx.info.hasRequired) return illegal(bytes, 'zero bytes: a message with every field absent, but the type has required fields', 'required');
  return legal(bytes, 'zero bytes: a message with every field absent, legal in proto3');
}

function otherType(ctx: GenContext): Draft {
  const other = pick(ctx.random, ctx.others.filter((o) => o.length <= ctx.maxBytes));
  if (other) {
    return { bytes: other.slice(), note: `a valid ${other.length}-byte message of another type, sent as-is`, legal: 'maybe' };
  }
  // No other type given: fields 1..5 as strings, the commonest shape of someone else's message.
  const w = new WireWriter();
  for (let n = 1; n <= 5; n++) {
    const text = new TextEncoder().encode(`other-${n}-${ctx.random.int(0, 9999)}`);
    if (w.length + text.length + 2 <= ctx.maxBytes) w.lengthDelimited(n, text);
  }
  return { bytes: w.finish(), note: 'no `others` given: a made-up message with fields 1..5 as strings', legal: 'maybe' };
}

function oversize(ctx: GenContext): Draft {
  const r = ctx.random;
  const base = pickValid(ctx, 0);
  const n = unknownFieldNumber(ctx.info, r);
  // Tag and 4-byte length (a 2 MiB length needs 4 varint bytes) leave this much for the payload.
  const padding = Math.max(0, ctx.oversizeBytes - base.length - 10);
  const w = new WireWriter(ctx.oversizeBytes + 16).raw(base).tag(n, WIRE.LEN).varint(padding).fill(r.int(0, 255), padding);
  const note = `a well-formed ${w.length}-byte message (valid message plus unknown field ${n} of ${padding} bytes), over maxBytes ${ctx.maxBytes}`;
  return illegal(w.finish(), note, 'size');
}
