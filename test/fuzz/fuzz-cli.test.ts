/** The unified fuzz runner as `npm run fuzz` runs it: every target, a summary, the JSON last line, replayable. */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { moduleCommand } from '../../simulations/processes.js';
import { ADAPTERS, pluginFindings } from '../../simulations/fuzz/adapters.js';
import { pluginCases, worldIn } from '../../simulations/fuzz/cni-fuzz.js';
import { predictPlugin } from '../../simulations/fuzz/cni-json.js';
import { chunkSeed, finalLine, mergeRows, row, splitBudget, summaryTable } from '../../simulations/fuzz/harness.js';

function runCli(args: string[]): Promise<{ code: number | null; lines: string[] }> {
  const { command, args: base } = moduleCommand('simulations/fuzz/fuzz-cli');
  return new Promise((resolve) => {
    const child = spawn(command, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, lines: out.trim().split('\n') }));
  });
}

describe('npm run fuzz (the unified runner)', function () {
  this.timeout(180_000);

  it('splits a budget by speed, every target at least its minimum', function () {
    const budget = splitBudget(ADAPTERS, 20_000);
    for (const a of ADAPTERS) expect(budget.get(a.name), a.name).to.be.at.least(a.minCases);
    expect(budget.get('bus')!).to.be.greaterThan(budget.get('cni-exec')!);
  });

  it('sums rows into the table and the final line', function () {
    const a = row('t1', 'k1');
    a.cases = 10;
    a.rssGrowthMb = 3.25;
    const b = row('t2', 'k1');
    b.cases = 5;
    b.mismatches = 1;
    expect(finalLine([a, b])).to.deep.equal({ fuzz: 'done', cases: 15, categories: 1, crashes: 0, hangs: 0, state_changes: 0, oracle_mismatches: 1, rss_growth_mb: 3.3 });
    expect(summaryTable([a, b])).to.match(/total\s+1 categories\s+15\s+0\s+0\s+0\s+1/);
  });

  it('runs every target with a small budget: zero findings, the JSON last', async function () {
    const { code, lines } = await runCli(['--cases', '3000', '--seed', '99']);
    const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(code, lines.slice(-20).join('\n')).to.equal(0);
    expect(last).to.deep.include({ fuzz: 'done', crashes: 0, hangs: 0, state_changes: 0, oracle_mismatches: 0 });
    expect(last.cases).to.be.at.least(3000);
    expect(last.categories).to.be.at.least(20);
    for (const a of ADAPTERS) expect(lines.some((l) => l.startsWith(`${a.name}: done`)), a.name).to.equal(true);
  });

  it('merges the rows of a run split into chunks, each chunk with its own derived seed', function () {
    const a = row('t', 'k');
    a.cases = 3;
    a.rssGrowthMb = 5;
    a.findings.push('x');
    const b = row('t', 'k');
    b.cases = 4;
    b.hangs = 1;
    b.rssGrowthMb = 2;
    const c = row('t', 'other');
    c.cases = 1;
    const merged = mergeRows([a, b, c]);
    expect(merged).to.have.length(2);
    expect(merged[0]).to.deep.include({ cases: 7, hangs: 1, rssGrowthMb: 5, findings: ['x'] });
    expect(chunkSeed(42, 0)).to.equal(42);
    expect(new Set([0, 1, 2, 3].map((i) => chunkSeed(42, i))).size).to.equal(4);
  });

  it('turns a plugin finding back into its case, saved expecting what the oracle predicts', function () {
    const dir = '/tmp/ioff-not-created';
    const cases = [...pluginCases(worldIn(dir), 5, 40)];
    const victim = cases.at(-3)!;
    const saved = pluginFindings(dir, 5, 40, [{ input: `#${victim.index} ${victim.kind} ${victim.command}: ${victim.note}` }]);
    expect(saved).to.have.length(1);
    const p = predictPlugin(victim, worldIn(dir));
    expect(saved[0]).to.deep.include({ target: 'cni-plugin', category: `finding-${victim.kind}`, seed: 5, index: victim.index });
    expect(saved[0]!.expected).to.deep.equal({ exitCode: p.exitCode, ...(p.code !== undefined ? { code: p.code } : {}), output: p.output });
    expect(pluginFindings(dir, 5, 40, [])).to.deep.equal([]);
  });

  it('refuses a target it does not know (exit 2)', async function () {
    const { code, lines } = await runCli(['--target', 'nope']);
    expect(code).to.equal(2);
    expect(lines.join('\n')).to.match(/usage: npm run fuzz/);
  });
});
