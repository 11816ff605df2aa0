/**
 * The fuzz corpus on disk: one JSON file per case under `<corpus>/<target>/`, naming its target,
 * category, seed and index, the expected outcome class (what the oracle says the target must do),
 * and the input itself — so a case replays even after the generator changes. `npm test` replays
 * every file (test/fuzz/corpus.test.ts); `npm run fuzz:corpus` adds generated cases, and
 * `npm run fuzz -- --save-findings DIR` adds the minimised findings (with `found`: what was seen,
 * and how much the minimisation shrank it).
 *
 * The inputs by target:
 * - cni-plugin, cni-exec: the CNI_* environment and stdin bytes. Paths of the run's world (the
 *   IPAM plugin's directory, the sockets) are stored as placeholders and put back on replay, in
 *   the environment and in stdin's bytes alike;
 * - bus: the subject (as its label, e.g. manager.pod.add) and the request bytes; expected: the
 *   typed error code the server's codec predicts;
 * - cni-grpc: the CniBackend method and the request bytes; expected: the typed error, or gRPC
 *   status 8 over the size limit;
 * - p4rt: raw Write/Read bytes (expected: a status, never OK for a non-primary Write), or a
 *   batch of updates after a setup (expected: each status and the tables the model predicts);
 * - targets whose cases are not payloads (http2-*, evil-target, evil-kube): the seed and scenario
 *   that replay the run, expected to survive it.
 * Bytes inside JSON values are `{"$base64": "…"}`.
 *
 * @example
 * const file = toCorpus(c, predictPlugin(c, world), world, seed);
 * const again = fromCorpus(file, otherWorld); // the same case for another directory
 * await saveCorpus('test/fuzz/corpus/bus', [busEntry]);
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniCase, CniJsonKind, CniWorld, PluginPrediction } from './cni-json.js';

/** A finding class: what the oracle saw go wrong. */
export type FindingClass = 'crash' | 'hang' | 'state' | 'mismatch';

/** How a saved finding was found and minimised. */
export interface FoundInfo {
  readonly class: FindingClass;
  readonly detail: string;
  /** Size of the input as found, and as saved. */
  readonly sizeBefore: number;
  readonly sizeAfter: number;
  /** Re-runs against the target the minimisation took, and whether it finished (1-minimal). */
  readonly attempts: number;
  readonly minimal: boolean;
  /** False when the input as found did not fail again on replay (saved as found). */
  readonly reproduced: boolean;
}

interface CorpusMeta {
  readonly category: string;
  readonly seed: number;
  readonly index: number;
  readonly note: string;
  readonly found?: FoundInfo;
}

/** What a caller says of a case it saves; the index is derived from the case's bytes. */
export interface EntryMeta {
  readonly seed: number;
  readonly category: string;
  readonly note: string;
  readonly found?: FoundInfo;
}

/** FNV-1a of the bytes: a case's index, stable across runs. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

/** The fields every saved case shares, in the order the corpus files have them. */
export function entryMeta(meta: EntryMeta, indexOf: Uint8Array): CorpusMeta {
  return { category: meta.category, seed: meta.seed, index: fnv1a(indexOf), note: meta.note, ...(meta.found ? { found: meta.found } : {}) };
}

/** A CNI plugin case (cni-plugin replays in-process, cni-exec through the bundled plugin). */
export interface CorpusCase extends CorpusMeta {
  readonly target: 'cni-plugin' | 'cni-exec';
  readonly command: CniCase['command'];
  /** The outcome class: exit code, CNI code, and what stdout holds. */
  readonly expected: Pick<PluginPrediction, 'exitCode' | 'code' | 'output'>;
  readonly env: Readonly<Record<string, string>>;
  readonly stdinBase64: string;
}

export interface BusCorpusCase extends CorpusMeta {
  readonly target: 'bus';
  /** The subject's label in bus-targets.ts (e.g. manager.pod.add, ctl.agent.pods). */
  readonly subject: string;
  readonly bytesBase64: string;
  readonly expected: { readonly code: string };
}

export interface GrpcCorpusCase extends CorpusMeta {
  readonly target: 'cni-grpc';
  readonly method: 'Prepare' | 'Add' | 'Del' | 'Check';
  readonly bytesBase64: string;
  readonly expected: { readonly code: string; readonly message: string; readonly field: string } | { readonly grpcStatus: number };
}

export interface P4rtRawCorpusCase extends CorpusMeta {
  readonly target: 'p4rt';
  readonly kind: 'raw';
  readonly method: 'Write' | 'Read';
  readonly bytesBase64: string;
  /** A gRPC status within the deadline; for a Write (never primary here) not OK; no state change. */
  readonly expected: { readonly answered: true; readonly writeRefused: boolean };
}

