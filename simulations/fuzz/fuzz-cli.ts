/**
 * npm run fuzz -- [--target all|NAME[,NAME…]] [--seed S] [--cases N] [--jobs J] [--save-findings DIR]
 *                 [--minimise-attempts A] [--minimise-ms MS]
 *
 * The unified fuzz runner. One target runs in this process (its target processes are children of
 * it): the budget in runs of bounded size with derived seeds, a progress bar, a summary table per
 * target × category and as the last line {"fuzz":"done","cases":…,"categories":…,"crashes":0,
 * "hangs":0,"state_changes":0,"oracle_mismatches":0,"rss_growth_mb":…}.
 *
 * Several targets (`--target all`, or a list) make this process a coordinator (coordinator.ts):
 * the budget is split in proportion to each target's measured speed (harness.ts splitBudget: each
 * target gets about the same wall time, at least its minimum), each target runs as a child
 * `fuzz-cli --target T --cases N --seed <derived>` of its own, J at a time (default 2: this
 * machine has 2 cores), their progress is one bar and their rows one summary; a child that dies is
 * reported as a finding and the run goes on. The same seed runs the same cases.
 *
 * Exits 1 on any crash, hang, state change or mismatch (the findings are printed). With
 * --save-findings (e.g. test/fuzz/corpus), every finding of a target whose cases are payloads is
 * minimised (delta debugging, re-run against the target) and saved there as a regression case
 * expecting the oracle's answer; the other targets save the seed and scenario that replay it.
 * npm test (test/fuzz/corpus.test.ts) replays them all.
 *
 * Internal: --report-fd N (a child reports to its coordinator on fd N, child-report.ts).
 */
import { parseArgs } from 'node:util';
import { watchParent } from '../../core/parent-watch.js';
import { ADAPTERS } from './adapters.js';
import { childReporter, type ChildReporter } from './child-report.js';
import { coordinate, type ChildPlan } from './coordinator.js';
import { chunkSeed, finalLine, mergeRows, progressBar, splitBudget, summaryTable, targetSeed, totals, type FuzzAdapter, type FuzzRow } from './harness.js';
import type { MinimiseBudget } from './minimise.js';
import { TEST_ADAPTERS } from './test-targets.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    seed: { type: 'string', default: '4242' },
    cases: { type: 'string', default: '20000' },
    jobs: { type: 'string', default: '2' },
    'save-findings': { type: 'string' },
    'minimise-attempts': { type: 'string', default: '400' },
    'minimise-ms': { type: 'string', default: '60000' },
    'report-fd': { type: 'string' },
    'idle-ms': { type: 'string', default: String(15 * 60_000) },
  },
});
// Test-only targets (planted bugs, a child that dies) exist only when asked for by name.
const known: readonly FuzzAdapter[] = process.env.INFRA_FUZZ_TEST_TARGETS === '1' ? [...ADAPTERS, ...TEST_ADAPTERS] : ADAPTERS;
const seed = Number(values.seed);
const cases = Number(values.cases);
const jobs = Number(values.jobs);
const reportFd = values['report-fd'] === undefined ? undefined : Number(values['report-fd']);
const minimise: MinimiseBudget = { maxAttempts: Number(values['minimise-attempts']), maxMs: Number(values['minimise-ms']) };
const names = values.target.split(',');
const chosen = values.target === 'all' ? [...ADAPTERS] : known.filter((a) => names.includes(a.name));
const numbers = [seed, cases, jobs, minimise.maxAttempts!, minimise.maxMs!, Number(values['idle-ms'])];
if (!numbers.every(Number.isInteger) || cases < 0 || jobs < 1 || chosen.length !== (values.target === 'all' ? ADAPTERS.length : names.length) || (reportFd !== undefined && !(reportFd >= 3))) {
  console.error(`usage: npm run fuzz -- [--target all|${ADAPTERS.map((a) => a.name).join('|')}[,…]] [--seed S] [--cases N] [--jobs J] [--save-findings DIR] [--minimise-attempts A] [--minimise-ms MS]`);
  process.exit(2);
}
const saveFindings = values['save-findings'];
const started = Date.now();

