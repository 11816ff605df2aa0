/**
 * When the target's tables after a Write batch differ from the switch model's, which updates of
 * the batch make them differ? Bisection by replay: each trial takes a fresh target, replays the
 * run's earlier batches exactly as they were sent (so the target is where it was), then writes a
 * subset of the batch and compares a full Read with the model given the same subset. Delta
 * debugging (minimise.ts ddmin) over the batch's updates finds a 1-minimal subset that still
 * differs — usually the one update the target or the model gets wrong. Batches hold no dependent
 * updates (p4rt-fuzz.ts), so any subset is a valid batch with the same predictions.
 *
 * A fresh target is a fresh process for the whole batch and for the answer; the trials in between
 * re-commit the pipeline of one process (a new program instance, every table empty: ~50 ms rather
 * than a process start), unless the whole batch does not differ that way — then every trial gets a
 * process of its own.
 *
 * The culprit is then saved as a regression case: the model's state before the batch written
 * back as INSERTs (reduced to the entities the culprit touches when that still reproduces), the
 * culprit as the batch, and what the model predicts — statuses and tables (`checkBatchCase`).
 *
 * @example
 * const b = await bisectBatch({ history, before, batch, budget: { maxAttempts: 40 } });
 * b.culprits; // indices into `batch`, e.g. [17]
 */
import { CODE, SwitchModel, type Update } from './p4rt-model.js';
import { freshP4Target, type FreshP4Target } from './p4rt-fresh.js';
import { ddmin, type MinimiseBudget } from './minimise.js';
import { entryMeta, fromJsonSafe, toJsonSafe, type EntryMeta, type P4rtBatchCorpusCase } from './corpus.js';

export interface BisectOptions {
  /** The batches written before the one that differs, in order, exactly as sent. */
  readonly history: readonly (readonly Update[])[];
  /** The model as it was before the batch (planted mispredictions included). */
  readonly before: SwitchModel;
  readonly batch: readonly Update[];
  readonly budget?: MinimiseBudget;
}

export interface Bisection {
  /** Indices into the batch of a 1-minimal subset that still makes the target differ. */
  readonly culprits: number[];
  /** Fresh targets started (trials). */
  readonly trials: number;
  readonly ms: number;
  readonly minimal: boolean;
  /** The whole batch differed on a fresh target too (else the culprits are the whole batch, unconfirmed). */
  readonly confirmed: boolean;
}

/** What the model predicts for `batch` from `before`: statuses and the tables after. */
export function predictBatch(before: SwitchModel, batch: readonly Update[]): { codes: number[]; also: number[][]; snapshot: string[] } {
  const m = before.clone();
  const predictions = batch.map((u) => m.apply(u));
  return { codes: predictions.map((p) => p.code), also: predictions.map((p) => [...(p.also ?? [])]), snapshot: m.snapshot() };
}

/** One trial on `t` (reset first when asked): the history, then `batch`; whether its tables differ from the model's. */
async function trial(t: FreshP4Target, history: readonly (readonly Update[])[], before: SwitchModel, batch: readonly Update[]): Promise<{ differs: boolean; detail: string }> {
  for (const h of history) await t.write(h);
  await t.write(batch);
  const have = await t.read();
  const want = predictBatch(before, batch).snapshot;
  const hs = new Set(have);
  const ws = new Set(want);
  const missing = want.filter((x) => !hs.has(x));
  const unexpected = have.filter((x) => !ws.has(x));
  return { differs: missing.length + unexpected.length > 0, detail: `missing ${JSON.stringify(missing.slice(0, 3))}, unexpected ${JSON.stringify(unexpected.slice(0, 3))}` };
}

/** A trial on a target process of its own. */
export async function batchDiffers(history: readonly (readonly Update[])[], before: SwitchModel, batch: readonly Update[]): Promise<{ differs: boolean; detail: string }> {
  const t = await freshP4Target();
  try {
    return await trial(t, history, before, batch);
  } finally {
    await t.close();
  }
}

/**
 * Bisects a differing batch against fresh targets.
 *
 * @example
 * const { culprits } = await bisectBatch({ history: batches.slice(0, b), before, batch: batches[b] });
 */
export async function bisectBatch(o: BisectOptions): Promise<Bisection> {
  const started = performance.now();
  const all = o.batch.map((_, i) => i);
  const ms = (): number => Math.round(performance.now() - started);
  let trials = 1;
  if (!(await batchDiffers(o.history, o.before, o.batch)).differs) return { culprits: all, trials, ms: ms(), minimal: false, confirmed: false };
  const budget = o.budget ?? { maxAttempts: 60, maxMs: 120_000 };
  const shared = await freshP4Target();
  try {
    const onShared = async (keep: number[]): Promise<boolean> => {
      await shared.reset();
      return (await trial(shared, o.history, o.before, keep.map((i) => o.batch[i]!))).differs;
    };
    trials++;
    if (await onShared(all)) {
      const r = await ddmin(all, onShared, budget);
      trials += r.attempts + 1;
      if ((await batchDiffers(o.history, o.before, r.value.map((i) => o.batch[i]!))).differs) return { culprits: r.value, trials, ms: ms(), minimal: r.minimal, confirmed: true };
    }
  } finally {
    await shared.close();
  }
  // Re-committing the pipeline does not show it: a process per trial.
  const r = await ddmin(all, async (keep) => (await batchDiffers(o.history, o.before, keep.map((i) => o.batch[i]!))).differs, budget);
  return { culprits: r.value, trials: trials + r.attempts, ms: ms(), minimal: r.minimal, confirmed: true };
}

