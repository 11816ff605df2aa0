import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { seededRandom } from '../../core/random.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import type { FullState } from '../../protocol/sync.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { PipelineChecker } from '../../simulations/pipeline-check.js';
import { ManagedProcess, type LogLine } from '../../simulations/processes.js';
import { startStandinProcess, type StandinClient } from '../../simulations/standin-node.js';

const NODE = 'node-1';
/** The session's periodic full resync: how a write the target refused is retried when no change follows. */
const RESYNC_MS = Number(process.env.FAULTS_RESYNC_MS ?? 2000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Stats {
  updatesFailed: number;
  failedByCode: Record<string, number>;
  injectedFailures: number;
  delayedWrites: number;
  writeRpcs: number;
}

/**
 * A real manager programs bin/target (separate processes, with nats-server and the agent
 * stand-in holding the truth) while the target delays its writes and fails 30 % of the updates
 * with UNAVAILABLE, then all of them with RESOURCE_EXHAUSTED. Once the faults are off, the target
 * must end with the full state — traced with packets against the stand-in's truth — and without
 * a single duplicate write.
 *
 * What retries: the session treats a per-update refusal as lasting (its `degraded` state) and
 * tries again on the next change or its periodic resync (`p4.resyncMs`), not sooner — so the
 * bound checked here is the resync period plus the time to reconcile.
 *
 * FAULTS_RESYNC_MS sets that period (default 2000), FAULTS_DEBUG=1 prints the manager's warnings.
 */
describe('the manager session under target write faults', function () {
  this.timeout(120_000);
  let dir: string;
  let nats: NatsServer | undefined;
  let target: ManagedProcess | undefined;
  let manager: ManagedProcess | undefined;
  let standin: StandinClient | undefined;
  let admin: TargetAdminClient;
  const managerLog: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ioff-faults-session-'));
    await mkdir(join(dir, 'nats'));
    nats = await startNatsServer({ dir: join(dir, 'nats') });
    const address = `unix://${join(dir, 'p4rt.sock')}`;
    const config = {
      node: { name: NODE, ip: '192.0.2.10', podCidr: '10.244.0.0/16' },
      nats: { servers: [nats.url], insecure: true },
      heartbeat: { intervalMs: 100, missedBeats: 3 },
      logging: { level: 'info', modules: {} },
      p4: { target: address, resyncMs: RESYNC_MS, insecure: true, callTimeoutMs: 3000 },
    };
    await writeFile(join(dir, 'manager.yaml'), stringify(config), { mode: 0o600 });
    target = new ManagedProcess({ name: 'target', bin: 'target', args: ['--listen', address, '--log-level', 'warn', '--insecure'] });
    target.start();
    // Listening before anything dials it: the checker's first trace must not meet a missing socket.
    await target.waitReady();
    manager = new ManagedProcess({
      name: 'manager',
      bin: 'manager',
      args: ['--config', join(dir, 'manager.yaml')],
      onLog: (_p, l: LogLine | string) => {
        if (typeof l !== 'string' && l.level >= 40) managerLog.push(`${l.msg} ${JSON.stringify({ ...l, msg: undefined, time: undefined, pid: undefined })}`.slice(0, 300));
      },
    });
    manager.start();
    standin = await startStandinProcess(['--nats', nats.url, '--node', NODE, '--seed', '5', '--heartbeat-ms', '100', '--pods', '60', '--services', '30', '--rounds', '4']);
    admin = new TargetAdminClient(address);
  });

  after(async () => {
    admin?.close();
    await standin?.stop();
    await manager?.stop();
    await target?.stop();
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const stats = async (): Promise<Stats> => (await admin.stats()) as unknown as Stats;

  /** Traces the truth through the target until it passes; returns how long that took. */
  async function converge(truth: FullState, checker: PipelineChecker, withinMs: number): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      const report = await checker.check(truth);
      if (report.failures.length === 0) return Date.now() - t0;
      if (Date.now() - t0 > withinMs) {
        throw new Error(`not converged after ${withinMs} ms:\n${report.failures.slice(0, 10).join('\n')}\n--- manager warnings:\n${managerLog.slice(-20).join('\n')}`);
      }
      await sleep(100);
    }
  }

  it('retries what the target refused: the full state once the faults are off, and no duplicate write', async () => {
    const checker = new PipelineChecker(admin, NODE, seededRandom(5));
    const r0 = await standin!.round(0);
    await converge(r0.truth, checker, 30_000);
    const base = await stats();

    // Rounds 1 and 2 meet slow writes of which 30 % of the updates fail (batches land in part);
    // round 3 meets a target that refuses everything, so it surely misses something at the end.
    expect(await admin.setFaults({ writeDelayMs: 20, failPerMille: 300, failCode: 14, seed: 9 })).to.include({ failPerMille: 300 });
    let last = r0;
    for (const index of [1, 2, 3]) {
      if (index === 3) await admin.setFaults({ writeDelayMs: 20, failPerMille: 1000, failCode: 8, seed: 9 });
      last = await standin!.round(index);
      expect(last.outcome.errors, `round ${index}: refused for good`).to.deep.equal([]);
    }
    await sleep(RESYNC_MS); // a resync meets the faults too
    const during = await stats();
    expect(during.injectedFailures - base.injectedFailures, 'updates refused by the target while faulty').to.be.greaterThan(0);
    expect(during.delayedWrites - base.delayedWrites).to.be.greaterThan(0);
    const early = await checker.check(last.truth);
    expect(early.failures.length, 'the target is missing what it refused').to.be.greaterThan(0);

    await admin.setFaults({});
    const ms = await converge(last.truth, checker, RESYNC_MS + 15_000);
    const end = await stats();
    console.log(
      `      ${during.injectedFailures - base.injectedFailures} updates refused in ${during.writeRpcs - base.writeRpcs} writes; ` +
        `converged ${ms} ms after the faults went off (resync every ${RESYNC_MS} ms)`,
    );
    if (process.env.FAULTS_DEBUG) console.log(managerLog.join('\n'));
    expect(end.failedByCode['6'] ?? 0, 'ALREADY_EXISTS: a duplicate write').to.equal(0);
    expect(end.failedByCode['5'] ?? 0, 'NOT_FOUND: a delete of nothing').to.equal(0);
    expect(end.updatesFailed, JSON.stringify(end.failedByCode)).to.equal(0);
  });
});
