/**
 * `--save-findings DIR`: a run's findings become regression cases under `DIR/<target>/`, each
 * minimised first by replaying against the same target (findings.ts, minimise.ts) — at most
 * MAX_SAVED_PER_RUN per target and run, distinct inputs only — and stored expecting what the
 * oracle predicts for the minimised input, so npm test fails until the bug is fixed. Findings of
 * targets whose cases are not payloads are stored as the seed and scenario that replay them.
 *
 * Each function returns the lines to add to the run's findings (what was saved, and how much it
 * shrank).
 *
 * @example
 * const notes = await saveBusFindings(dir, seed, report.failures, replayer, { maxAttempts: 300 });
 */
import { join } from 'node:path';
import type { FuzzFailure } from './bus-fuzz.js';
import type { CniMethod } from './cni-fuzz.js';
import type { CniCase, CniWorld } from './cni-json.js';
import { predictPlugin } from './cni-json.js';
import { fnv1a, saveCorpus, toCorpus, type AnyCorpusCase, type FindingClass, type ReplayCorpusCase } from './corpus.js';
import { MAX_SAVED_PER_RUN, minimiseFinding, reportedClass, shrinkBytes, type Verdict } from './findings.js';
import type { MinimiseBudget } from './minimise.js';
import { savedBatchCase } from './p4rt-bisect.js';
import type { P4rtFinding } from './p4rt-fuzz.js';
import { busCorpusEntry, type BusReplayer } from './replay-bus.js';
import { grpcCorpusEntry } from './replay-grpc.js';
import { p4rtRawCorpusEntry, type P4rtRawReplayer } from './replay-p4rt.js';
import { caseSize, shrinkPluginCase } from './replay-plugin.js';

const describe = (name: string, f: { found?: { class: FindingClass; sizeBefore: number; sizeAfter: number; attempts: number; minimal: boolean; reproduced: boolean } }): string =>
  f.found
    ? `saved ${name}: ${f.found.class}, ${f.found.sizeBefore} → ${f.found.sizeAfter} bytes in ${f.found.attempts} replays${f.found.minimal ? ' (1-minimal)' : ''}${f.found.reproduced ? '' : ' (did not fail again on replay: saved as found)'}`
    : `saved ${name}`;

/** The input of an entry, whatever its target: two findings that minimise to the same input are saved once. */
function inputOf(e: AnyCorpusCase): string {
  const { category: _c, seed: _s, index: _i, note: _n, found: _f, ...input } = e;
  return JSON.stringify(input);
}

async function save(dir: string, target: string, entries: readonly AnyCorpusCase[]): Promise<string[]> {
  const unique = distinct(entries, inputOf, Infinity);
  if (unique.length === 0) return [];
  const names = await saveCorpus(join(dir, target), unique);
  const lines = unique.map((e, i) => describe(`${target}/${names[i]}`, e));
  if (unique.length < entries.length) lines.push(`${entries.length - unique.length} more ${target} finding(s) minimised to an input already saved`);
  return lines;
}

/** Distinct payloads, the first `max`. */
function distinct<T>(items: readonly T[], key: (t: T) => string, max = MAX_SAVED_PER_RUN): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const t of items) {
    const k = key(t);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(t);
    if (out.length >= max) break;
  }
  return out;
}

/** Bus findings (inputs with their bytes), minimised against a live node. */
export async function saveBusFindings(dir: string, seed: number, failures: readonly FuzzFailure[], replayer: BusReplayer, budget: MinimiseBudget): Promise<string[]> {
  const entries: AnyCorpusCase[] = [];
  for (const f of distinct(failures.filter((x) => x.bytes), (x) => `${x.target} ${Buffer.from(x.bytes!).toString('hex')}`)) {
    const m = await minimiseFinding(f.bytes!, { replay: (b) => replayer.verdict(f.target, b), shrink: shrinkBytes, size: (b) => b.length, budget }, reportedClass(f.got), `expected ${f.expected}, got ${f.got}`);
    const target = replayer.target(f.target);
    if (!target) continue;
    entries.push(busCorpusEntry(target, m.payload, { seed, category: `finding-${f.kind ?? 'input'}`, note: `${f.target} ${f.input}: expected ${f.expected}, got ${f.got}`.slice(0, 500), found: m.found }));
  }
  return save(dir, 'bus', entries);
}

