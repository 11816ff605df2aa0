import { expect } from 'chai';
import { startLocalNode, type LocalNode } from '../../simulations/local-node.js';
import { fuzzNode, type NodeFuzzOutcome } from '../../simulations/fuzz/node-fuzz.js';

/**
 * The acceptance test of the bus's robustness: manager and agent as separate processes, 1,000
 * random byte strings and 1,000 structurally malformed protobuf messages to every subject they
 * serve, valid probes interleaved. `npm run fuzz:bus -- --cases N` runs the same at any size.
 */
describe('manager and agent processes under malformed bus traffic', function () {
  this.timeout(180_000);
  let local: LocalNode;
  let outcome: NodeFuzzOutcome;
  const warnings: string[] = [];

  before(async () => {
    local = await startLocalNode({
      // The fuzzer/test client speaks for every identity at once, so the bus runs without mTLS here;
      // test/security/ and test/simulations/local-node.test.ts cover the secured node.
      tls: false,
      heartbeatMs: 200,
      restartAfterMs: null,
      onLog: (name, line) => {
        if (typeof line === 'string' || line.level >= 50) warnings.push(`${name}: ${typeof line === 'string' ? line : line.msg}`);
      },
    });
    outcome = await fuzzNode(local, { seed: 20261127, randomCases: 1000, malformedCases: 1000 });
  });
  after(async () => {
    const codes = await local.stop();
    expect(codes).to.deep.include({ manager: 0, agent: 0, target: 0 }, 'all exit cleanly on SIGTERM after the fuzzing');
  });

  it('answers every malformed request with the predicted typed error', () => {
    expect(outcome.report.failures, JSON.stringify(outcome.report.failures.slice(0, 5), null, 1)).to.deep.equal([]);
    for (const [label, t] of Object.entries(outcome.report.targets)) {
      // Everything generated was either sent and answered with its typed error, or it is valid protobuf
      // that the codec accepts, or over NATS's 1 MiB payload limit and refused by the client.
      expect(t.typedErrors + t.refusedByClient, label).to.equal(t.sent);
      expect(t.typedErrors + t.skippedValid + t.refusedByClient, label).to.be.at.least(1950);
      expect(Object.keys(t.byKind).length, `${label} saw every kind of input`).to.be.at.least(15);
    }
  });

  it('keeps serving valid requests throughout', () => {
    for (const [label, t] of Object.entries(outcome.report.targets)) expect(t.probesOk, label).to.equal(200);
  });

  it('leaves both processes up, unrestarted, with their state unchanged', () => {
    const { before, after, starts } = outcome;
    expect(starts).to.deep.equal({ manager: 1, agent: 1 });
    expect(after.pids).to.deep.equal(before.pids);
    expect(local.manager.running && local.agent.running).to.equal(true);
    for (const role of ['manager', 'agent'] as const) {
      expect(after[role].instanceId, role).to.equal(before[role].instanceId);
      expect(after[role].digest, role).to.equal(before[role].digest);
      expect(after[role].revision, role).to.equal(before[role].revision);
    }
    expect(before.manager.pods).to.equal(3);
    expect(before.manager.services).to.equal(2);
    const rejected = Object.values(outcome.report.targets).reduce((n, t) => n + t.typedErrors, 0);
    const counted = after.manager.requestsRejected + after.agent.requestsRejected - before.manager.requestsRejected - before.agent.requestsRejected;
    expect(counted).to.equal(rejected);
    expect(warnings, 'no error logged').to.deep.equal([]);
  });
});
