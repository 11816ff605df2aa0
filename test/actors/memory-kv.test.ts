import { expect } from 'chai';
import { JetStreamApiError, jetstream } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/transport-node';
import { createActor, type Actor } from 'xstate';
import { ask } from '../../actors/ask.js';
import { durableStoreLogic } from '../../actors/intent/durable-store.js';
import { IntentKv, IntentWriteError, intentBucketName, PURGE_MARKERS_AT, type IntentStorage, type Loaded } from '../../actors/intent/intent-kv.js';
import { podKvKey } from '../../actors/intent/intent-records.js';
import { KvInputError, MemoryKv } from '../../actors/intent/memory-kv.js';
import { LEASE_BUCKET, leaseKeeperLogic, openLeaseBucket, type LeaseStore } from '../../actors/manager/lease-keeper.js';
import { parseLeaseRecord } from '../../actors/manager/lease.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { nodeToken } from '../../messages/subjects.js';
import { loadP4Info } from '../../p4/p4info.js';
import type { ChangeReply, PodInterface } from '../../protocol/intent.js';
import { startNatsServer } from '../../simulations/nats-server.js';
import { natsFixture } from '../support/fixtures.js';

const te = (s: string): Uint8Array => new TextEncoder().encode(s);
const td = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

/** One implementation of the two KV views, with the faults the contract needs. */
interface KvUnderTest {
  lease(bucket: string): Promise<LeaseStore>;
  intent(bucket: string): Promise<IntentStorage>;
  purgeBucket(bucket: string): Promise<void>;
  purgeKey(bucket: string, key: string): Promise<void>;
  /** An intent view whose server cannot be reached, and how to let go of it. */
  unreachableIntent(bucket: string): Promise<{ readonly storage: IntentStorage; readonly close: () => Promise<void> }>;
  close(): Promise<void>;
}

/** An error as a caller can tell it apart: its class (as far as the callers look), message and cause. */
function describeError(e: unknown): string {
  const x = e as Error;
  const kind =
    x instanceof IntentWriteError ? 'IntentWriteError' : x instanceof JetStreamApiError ? `JetStreamApiError ${x.code}` : x instanceof TimeoutError ? 'TimeoutError' : 'Error';
  return `${kind}: ${x.message}${x.cause ? ` <- ${describeError(x.cause)}` : ''}`;
}

/** What a call gave: its value, or its error (marked `sync` when thrown before any promise, as the NATS client does for a bad revision). */
async function outcome(call: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  let p: Promise<unknown>;
  try {
    p = typeof call === 'function' ? call() : call;
  } catch (e) {
    return `sync ${describeError(e)}`;
  }
  try {
    const v = await p;
    if (v === null || v === undefined) return `ok ${String(v)}`;
    if (typeof v === 'object' && 'operation' in v) {
      const e = v as { operation: string; revision: number; value: Uint8Array };
      return `ok ${e.operation} ${e.revision} '${td(e.value)}'`;
    }
    return `ok ${JSON.stringify(v)}`;
  } catch (e) {
    return describeError(e);
  }
}

function summary(l: Loaded): { entries: [string, number, string | null][]; revision: number; purged: number } {
  return { entries: [...l.entries].map(([k, e]) => [k, e.revision, td(e.value)]), revision: l.revision, purged: l.purged };
}

