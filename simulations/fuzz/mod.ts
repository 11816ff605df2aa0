/**
 * The fuzz package's public entry point. Everything a robustness test or a fuzz tool needs is
 * here; schema.ts, samples.ts, case-context.ts and kinds-*.ts are its internals.
 *
 * @example
 * import { malformedCases, sampleMessages } from '../simulations/fuzz/mod.js';
 * const valid = sampleMessages(type, seededRandom(1), 20);
 * for (const c of malformedCases({ type, valid, random: seededRandom(42), count: 360 })) {
 *   const reply = await receive(c.bytes);
 *   if (c.legal === false) expect(reply.ok, `#${c.index} ${c.kind}: ${c.note}`).to.equal(false);
 * }
 */
export {
  allTruncations,
  DEFAULT_MAX_BYTES,
  DEFAULT_OVERSIZE_BYTES,
  GROUP_BOMB_DEPTH,
  MALFORMED_KINDS,
  malformedCases,
  MIN_MAX_BYTES,
  RECURSION_LIMIT,
  SIZE_EXEMPT_KINDS,
  type Legality,
  type MalformedCase,
  type MalformedKind,
  type MalformedOptions,
  type Violation,
} from './malformed.js';
export { randomByteStrings, randomBytes } from './random-bytes.js';
export { minimalMessage, sampleMessage, sampleMessages } from './samples.js';
export {
  encodeVarint,
  fieldBoundaries,
  MAX_FIELD_NUMBER,
  MAX_VARINT_BYTES,
  readVarint,
  RESERVED_FIELD_NUMBERS,
  tagLength,
  varintLength,
  WIRE,
  WireWriter,
} from './wire.js';