export interface P4rtBatchCorpusCase extends CorpusMeta {
  readonly target: 'p4rt';
  readonly kind: 'batch';
  /** Written first, one Write per inner list (dependency order), all expected to succeed. */
  readonly setup: readonly (readonly unknown[])[];
  /** The batch under test, one Write. */
  readonly batch: readonly unknown[];
  readonly expected: {
    readonly codes: readonly number[];
    /** Codes the specification equally allows, per update. */
    readonly also: readonly (readonly number[])[];
    /** The tables after the batch, canonical (p4rt-model.ts canonicalEntity), sorted. */
    readonly snapshot: readonly string[];
  };
}

export interface ReplayCorpusCase extends CorpusMeta {
  readonly target: 'http2-target' | 'http2-cni' | 'evil-target' | 'evil-kube';
  /** What replays the run (attack kind/round/seed, scenario and seed…). */
  readonly replay: Readonly<Record<string, string | number>>;
  readonly expected: { readonly outcome: 'survives' };
}

export type AnyCorpusCase = CorpusCase | BusCorpusCase | GrpcCorpusCase | P4rtRawCorpusCase | P4rtBatchCorpusCase | ReplayCorpusCase;

const PLACEHOLDERS = ['binDir', 'liveSocket', 'deadSocket'] as const;

function swapBytes(bytes: Buffer, from: string, to: string): Buffer {
  const needle = Buffer.from(from, 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = bytes.indexOf(needle, at); i >= 0; i = bytes.indexOf(needle, at)) {
    parts.push(bytes.subarray(at, i), Buffer.from(to, 'utf8'));
    at = i + needle.length;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts);
}

function swapAll(text: string, pairs: readonly (readonly [string, string])[]): string {
  return pairs.reduce((t, [a, b]) => t.split(a).join(b), text);
}

/** A generated case as a corpus entry (world paths replaced by placeholders). */
export function toCorpus(c: CniCase, p: PluginPrediction, world: CniWorld, seed: number, target: CorpusCase['target'] = 'cni-plugin'): CorpusCase {
  const pairs = PLACEHOLDERS.map((k) => [world[k], `\${${k}}`] as const);
  let stdin: Buffer = Buffer.from(c.stdin);
  for (const [a, b] of pairs) stdin = swapBytes(stdin, a, b);
  return {
    target,
    category: c.kind,
    seed,
    index: c.index,
    command: c.command,
    expected: { exitCode: p.exitCode, ...(p.code !== undefined ? { code: p.code } : {}), output: p.output },
    env: Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, swapAll(v, pairs)])),
    stdinBase64: stdin.toString('base64'),
    note: c.note,
  };
}

/** The case of a corpus entry in `world`. */
export function fromCorpus(entry: CorpusCase, world: CniWorld): CniCase {
  const pairs = PLACEHOLDERS.map((k) => [`\${${k}}`, world[k]] as const);
  let stdin: Buffer = Buffer.from(entry.stdinBase64, 'base64');
  for (const [a, b] of pairs) stdin = swapBytes(stdin, a, b);
  return {
    index: entry.index,
    kind: entry.category as CniJsonKind,
    command: entry.command,
    env: Object.fromEntries(Object.entries(entry.env).map(([k, v]) => [k, swapAll(v, pairs)])),
    stdin: new Uint8Array(stdin),
    note: entry.note,
  };
}

/**
 * A JSON-safe copy of a value holding Uint8Arrays (as `{"$base64": …}`), and back.
 *
 * @example
 * fromJsonSafe(JSON.parse(JSON.stringify(toJsonSafe({ v: Uint8Array.of(1) })))); // { v: Uint8Array [1] }
 */
export function toJsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $base64: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSafe(v)]));
  return value;
}

export function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.$base64 === 'string' && Object.keys(o).length === 1) return new Uint8Array(Buffer.from(o.$base64, 'base64'));
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fromJsonSafe(v)]));
  }
  return value;
}

export function corpusFileName(entry: Pick<CorpusMeta, 'category' | 'seed' | 'index'>): string {
  return `${entry.category}-${entry.seed}-${entry.index}.json`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export async function saveCorpus(dir: string, entries: readonly AnyCorpusCase[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (const e of entries) {
    const name = corpusFileName(e);
    await writeFile(join(dir, name), `${JSON.stringify(e, null, 2)}\n`);
    names.push(name);
  }
  return names;
}

export async function loadCorpus<T extends AnyCorpusCase = CorpusCase>(dir: string): Promise<{ file: string; entry: T }[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (file) => ({ file, entry: JSON.parse(await readFile(join(dir, file), 'utf8')) as T })));
}