/** The same assertions against both implementations: what one observes, the other must too. */
function contract(label: string, make: () => Promise<KvUnderTest>): void {
  describe(`KV contract: ${label}`, function () {
    this.timeout(20_000);
    let kv: KvUnderTest;
    let n = 0;
    const bucket = (): string => `contract_${++n}`;
    before(async () => (kv = await make()));
    after(async () => kv?.close());

    it('lease: create, update and delete win or lose by compare-and-set; revisions grow; a deleted key can be created again', async () => {
      const s = await kv.lease(bucket());
      const k = 'node-1.manager';
      const seen = [
        await outcome(s.create(k, te('a'))),
        await outcome(s.create(k, te('b'))),
        await outcome(s.update(k, te('b'), 7)),
        await outcome(() => s.update(k, te('b'), 0)),
        await outcome(s.update(k, te('b'), 1)),
        await outcome(s.delete(k, { previousSeq: 1 })),
        await outcome(s.get(k)),
        await outcome(s.delete(k, { previousSeq: 2 })),
        await outcome(s.get(k)),
        await outcome(s.update(k, te('c'), 2)),
        await outcome(s.create(k, te('c'))),
        await outcome(s.get('other')),
        await outcome(s.delete('other')),
        await outcome(s.get('other')),
        await outcome(s.update('other', te('x'), 5)),
        await outcome(s.update('fresh', te('x'), 3)),
        await outcome(s.create('a b', te('x'))),
        await outcome(s.get(k)),
      ];
      expect(seen).to.deep.equal([
        'ok 1',
        'JetStreamApiError 10071: wrong last sequence: 1',
        'JetStreamApiError 10071: wrong last sequence: 1',
        'sync Error: version must be greater than 0',
        'ok 2',
        'JetStreamApiError 10071: wrong last sequence: 2',
        "ok PUT 2 'b'",
        'ok undefined',
        "ok DEL 3 ''",
        'JetStreamApiError 10071: wrong last sequence: 3',
        'ok 4', // created over the delete marker
        'ok null',
        'ok undefined', // an unconditional delete of an absent key leaves a marker
        "ok DEL 5 ''",
        'ok 6', // update on the marker's revision
        'JetStreamApiError 10071: wrong last sequence: 0',
        'Error: invalid key: a b',
        "ok PUT 4 'c'",
      ]);
    });

    it('each bucket has its own sequence; the lease and intent views of one bucket see the same keys', async () => {
      const [b1, b2] = [bucket(), bucket()];
      const l1 = await kv.lease(b1);
      const l2 = await kv.lease(b2);
      expect(await l1.create('x', te('1'))).to.equal(1);
      expect(await l1.create('y', te('1'))).to.equal(2);
      expect(await l2.create('x', te('1'))).to.equal(1);
      const i1 = await kv.intent(b1);
      expect(await i1.write([{ key: 'z', value: te('z'), revision: 0 }])).to.deep.equal([3]);
      expect(summary(await i1.load())).to.deep.equal({ entries: [['x', 1, '1'], ['y', 2, '1'], ['z', 3, 'z']], revision: 3, purged: 0 });
      expect(await outcome(l1.get('z'))).to.equal("ok PUT 3 'z'");
    });

    it('intent: an empty bucket loads as nothing at revision 0', async () => {
      const s = await kv.intent(bucket());
      expect(s.bucket).to.match(/^contract_/);
      expect(summary(await s.load())).to.deep.equal({ entries: [], revision: 0, purged: 0 });
    });

    it('intent: a batch with one refused key rejects with IntentWriteError, the others land; markers load as null', async () => {
      const s = await kv.intent(bucket());
      expect(await s.write([{ key: 'a', value: te('v1'), revision: 0 }, { key: 'b', value: te('v2'), revision: 0 }])).to.deep.equal([1, 2]);
      const refused = await outcome(s.write([{ key: 'a', value: te('v3'), revision: 1 }, { key: 'b', value: te('x'), revision: 0 }, { key: 'c', value: null, revision: 0 }]));
      expect(refused).to.equal('IntentWriteError: intent write of b refused: wrong last sequence: 2 <- JetStreamApiError 10071: wrong last sequence: 2');
      expect(summary(await s.load())).to.deep.equal({ entries: [['b', 2, 'v2'], ['a', 3, 'v3'], ['c', 4, null]], revision: 4, purged: 0 });
      // A marker is a message: revision 0 ("never written") is refused, the marker's revision wins.
      expect(await outcome(s.write([{ key: 'c', value: te('again'), revision: 0 }]))).to.equal(
        'IntentWriteError: intent write of c refused: wrong last sequence: 4 <- JetStreamApiError 10071: wrong last sequence: 4',
      );
      expect(await s.write([{ key: 'c', value: te('again'), revision: 4 }, { key: 'a', value: null, revision: 3 }])).to.deep.equal([5, 6]);
      const before = summary(await s.load());
      expect(before).to.deep.equal({ entries: [['b', 2, 'v2'], ['c', 5, 'again'], ['a', 6, null]], revision: 6, purged: 0 });
      // Bad input: refused as a write (the message is the client's), nothing changes.
      expect(await outcome(s.write([{ key: 'a b', value: te('x'), revision: 0 }]))).to.match(/^IntentWriteError: intent write of a b refused: /);
      expect(summary(await s.load())).to.deep.equal(before);
    });

    it(`intent: ${PURGE_MARKERS_AT} delete markers or more are purged on load; the keys can then be written as new`, async () => {
      const s = await kv.intent(bucket());
      const keys = Array.from({ length: PURGE_MARKERS_AT }, (_, i) => `k${i}`);
      const created = await s.write(keys.map((key) => ({ key, value: te(key), revision: 0 })));
      await s.write(keys.map((key, i) => ({ key, value: null, revision: created[i]! })));
      const kept = await s.write([{ key: 'keep', value: te('yes'), revision: 0 }]);
      expect(kept).to.deep.equal([2 * PURGE_MARKERS_AT + 1]);
      expect(summary(await s.load())).to.deep.equal({ entries: [['keep', kept[0], 'yes']], revision: kept[0], purged: PURGE_MARKERS_AT });
      expect((await s.load()).purged).to.equal(0);
      expect(await s.write([{ key: 'k0', value: te('back'), revision: 0 }])).to.deep.equal([kept[0]! + 1]);
    });

    it('kv-loss: a purged bucket loads empty at revision 0 and its sequence keeps growing; a purged key has no message', async () => {
      const b = bucket();
      const s = await kv.intent(b);
      const lease = await kv.lease(b);
      expect(await s.write([{ key: 'a', value: te('1'), revision: 0 }, { key: 'b', value: null, revision: 0 }])).to.deep.equal([1, 2]);
      expect(await lease.create('m', te('lease'))).to.equal(3);
      await kv.purgeBucket(b);
      expect(summary(await s.load())).to.deep.equal({ entries: [], revision: 0, purged: 0 });
      expect(await lease.get('m')).to.equal(null);
      expect(await outcome(s.write([{ key: 'a', value: te('2'), revision: 1 }]))).to.equal(
        'IntentWriteError: intent write of a refused: wrong last sequence: 0 <- JetStreamApiError 10071: wrong last sequence: 0',
      );
      expect(await s.write([{ key: 'a', value: te('2'), revision: 0 }, { key: 'b', value: te('3'), revision: 0 }])).to.deep.equal([4, 5]);
      expect(await lease.create('m', te('lease'))).to.equal(6);
      await kv.purgeKey(b, 'a');
      expect(summary(await s.load())).to.deep.equal({ entries: [['b', 5, '3'], ['m', 6, 'lease']], revision: 6, purged: 0 });
      expect(await s.write([{ key: 'a', value: te('4'), revision: 0 }])).to.deep.equal([7]);
    });

    it('an unreachable server: an intent write rejects with IntentWriteError caused by the NATS TimeoutError', async () => {
      const { storage, close } = await kv.unreachableIntent(bucket());
      try {
        expect(await outcome(storage.write([{ key: 'a', value: te('1'), revision: 0 }]))).to.equal('IntentWriteError: intent write of a refused: timeout <- TimeoutError: timeout');
      } finally {
        await close();
      }
    });
  });
}

