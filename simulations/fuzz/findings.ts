/**
 * From a finding to a regression case: replay the input against the same target to learn its
 * finding class, shrink it by delta debugging (minimise.ts) keeping only reductions that still give
 * that class, and describe what was found for the corpus entry (corpus.ts `found`). Each target
 * supplies how to replay one input (a `Verdict`) and how to shrink it (bytes, JSON, or its own).
 *
 * A run saves at most MAX_SAVED_PER_RUN findings per target (the first ones): a bug usually shows
 * up as many failing inputs, and each minimisation costs up to its budget.
 *
 * @example
 * const m = await minimiseFinding(bytes, { replay: (b) => replayer.verdict(label, b), shrink: shrinkBytes, size: (b) => b.length, budget });
 * if (m.found.reproduced) save({ ...entry, bytesBase64: Buffer.from(m.payload).toString('base64'), found: m.found });
 */
import type { FindingClass, FoundInfo } from './corpus.js';
import { ddminBytes, minimiseJson, type MinimiseBudget, type MinimiseResult } from './minimise.js';

/** What one replay of an input did: a finding class, or 'ok' (the target answered as predicted). */
export interface Verdict {
  readonly class: FindingClass | 'ok';
  readonly detail: string;
}

export const OK: Verdict = { class: 'ok', detail: 'as predicted' };

/** Findings minimised and saved per target and run, at most. */
export const MAX_SAVED_PER_RUN = 5;

export type Shrinker<P> = (payload: P, fails: (candidate: P) => Promise<boolean>, budget: MinimiseBudget) => Promise<MinimiseResult<P>>;

/** ddmin over the bytes. */
export const shrinkBytes: Shrinker<Uint8Array> = (b, fails, budget) => ddminBytes(b, fails, budget);

/** The JSON structure first (when it parses), then the bytes. */
export const shrinkJson: Shrinker<Uint8Array> = (b, fails, budget) => minimiseJson(b, fails, budget);

export interface Minimised<P> {
  readonly payload: P;
  readonly verdict: Verdict;
  readonly found: FoundInfo;
}

/**
 * Replays `payload`; when it fails again, shrinks it to a smaller payload with the same finding
 * class. A payload that does not fail again is returned as it was (`found.reproduced` false),
 * with the class the run reported (`reported`).
 *
 * @example
 * const m = await minimiseFinding(c, { replay, shrink: shrinkPluginCase, size: caseSize, budget: { maxAttempts: 300 } }, 'mismatch');
 */
export async function minimiseFinding<P>(
  payload: P,
  o: { readonly replay: (p: P) => Promise<Verdict>; readonly shrink: Shrinker<P>; readonly size: (p: P) => number; readonly budget: MinimiseBudget },
  reported: FindingClass,
  reportedDetail = '',
): Promise<Minimised<P>> {
  const first = await o.replay(payload);
  const sizeBefore = o.size(payload);
  if (first.class === 'ok') {
    return { payload, verdict: first, found: { class: reported, detail: `${reportedDetail} (did not fail again on replay: ${first.detail})`.trim(), sizeBefore, sizeAfter: sizeBefore, attempts: 1, minimal: false, reproduced: false } };
  }
  const wanted = first.class;
  const shrunk = await o.shrink(payload, async (p) => (await o.replay(p)).class === wanted, o.budget);
  const last = await o.replay(shrunk.value);
  // Flaky at the end: keep the input as found.
  const kept = last.class === wanted ? shrunk.value : payload;
  const verdict = last.class === wanted ? last : first;
  return {
    payload: kept,
    verdict,
    found: { class: wanted, detail: verdict.detail.slice(0, 600), sizeBefore, sizeAfter: o.size(kept), attempts: shrunk.attempts + 2, minimal: shrunk.minimal && last.class === wanted, reproduced: true },
  };
}

/** The class a run reported for a failure line (hang when it names a deadline or silence). */
export function reportedClass(got: string): FindingClass {
  if (/exited|crash|died|signal|ECONNREFUSED|ENOENT|no responders/i.test(got)) return 'crash';
  if (/DEADLINE|TIMEOUT|no answer|no status|within/i.test(got)) return 'hang';
  return 'mismatch';
}
