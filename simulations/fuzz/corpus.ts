/**
 * The fuzz corpus on disk: one JSON file per case naming its target, category, seed and index,
 * the expected outcome class, and the input itself — so a case replays even after the generator
 * changes. `npm test` replays every file in test/fuzz/corpus/ (test/fuzz/corpus.test.ts);
 * `npm run fuzz:corpus` adds cases (one per category and seed), and the regression cases of
 * what the fuzzers found are kept there too.
 *
 * Paths of the run's world (the IPAM plugin's directory, the sockets) are stored as placeholders
 * and put back on replay, in the environment and in stdin's bytes alike.
 *
 * @example
 * const file = toCorpus(c, predictPlugin(c, world), world, seed);
 * const again = fromCorpus(file, otherWorld); // the same case for another directory
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniCase, CniJsonKind, CniWorld, PluginPrediction } from './cni-json.js';

export interface CorpusCase {
  readonly target: 'cni-plugin';
  readonly category: string;
  readonly seed: number;
  readonly index: number;
  readonly command: CniCase['command'];
  /** The outcome class: exit code, CNI code, and what stdout holds. */
  readonly expected: Pick<PluginPrediction, 'exitCode' | 'code' | 'output'>;
  readonly env: Readonly<Record<string, string>>;
  readonly stdinBase64: string;
  readonly note: string;
}

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
export function toCorpus(c: CniCase, p: PluginPrediction, world: CniWorld, seed: number): CorpusCase {
  const pairs = PLACEHOLDERS.map((k) => [world[k], `\${${k}}`] as const);
  let stdin: Buffer = Buffer.from(c.stdin);
  for (const [a, b] of pairs) stdin = swapBytes(stdin, a, b);
  return {
    target: 'cni-plugin',
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

export function corpusFileName(entry: CorpusCase): string {
  return `${entry.category}-${entry.seed}-${entry.index}.json`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export async function saveCorpus(dir: string, entries: readonly CorpusCase[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (const e of entries) {
    const name = corpusFileName(e);
    await writeFile(join(dir, name), `${JSON.stringify(e, null, 2)}\n`);
    names.push(name);
  }
  return names;
}

export async function loadCorpus(dir: string): Promise<{ file: string; entry: CorpusCase }[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (file) => ({ file, entry: JSON.parse(await readFile(join(dir, file), 'utf8')) as CorpusCase })));
}