contract('JetStream (nats-server)', async () => {
  const nats = await natsFixture({ jetstream: true });
  const bus = await nats.bus('memory-kv-contract');
  const jsm = await jetstream(bus.connection).jetstreamManager();
  return {
    lease: (b) => openLeaseBucket(bus, b),
    intent: (b) => IntentKv.open(bus, b),
    purgeBucket: async (b) => void (await jsm.streams.purge(`KV_${b}`)),
    purgeKey: async (b, k) => void (await jsm.streams.purge(`KV_${b}`, { filter: `$KV.${b}.${k}` })),
    unreachableIntent: async (b) => {
      const lone = await startNatsServer();
      const other = await Bus.connect({ servers: lone.url, name: 'unreachable', logger: silentLogs().root });
      const storage = await IntentKv.open(other, b, 300);
      await lone.stop();
      return { storage, close: () => other.connection.close() };
    },
    close: () => nats.close(),
  };
});

contract('MemoryKv', async () => {
  const kv = new MemoryKv();
  return {
    lease: async (b) => kv.leaseStore(b),
    intent: async (b) => kv.intentStorage(b),
    purgeBucket: async (b) => void kv.purgeBucket(b),
    purgeKey: async (b, k) => void kv.purgeKey(b, k),
    unreachableIntent: async (b) => {
      const storage = kv.intentStorage(b);
      kv.setUnavailable(b, true);
      return { storage, close: async () => kv.setUnavailable(b, false) };
    },
    close: async () => undefined,
  };
});

