/**
 * P4Runtime bytestrings ↔ the model's 32-bit words. Values are big-endian; a receiver accepts
 * zero-padded strings longer than the canonical one as long as the value fits the bit width, and
 * rejects an empty string or a value too wide (OUT_OF_RANGE). Multi-word values are stored most
 * significant word first.
 *
 * @example
 * const w = new Uint32Array(2);
 * decodeInto(Uint8Array.of(0, 0, 0x02, 0, 0, 0, 0, 1), 48, w, 0, 2); // true: w = [0x0200, 0x1]
 * canonical(w, 0, 2);                                                  // Uint8Array [2,0,0,0,0,1]
 */

/** Words needed to hold a value of `bitwidth` bits. */
export function wordsFor(bitwidth: number): number {
  return Math.max(1, Math.ceil(bitwidth / 32));
}

/**
 * Writes the value of `bytes` into out[offset .. offset+nWords) (most significant word first).
 * Returns false when the string is empty or the value needs more than `bitwidth` bits.
 */
export function decodeInto(bytes: Uint8Array, bitwidth: number, out: Uint32Array, offset: number, nWords: number): boolean {
  if (bytes.length === 0) return false;
  let first = 0;
  while (first < bytes.length - 1 && bytes[first] === 0) first++;
  const significant = bytes.length - first;
  const bits = (significant - 1) * 8 + bitLength(bytes[first]!);
  if (bits > bitwidth) return false;
  for (let w = 0; w < nWords; w++) out[offset + w] = 0;
  for (let i = bytes.length - 1, k = 0; i >= first; i--, k++) {
    const w = offset + nWords - 1 - (k >> 2);
    out[w] = (out[w]! | (bytes[i]! << ((k & 3) * 8))) >>> 0;
  }
  return true;
}

/** The canonical (shortest, at least one byte) big-endian string of words[offset .. +nWords). */
export function canonical(words: Uint32Array, offset: number, nWords: number): Uint8Array {
  const all = new Uint8Array(nWords * 4);
  for (let w = 0; w < nWords; w++) {
    const v = words[offset + w]!;
    all[w * 4] = v >>> 24;
    all[w * 4 + 1] = (v >>> 16) & 0xff;
    all[w * 4 + 2] = (v >>> 8) & 0xff;
    all[w * 4 + 3] = v & 0xff;
  }
  let first = 0;
  while (first < all.length - 1 && all[first] === 0) first++;
  return all.slice(first);
}

/** The canonical string of a non-negative integer below 2^53 (for building entries by value). */
export function bytesOf(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative safe integer: ${value}`);
  const out: number[] = [];
  let v = value;
  do {
    out.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return Uint8Array.from(out);
}

/** The integer value of a big-endian string (at most 53 bits), for reading entries back. */
export function valueOf(bytes: Uint8Array): number {
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}

function bitLength(byte: number): number {
  return byte === 0 ? 0 : 32 - Math.clz32(byte);
}
