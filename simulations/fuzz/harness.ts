/**
 * What every fuzz target reports to the unified runner (`npm run fuzz`, `fuzz-cli.ts`): rows of
 * target × category with the oracle's counts, a progress line while it runs, the summary table
 * at the end and the last line's JSON. Each target keeps its own generator and oracle; this file
 * only adds them up the same way.
 *
 * @example
 * const rows = await adapter.run({ seed: 1, cases: 1000, progress });
 * console.log(summaryTable(rows));
 * console.log(JSON.stringify(finalLine(rows)));
 */
import type { MinimiseBudget } from './minimise.js';

/** One target × category: how many cases ran and what the oracle found. */
export interface FuzzRow {
  readonly target: string;
  readonly category: string;
  cases: number;
  /** The target process exited or restarted, or printed a fatal error. */
  crashes: number;
  /** A request (or a valid probe) got no answer within its deadline. */
  hangs: number;
  /** A rejected input changed the target's state (tables, KV, intent, allocations). */
  stateChanges: number;
  /** An answer other than the one the oracle predicted (a wrong status, an untyped error). */
  mismatches: number;
  /** Growth of the target process's RSS over the run, in MB. */
  rssGrowthMb: number;
  /** The first few findings, for the report. */
  findings: string[];
}

export function row(target: string, category: string): FuzzRow {
  return { target, category, cases: 0, crashes: 0, hangs: 0, stateChanges: 0, mismatches: 0, rssGrowthMb: 0, findings: [] };
}

/** What a run of one target gets. */
export interface AdapterRunOptions {
  readonly seed: number;
  readonly cases: number;
  /** Cases done so far in this run (called as they complete; may be called rarely). */
  readonly progress: (done: number) => void;
  /**
   * A corpus directory (e.g. test/fuzz/corpus): each finding is minimised (minimise.ts) and saved
   * under `<dir>/<target>/` as a regression case expecting the oracle's answer.
   */
  readonly saveFindings?: string;
  /** Effort allowed per finding's minimisation. */
  readonly minimise?: MinimiseBudget;
}

/** A target the runner can drive: a seed and a budget in, rows out. */
export interface FuzzAdapter {
  readonly name: string;
  /**
   * Cases per second measured on this project's two-core machine, the target alone (its own
   * process), at the run sizes `npm run fuzz:all` uses: a budget is split in proportion to it,
   * so that every target gets about the same wall time.
   */
  readonly casesPerSecond: number;
  /** Smallest useful budget (e.g. one round of every attack kind). */
  readonly minCases: number;
  /**
   * Largest budget of one run: a bigger one is split into runs of this size with derived seeds
   * (fresh processes each; generators that plan a run up front stay bounded in memory).
   */
  readonly maxCasesPerRun?: number;
  run(options: AdapterRunOptions): Promise<FuzzRow[]>;
}

/** A one-line progress bar on stderr (only when it is a terminal). */
export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): (done: number) => void {
  let last = -1;
  return (done) => {
    if (!stream.isTTY) return;
    const pct = total === 0 ? 100 : Math.min(100, Math.floor((done / total) * 100));
    if (pct === last) return;
    last = pct;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    stream.write(`\r${label.padEnd(16)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${total}${pct === 100 ? '\n' : ''}`);
  };
}