describe('MemoryKv alone', function () {
  it('answers in a later microtask, in call order, without timers', async () => {
    const kv = new MemoryKv();
    const s = kv.leaseStore('b');
    const order: string[] = [];
    const first = s.create('k', te('1')).then((r) => order.push(`create ${r}`));
    const second = s.update('k', te('2'), 1).then((r) => order.push(`update ${r}`));
    expect(kv.dump('b')?.sequence, 'nothing applied synchronously').to.equal(0);
    expect(order).to.deep.equal([]);
    // Microtasks only: no macrotask turn (setImmediate, setTimeout) is needed for an answer.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(order).to.deep.equal(['create 1', 'update 2']);
    await Promise.all([first, second]);
  });

  it('stores copies: changing the bytes given or read changes nothing stored', async () => {
    const kv = new MemoryKv();
    const s = kv.intentStorage('b');
    const bytes = te('abc');
    await s.write([{ key: 'k', value: bytes, revision: 0 }]);
    bytes[0] = 0x7a;
    const loaded = await s.load();
    loaded.entries.get('k')!.value![1] = 0x7a;
    expect(td((await s.load()).entries.get('k')!.value)).to.equal('abc');
    const lease = kv.leaseStore('b');
    const e = await lease.get('k');
    e!.value[2] = 0x7a;
    expect(td((await lease.get('k'))!.value)).to.equal('abc');
  });

  it('unreachable (a bucket, every bucket, one client): calls reject with the NATS TimeoutError and change nothing, until healed', async () => {
    const kv = new MemoryKv();
    const a = kv.leaseStore('b', 'mgr-a');
    const b = kv.leaseStore('b', 'mgr-b');
    const i = kv.intentStorage('b', 'mgr-a');
    await a.create('k', te('1'));
    const all = async (s: LeaseStore): Promise<string[]> => [
      await outcome(s.get('k')),
      await outcome(s.create('n', te('x'))),
      await outcome(s.update('k', te('2'), 1)),
      await outcome(s.delete('k', { previousSeq: 1 })),
    ];
    const down = ['TimeoutError: timeout', 'TimeoutError: timeout', 'TimeoutError: timeout', 'TimeoutError: timeout'];
    kv.setUnavailable('b', true);
    expect(await all(a)).to.deep.equal(down);
    expect(await outcome(i.load())).to.equal('TimeoutError: timeout');
    expect(await outcome(i.write([{ key: 'z', value: null, revision: 0 }]))).to.equal('IntentWriteError: intent write of z refused: timeout <- TimeoutError: timeout');
    kv.setUnavailable('b', false);
    kv.setUnavailable('*', true);
    expect(await all(b)).to.deep.equal(down);
    expect(await outcome(kv.leaseStore('other').get('k'))).to.equal('TimeoutError: timeout');
    kv.setUnavailable('*', false);
    expect(kv.dump('b')?.sequence, 'nothing written while unreachable').to.equal(1);
    kv.setClientUnavailable('mgr-a', true);
    expect(await all(a)).to.deep.equal(down);
    expect(await all(b)).to.deep.equal(["ok PUT 1 '1'", 'ok 2', 'ok 3', 'JetStreamApiError 10071: wrong last sequence: 3']);
    expect(await outcome(b.delete('k', { previousSeq: 3 }))).to.equal('ok undefined');
    kv.setClientUnavailable('mgr-a', false);
    expect(await outcome(a.get('k'))).to.equal("ok DEL 4 ''");
  });

  it('unreachable with a clock: the rejection comes after the client timeout on that clock', async () => {
    const clock = new ManualClock(0);
    const kv = new MemoryKv({ unreachable: { clock, timeoutMs: 5000 } });
    const s = kv.leaseStore('b');
    kv.setUnavailable('*', true);
    let result = 'pending';
    void outcome(s.get('k')).then((r) => (result = r));
    await clock.advance(4999);
    expect(result).to.equal('pending');
    await clock.advance(1);
    expect(result).to.equal('TimeoutError: timeout');
  });

  it('bad names are refused with KvInputError and create nothing', async () => {
    const kv = new MemoryKv();
    expect(() => kv.leaseStore('a.b')).to.throw(KvInputError, 'invalid bucket name: a.b');
    expect(() => kv.intentStorage('')).to.throw(KvInputError);
    expect(() => kv.purgeBucket('a b')).to.throw(KvInputError);
    expect(() => kv.setUnavailable('a.b', true)).to.throw(KvInputError);
    expect(kv.dump('a.b')).to.equal(undefined);
    const s = kv.leaseStore('b');
    expect(() => kv.purgeKey('b', '.x')).to.throw(KvInputError, 'invalid key: .x');
    for (const key of ['', 'a..b', 'a*', 'a b', 'x.']) expect(await outcome(s.create(key, te('1')))).to.equal(`Error: invalid key: ${key}`);
    expect(await outcome(() => s.update('k', te('1'), -1))).to.equal('sync Error: version must be greater than 0');
    expect(kv.dump('b')?.sequence).to.equal(0);
    expect(kv.purgeBucket('never-opened')).to.equal(0);
  });
});

