import { expect } from 'chai';
import { createActor, type Actor } from 'xstate';
import { MemoryKv } from '../../actors/intent/memory-kv.js';
import { LEASE_BUCKET, leaseKeeperLogic, openLeaseBucket, type LeaseStore } from '../../actors/manager/lease-keeper.js';
import { ManualClock, systemClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { nodeToken } from '../../messages/subjects.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';

interface Contender {
  bus: Bus;
  actor: Actor<typeof leaseKeeperLogic>;
  leading: boolean;
  epochs: number[];
}

/** Leadership through a real JetStream KV: hand-over when the leader dies, never two leaders. */
describe('lease keeper on JetStream KV', function () {
  this.timeout(30_000);
  let nats: NatsServer;
  const HEARTBEAT = 50;
  const TTL = 200;
  const timeline: string[] = [];

  before(async () => (nats = await startNatsServer()));
  after(async () => nats.stop());

  async function contender(name: string, node = 'node-1'): Promise<Contender> {
    const bus = await Bus.connect({ servers: nats.url, name, logger: silentLogs().root });
    const c = { bus, leading: false, epochs: [] as number[] } as Contender;
    c.actor = createActor(leaseKeeperLogic, {
      input: {
        bus,
        clock: systemClock,
        node,
        me: name,
        heartbeatMs: HEARTBEAT,
        ttlMs: TTL,
        logger: silentLogs().root,
        onChange: (leading, epoch) => {
          c.leading = leading;
          if (leading) c.epochs.push(epoch);
          timeline.push(`${Date.now()} ${name} ${leading ? 'leads' : 'stands by'} ${epoch}`);
        },
      },
    });
    c.actor.start();
    return c;
  }

  async function until(what: string, check: () => boolean, ms = 5000): Promise<number> {
    const start = Date.now();
    while (!check()) {
      if (Date.now() - start > ms) throw new Error(`timed out: ${what}\n${timeline.join('\n')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return Date.now() - start;
  }

  it('one leader at a time; the standby takes over within TTL + heartbeat of the leader dying, with a higher epoch', async () => {
    const a = await contender('mgr-a');
    await until('a leads', () => a.leading);
    const b = await contender('mgr-b');
    let both = 0;
    const watch = setInterval(() => (a.leading && b.leading ? both++ : 0), 2);
    await new Promise((r) => setTimeout(r, 4 * TTL));
    expect(b.leading, 'b stays standby while a renews').to.equal(false);
    // kill -9 of a: its connection vanishes without a goodbye, its timers with it.
    await a.bus.connection.close();
    const tookMs = await until('b leads', () => b.leading, 3000);
    a.actor.stop();
    clearInterval(watch);
    expect(both, 'never two leaders').to.equal(0);
    // TTL after the last renewal, noticed within a heartbeat, plus slack for a loaded 2-core CI machine.
    expect(tookMs).to.be.at.most(TTL + 3 * HEARTBEAT + 400);
    expect(b.epochs[0]).to.be.greaterThan(a.epochs[0]!);
    // A clean stop hands over at once: the leader deletes its lease. What tells that from a TTL
    // expiry is the key's history, not the time taken (a loaded machine can stretch a heartbeat):
    // after a clean stop the standby creates the key over b's delete marker; after an expiry it
    // would overwrite b's record.
    const c = await contender('mgr-c');
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT));
    expect(c.leading).to.equal(false);
    const ops: string[] = [];
    const watcher = await (await openLeaseBucket(c.bus)).watch({ key: `${nodeToken('node-1')}.manager`, include: 'updates' });
    void (async () => {
      for await (const e of watcher) ops.push(e.operation === 'PUT' ? `PUT ${(JSON.parse(new TextDecoder().decode(e.value)) as { holder: string }).holder}` : e.operation);
    })();
    b.actor.stop();
    const handOverMs = await until('c leads', () => c.leading, 3000);
    await until('c’s record seen', () => ops.includes('PUT mgr-c'), 3000);
    watcher.stop();
    expect(ops.slice(ops.indexOf('DEL')), 'b deleted its lease; c created it afresh').to.deep.equal(['DEL', 'PUT mgr-c']);
    // Well within a TTL and a heartbeat on an idle machine; the bound here only catches a hang.
    expect(handOverMs).to.be.below(10 * TTL);
    expect(c.epochs[0]).to.be.greaterThan(b.epochs[0]!);
    c.actor.stop();
    await Promise.all([b.bus.close(), c.bus.close()]);
  });

  it('leases of different nodes are independent', async () => {
    const x = await contender('mgr-x', 'node-7');
    const y = await contender('mgr-y', 'node-8');
    await until('both lead their own node', () => x.leading && y.leading);
    x.actor.stop();
    y.actor.stop();
    await Promise.all([x.bus.close(), y.bus.close()]);
  });
});

/** A clean stop while a renewal is on the wire (MemoryKv, ManualClock: the race made exact). */
describe('lease keeper: a clean stop during a renewal', function () {
  it('deletes the lease after the renewal lands, so a standby takes over at once', async () => {
    const clock = new ManualClock(0);
    const kv = new MemoryKv();
    const key = `${nodeToken('node-1')}.manager`;
    const inner = kv.leaseStore(LEASE_BUCKET, 'mgr-a');
    let hold: Promise<void> | undefined;
    let release: () => void = () => undefined;
    // The leader's store: a renewal lands at once, its answer waits while `hold` is set.
    const store: LeaseStore = {
      get: (k) => inner.get(k),
      create: (k, v) => inner.create(k, v),
      update: async (k, v, r) => {
        const revision = await inner.update(k, v, r);
        if (hold) await hold;
        return revision;
      },
      delete: (k, o) => inner.delete(k, o),
    };
    let leading = false;
    const actor = createActor(leaseKeeperLogic, {
      input: {
        bus: undefined as unknown as Bus,
        clock,
        node: 'node-1',
        me: 'mgr-a',
        heartbeatMs: 50,
        ttlMs: 200,
        logger: silentLogs().root,
        onChange: (l) => (leading = l),
        openStore: () => Promise.resolve(store),
      },
    });
    actor.start();
    for (let t = 0; t < 200 && !leading; t += 10) await clock.advance(10);
    expect(leading, 'a leads').to.equal(true);
    // The next renewal lands but its answer is still on the wire when the keeper is stopped.
    hold = new Promise((r) => (release = r));
    await clock.advance(60);
    actor.stop();
    release();
    hold = undefined;
    for (let i = 0; i < 20; i++) await clock.advance(1);
    const last = await inner.get(key);
    expect(last?.operation, 'deleted at the renewed revision, not refused at the old one').to.equal('DEL');
  });
});
