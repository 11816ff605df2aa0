/**
 * npm run fuzz -- [--target all|NAME[,NAME…]] [--seed S] [--cases N] [--save-findings DIR]
 *
 * The unified fuzz runner: N cases split over the chosen targets in proportion to their speed
 * (each at least one round of every category), each target started as its own processes and
 * checked by its own oracle; a progress bar per target, a summary table per target × category,
 * and as the last line {"fuzz":"done","cases":…,"categories":…,"crashes":0,"hangs":0,
 * "state_changes":0,"oracle_mismatches":0,"rss_growth_mb":…}. The same seed runs the same cases.
 * Exits 1 on any crash, hang, state change or mismatch (the findings are printed). With
 * --save-findings (e.g. test/fuzz/corpus), failing cases of targets that can replay them are saved
 * there as regression cases expecting the oracle's answer: npm test fails until they are fixed.
 */
import { parseArgs } from 'node:util';
import { ADAPTERS } from './adapters.js';
import { chunkSeed, finalLine, mergeRows, progressBar, splitBudget, summaryTable, totals, type FuzzRow } from './harness.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    seed: { type: 'string', default: '4242' },
    cases: { type: 'string', default: '20000' },
    'save-findings': { type: 'string' },
  },
});
const seed = Number(values.seed);
const cases = Number(values.cases);
const chosen = values.target === 'all' ? [...ADAPTERS] : ADAPTERS.filter((a) => values.target.split(',').includes(a.name));
if (!Number.isInteger(seed) || !Number.isInteger(cases) || cases < 0 || chosen.length === 0) {
  console.error(`usage: npm run fuzz -- [--target all|${ADAPTERS.map((a) => a.name).join('|')}] [--seed S] [--cases N]`);
  process.exit(2);
}

const budget = splitBudget(chosen, cases);
console.log(`fuzz seed ${seed}: ${[...budget].map(([n, c]) => `${n} ${c}`).join(', ')}`);
const rows: FuzzRow[] = [];
const started = Date.now();
for (const adapter of chosen) {
  const n = budget.get(adapter.name)!;
  const t0 = Date.now();
  try {
    const per = adapter.maxCasesPerRun ?? n;
    const bar = progressBar(adapter.name, n);
    const mine: FuzzRow[] = [];
    for (let i = 0, done = 0; done < n; i++) {
      const chunk = Math.min(per, n - done);
      const base = done;
      mine.push(...(await adapter.run({ seed: chunkSeed(seed, i), cases: chunk, progress: (k) => bar(base + k), ...(values['save-findings'] ? { saveFindings: values['save-findings'] } : {}) })));
      done += chunk;
    }
    rows.push(...mergeRows(mine));
  } catch (e) {
    rows.push({ target: adapter.name, category: 'harness', cases: 0, crashes: 1, hangs: 0, stateChanges: 0, mismatches: 0, rssGrowthMb: 0, findings: [`the run failed: ${(e as Error).message}`] });
  }
  console.log(`${adapter.name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
console.log(`\n${summaryTable(rows)}\n`);
for (const r of rows) for (const f of r.findings) console.log(`finding ${r.target}/${r.category}: ${f}`);
console.log(`${((Date.now() - started) / 1000).toFixed(1)} s in all`);
const t = totals(rows);
console.log(JSON.stringify(finalLine(rows)));
process.exit(t.crashes + t.hangs + t.stateChanges + t.mismatches === 0 ? 0 : 1);