interface Keeper {
  readonly name: string;
  readonly actor: Actor<typeof leaseKeeperLogic>;
  leading: boolean;
  epochs: number[];
}

const HEARTBEAT = 1000;
const TTL = 3000;
const leaseKey = `${nodeToken('node-1')}.manager`;

/** Contenders for one node's lease over one MemoryKv, on one ManualClock, with a shared timeline. */
function leaseWorld(options: (clock: ManualClock) => ConstructorParameters<typeof MemoryKv>[0] = () => ({})) {
  const clock = new ManualClock(0);
  const kv = new MemoryKv(options(clock));
  const timeline: string[] = [];
  const keepers: Keeper[] = [];
  const start = (name: string): Keeper => {
    const k = { name, leading: false, epochs: [] as number[] } as Keeper;
    (k as { actor: Keeper['actor'] }).actor = createActor(leaseKeeperLogic, {
      input: {
        // Never used: openStore replaces opening the NATS bucket.
        bus: undefined as unknown as Bus,
        clock,
        node: 'node-1',
        me: name,
        heartbeatMs: HEARTBEAT,
        ttlMs: TTL,
        logger: silentLogs().root,
        openStore: async () => kv.leaseStore(LEASE_BUCKET, name),
        onChange: (leading, epoch) => {
          k.leading = leading;
          if (leading) k.epochs.push(epoch);
          timeline.push(`${clock.now()} ${name} ${leading ? 'leads' : 'stands by'} ${epoch}`);
        },
      },
    });
    k.actor.start();
    keepers.push(k);
    return k;
  };
  /** Leaders at every point of the timeline, in order: more than one at once is a split brain. */
  const maxLeaders = (): number => {
    const leading = new Set<string>();
    let most = 0;
    for (const line of timeline) {
      const [, name, what] = line.split(' ');
      if (what === 'leads') leading.add(name!);
      else leading.delete(name!);
      most = Math.max(most, leading.size);
    }
    return most;
  };
  const record = () => parseLeaseRecord(kv.dump(LEASE_BUCKET)?.entries.get(leaseKey)?.value ?? new Uint8Array(0));
  /** A clean stop (the keeper tells nobody: the timeline notes it, as the process is gone). */
  const stop = (k: Keeper): void => {
    if (k.actor.getSnapshot().status !== 'active') return;
    k.actor.stop();
    timeline.push(`${clock.now()} ${k.name} stopped`);
  };
  const stopAll = (): void => keepers.forEach(stop);
  return { clock, kv, timeline, start, stop, maxLeaders, record, stopAll };
}

