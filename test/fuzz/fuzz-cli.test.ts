/**
 * The unified fuzz runner as `npm run fuzz` runs it: `--target all` is a coordinator whose every
 * target runs in a child process of its own (a budget split by measured speed, one summary, the
 * JSON last, replayable); a child that dies is a finding and the run goes on.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { moduleCommand } from '../../simulations/processes.js';
import { ADAPTERS, failingCases } from '../../simulations/fuzz/adapters.js';
import { parseChildLine } from '../../simulations/fuzz/child-report.js';
import { label, pluginCases, worldIn } from '../../simulations/fuzz/cni-fuzz.js';
import { childFailureRow } from '../../simulations/fuzz/coordinator.js';
import { chunkSeed, finalLine, mergeRows, row, splitBudget, summaryTable, targetSeed } from '../../simulations/fuzz/harness.js';

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; pid: number | undefined; lines: string[] }> {
  const { command, args: base } = moduleCommand('simulations/fuzz/fuzz-cli');
  return new Promise((resolve) => {
    const child = spawn(command, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, pid: child.pid, lines: out.trim().split('\n') }));
  });
}

describe('npm run fuzz (the unified runner)', function () {
  this.timeout(180_000);

  it('splits a budget in proportion to measured speed, every target at least its minimum, the shares adding up', () => {
    const budget = splitBudget(ADAPTERS, 1_000_000);
    for (const a of ADAPTERS) expect(budget.get(a.name), a.name).to.be.at.least(a.minCases);
    expect([...budget.values()].reduce((a, b) => a + b, 0)).to.equal(1_000_000);
    // Equal time: cases / speed is the same for every target above its minimum.
    const times = ADAPTERS.filter((a) => budget.get(a.name)! > a.minCases).map((a) => budget.get(a.name)! / a.casesPerSecond);
    expect(Math.max(...times) - Math.min(...times)).to.be.below(1);
    const small = splitBudget([{ name: 'fast', casesPerSecond: 900, minCases: 1 }, { name: 'slow', casesPerSecond: 1, minCases: 50 }], 1000);
    expect([...small]).to.deep.equal([['fast', 950], ['slow', 50]]);
    expect(targetSeed(4242, 'bus')).to.equal(targetSeed(4242, 'bus'));
    expect(new Set(ADAPTERS.map((a) => targetSeed(4242, a.name))).size).to.equal(ADAPTERS.length);
  });

  it('sums rows into the table and the final line', () => {
    const a = row('t1', 'k1');
    a.cases = 10;
    a.rssGrowthMb = 3.25;
    const b = row('t2', 'k1');
    b.cases = 5;
    b.mismatches = 1;
    expect(finalLine([a, b])).to.deep.equal({ fuzz: 'done', cases: 15, categories: 1, crashes: 0, hangs: 0, state_changes: 0, oracle_mismatches: 1, rss_growth_mb: 3.3 });
    expect(summaryTable([a, b])).to.match(/total\s+1 categories\s+15\s+0\s+0\s+0\s+1/);
  });

  it('reads a child’s report lines, and makes a died or silent child a finding', () => {
    expect(parseChildLine('{"fuzz":"progress","target":"bus","done":5,"total":10}')).to.deep.equal({ fuzz: 'progress', target: 'bus', done: 5, total: 10 });
    expect(parseChildLine('{"fuzz":"progress","target":"bus"}')).to.equal(undefined);
    expect(parseChildLine('{"fuzz":"done","cases":1}')).to.equal(undefined);
    expect(parseChildLine('not json')).to.equal(undefined);
    const base = { target: 'bus', pid: 7, planned: 10, done: 4, rows: [], code: null, signal: 'SIGKILL' as const, ms: 1, tail: ['last words'] };
    expect(childFailureRow({ ...base, ended: true })).to.equal(undefined);
    expect(childFailureRow({ ...base, ended: false })).to.deep.include({ category: 'child-died', crashes: 1 });
    expect(childFailureRow({ ...base, ended: false })!.findings[0]).to.match(/killed by SIGKILL after 4 of 10 cases.*last words/);
    expect(childFailureRow({ ...base, ended: false, stopped: 'silent' })).to.deep.include({ category: 'child-silent', hangs: 1 });
    expect(childFailureRow({ ...base, ended: false, stopped: 'aborted' })).to.equal(undefined);
  });

  it('runs every target, each in a child process of its own, two at a time: zero findings, one summary, the JSON last', async () => {
    const { code, pid, lines } = await runCli(['--cases', '3000', '--seed', '99']);
    const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(code, lines.slice(-30).join('\n')).to.equal(0);
    expect(last).to.deep.include({ fuzz: 'done', crashes: 0, hangs: 0, state_changes: 0, oracle_mismatches: 0 });
    expect(last.cases).to.be.at.least(3000);
    expect(last.categories).to.be.at.least(60);
    expect(lines[0]).to.match(/budget split in proportion to measured speed/);
    const pids = new Set<number>();
    for (const a of ADAPTERS) {
      const done = lines.find((l) => l.startsWith(`${a.name}: done`));
      expect(done, a.name).to.not.equal(undefined);
      pids.add(Number(/pid (\d+)/.exec(done!)?.[1]));
      expect(lines.some((l) => new RegExp(`^\\s+${a.name}\\s+\\d+ cases\\s+seed\\s+${targetSeed(99, a.name)}\\b`).test(l)), `${a.name} in the split`).to.equal(true);
    }
    expect(pids.size, 'one process per target').to.equal(ADAPTERS.length);
    expect(pids.has(pid!), 'none in the coordinator').to.equal(false);
    for (const target of ['manager', 'agent']) expect(lines.some((l) => l.startsWith(`${target} `)), `rows of the ${target} facing a hostile peer`).to.equal(true);
  });

  it('a child that dies is a finding, so is one that goes silent (stopped); the other children still run to the end', async () => {
    const { code, lines } = await runCli(['--target', 'test-die,test-hang,cni-exec', '--cases', '90', '--seed', '5', '--idle-ms', '4000'], { INFRA_FUZZ_TEST_TARGETS: '1' });
    const last = JSON.parse(lines.at(-1)!) as Record<string, number>;
    expect(code, lines.join('\n')).to.equal(1);
    expect(last.crashes).to.equal(1);
    expect(last.hangs).to.equal(1);
    expect(lines.some((l) => /^test-die: died .*exit SIGKILL/.test(l)), lines.join('\n')).to.equal(true);
    expect(lines.some((l) => /^finding test-die\/child-died: the fuzz child of test-die \(pid \d+\) was killed by SIGKILL/.test(l))).to.equal(true);
    expect(lines.some((l) => /^test-hang: silent, stopped/.test(l)), lines.join('\n')).to.equal(true);
    expect(lines.some((l) => /^finding test-hang\/child-silent: the fuzz child of test-hang \(pid \d+\) stopped after staying silent/.test(l))).to.equal(true);
    expect(lines.some((l) => /^cni-exec: done/.test(l))).to.equal(true);
    expect(last.cases).to.be.at.least(30);
  });

  it('merges the rows of a run split into chunks, each chunk with its own derived seed', () => {
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

  it('finds a plugin finding’s case again by its label, to minimise and save it', () => {
    const cases = [...pluginCases(worldIn('/tmp/ioff-not-created'), 5, 40)];
    const victim = cases.at(-3)!;
    const found = failingCases(cases, [{ input: label(victim), got: 'exit 0: …' }]);
    expect(found).to.have.length(1);
    expect(found[0]!.c).to.deep.equal(victim);
    expect(found[0]!.got).to.equal('exit 0: …');
    expect(failingCases(cases, [])).to.deep.equal([]);
  });

  it('refuses a target it does not know, and the test-only ones unless asked for (exit 2)', async () => {
    const { code, lines } = await runCli(['--target', 'nope']);
    expect(code).to.equal(2);
    expect(lines.join('\n')).to.match(/usage: npm run fuzz/);
    expect((await runCli(['--target', 'test-die', '--cases', '1'])).code).to.equal(2);
  });
});
