import { expect } from 'chai';
import { Kvm } from '@nats-io/kv';
import { createActor } from 'xstate';
import { ask } from '../../actors/ask.js';
import { durableStoreLogic, type DurableStoreRef } from '../../actors/intent/durable-store.js';
import { IntentKv, intentBucketName } from '../../actors/intent/intent-kv.js';
import { podKvKey } from '../../actors/intent/intent-records.js';
import { planFromChanges } from '../../actors/manager/session/session-io.js';
import { systemClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import type { Bus } from '../../messages/bus.js';
import { desiredSet } from '../../p4/desired.js';
import { loadP4Info } from '../../p4/p4info.js';
import { memberEntity, serviceEntities } from '../../p4/render.js';
import type { ChangeReply, PodInterface, ServicePort } from '../../protocol/intent.js';
import { natsFixture, type NatsFixture } from '../support/fixtures.js';

const info = loadP4Info();
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
const svc = (n: number, eps: number): ServicePort => ({
  namespace: 'default',
  name: `s${n}`,
  portName: '',
  clusterIp: 0x0a600000 + n,
  port: 80,
  protocol: 'TCP',
  endpoints: Array.from({ length: eps }, (_, e) => ({ ipv4: 0x0b000000 + n * 64 + e, port: 8080, node: 'node-2', ready: true, serving: true, terminating: false })),
});
const opts = { clock: systemClock, timeoutMs: 5000 };

/** The durable store against a real nats-server with JetStream. */
describe('manager store: durable intent in JetStream KV', function () {
  this.timeout(30_000);
  let nats: NatsFixture;
  let bus: Bus;
  const stores: DurableStoreRef[] = [];

  before(async () => {
    nats = await natsFixture({ jetstream: true });
    bus = await nats.bus('store-test');
  });
  after(async () => {
    for (const s of stores) s.stop();
    await nats.close();
  });

  function start(bucket: string, onCommitted: () => void = () => undefined, onNeedsPull?: () => void): DurableStoreRef {
    const store = createActor(durableStoreLogic, {
      input: { node: NODE, info, open: () => IntentKv.open(bus, bucket), logger: silentLogs().root, onCommitted, backoff: { initialMs: 20, maxMs: 200 }, ...(onNeedsPull ? { onNeedsPull } : {}) },
    });
    stores.push(store);
    store.start();
    return store;
  }
  async function loaded(store: DurableStoreRef): Promise<void> {
    for (let i = 0; i < 200 && !store.getSnapshot().context.loaded; i++) await new Promise((r) => setTimeout(r, 10));
  }
  const addPod = (store: DurableStoreRef, p: PodInterface) => ask<ChangeReply>(store, (reply) => ({ type: 'pod.add', pod: p, reply }), opts);

  it('answers UNAVAILABLE until loaded, then only after the change is in KV and in the index', async () => {
    const bucket = intentBucketName('store-a');
    const store = start(bucket);
    const early = await addPod(store, pod(1));
    expect(!early.ok && early.error.code).to.equal('UNAVAILABLE');
    await loaded(store);
    const r = await addPod(store, pod(1));
    expect(r.ok && r.value.changed).to.equal(true);
    const kv = await new Kvm(bus.connection).open(bucket);
    const stored = await kv.get(podKvKey('c1'));
    expect(stored?.revision).to.equal(r.ok && r.value.revision);
    const index = store.getSnapshot().context.intent.index.desired;
    expect([...index.keys()].filter((k) => k.startsWith('t')).length).to.equal(3); // gateway ARP + the pod's ARP and IPv4
    const again = await addPod(store, pod(1));
    expect(again.ok && again.value).to.deep.equal({ revision: r.ok && r.value.revision, changed: false });
  });

  it('commits a burst in few batches, and a restarted store loads the same intent, ids and entities — complete only once the agent’s state is merged', async () => {
    const bucket = intentBucketName('store-b');
    let commits = 0;
    const store = start(bucket, () => commits++);
    await loaded(store);
    commits = 0;
    const replies = await Promise.all([
      ...Array.from({ length: 100 }, (_, i) => addPod(store, pod(i))),
      ...Array.from({ length: 100 }, (_, i) => ask<ChangeReply>(store, (reply) => ({ type: 'service.upsert', node: NODE, service: svc(i, 1 + (i % 7)), reply }), opts)),
    ]);
    expect(replies.every((r) => r.ok)).to.equal(true);
    expect(commits, 'group commit').to.be.below(50);
    store.stop();
    const again = start(bucket);
    await loaded(again);
    const a = store.getSnapshot().context.intent;
    const b = again.getSnapshot().context.intent;
    expect(b.digest()).to.equal(a.digest());
    expect(b.revision).to.equal(a.revision);
    expect([...b.index.desired.keys()].sort()).to.deep.equal([...a.index.desired.keys()].sort());
    // A bucket that lost some keys would load just as smoothly: a new store waits for the agent.
    expect(again.getSnapshot().context.ready, 'a loaded bucket may have lost keys').to.equal(false);
    const mark = await ask<number>(again, (reply) => ({ type: 'sync.begin', reply }), opts);
    const state = a.fullState();
    const merged = await ask<ChangeReply>(again, (reply) => ({ type: 'state.replace', state, mark: mark.ok ? mark.value : 0, reply }), opts);
    expect(merged.ok && merged.value.changed, 'the same state changes nothing').to.equal(false);
    expect(again.getSnapshot().context.ready).to.equal(true);
    expect(again.getSnapshot().context.intent.digest()).to.equal(a.digest());
  });

  it('a new store over a bucket that lost keys hands the session nothing until the agent’s state restores them', async () => {
    const bucket = intentBucketName('store-i');
    let commits = 0;
    const store = start(bucket, () => commits++);
    const mark = await ask<number>(store, (reply) => ({ type: 'sync.begin', reply }), opts);
    const full = { node: NODE, revision: 1, host: undefined, pods: [pod(1), pod(2), pod(3)], services: [svc(1, 3), svc(2, 2)] };
    await ask<ChangeReply>(store, (reply) => ({ type: 'state.replace', state: full, mark: mark.ok ? mark.value : 0, reply }), opts);
    const before = store.getSnapshot().context.intent.digest();
    store.stop();
    // Lost while no store ran: two of the keys (the leader died, KV lost part of its state).
    const kv = await new Kvm(bus.connection).open(bucket);
    await kv.purge(podKvKey('c2'));
    await kv.purge(podKvKey('c3'));
    commits = 0;
    const again = start(bucket, () => commits++);
    await loaded(again);
    expect([...again.getSnapshot().context.intent.pods.keys()]).to.deep.equal(['c1']);
    expect(again.getSnapshot().context.ready, 'a partial bucket is not a complete intent').to.equal(false);
    const m2 = await ask<number>(again, (reply) => ({ type: 'sync.begin', reply }), opts);
    expect((await ask<ChangeReply>(again, (reply) => ({ type: 'state.replace', state: full, mark: m2.ok ? m2.value : 0, reply }), opts)).ok).to.equal(true);
    expect(again.getSnapshot().context.ready).to.equal(true);
    expect(commits, 'the session is told once it is complete').to.be.at.least(1);
    expect([...again.getSnapshot().context.intent.pods.keys()].sort()).to.deep.equal(['c1', 'c2', 'c3']);
    expect(again.getSnapshot().context.intent.digest()).to.equal(before);
    expect(await kv.get(podKvKey('c3')), 'written back').to.not.equal(null);
  });

  it('a write someone else made first (compare-and-set lost) is refused: UNAVAILABLE, reload, then serves what KV holds', async () => {
    const bucket = intentBucketName('store-c');
    const store = start(bucket);
    await loaded(store);
    expect((await addPod(store, pod(1))).ok).to.equal(true);
    // Another writer (a deposed leader, say) changes the key behind the store's back.
    const kv = await new Kvm(bus.connection).open(bucket);
    const theirs = await IntentKv.open(bus, bucket);
    const rev = (await kv.get(podKvKey('c1')))!.revision;
    await theirs.write([{ key: podKvKey('c1'), value: (await kv.get(podKvKey('c1')))!.value, revision: rev }]);
    const lost = await addPod(store, { ...pod(1), mac: 0x02000000beef });
    expect(!lost.ok && lost.error.code).to.equal('UNAVAILABLE');
    await loaded(store);
    const retried = await addPod(store, { ...pod(1), mac: 0x02000000beef });
    expect(retried.ok && retried.value.changed).to.equal(true);
  });

  it('a request that throws (a bug) is answered INTERNAL and the store reloads instead of crashing', async () => {
    const store = start(intentBucketName('store-e'));
    await loaded(store);
    expect((await addPod(store, pod(1))).ok).to.equal(true);
    const intent = store.getSnapshot().context.intent;
    intent.addPod = () => {
      throw new Error('boom');
    };
    const r = await addPod(store, pod(2));
    expect(!r.ok && r.error.code).to.equal('INTERNAL');
    await loaded(store);
    expect(store.getSnapshot().status).to.equal('active');
    expect(store.getSnapshot().context.intent).to.not.equal(intent);
    expect((await addPod(store, pod(2))).ok).to.equal(true);
    expect([...store.getSnapshot().context.intent.pods.keys()].sort()).to.deep.equal(['c1', 'c2']);
  });

  it("holds the agent's full state until loaded, and keeps what requests changed during the pull", async () => {
    const bucket = intentBucketName('store-d');
    const store = start(bucket);
    const mark = await ask<number>(store, (reply) => ({ type: 'sync.begin', reply }), opts);
    expect(mark.ok).to.equal(true);
    const replaced = ask<ChangeReply>(store, (reply) => ({ type: 'state.replace', state: { node: NODE, revision: 1, host: undefined, pods: [pod(1), pod(2)], services: [] }, mark: mark.ok ? mark.value : 0, reply }), opts);
    expect((await replaced).ok).to.equal(true);
    expect(store.getSnapshot().context.ready).to.equal(true);
    const m2 = await ask<number>(store, (reply) => ({ type: 'sync.begin', reply }), opts);
    await addPod(store, pod(3)); // after the agent answered
    await ask<ChangeReply>(store, (reply) => ({ type: 'state.replace', state: { node: NODE, revision: 2, host: undefined, pods: [pod(2)], services: [] }, mark: m2.ok ? m2.value : 0, reply }), opts);
    expect([...store.getSnapshot().context.intent.pods.keys()].sort()).to.deep.equal(['c2', 'c3']);
  });

  it('KV keys lost behind its back: after the reload the intent is incomplete (not ready) and the agent\'s state is asked for, until it is merged', async () => {
    const bucket = intentBucketName('store-g');
    let pulls = 0;
    const store = start(bucket, () => undefined, () => pulls++);
    const mark = await ask<number>(store, (reply) => ({ type: 'sync.begin', reply }), opts);
    await ask<ChangeReply>(store, (reply) => ({ type: 'state.replace', state: { node: NODE, revision: 1, host: undefined, pods: [pod(1), pod(2)], services: [svc(1, 3)] }, mark: mark.ok ? mark.value : 0, reply }), opts);
    expect(store.getSnapshot().context.ready).to.equal(true);
    // The keys go (a purged bucket, an operator's mistake): the next write of a key it holds is
    // refused (compare-and-set on a revision that is gone) and the store reloads.
    const kv = await new Kvm(bus.connection).open(bucket);
    for await (const key of await kv.keys()) await kv.purge(key);
    const refused = await addPod(store, { ...pod(1), mac: 0x02000000beef });
    expect(!refused.ok && refused.error.code).to.equal('UNAVAILABLE');
    await loaded(store);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.getSnapshot().context.ready, 'an intent that lost its keys is not complete').to.equal(false);
    expect(pulls, 'the agent\'s state is asked for').to.equal(1);
    // The agent's full state arrives: complete again, and written back to KV.
    const m2 = await ask<number>(store, (reply) => ({ type: 'sync.begin', reply }), opts);
    const merged = await ask<ChangeReply>(store, (reply) => ({ type: 'state.replace', state: { node: NODE, revision: 2, host: undefined, pods: [pod(1), pod(2), pod(3)], services: [svc(1, 3)] }, mark: m2.ok ? m2.value : 0, reply }), opts);
    expect(merged.ok).to.equal(true);
    expect(store.getSnapshot().context.ready).to.equal(true);
    expect([...store.getSnapshot().context.intent.pods.keys()].sort()).to.deep.equal(['c1', 'c2', 'c3']);
    expect(await kv.get(podKvKey('c1'))).to.not.equal(null);
  });

  it('a reload that finds what it held stays complete, and asks for nothing', async () => {
    const bucket = intentBucketName('store-h');
    let pulls = 0;
    const store = start(bucket, () => undefined, () => pulls++);
    const mark = await ask<number>(store, (reply) => ({ type: 'sync.begin', reply }), opts);
    await ask<ChangeReply>(store, (reply) => ({ type: 'state.replace', state: { node: NODE, revision: 1, host: undefined, pods: [pod(1)], services: [] }, mark: mark.ok ? mark.value : 0, reply }), opts);
    // A bug in a request makes the store reload; KV holds exactly what it held.
    store.getSnapshot().context.intent.addPod = () => {
      throw new Error('boom');
    };
    const bad = await addPod(store, pod(2));
    expect(!bad.ok && bad.error.code).to.equal('INTERNAL');
    await loaded(store);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.getSnapshot().context.ready).to.equal(true);
    expect(pulls).to.equal(0);
  });

  it('an incremental plan writes members, then groups, then entries, and deletes in reverse', () => {
    const s = svc(1, 2);
    const before = desiredSet([memberEntity(info, s.endpoints[0]!, 2), ...serviceEntities(info, s, 1, [2])]);
    const after = desiredSet([memberEntity(info, s.endpoints[1]!, 3), ...serviceEntities(info, s, 1, [3])]);
    const keys = new Set([...before.keys(), ...after.keys()]);
    const { plan, updates } = planFromChanges(after, before, keys);
    expect(plan.phases.map((p) => p.map((u) => `${u.type} ${Object.keys(u.entity)[0]}`))).to.deep.equal([
      ['INSERT action_profile_member'],
      ['MODIFY action_profile_group'],
      ['DELETE action_profile_member'],
    ]);
    expect(plan.counts).to.deep.include({ insert: 1, modify: 1, delete: 1, unchanged: 1 });
    expect(updates).to.have.length(3);
  });
});