/** The scripted run of the lease test: two contenders, a clean hand-over, then a cut leader. */
async function leaseScenario(world: ReturnType<typeof leaseWorld>) {
  const { clock, kv } = world;
  const a = world.start('mgr-a');
  const b = world.start('mgr-b');
  await clock.advance(10 * HEARTBEAT);
  const afterStart = { a: a.leading, b: b.leading, holder: world.record()?.holder };
  const stoppedAt = clock.now();
  world.stop(a);
  await clock.advance(HEARTBEAT);
  const cleanHandOver = { b: b.leading, at: clock.now() - stoppedAt };
  const c = world.start('mgr-c');
  await clock.advance(5 * HEARTBEAT);
  const cStandby = !c.leading;
  const cutAt = clock.now();
  kv.setClientUnavailable('mgr-b', true);
  let bSteppedDownAfter = -1;
  let cLeadsAfter = -1;
  for (let t = 0; t < 3 * TTL; t += 100) {
    await clock.advance(100);
    if (!b.leading && bSteppedDownAfter < 0) bSteppedDownAfter = clock.now() - cutAt;
    if (c.leading && cLeadsAfter < 0) cLeadsAfter = clock.now() - cutAt;
  }
  const holder = world.record()?.holder;
  world.stopAll();
  return { a, b, c, afterStart, cleanHandOver, cStandby, bSteppedDownAfter, cLeadsAfter, holder };
}

describe('lease keeper on MemoryKv under a ManualClock', function () {
  this.timeout(20_000);

  it('one leader; a clean stop hands over within a heartbeat; a cut leader is replaced after its TTL, with a higher epoch', async () => {
    const world = leaseWorld();
    const r = await leaseScenario(world);
    expect(r.afterStart, world.timeline.join('\n')).to.deep.equal({ a: true, b: false, holder: 'mgr-a' });
    expect(r.cleanHandOver.b, 'b leads after a stopped cleanly').to.equal(true);
    expect(r.cleanHandOver.at).to.be.at.most(HEARTBEAT);
    expect(r.b.epochs[0]).to.be.greaterThan(r.a.epochs[0]!);
    expect(r.cStandby, 'c waits while b renews').to.equal(true);
    // b cannot reach the KV: it stops leading once it has not renewed for a TTL; c, seeing the
    // revision unchanged for a TTL, takes over — after b stepped down, never before.
    expect(r.bSteppedDownAfter).to.be.within(1, TTL + 100);
    expect(r.cLeadsAfter).to.be.within(TTL, TTL + 2 * HEARTBEAT);
    expect(r.cLeadsAfter).to.be.at.least(r.bSteppedDownAfter);
    expect(r.c.epochs[0]).to.be.greaterThan(r.b.epochs[0]!);
    expect(r.holder).to.equal('mgr-c');
    expect(world.maxLeaders(), world.timeline.join('\n')).to.equal(1);
  });

  it('a leader whose KV calls hang (the client waits 5 s, more than the TTL) steps down at its TTL anyway, before the standby takes over', async () => {
    const world = leaseWorld((clock) => ({ unreachable: { clock, timeoutMs: 5000 } }));
    const r = await leaseScenario(world);
    expect(r.bSteppedDownAfter, world.timeline.join('\n')).to.be.within(1, TTL + 100);
    expect(r.cLeadsAfter).to.be.at.least(r.bSteppedDownAfter);
    expect(r.holder).to.equal('mgr-c');
    expect(world.maxLeaders(), world.timeline.join('\n')).to.equal(1);
  });

  it('after the lease key is purged, a freshly started manager still bids above every epoch held before (found at 100 nodes in-process)', async () => {
    const world = leaseWorld();
    const { clock, kv } = world;
    // Other nodes' keys share the bucket's sequence; this node changes hands a few times.
    const a = world.start('mgr-a');
    await clock.advance(2 * HEARTBEAT);
    world.stop(a);
    const b = world.start('mgr-b');
    await clock.advance(2 * HEARTBEAT);
    world.stop(b);
    const c = world.start('mgr-c');
    await clock.advance(2 * HEARTBEAT);
    const before = Math.max(...a.epochs, ...b.epochs, ...c.epochs);
    expect(c.leading).to.equal(true);
    // The key is lost (KV state lost), then the leader dies and a fresh process starts: it
    // knows no epoch, and nothing of the key's past can be read.
    expect(kv.purgeKey(LEASE_BUCKET, leaseKey)).to.equal(true);
    world.stop(c);
    const d = world.start('mgr-d');
    await clock.advance(3 * HEARTBEAT);
    expect(d.leading, world.timeline.join('\n')).to.equal(true);
    expect(d.epochs[0], 'above every epoch before').to.be.greaterThan(before);
    expect(world.record()?.epoch).to.equal(d.epochs[0]);
    world.stopAll();
  });

  it('the whole bucket unreachable: the leader steps down after its TTL, nobody leads, and leadership resumes when it heals', async () => {
    const world = leaseWorld();
    const a = world.start('mgr-a');
    const b = world.start('mgr-b');
    await world.clock.advance(3 * HEARTBEAT);
    expect(a.leading).to.equal(true);
    world.kv.setUnavailable(LEASE_BUCKET, true);
    await world.clock.advance(TTL + HEARTBEAT);
    expect([a.leading, b.leading]).to.deep.equal([false, false]);
    world.kv.setUnavailable(LEASE_BUCKET, false);
    await world.clock.advance(TTL + 2 * HEARTBEAT);
    expect([a.leading, b.leading].filter(Boolean)).to.have.length(1);
    expect(world.maxLeaders()).to.equal(1);
    world.stopAll();
  });

  it('the same script gives the same timeline, byte for byte', async () => {
    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const world = leaseWorld();
      await leaseScenario(world);
      runs.push(world.timeline.join('\n'));
    }
    expect(runs[0]).to.have.length.above(0);
    expect(runs[1]).to.equal(runs[0]);
  });
});

