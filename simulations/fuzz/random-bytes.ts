/**
 * Uniformly random byte strings: the dumbest fuzz input, and still the one that finds decoders
 * which trust the first byte they see.
 */
import type { Random } from '../../core/random.js';

/**
 * `count` byte strings, each of a length drawn uniformly from 0..maxLen and filled with uniform
 * random bytes. All randomness comes from `random`, so a seeded Random gives the same strings.
 *
 * @example
 * const inputs = randomByteStrings(seededRandom(7), 100, 4096);
 * for (const bytes of inputs) expectNoCrash(() => decode(bytes));
 */
export function randomByteStrings(random: Random, count: number, maxLen: number): Uint8Array[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(maxLen) || maxLen < 0) throw new RangeError(`maxLen must be a non-negative integer, got ${maxLen}`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(randomBytes(random, random.int(0, maxLen)));
  return out;
}

/** `length` uniform random bytes. */
export function randomBytes(random: Random, length: number): Uint8Array {
  return random.bytes(new Uint8Array(length));
}
