/**
 * A node's two managers in this process (in-memory NATS and KV, one ManualClock): the leader
 * subtree runs exactly while its manager holds the lease, at the lease's epoch.
 *
 * The case the simulator found (in-process seed 2): the leader's bus dies, so its lease keeper and
 * its leadership supervisor restart. The old supervisor had been started at the old epoch, the new
 * one used to start the leader subtree at once from that remembered epoch — while the other
 * manager took the lease meanwhile. Two leader subtrees ran, the stale one at an election id
 * below the new leader's, and when its manager took the lease back it kept the stale id.
 */
import { expect } from 'chai';
import { MemoryKv } from '../../actors/intent/memory-kv.js';
import { managerTree, type ManagerTree } from '../../actors/manager/tree.js';
import { managerConfigSchema } from '../../actors/process-config.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { Bus } from '../../messages/bus.js';
import { MemoryNats } from '../../messages/memory-nats.js';

const NODE = 'node-1';

describe('manager leadership across a bus restart (two managers in-process)', function () {
  it('runs the leader subtree only while holding the lease, and at its epoch', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const nats = new MemoryNats({ clock, random: seededRandom(1) });
    const kv = new MemoryKv();
    const config = managerConfigSchema.parse({
      node: { name: NODE, ip: '192.0.2.10', podCidr: '10.244.0.0/24' },
      nats: { servers: ['nats://memory:4222'], insecure: true, timeoutMs: 1000 },
      heartbeat: { intervalMs: 200, missedBeats: 3 },
      leadership: { ttlMs: 600 },
    });
    const logs = silentLogs();
    /** Managers whose bus cannot connect for now. */
    const down = new Set<string>();
    const start = (name: string): ManagerTree =>
      managerTree({
        config,
        logs,
        clock,
        random: seededRandom(name.length),
        instanceId: name,
        // While `down`, connecting waits (as the client's first connect waits for the server).
        connectBus: async () => {
          while (down.has(name)) await new Promise<void>((r) => clock.setTimeout(() => r(), 50));
          return Bus.over(nats.connect(name), { servers: 'memory', name, logger: logs.root, timeoutMs: 1000 });
        },
        kv: { lease: (bucket) => Promise.resolve(kv.leaseStore(bucket, name)), intent: (bucket) => Promise.resolve(kv.intentStorage(bucket, name)) },
      });
    const a = start('mgr-a');
    const b = start('mgr-b');
    const started = Promise.all([a.supervisor.start(), b.supervisor.start()]);
    await clock.advance(50);
    expect(await started).to.deep.equal([{ ok: true }, { ok: true }]);

    /** The leader subtree runs ⇔ the lease keeper last saw this manager leading, and at the lease's epoch. */
    const running = (t: ManagerTree): boolean =>
      t.supervisor.whichChildren().some((c) => c.id === 'leadership' && c.status === 'running') &&
      (t.refs.leadership?.whichChildren().some((c) => c.id === 'leader' && c.status === 'running') ?? false);
    const consistent = (t: ManagerTree, who: string): void => {
      const leading = t.refs.lease?.leading ?? false;
      expect(running(t), `${who}: leader subtree running iff leading`).to.equal(leading);
      if (leading) expect(t.refs.leaderEpoch, `${who}: the subtree's epoch (election id) is the lease's`).to.equal(t.refs.lease?.epoch);
    };
    const leaderOf = (): ManagerTree | undefined => [a, b].find((m) => m.refs.lease?.leading);
    const nameOf = (t: ManagerTree): string => (t === a ? 'mgr-a' : 'mgr-b');

    for (let t = 0; t < 2000; t += 100) await clock.advance(100);
    let epoch = leaderOf()!.refs.lease!.epoch;
    consistent(a, 'a');
    consistent(b, 'b');
    const leaders = new Set<string>();
    // The leader's bus dies, round after round: its keeper restarts (deleting the lease as it
    // stops), and one of the two takes the lease at a higher epoch. In even rounds the old leader
    // cannot reconnect for 400 ms (the standby takes over; the old leader's new tree must not
    // lead); in odd rounds it reconnects at once and may win again (at a new epoch, with a new
    // subtree).
    for (let round = 0; round < 8; round++) {
      const leader = leaderOf();
      expect(leader, `round ${round}: someone leads`).to.not.equal(undefined);
      const name = nameOf(leader!);
      leaders.add(name);
      if (round % 2 === 0) down.add(name);
      expect(nats.kill(name)).to.be.greaterThan(0);
      let both = 0;
      for (let t = 0; t < 4000; t += 50) {
        await clock.advance(50);
        if (t === 400) down.delete(name);
        if ([a, b].every(running)) both++;
      }
      if (round % 2 === 0) expect(leaderOf(), `round ${round}: the standby took over`).to.not.equal(leader);
      expect(both, `round ${round}: two leader subtrees at once, for longer than one step`).to.be.at.most(1);
      consistent(a, `a, round ${round}`);
      consistent(b, `b, round ${round}`);
      const next = leaderOf()!.refs.lease!.epoch;
      expect(next, `round ${round}: a new epoch`).to.be.greaterThan(epoch);
      epoch = next;
    }
    expect(leaders.size, 'both managers led at some point').to.equal(2);

    const stopped = Promise.all([a.supervisor.stop(), b.supervisor.stop()]);
    await clock.runAll(60_000);
    await stopped;
  });
});