describe('durable store on MemoryKv under a ManualClock', function () {
  const NODE = 'node-1';
  const pod = (i: number): PodInterface => ({
    node: NODE,
    namespace: 'default',
    name: `p${i}`,
    containerId: `c${i}`,
    interfaceName: `P4TAP_${i + 2}`,
    portId: i + 2,
    ipv4: 0x0af40000 + 10 + i,
    mac: 0x020000000000 + 10 + i,
  });

  it('a change is durable in the bucket; after kv-loss the next write is refused, the store reloads and asks for the agent’s state', async () => {
    const clock = new ManualClock(0);
    const kv = new MemoryKv();
    const bucket = intentBucketName(NODE);
    let pulls = 0;
    const store = createActor(durableStoreLogic, {
      clock,
      input: { node: NODE, info: loadP4Info(), open: async () => kv.intentStorage(bucket), logger: silentLogs().root, onCommitted: () => undefined, onNeedsPull: () => pulls++ },
    });
    store.start();
    await clock.advance(0);
    expect(store.getSnapshot().context.loaded).to.equal(true);
    const opts = { clock, timeoutMs: 5000 };
    const mark = await ask<number>(store, (reply) => ({ type: 'sync.begin', reply }), opts);
    const full = { node: NODE, revision: 1, host: undefined, pods: [pod(1), pod(2)], services: [] };
    const replaced = await ask<ChangeReply>(store, (reply) => ({ type: 'state.replace', state: full, mark: mark.ok ? mark.value : 0, reply }), opts);
    expect(replaced.ok && replaced.value.changed).to.equal(true);
    expect(store.getSnapshot().context.ready).to.equal(true);
    const add = await ask<ChangeReply>(store, (reply) => ({ type: 'pod.add', pod: pod(3), reply }), opts);
    expect(add.ok && add.value.changed).to.equal(true);
    expect(kv.dump(bucket)?.entries.get(podKvKey('c3'))?.revision).to.equal(add.ok && add.value.revision);
    kv.purgeBucket(bucket);
    // The next write of a key it holds is a compare-and-set on a revision that is gone.
    const refused = await ask<ChangeReply>(store, (reply) => ({ type: 'pod.add', pod: { ...pod(1), mac: 0x02000000beef }, reply }), opts);
    expect(!refused.ok && refused.error.code).to.equal('UNAVAILABLE');
    expect(kv.dump(bucket)?.entries.size, 'the refused write wrote nothing').to.equal(0);
    await clock.advance(0);
    expect(store.getSnapshot().context.loaded).to.equal(true);
    expect(store.getSnapshot().context.ready, 'the intent lost its keys').to.equal(false);
    expect(pulls).to.equal(1);
    store.stop();
  });
});
