/**
 * `npm run fuzz -- --target all` as a coordinator: every target runs in a child process of its
 * own (`fuzz-cli.ts --target T --cases N --seed S --report-fd 3`), at most `jobs` at a time,
 * longest expected run first. Each child reports progress and its rows on fd 3 (child-report.ts);
 * the coordinator adds them into one progress figure and one set of rows. A child that exits
 * without finishing its report is itself a finding (a crash of the harness or of the target it
 * ran in-process), and so is one that stays silent for `idleMs` (a hang: it is stopped by PID);
 * the run goes on with the other children either way.
 *
 * Children get INFRA_EXIT_WITH_PARENT (core/parent-watch.ts): if the coordinator dies, they stop,
 * and the processes they started with them. Run from dist/, each child also gets
 * TMPDIR=<a directory of this run>/<target>, removed at the end: what a child killed mid-run leaves
 * behind (its cleanup is in `finally` blocks a kill skips) goes with it. From the sources TMPDIR is
 * left alone: tsx keeps its compile cache there, and every process would compile everything again.
 *
 * @example
 * const { rows, children } = await coordinate({ plan: [{ target: 'bus', cases: 5000, seed: 1, casesPerSecond: 4000 }], jobs: 2 });
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { moduleCommand, stopChild } from '../processes.js';
import { parseChildLine } from './child-report.js';
import { row, type FuzzRow } from './harness.js';

/** One child of the run: its target, budget and derived seed. */
export interface ChildPlan {
  readonly target: string;
  readonly cases: number;
  readonly seed: number;
  /** The target's measured speed: orders the children (longest expected run first). */
  readonly casesPerSecond: number;
}

export interface ChildResult {
  readonly target: string;
  pid: number | undefined;
  readonly planned: number;
  /** Cases done, as last reported. */
  done: number;
  rows: FuzzRow[];
  /** The child finished its report (its `end` line). */
  ended: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Stopped by the coordinator for silence (or because the run was aborted). */
  stopped?: 'silent' | 'aborted';
  ms: number;
  /** The last lines the child printed (stdout and stderr). */
  tail: string[];
}

export interface CoordinatorOptions {
  readonly plan: readonly ChildPlan[];
  /** Children at once (this machine has 2 cores). Default 2. */
  readonly jobs?: number;
  /** Extra arguments for every child, e.g. ['--save-findings', 'test/fuzz/corpus']. */
  readonly childArgs?: readonly string[];
  /** Extra environment for the children. */
  readonly env?: Readonly<Record<string, string>>;
  /** The child's command line without its arguments (default: fuzz-cli from dist/ or the sources). */
  readonly command?: { readonly command: string; readonly args: readonly string[] };
  /** Cases done over all children, and the total planned. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly onChildStart?: (plan: ChildPlan, pid: number | undefined) => void;
  readonly onChildEnd?: (result: ChildResult) => void;
  /** A child silent this long is stopped and counted as a hang. Default 15 min. */
  readonly idleMs?: number;
  /** Stops the run: running children get SIGTERM (SIGKILL after 10 s); no new ones start. */
  readonly signal?: AbortSignal;
}

const TAIL_LINES = 40;

/** The row a child's failure adds: a crash for a death, a hang for silence. */
export function childFailureRow(r: ChildResult): FuzzRow | undefined {
  if (r.ended && r.stopped === undefined) return undefined;
  if (r.stopped === 'aborted') return undefined;
  const silent = r.stopped === 'silent';
  const f = row(r.target, silent ? 'child-silent' : 'child-died');
  if (silent) f.hangs = 1;
  else f.crashes = 1;
  const how = silent ? 'stopped after staying silent' : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
  const last = r.tail.slice(-6).join(' | ').slice(-600);
  f.findings.push(`the fuzz child of ${r.target} (pid ${r.pid}) ${how} after ${r.done} of ${r.planned} cases, its report unfinished; last output: ${last || '(none)'}`);
  return f;
}

/**
 * Runs the plan, `jobs` children at a time, and resolves when every child has exited.
 *
 * @example
 * const out = await coordinate({ plan, jobs: 2, onProgress: progressBar('all', total) });
 * console.log(summaryTable(out.rows));
 */