/** One target, in this process: its budget in runs of bounded size, each with a derived seed. */
async function runTarget(adapter: FuzzAdapter, n: number, reporter: ChildReporter | undefined): Promise<FuzzRow[]> {
  const rows: FuzzRow[] = [];
  const bar = reporter ? () => undefined : progressBar(adapter.name, n);
  try {
    const per = adapter.maxCasesPerRun ?? n;
    for (let i = 0, done = 0; done < n; i++) {
      const chunk = Math.min(per, n - done);
      const base = done;
      const progress = (k: number): void => {
        bar(base + k);
        reporter?.progress(base + Math.min(k, chunk));
      };
      const mine = await adapter.run({ seed: chunkSeed(seed, i), cases: chunk, progress, minimise, ...(saveFindings ? { saveFindings } : {}) });
      rows.push(...mine);
      reporter?.rows(mine);
      done += chunk;
      progress(chunk);
    }
  } catch (e) {
    const r: FuzzRow = { target: adapter.name, category: 'harness', cases: 0, crashes: 1, hangs: 0, stateChanges: 0, mismatches: 0, rssGrowthMb: 0, findings: [`the run failed: ${(e as Error).stack ?? (e as Error).message}`.slice(0, 1500)] };
    rows.push(r);
    reporter?.rows([r]);
  }
  return mergeRows(rows);
}

function finish(rows: readonly FuzzRow[], extra: string[] = []): never {
  console.log(`\n${summaryTable(rows)}\n`);
  for (const line of extra) console.log(line);
  for (const r of rows) for (const f of r.findings) console.log(`finding ${r.target}/${r.category}: ${f}`);
  console.log(`${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  const t = totals(rows);
  console.log(JSON.stringify(finalLine(rows)));
  process.exit(t.crashes + t.hangs + t.stateChanges + t.mismatches === 0 ? 0 : 1);
}

if (chosen.length === 1) {
  const adapter = chosen[0]!;
  let reporter: ChildReporter | undefined;
  if (reportFd !== undefined) {
    // A child of a coordinator: stop with it, and stop at once when told (parent-watch stops
    // what this process started; its temp files are in the coordinator's run directory).
    watchParent();
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(128 + (s === 'SIGTERM' ? 15 : 2)));
    reporter = childReporter(reportFd, adapter.name, cases);
    reporter.start(seed);
  }
  console.log(`fuzz seed ${seed}: ${adapter.name} ${cases}`);
  const t0 = Date.now();
  const rows = await runTarget(adapter, cases, reporter);
  console.log(`${adapter.name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  reporter?.end();
  finish(rows);
}

// Several targets: a coordinator. The split is in proportion to each target's measured speed
// (cases per second, measured alone on this two-core machine: see casesPerSecond in adapters.ts),
// so each target gets about the same wall time; the minimums cover one round of every category.
const budget = splitBudget(chosen, cases);
const plan: ChildPlan[] = chosen.map((a) => ({ target: a.name, cases: budget.get(a.name)!, seed: targetSeed(seed, a.name), casesPerSecond: a.casesPerSecond }));
const total = plan.reduce((n, p) => n + p.cases, 0);
const expectS = plan.reduce((s, p) => s + p.cases / p.casesPerSecond, 0) / jobs;
const splitText = plan.map((p) => `${p.target} ${p.cases} (seed ${p.seed}, ~${Math.round(p.cases / p.casesPerSecond)} s)`).join(', ');
console.log(`fuzz seed ${seed}: ${total} cases over ${plan.length} targets, ${jobs} at a time, each its own process; budget split in proportion to measured speed: ${splitText}; expected ~${Math.round(expectS)} s`);
const bar = progressBar('all', total);
const aborter = new AbortController();
for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => aborter.abort());
const out = await coordinate({
  plan,
  jobs,
  idleMs: Number(values['idle-ms']),
  signal: aborter.signal,
  childArgs: [
    ...(saveFindings ? ['--save-findings', saveFindings] : []),
    '--minimise-attempts', String(minimise.maxAttempts),
    '--minimise-ms', String(minimise.maxMs),
  ],
  onProgress: (done) => bar(done),
  onChildEnd: (r) => {
    const how = r.ended ? 'done' : r.stopped === 'aborted' ? 'stopped' : r.stopped === 'silent' ? 'silent, stopped' : 'died';
    console.log(`${r.target}: ${how} in ${(r.ms / 1000).toFixed(1)} s (${r.done} of ${r.planned} cases, exit ${r.code ?? r.signal}, pid ${r.pid})`);
  },
});
const split = [
  'budget split (in proportion to each target’s measured speed, so each gets about the same time; each target its own process):',
  ...out.children.map((c) => {
    const p = plan.find((x) => x.target === c.target)!;
    return `  ${c.target.padEnd(14)} ${String(c.planned).padStart(8)} cases  seed ${String(p.seed).padStart(10)}  ${String(p.casesPerSecond).padStart(6)}/s measured  ${(c.ms / 1000).toFixed(1).padStart(7)} s here  ${c.ended ? 'finished' : 'did not finish'}`;
  }),
];
if (aborter.signal.aborted) {
  console.log(`\n${summaryTable(mergeRows(out.rows))}\n\nstopped before the end`);
  process.exit(130);
}
finish(mergeRows(out.rows), split);
