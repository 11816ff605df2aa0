import { expect } from 'chai';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { Bus } from '../../messages/bus.js';
import { ctlPrefix } from '../../messages/subjects.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { ctlMethods } from '../../protocol/methods.js';
import type { FullState } from '../../protocol/sync.js';
import { PipelineChecker } from '../../simulations/pipeline-check.js';
import { startStandinNode, type RoundDone, type StandinNode } from '../../simulations/standin-node.js';
import type { LogLine } from '../../simulations/processes.js';

const SEED = Number(process.env.KILL9_SEED ?? 6);
const ROUNDS = Number(process.env.KILL9_ROUNDS ?? 24);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Records a value when it differs from the last one recorded. */
function note(seen: number[], value: number | undefined): void {
  if (value !== undefined && seen[seen.length - 1] !== value) seen.push(value);
}

/** How many of shared-1 and shared-2 list the backend they were built to share (shared-2 always does). */
function sharedBackendUsers(truth: FullState): number | undefined {
  const s1 = truth.services.find((s) => s.name === 'shared-1');
  const s2 = truth.services.find((s) => s.name === 'shared-2');
  const backend = s2?.endpoints[s2.endpoints.length - 1];
  if (!s1 || !backend) return undefined;
  return 1 + (s1.endpoints.some((e) => e.ipv4 === backend.ipv4 && e.port === backend.port) ? 1 : 0);
}

/**
 * kill -9 of the manager at random (seeded) instants while the agent stand-in drives 200 pods and
 * 100 services with 1–50 endpoints each (adds, scales, deletes; a service scaled 3 → 250 → 3; one
 * backend in two services). Manager, stand-in and target are separate processes; after every
 * round the target is checked by tracing packets derived from the stand-in's truth, and the
 * target's own counters must show no duplicate write (ALREADY_EXISTS) and no missing one (NOT_FOUND).
 */
describe('kill -9 of the manager during a workload', function () {
  this.timeout(300_000);
  let node: StandinNode;
  let admin: TargetAdminClient;
  let bus: Bus;
  const managerLog: string[] = [];

  before(async () => {
    node = await startStandinNode({
      seed: SEED,
      rounds: ROUNDS,
      onLog: (proc, l: LogLine | string) => {
        if (proc !== 'manager' || typeof l === 'string' || l.level < 40) return;
        managerLog.push(`${l.msg} ${JSON.stringify({ ...l, msg: undefined, time: undefined, level: undefined })}`.slice(0, 400));
      },
    });
    admin = new TargetAdminClient(node.targetAddress);
    bus = await Bus.connect({ servers: node.nats.url, name: 'kill9-probe', logger: silentLogs().root, timeoutMs: 1000 });
  });

  after(async () => {
    admin?.close();
    await bus?.close();
    const codes = await node?.stop();
    expect(codes).to.deep.equal({ manager: 0, target: 0, standin: 0 });
  });

  /** The manager answers with the truth's counts and the target has stopped being written. */
  async function settle(truth: FullState, deadline: number): Promise<void> {
    const endpoints = truth.services.reduce((n, s) => n + s.endpoints.length, 0);
    let lastWrites = -1;
    let stableSince = Date.now();
    while (Date.now() < deadline) {
      const r = await bus.request(`${ctlPrefix(node.node, 'manager')}.state`, ctlMethods.state, { node: node.node }, { timeoutMs: 500 });
      const stats = (await admin.stats()) as { writeRpcs: number };
      if (stats.writeRpcs !== lastWrites) {
        lastWrites = stats.writeRpcs;
        stableSince = Date.now();
      }
      const counted = r.ok && r.value.pods === truth.pods.length && r.value.services === truth.services.length && r.value.endpoints === endpoints;
      if (counted && Date.now() - stableSince >= 300) return;
      await sleep(50);
    }
  }

  async function checkConverged(done: RoundDone, checker: PipelineChecker): Promise<{ traces: number; attempts: number; ms: number }> {
    const deadline = Date.now() + 30_000;
    for (let attempt = 1; ; attempt++) {
      await settle(done.truth, deadline);
      const report = await checker.check(done.truth);
      if (report.failures.length === 0) return { traces: report.traces, attempts: attempt, ms: report.ms };
      if (Date.now() > deadline) {
        throw new Error(`round ${done.index} did not converge:\n${report.failures.slice(0, 20).join('\n')}\n--- manager warnings:\n${managerLog.slice(-30).join('\n')}`);
      }
      await sleep(200);
    }
  }

  it('converges after every kill: every pod reaches every pod, VIPs reach exactly their endpoints, no duplicate writes', async () => {
    const t0 = Date.now();
    const random = seededRandom(SEED);
    const checker = new PipelineChecker(admin, node.node, seededRandom(SEED + 1));
    let kills = 0;
    let traces = 0;
    const scenarios = { big: [] as number[], shared: [] as number[] };
    const kill = (): void => {
      if (!node.manager.running) return;
      node.manager.kill('SIGKILL');
      kills++;
    };
    for (let round = 0; round < node.standin.rounds; round++) {
      const mark = random.int(1, 25);
      // Every fourth round a second kill lands while the manager restarts, loads or reconciles.
      const again = round % 4 === 3 ? random.int(200, 2500) : undefined;
      const done = await node.standin.round(round, {
        mark,
        onMark: () => {
          kill();
          if (again !== undefined) setTimeout(kill, again);
        },
      });
      if (again !== undefined) await sleep(again + 50);
      expect(done.outcome.errors, `round ${round}: requests refused for good`).to.deep.equal([]);
      const converged = await checkConverged(done, checker);
      traces += converged.traces;
      const sticky = await checker.openSticky(done.truth, 12);
      expect(sticky, `round ${round}: new connections`).to.deep.equal([]);
      const stats = (await admin.stats()) as { updatesFailed: number; failedByCode: Record<string, number> };
      expect(stats.failedByCode['6'] ?? 0, `round ${round}: ALREADY_EXISTS at the target`).to.equal(0);
      expect(stats.failedByCode['5'] ?? 0, `round ${round}: NOT_FOUND at the target`).to.equal(0);
      expect(stats.updatesFailed, `round ${round}: failed updates ${JSON.stringify(stats.failedByCode)}`).to.equal(0);
      const big = done.truth.services.find((s) => s.name === 'big');
      note(scenarios.big, big?.endpoints.length);
      note(scenarios.shared, sharedBackendUsers(done.truth));
      console.log(
        `      round ${round}: ${done.outcome.requests} requests (${done.outcome.retries} retries), kills ${kills}, ` +
          `${done.truth.pods.length} pods, ${done.truth.services.length} services, big ${big?.endpoints.length ?? 0} endpoints, ` +
          `${converged.traces} traces (${converged.attempts} check${converged.attempts > 1 ? 's' : ''}, ${converged.ms} ms), ${checker.stickyFlows} tracked connections (${checker.retiredChecked} retired so far)`,
      );
    }
    expect(kills, 'kill -9 instants').to.be.at.least(20);
    if (ROUNDS >= 12) expect(scenarios, 'the big service went 3 → 250 → 3; the shared backend was in both services, then in one').to.deep.equal({ big: [3, 250, 3], shared: [2, 1, 2] });
    console.log(`      kill -9: ${kills} kills over ${node.standin.rounds} rounds, ${node.manager.starts} manager starts, ${traces} traces, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
});