export async function coordinate(options: CoordinatorOptions): Promise<{ rows: FuzzRow[]; children: ChildResult[] }> {
  const jobs = Math.max(1, options.jobs ?? 2);
  const total = options.plan.reduce((n, p) => n + p.cases, 0);
  const queue = [...options.plan].sort((a, b) => b.cases / b.casesPerSecond - a.cases / a.casesPerSecond);
  const results: ChildResult[] = [];
  const running = new Set<Promise<void>>();
  const stops = new Set<() => void>();
  const base = options.command ?? moduleCommand('simulations/fuzz/fuzz-cli');
  const runDir = base.args.includes('tsx') ? undefined : await mkdtemp(join(tmpdir(), 'ioff-fuzz-run-'));
  const onAbort = (): void => {
    for (const stop of stops) stop();
  };
  options.signal?.addEventListener('abort', onAbort);
  const progress = (): void => options.onProgress?.(results.reduce((n, r) => n + Math.min(r.done, r.planned), 0), total);
  try {
    while (queue.length > 0 && !options.signal?.aborted) {
      const plan = queue.shift()!;
      const result: ChildResult = { target: plan.target, pid: undefined, planned: plan.cases, done: 0, rows: [], ended: false, code: null, signal: null, ms: 0, tail: [] };
      results.push(result);
      const p = runChild(plan, result, { ...options, command: base }, runDir, stops, progress).finally(() => running.delete(p));
      running.add(p);
      if (running.size >= jobs) await Promise.race(running);
    }
    await Promise.all(running);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (runDir) await rm(runDir, { recursive: true, force: true });
  }
  const rows = results.flatMap((r) => {
    const failure = childFailureRow(r);
    return failure ? [...r.rows, failure] : r.rows;
  });
  return { rows, children: results };
}

async function runChild(
  plan: ChildPlan,
  result: ChildResult,
  options: CoordinatorOptions & { readonly command: { readonly command: string; readonly args: readonly string[] } },
  runDir: string | undefined,
  stops: Set<() => void>,
  progress: () => void,
): Promise<void> {
  const started = performance.now();
  const base = options.command;
  const tmp = runDir ? join(runDir, plan.target.replace(/[^A-Za-z0-9_.-]/g, '_')) : undefined;
  if (tmp) await mkdir(tmp, { recursive: true });
  const argv = [...base.args, '--target', plan.target, '--cases', String(plan.cases), '--seed', String(plan.seed), '--report-fd', '3', ...(options.childArgs ?? [])];
  const child = spawn(base.command, argv, {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // INFRA_EXIT_WITH_PARENT: the child (and what it starts) stops if the coordinator dies.
    env: { ...process.env, ...options.env, ...(tmp ? { TMPDIR: tmp } : {}), INFRA_EXIT_WITH_PARENT: String(process.pid) },
  });
  result.pid = child.pid;
  options.onChildStart?.(plan, child.pid);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      result.code = code;
      result.signal = signal;
      resolve();
    });
    // Not started at all (no such command): no 'exit' follows.
    child.once('error', (e) => {
      if (child.pid !== undefined) return;
      result.tail.push(`could not start: ${e.message}`);
      resolve();
    });
  });
  const keep = (line: string): void => {
    result.tail.push(line.slice(0, 400));
    if (result.tail.length > TAIL_LINES) result.tail.shift();
  };
  let lastHeard = performance.now();
  for (const stream of [child.stdout, child.stderr]) if (stream) createInterface({ input: stream }).on('line', keep);
  const report = child.stdio[3] as Readable;
  // Processes the child started may hold the pipe's write end a moment longer: wait at most 2 s.
  const reportDone = new Promise<void>((resolve) => report.once('close', resolve).once('error', resolve));
  createInterface({ input: report }).on('line', (line) => {
    lastHeard = performance.now();
    const m = parseChildLine(line);
    if (!m || m.target !== plan.target) return;
    if (m.fuzz === 'progress') {
      result.done = m.done;
      progress();
    } else if (m.fuzz === 'rows') result.rows.push(...m.rows);
    else if (m.fuzz === 'end') result.ended = true;
  });
  const stop = (why: 'silent' | 'aborted'): void => {
    if (result.stopped) return;
    result.stopped = why;
    void stopChild(child, exited, { signal: 'SIGTERM', graceMs: 10_000 });
  };
  const abort = (): void => stop('aborted');
  stops.add(abort);
  const idleMs = options.idleMs ?? 15 * 60_000;
  const watchdog = setInterval(() => {
    if (performance.now() - lastHeard > idleMs) stop('silent');
  }, Math.min(5000, idleMs / 4));
  try {
    await exited;
    // The report pipe may still hold the last lines: let it drain.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reportDone, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  } finally {
    clearInterval(watchdog);
    stops.delete(abort);
  }
  if (result.ended) result.done = result.planned;
  result.ms = Math.round(performance.now() - started);
  progress();
  options.onChildEnd?.(result);
}
