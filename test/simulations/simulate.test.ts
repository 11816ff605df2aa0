/**
 * The simulator, CI-sized: three seeds, two nodes, 20 s each, a representative set of faults
 * (kill -9 of each process kind, a stall, both partitions, bus duplication, reordering and delay,
 * slow and failing P4 writes, Kubernetes watch faults and an API outage, loss of the manager's KV
 * state). Each run is the real command
 * line from dist/ with its real processes; each must hold every invariant and say so in its last
 * line. The first seed also writes the HTML report and keeps its event log, which are looked at.
 *
 * `bus-drop`, `kill-nats` and `kv-loss` are in since the bugs they found were fixed
 * (docs/simulator.md, "Findings"). `disk-full` needs root.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULT_KINDS } from '../../simulations/cluster/fault-kinds.js';
import { INVARIANTS } from '../../simulations/cluster/invariants.js';
import { runSimulateCli } from './simulate-support.js';

/** Every kind but the two the soak covers (`clock-jump`; `disk-full`, which needs root). */
const CI_FAULTS = FAULT_KINDS.filter((k) => k !== 'clock-jump' && k !== 'disk-full').join(',');

describe('the simulator, CI-sized: 3 seeds × 2 nodes × 20 s under faults', function () {
  this.timeout(200_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ioff-simulate-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const seed of [101, 202, 303]) {
    it(`seed ${seed}: every invariant holds`, async function () {
      const first = seed === 101;
      const report = join(dir, `seed-${seed}.html`);
      const events = join(dir, `seed-${seed}.jsonl`);
      const run = await runSimulateCli([
        '--seed', String(seed), '--nodes', '2', '--duration', '20', '--faults', CI_FAULTS,
        ...(first ? ['--report', report, '--events', events] : []),
      ]);
      const summary = run.stdout.split('\n').filter((l) => / seed |ok {2}|FAIL|t=|restarts|replay/.test(l)).join('\n');
      console.log(`      ${run.seconds} s\n${summary.replace(/^/gm, '      ')}`);
      expect(run.last, `last line of:\n${run.stdout}\n${run.stderr}`).to.include({ simulate: 'ok', seed, mode: 'process', nodes: 2, violations: 0 });
      expect(run.last?.faults).to.be.at.least(12);
      expect(run.code).to.equal(0);
      if (!first) return;
      const html = await readFile(report, 'utf8');
      expect(html).to.match(/^<!DOCTYPE html>/);
      for (const i of INVARIANTS) expect(html).to.contain(i.name);
      expect(html).to.contain(`--seed ${seed} --nodes 2 --duration 20`);
      const lines = (await readFile(events, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { event: string; plan?: { seed: number }; kind?: string });
      expect(lines[0]?.event).to.equal('plan');
      expect(lines[0]?.plan?.seed).to.equal(seed);
      const applied = new Set(lines.filter((l) => l.event === 'fault.start').map((l) => l.kind));
      expect(applied.size, 'fault kinds applied').to.equal(CI_FAULTS.split(',').length);
      expect(lines.some((l) => l.event === 'pod.up') && lines.some((l) => l.event === 'pod.gone') && lines.some((l) => l.event === 'flows.open')).to.equal(true);
      expect(lines[lines.length - 1]?.event).to.equal('summary');
    });
  }
});
