/**
 * Randomness as a dependency: backoff jitter, fuzz cases and simulated faults all draw from a
 * Random passed in, so a run started from the same seed makes the same choices.
 *
 * @example
 * const rnd = seededRandom(42);
 * rnd.int(1, 6); // the same sequence on every run with seed 42
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** Fills and returns `out` with random bytes. */
  bytes(out: Uint8Array): Uint8Array;
}

/** sfc32: small, fast, and good enough for simulations (not for keys). */
export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ Math.imul(seed, 0x85ebca6b);
  let c = 0xb7e15162 ^ Math.imul(seed, 0xc2b2ae35);
  let d = 1;
  const next32 = (): number => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32();
  return fromSource(() => next32() / 4294967296);
}

/** Math.random behind the same interface, for production jitter. */
export const systemRandom: Random = fromSource(Math.random);

function fromSource(source: () => number): Random {
  return {
    next: source,
    int(min: number, max: number): number {
      return min + Math.floor(source() * (max - min + 1));
    },
    bytes(out: Uint8Array): Uint8Array {
      for (let i = 0; i < out.length; i++) out[i] = Math.floor(source() * 256);
      return out;
    },
  };
}
