/**
 * The manager's P4Runtime client facing a malicious target (issue 11): first our client in
 * process against every hostile scenario (each call settles with a value or a typed error, none
 * throws out of grpc-js — an uncaught exception fails this file), then the real manager as its own
 * process against a seeded run of scenarios: same PID throughout, nothing uncaught, its session
 * reconnects, its bus answers ctl.state within 2 s, RSS growth bounded, and once the target turns
 * good it reconciles.
 */
import { expect } from 'chai';
import { seededRandom } from '../../core/random.js';
import { P4RuntimeClient, P4RuntimeError } from '../../p4/runtime-client.js';
import { p4Types } from '../../p4/runtime-proto.js';
import { EvilTarget, hostileBytes, SCENARIOS, shuffled, type Scenario } from '../../simulations/fuzz/evil-target.js';
import { runEvilTarget } from '../../simulations/fuzz/evil-target-process.js';

/** Calls that a stalling scenario is expected to leave unanswered. */
const STALLS: Partial<Record<Scenario, string>> = { 'pipeline-stall': 'getPipeline', 'read-never-ends': 'read', 'stream-silent': 'arbitration' };

type Outcome = 'ok' | 'error' | 'pending';

/** A call's outcome within `ms`; anything but a P4RuntimeError fails the test. */
async function settle(p: Promise<unknown>, ms: number): Promise<Outcome> {
  const typed = p.then(
    () => 'ok' as const,
    (e: unknown) => {
      if (e instanceof P4RuntimeError) return 'error' as const;
      throw e instanceof Error ? e : new Error(String(e));
    },
  );
  return Promise.race([typed, new Promise<Outcome>((res) => setTimeout(() => res('pending'), ms))]);
}

describe('the manager facing a malicious P4Runtime target (issue 11)', function () {
  this.timeout(90_000);

  it('same seed, same scenarios and bytes; another seed, others', () => {
    const a = new EvilTarget({ seed: 3 });
    const b = new EvilTarget({ seed: 3 });
    const c = new EvilTarget({ seed: 4 });
    const order = (t: EvilTarget): Scenario[] => SCENARIOS.map((_, i) => t.scenarioOf(i));
    expect(order(a)).to.deep.equal(order(b));
    expect(order(a)).to.not.deep.equal(order(c));
    expect(order(a)).to.have.members([...SCENARIOS]);
    const x = hostileBytes(p4Types.ReadResponse, 3, 1, 5).map((u) => Buffer.from(u).toString('hex'));
    expect(hostileBytes(p4Types.ReadResponse, 3, 1, 5).map((u) => Buffer.from(u).toString('hex'))).to.deep.equal(x);
    expect(hostileBytes(p4Types.ReadResponse, 4, 1, 5).map((u) => Buffer.from(u).toString('hex'))).to.not.deep.equal(x);
    expect(shuffled(seededRandom(1), [1, 2, 3, 4, 5])).to.have.members([1, 2, 3, 4, 5]);
  });

  it('our client settles every call of every scenario with a value or a P4RuntimeError (regression: garbage status details threw out of grpc-js)', async () => {
    const seen: string[] = [];
    for (const scenario of SCENARIOS) {
      const evil = new EvilTarget({ seed: 5, scenarios: [scenario], lifeMs: 400, hugeBytes: 1 << 20 });
      const port = await evil.listen('127.0.0.1:0');
      const client = new P4RuntimeClient(`127.0.0.1:${port}`);
      try {
        const stream = client.openStream();
        stream.send({ arbitration: { device_id: 1, election_id: { low: 5 } } });
        const first = await stream.next(300);
        const outcomes: Record<string, Outcome> = {
          arbitration: first === undefined && stream.ended === undefined ? 'pending' : first === undefined ? 'error' : 'ok',
          getPipeline: await settle(client.getPipeline({ device_id: 1, response_type: 'P4INFO_AND_COOKIE' }), 1500),
          setPipeline: await settle(client.setPipeline({ device_id: 1, election_id: { low: 5 }, action: 'VERIFY_AND_COMMIT', config: {} }), 300),
          read: await settle(client.read({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }] }), 500),
          write: await settle(client.write({ device_id: 1, election_id: { low: 5 }, updates: [{ type: 'INSERT', entity: { table_entry: { table_id: 1, action: { action: { action_id: 1 } } } } }] }), 300),
          capabilities: await settle(client.capabilities(), 300),
        };
        stream.close();
        for (const [call, outcome] of Object.entries(outcomes)) {
          if (outcome === 'pending') expect(STALLS[scenario], `${scenario}: ${call} never answered`).to.equal(call);
        }
        seen.push(`${scenario}: ${Object.entries(outcomes).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      } finally {
        client.close();
        await evil.close();
      }
    }
    expect(seen).to.have.length(SCENARIOS.length);
    expect(seen.find((s) => s.startsWith('write-garbage-details'))).to.include('write=error');
    expect(seen.find((s) => s.startsWith('read-garbage-details'))).to.include('read=error');
    expect(seen.find((s) => s.startsWith('read-malformed'))).to.include('read=error');
  });

  // Found by this harness: without deadlines a target that keeps the arbitration stream open and
  // never answers a Read (or GetForwardingPipelineConfig) held the session in `reconciling` (or
  // `pipeline`) forever. Calls now have deadlines (p4.callTimeoutMs, p4.readIdleMs).
  it('a Read that never ends, on a stream kept open, ends in a reconnect (the Read has an idle deadline)', async () => {
    const report = await runEvilTarget({ seed: 1, scenarios: ['read-never-ends'], attempts: 2, lifeMs: 60_000, maxMs: 15_000, convergeMs: 3000 });
    expect(report.stats.attempts, 'the session reconnected after the stalled Read').to.be.at.least(2);
  });

  it('the manager (its own process) survives seeded hostile connections, keeps answering, and converges on a good target', async () => {
    const report = await runEvilTarget({ seed: 11, attempts: 10, lifeMs: 600, hugeBytes: 4 << 20, probeDeadlineMs: 2000 });
    const summary = `attempts ${report.stats.attempts} (${Object.keys(report.stats.byScenario).join(', ')}) in ${report.hostileMs} ms; reconnects ${report.reconnects}, session warnings/errors ${report.sessionErrors}; probes ${report.probes.ok} ok ${report.probes.failed} failed (max ${Math.round(report.probes.maxMs)} ms); rss ${report.rss.startKb} → peak ${report.rss.peakKb} → ${report.rss.endKb} KiB; converged in ${report.convergeMs} ms`;
    console.log(`      ${summary}`);
    expect(report.fatal, summary).to.deep.equal([]);
    expect(report.alive, `${summary} exit ${JSON.stringify(report.exit)}`).to.equal(true);
    expect(report.stats.attempts).to.be.at.least(10);
    expect(report.reconnects, 'the session reconnects after each hostile connection').to.be.at.least(8);
    expect(report.leaseWarnings, 'the lease held throughout (it is not what this run fuzzes)').to.equal(0);
    expect(report.probes.failed, report.probes.failures.join('\n')).to.equal(0);
    expect(report.probes.ok).to.be.at.least(10);
    expect(report.rss.growthKb, 'RSS growth').to.be.below(300 * 1024);
    expect(report.converged, 'reconciled against the good target').to.equal(true);
  });
});
