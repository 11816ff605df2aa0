/**
 * Deliberately broken modes, to prove the invariants catch real bugs. Each is a bug planted in
 * production code behind one environment variable, `INFRA_BROKEN`, read in one small place; the
 * simulator sets it for the processes it starts when asked with `--broken <mode>`.
 *
 * | mode | where | the bug | caught by |
 * |---|---|---|---|
 * | ids-double-allocate | p4/ids.ts IdPool.allocate | a freed id is handed out but left on the free list, so the next new key gets it too: two endpoints share one action-profile member | convergence (a VIP reaches the wrong endpoint or misses one), no-duplicate-writes, entries-from-intent |
 *
 * @example
 * const r = parseBroken('ids-double-allocate'); // ok
 */
import { err, ok, type Result } from '../../core/result.js';
import { SimError } from './errors.js';

export const BROKEN_ENV = 'INFRA_BROKEN';
export const BROKEN_MODES = ['ids-double-allocate'] as const;
export type BrokenMode = (typeof BROKEN_MODES)[number];

export function parseBroken(text: string): Result<BrokenMode, SimError> {
  const mode = BROKEN_MODES.find((m) => m === text);
  return mode ? ok(mode) : err(new SimError('BAD_OPTION', 'broken', `--broken: one of ${BROKEN_MODES.join(', ')}`));
}
