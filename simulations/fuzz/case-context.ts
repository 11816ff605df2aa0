/**
 * The shapes shared by the malformed-case generators: what one generator gets (the schema, the
 * valid messages, the byte budget, its own Random) and what it returns (bytes plus an honest
 * statement of whether protobuf accepts them).
 */
import type { Random } from '../../core/random.js';
import { minimalMessage } from './samples.js';
import { pick, type SchemaInfo } from './schema.js';
import { fieldBoundaries, WireWriter } from './wire.js';

/**
 * Whether a receiver must accept the bytes as a message of the target type.
 * - `true`: well-formed protobuf for the type; every conforming parser accepts it (size within
 *   `maxBytes`, nesting within the common recursion limit of 100).
 * - `false`: every conforming parser rejects it, or it breaks a limit a receiver must enforce
 *   (`violation` says which).
 * - `'maybe'`: it depends on the parser (recursion limit, UTF-8 policy) or on chance (random
 *   bytes, a message of another type).
 */
export type Legality = true | false | 'maybe';

/** Why a case tagged `legal: false` must be rejected. */
export type Violation =
  /** The bytes do not parse as protobuf at all (truncation, bad varint, field 0, wire type 6…). */
  | 'wire'
  /** A string field that must be UTF-8 is not. */
  | 'utf8'
  /** Nesting beyond every parser's recursion limit. */
  | 'depth'
  /** Larger than the receiver's size limit. */
  | 'size'
  /** A proto2 required field is missing. */
  | 'required';

/** What one generator returns for one case. */
export interface Draft {
  readonly bytes: Uint8Array;
  readonly note: string;
  readonly legal: Legality;
  readonly violation?: Violation;
}

/** What one generator gets: everything it may draw on, with a Random of its own. */
export interface GenContext {
  readonly info: SchemaInfo;
  readonly valid: readonly Uint8Array[];
  readonly others: readonly Uint8Array[];
  readonly maxBytes: number;
  readonly oversizeBytes: number;
  readonly random: Random;
}

export type KindGenerator = (ctx: GenContext) => Draft;

/** A rejected draft: every conforming parser refuses it, for `violation`. */
export function illegal(bytes: Uint8Array, note: string, violation: Violation = 'wire'): Draft {
  return { bytes, note, legal: false, violation };
}

/** An accepted draft, with the reason it is legal in the note. */
export function legal(bytes: Uint8Array, note: string): Draft {
  return { bytes, note, legal: true };
}

/**
 * A valid message that leaves at least `room` bytes of the budget free; failing that, the
 * smallest valid message of the type (empty, unless it has required fields).
 */
export function pickValid(ctx: GenContext, room: number): Uint8Array {
  const budget = ctx.maxBytes - room;
  const fitting = ctx.valid.filter((v) => v.length <= budget);
  return pick(ctx.random, fitting) ?? minimalMessage(ctx.info.type);
}

/**
 * `base` with `insert` placed at one of its top-level field boundaries (start, between two fields,
 * or end), so the surrounding fields stay whole and the decoder meets `insert` mid-message.
 */
export function spliceAtBoundary(random: Random, base: Uint8Array, insert: Uint8Array): Uint8Array {
  const at = pick(random, fieldBoundaries(base)) ?? 0;
  return new WireWriter(base.length + insert.length).raw(base.subarray(0, at)).raw(insert).raw(base.subarray(at)).finish();
}