/** The table printed at the end: one line per target × category, and totals. */
export function summaryTable(rows: readonly FuzzRow[]): string {
  const head = ['target', 'category', 'cases', 'crashes', 'hangs', 'state', 'mismatch', 'rss MB'];
  const body = rows.map((r) => [r.target, r.category, String(r.cases), String(r.crashes), String(r.hangs), String(r.stateChanges), String(r.mismatches), r.rssGrowthMb.toFixed(1)]);
  const total = totals(rows);
  body.push(['total', `${new Set(rows.map((r) => r.category)).size} categories`, String(total.cases), String(total.crashes), String(total.hangs), String(total.stateChanges), String(total.mismatches), '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

export function totals(rows: readonly FuzzRow[]): { cases: number; crashes: number; hangs: number; stateChanges: number; mismatches: number } {
  return rows.reduce(
    (t, r) => ({ cases: t.cases + r.cases, crashes: t.crashes + r.crashes, hangs: t.hangs + r.hangs, stateChanges: t.stateChanges + r.stateChanges, mismatches: t.mismatches + r.mismatches }),
    { cases: 0, crashes: 0, hangs: 0, stateChanges: 0, mismatches: 0 },
  );
}

/** The last line of every run. */
export function finalLine(rows: readonly FuzzRow[]): Record<string, unknown> {
  const t = totals(rows);
  return {
    fuzz: 'done',
    cases: t.cases,
    categories: new Set(rows.map((r) => r.category)).size,
    crashes: t.crashes,
    hangs: t.hangs,
    state_changes: t.stateChanges,
    oracle_mismatches: t.mismatches,
    rss_growth_mb: Math.round(Math.max(0, ...rows.map((r) => r.rssGrowthMb)) * 10) / 10,
  };
}

/** The seed of chunk `i` of a run split into chunks (chunk 0 keeps the run's seed). */
export function chunkSeed(seed: number, i: number): number {
  return i === 0 ? seed : (Math.imul(seed, 7919) + i * 104_729) | 0;
}

/** Adds rows of the same target × category together (RSS: the largest growth seen). */
export function mergeRows(rows: readonly FuzzRow[]): FuzzRow[] {
  const out = new Map<string, FuzzRow>();
  for (const r of rows) {
    const key = `${r.target}\u0000${r.category}`;
    const m = out.get(key);
    if (!m) {
      out.set(key, { ...r, findings: [...r.findings] });
      continue;
    }
    m.cases += r.cases;
    m.crashes += r.crashes;
    m.hangs += r.hangs;
    m.stateChanges += r.stateChanges;
    m.mismatches += r.mismatches;
    m.rssGrowthMb = Math.max(m.rssGrowthMb, r.rssGrowthMb);
    m.findings.push(...r.findings.slice(0, Math.max(0, 5 - m.findings.length)));
  }
  return [...out.values()];
}

/**
 * Splits `total` cases over adapters in proportion to their measured speed (casesPerSecond), so
 * that each gets about the same wall time; a target whose share is below its minimum gets the
 * minimum and the rest is shared among the others the same way. The shares add up to `total`
 * (more only when the minimums alone exceed it).
 *
 * @example
 * splitBudget([{ name: 'a', casesPerSecond: 900, minCases: 1 }, { name: 'b', casesPerSecond: 100, minCases: 1 }], 1000);
 * // Map { 'a' => 900, 'b' => 100 }
 */
export function splitBudget(adapters: readonly Pick<FuzzAdapter, 'name' | 'casesPerSecond' | 'minCases'>[], total: number): Map<string, number> {
  const out = new Map<string, number>();
  let free = [...adapters];
  let left = total;
  for (let changed = true; changed && free.length > 0; ) {
    changed = false;
    const speed = free.reduce((a, b) => a + b.casesPerSecond, 0);
    for (const a of free) {
      if ((left * a.casesPerSecond) / speed < a.minCases) {
        out.set(a.name, a.minCases);
        left -= a.minCases;
        changed = true;
      }
    }
    free = free.filter((a) => !out.has(a.name));
  }
  const speed = free.reduce((a, b) => a + b.casesPerSecond, 0);
  let given = 0;
  free.forEach((a, i) => {
    const n = i === free.length - 1 ? Math.max(a.minCases, left - given) : Math.max(a.minCases, Math.floor((left * a.casesPerSecond) / speed));
    out.set(a.name, n);
    given += n;
  });
  return new Map(adapters.map((a) => [a.name, out.get(a.name)!]));
}

/**
 * The seed of one target's child in a run over several targets: derived from the run's seed and
 * the target's name, so a child can be re-run alone with the seed the plan prints.
 *
 * @example
 * targetSeed(4242, 'bus'); // the same number every time
 */
export function targetSeed(seed: number, target: string): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  for (const ch of target) h = Math.imul(h ^ ch.charCodeAt(0), 0xc2b2ae35) ^ (h >>> 15);
  return (h >>> 1) % 2_000_000_000;
}
