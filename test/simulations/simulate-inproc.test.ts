/**
 * The in-process simulator (simulations/inproc/): the real trees and target on deterministic
 * stand-ins and one injected clock.
 *
 * - Replay: the same seed gives the same event log, byte for byte (every fault kind on), and
 *   another seed a different one.
 * - CI-sized: three seeds × every fault kind × 3 nodes hold every invariant, and so do the seeds
 *   whose findings were fixed, at 5 nodes × 40 s.
 * - The checker can fail in-process too: the planted id bug (through the CLI, which puts it in
 *   the environment before the code loads) is reported with the seed and the replay command.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULT_KINDS } from '../../simulations/cluster/fault-kinds.js';
import { simulateInproc, type InprocResult } from '../../simulations/inproc/inproc-simulate.js';
import { runSimulateCli } from './simulate-support.js';

async function run(seed: number, nodes = 3, durationS = 20): Promise<InprocResult> {
  const r = await simulateInproc({ seed, nodes, durationS, faults: FAULT_KINDS, faultsText: 'all' });
  if (!r.ok) throw r.error;
  return r.value;
}

const violations = (r: InprocResult): string =>
  r.report.invariants
    .flatMap((i) => i.violations.map((v) => `${i.name} t=${v.atS} ${v.node ?? ''} ${v.detail}`))
    .slice(0, 10)
    .join('\n') + `\nreplay: ${r.replayCommand}`;

describe('the in-process simulator', function () {
  this.timeout(300_000);

  it('replays a seed exactly: the same event log, byte for byte, with every fault kind; another seed differs', async () => {
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    console.log(`      seed 11: ${a.eventLog.split('\n').length - 1} events, ${a.report.faults.length} faults, ${a.simulatedS} s simulated in ${a.counts.wallS} s`);
    expect(a.eventLog.length).to.be.greaterThan(10_000);
    expect(b.eventLog === a.eventLog, 'the same seed, the same bytes').to.equal(true);
    expect(c.eventLog).to.not.equal(a.eventLog);
    // Every kind of fault was applied, none refused.
    const applied = new Set(a.report.faults.map((f) => f.kind));
    for (const k of FAULT_KINDS) expect(applied.has(k), k).to.equal(true);
    expect(a.eventLog).to.not.contain('"fault.failed"');
  });

  it('holds every invariant for three seeds × every fault kind × 3 nodes', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await run(seed);
      console.log(`      seed ${seed}: ${r.summary.simulate}, ${r.summary.faults} faults, ${r.counts.ops} operations, ${r.counts.checks} pipeline checks, converge p99 ${r.summary.converge_p99_s} s, ${r.counts.wallS} s`);
      expect(r.summary, violations(r)).to.include({ simulate: 'ok', mode: 'inproc', violations: 0 });
      expect(r.summary.faults).to.be.greaterThan(10);
      expect(r.report.convergence.length, 'nodes seen converged during the run').to.be.greaterThan(0);
    }
  });

  it('holds every invariant for the seeds whose findings were fixed (5 nodes × 40 s × every fault kind)', async () => {
    // 2: a leader subtree left at a stale election id after a bus restart; 25: a new leader trusting
    // a bucket that lost keys; 40 and 69: a flow sweep judging by an intent that turned incomplete;
    // 60: a restarted agent handing out the port of a pod whose DEL was cut short; 246: a service
    // deleted while the agent's tree restarted, never deleted at the manager.
    for (const seed of [2, 25, 40, 60, 69, 246]) {
      const r = await run(seed, 5, 40);
      console.log(`      seed ${seed}: ${r.summary.simulate}, ${r.summary.faults} faults, ${r.counts.wallS} s`);
      expect(r.summary, violations(r)).to.include({ simulate: 'ok', violations: 0 });
    }
  });

  it('catches the planted id bug in-process and prints the seed and the replay command', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-simulate-inproc-'));
    try {
      const events = join(dir, 'events.jsonl');
      const args = ['--mode', 'inproc', '--seed', '3', '--nodes', '2', '--duration', '15', '--faults', 'none'];
      const clean = await runSimulateCli([...args, '--events', events]);
      expect(clean.last, clean.stdout + clean.stderr).to.include({ simulate: 'ok', seed: 3, mode: 'inproc' });
      const cleanLog = await readFile(events, 'utf8');
      const broken = await runSimulateCli([...args, '--broken', 'ids-double-allocate']);
      console.log(`      ${clean.seconds} s and ${broken.seconds} s; ${broken.stdout.split('\n').filter((l) => /FAIL/.test(l)).join('; ')}`);
      expect(broken.code, broken.stdout + broken.stderr).to.equal(1);
      expect(broken.last).to.include({ simulate: 'fail', seed: 3, mode: 'inproc' });
      expect(broken.stdout).to.match(/FAIL liveness (convergence|flows-survive): \d+ violation/);
      expect(broken.stdout).to.contain('replay: npm run simulate -- --seed 3 --nodes 2 --duration 15 --faults none --mode inproc --broken ids-double-allocate');
      expect(cleanLog.split('\n').length).to.be.greaterThan(50);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
