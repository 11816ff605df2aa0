/**
 * Idle ageing of learned entries, incremental: each call visits at most `budget` learned entries
 * (walking each table's dense list of learned entries downwards from a cursor, so a removal,
 * which moves the last entry into the hole, never hides an unvisited one), and a call whose budget
 * covers every learned entry sweeps them all. An entry expires when now - lastHit ≥ the timeout
 * of its expire-time profile.
 *
 * @example
 * const ager = new Ager([ctForward, ctReverse]);
 * ager.run(now, 65_536, timeouts, (t, e) => t.remove(e)); // number expired
 */
import type { ExactTable } from './exact-table.js';

export class Ager {
  private readonly cursor: Int32Array;

  constructor(private readonly tables: readonly ExactTable[]) {
    this.cursor = new Int32Array(tables.length).fill(-1);
  }

  /** Visits up to `budget` learned entries; `expire` must remove the entry it is given. */
  run(now: number, budget: number, timeouts: Float64Array, expire: (t: ExactTable, e: number) => void): number {
    let left = budget;
    let expired = 0;
    this.tables.forEach((t, ti) => {
      if (left <= 0 || t.learnedCount === 0) return;
      const full = left >= t.learnedCount;
      let visits = Math.min(left, t.learnedCount);
      left -= visits;
      let c = full ? t.learnedCount - 1 : this.cursor[ti]!;
      while (visits-- > 0) {
        if (c < 0 || c >= t.learnedCount) c = t.learnedCount - 1;
        if (c < 0) break;
        const e = t.learnedList[c]!;
        const timeout = timeouts[t.profile(e)] ?? Infinity;
        if (now - t.lastHit[e]! >= timeout) {
          expire(t, e);
          expired++;
        }
        c--;
      }
      this.cursor[ti] = c;
    });
    return expired;
  }
}