/**
 * The setup of a regression case: the model's state before the batch as INSERTs, reduced to the
 * entities the culprits write or reference, those referencing what they write, and (again) what
 * those reference.
 */
export function relevantSetup(before: SwitchModel, culprits: readonly Update[]): Update[][] {
  const plain = new SwitchModel(before.info);
  const phases = before.setupUpdates();
  const locks = (u: Update) => plain.locks(u);
  const wanted = new Set<string>();
  for (const u of culprits) {
    const l = before.locks(u);
    wanted.add(l.write);
    for (const k of l.read) wanted.add(k);
  }
  const all = phases.flat();
  // Entities that reference something a culprit writes (a group of a member, an entry of a group).
  for (const u of all) if (locks(u).read.some((k) => culprits.some((c) => before.locks(c).write === k))) wanted.add(locks(u).write);
  for (let grew = true; grew; ) {
    grew = false;
    for (const u of all) {
      const l = locks(u);
      if (!wanted.has(l.write)) continue;
      for (const k of l.read) {
        if (wanted.has(k)) continue;
        wanted.add(k);
        grew = true;
      }
    }
  }
  return phases.map((p) => p.filter((u) => wanted.has(locks(u).write))).filter((p) => p.length > 0);
}

/**
 * A regression case for `culprits` after `setup` (a state taken from the model `before`, whole or
 * reduced): setup, batch, and what the model predicts after that setup.
 */
export function batchCorpusEntry(setup: readonly (readonly Update[])[], before: SwitchModel, culprits: readonly Update[], meta: EntryMeta): P4rtBatchCorpusCase {
  const expected = predictBatch(before.rebuilt(setup), culprits);
  const batch = culprits.map((u) => toJsonSafe(u));
  return {
    target: 'p4rt',
    kind: 'batch',
    ...entryMeta(meta, Buffer.from(JSON.stringify(batch))),
    setup: setup.map((p) => p.map((u) => toJsonSafe(u))),
    batch,
    expected,
  };
}

/**
 * What is wrong with a stored batch case on a fresh target, or undefined: every setup update must
 * succeed, each batch status be the expected one (or one the spec equally allows), and the tables
 * equal the expected ones.
 *
 * @example
 * const problem = await checkBatchCase(entry); // undefined when the target agrees
 */
export async function checkBatchCase(entry: Pick<P4rtBatchCorpusCase, 'setup' | 'batch' | 'expected'>): Promise<string | undefined> {
  const t = await freshP4Target();
  try {
    for (const phase of entry.setup) {
      const r = await t.write(phase.map((u) => fromJsonSafe(u) as Update));
      const bad = r.codes.findIndex((c) => c !== CODE.OK);
      if (bad >= 0) return `setup refused: update ${bad} got ${r.codes[bad]} ${r.messages[bad]}`;
    }
    const r = await t.write(entry.batch.map((u) => fromJsonSafe(u) as Update));
    const wrong = r.codes.map((c, i) => (c === entry.expected.codes[i] || entry.expected.also[i]?.includes(c) ? undefined : `update ${i}: expected ${entry.expected.codes[i]}, got ${c} ${r.messages[i]}`)).filter((x) => x !== undefined);
    if (wrong.length > 0) return wrong.join('; ');
    if (!t.alive()) return 'the target exited';
    const have = await t.read();
    const want = [...entry.expected.snapshot];
    const missing = want.filter((x) => !have.includes(x));
    const unexpected = have.filter((x) => !want.includes(x));
    return missing.length + unexpected.length === 0 ? undefined : `tables differ: missing ${JSON.stringify(missing.slice(0, 3))}, unexpected ${JSON.stringify(unexpected.slice(0, 3))}`;
  } finally {
    await t.close();
  }
}

/**
 * The regression case of a bisected batch, its setup reduced when the reduced one still fails
 * (the full state before the batch otherwise).
 */
export async function savedBatchCase(before: SwitchModel, culprits: readonly Update[], meta: EntryMeta): Promise<{ entry: P4rtBatchCorpusCase; reproduces: boolean }> {
  const reduced = batchCorpusEntry(relevantSetup(before, culprits), before, culprits, meta);
  if ((await checkBatchCase(reduced)) !== undefined) return { entry: reduced, reproduces: true };
  const full = batchCorpusEntry(before.setupUpdates(), before, culprits, meta);
  return { entry: full, reproduces: (await checkBatchCase(full)) !== undefined };
}
