/**
 * Restart pacing: exponential backoff with jitter between restarts of one child, and the sliding
 * window that counts restarts for the intensity limit. Both read time from the injected clock and
 * randomness from the injected Random, so a seeded test sees the same delays on every run.
 */
import type { Random } from '../core/random.js';

export interface BackoffOptions {
  /** Delay before the first restart within a period; 0 restarts immediately. Default 10. */
  readonly initialMs?: number;
  /** Upper bound before jitter. Default 5000. */
  readonly maxMs?: number;
  /** Relative spread in [0, 1]: 0.2 means ±20 %. Default 0.2. */
  readonly jitter?: number;
}

export type NormalizedBackoff = Required<BackoffOptions>;

export const DEFAULT_BACKOFF: NormalizedBackoff = { initialMs: 10, maxMs: 5000, jitter: 0.2 };

/**
 * The delay before the k-th restart (k ≥ 1) of a child within the current period:
 * `min(maxMs, initialMs·2^(k-1)) · (1 + jitter·(2r − 1))`, rounded to whole ms.
 * A random number is drawn only when there is a delay to jitter, so `initialMs: 0`
 * leaves the random sequence untouched.
 *
 * @example
 * backoffDelay({ initialMs: 10, maxMs: 5000, jitter: 0 }, 3, seededRandom(1)); // 40
 */
export function backoffDelay(options: NormalizedBackoff, k: number, random: Random): number {
  const exponent = Math.max(0, k - 1);
  const base = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  if (base <= 0) return 0;
  if (options.jitter === 0) return Math.round(base);
  const factor = 1 + options.jitter * (2 * random.next() - 1);
  return Math.max(0, Math.round(base * factor));
}

/**
 * Timestamps of recent restarts; those `periodMs` or more in the past have aged out.
 *
 * @example
 * const w = new RestartWindow(5000);
 * w.record(0); w.record(100); // 2
 * w.count(5000);              // 1: the one at 0 aged out
 */
export class RestartWindow {
  private times: number[] = [];

  constructor(private readonly periodMs: number) {}

  /** Adds a restart at `now` and returns how many fall within the period. */
  record(now: number): number {
    this.prune(now);
    this.times.push(now);
    return this.times.length;
  }

  count(now: number): number {
    this.prune(now);
    return this.times.length;
  }

  clear(): void {
    this.times = [];
  }

  private prune(now: number): void {
    this.times = this.times.filter((t) => now - t < this.periodMs);
  }
}