/** CniBackend findings (method + bytes), minimised against the server they were found on. */
export async function saveGrpcFindings(
  dir: string,
  seed: number,
  failures: readonly { input: string; expected: string; got: string; method?: CniMethod; bytes?: Uint8Array }[],
  verdict: (method: CniMethod, bytes: Uint8Array) => Promise<Verdict>,
  budget: MinimiseBudget,
): Promise<string[]> {
  const entries: AnyCorpusCase[] = [];
  for (const f of distinct(failures.filter((x) => x.bytes && x.method), (x) => `${x.method} ${Buffer.from(x.bytes!).toString('hex')}`)) {
    const method = f.method!;
    const m = await minimiseFinding(f.bytes!, { replay: (b) => verdict(method, b), shrink: shrinkBytes, size: (b) => b.length, budget }, reportedClass(f.got), `expected ${f.expected}, got ${f.got}`);
    const kind = /#\d+ (\S+):/.exec(f.input)?.[1] ?? 'input';
    entries.push(grpcCorpusEntry(method, m.payload, { seed, category: `finding-${kind}`, note: `${f.input}: expected ${f.expected}, got ${f.got}`.slice(0, 500), found: m.found }));
  }
  return save(dir, 'cni-grpc', entries);
}

/** CNI plugin findings (the generated cases), minimised against the plugin in-process or exec'd. */
export async function savePluginFindings(
  dir: string,
  target: 'cni-plugin' | 'cni-exec',
  seed: number,
  found: readonly { c: CniCase; got: string }[],
  world: CniWorld,
  verdict: (c: CniCase) => Promise<Verdict>,
  budget: MinimiseBudget,
): Promise<string[]> {
  const entries: AnyCorpusCase[] = [];
  for (const { c, got } of distinct(found, (x) => `${JSON.stringify(x.c.env)} ${Buffer.from(x.c.stdin).toString('hex')}`)) {
    const m = await minimiseFinding(c, { replay: verdict, shrink: shrinkPluginCase, size: caseSize, budget }, reportedClass(got), got);
    const minimal = m.payload;
    const entry = toCorpus(minimal, predictPlugin(minimal, world), world, seed, target);
    entries.push({ ...entry, category: `finding-${c.kind}`, index: fnv1a(Buffer.from(`${JSON.stringify(entry.env)} ${entry.stdinBase64}`)), note: `${c.note}; found: ${got}`.slice(0, 500), found: m.found });
  }
  return save(dir, target, entries);
}

/** P4Runtime findings: raw requests minimised against fresh targets, batches as bisected. */
export async function saveP4rtFindings(dir: string, seed: number, findings: readonly P4rtFinding[], replayer: () => Promise<P4rtRawReplayer>, budget: MinimiseBudget): Promise<string[]> {
  const entries: AnyCorpusCase[] = [];
  const lines: string[] = [];
  let raw: P4rtRawReplayer | undefined;
  try {
    for (const f of findings.slice(0, MAX_SAVED_PER_RUN * 2)) {
      if (entries.length >= MAX_SAVED_PER_RUN) break;
      if (f.kind === 'raw') {
        raw ??= await replayer();
        const r = raw;
        const m = await minimiseFinding(f.raw.bytes, { replay: (b) => r.verdict(f.raw.method, b), shrink: shrinkBytes, size: (b) => b.length, budget }, f.class, f.note);
        // A raw request of a chunk that changed the tables is saved only if it does so alone.
        if (f.class === 'state' && !m.found.reproduced) continue;
        entries.push(p4rtRawCorpusEntry(f.raw.method, m.payload, { seed, category: `finding-${f.raw.method.toLowerCase()}-${f.raw.case.kind}`, note: f.note, found: m.found }));
        continue;
      }
      const size = JSON.stringify(f.updates).length;
      const { entry, reproduces } = await savedBatchCase(f.before, f.updates, { seed, category: `finding-batch-${f.class}`, note: f.note });
      entries.push({ ...entry, found: { class: f.class, detail: f.note.slice(0, 600), sizeBefore: size, sizeAfter: size, attempts: 2, minimal: f.updates.length === 1, reproduced: reproduces } });
    }
  } finally {
    await raw?.close();
  }
  lines.push(...(await save(dir, 'p4rt', entries)));
  return lines;
}

/** Findings of a target whose cases are not payloads: the seed and scenario that replay them. */
export async function saveReplayFindings(dir: string, target: ReplayCorpusCase['target'], seed: number, found: readonly { category: string; replay: Record<string, string | number>; note: string; class: FindingClass }[]): Promise<string[]> {
  const entries: ReplayCorpusCase[] = distinct(found, (f) => JSON.stringify(f.replay)).map((f, i) => ({
    target,
    category: `finding-${f.category}`,
    seed,
    index: i,
    note: f.note.slice(0, 500),
    found: { class: f.class, detail: f.note.slice(0, 600), sizeBefore: 0, sizeAfter: 0, attempts: 0, minimal: false, reproduced: false },
    replay: f.replay,
    expected: { outcome: 'survives' },
  }));
  return save(dir, target, entries);
}
