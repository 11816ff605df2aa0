/**
 * The pod actor's states driven with fake work and the injected clock: the happy path, rollback
 * of every failing ADD step, the registration deadline, DEL during ADD, recovery modes.
 */
import { expect } from 'chai';
import { createActor } from 'xstate';
import { podLogic, type PodOutcome, type PodWork } from '../../actors/agent/pod/pod-machine.js';
import type { Allocation, PodKey } from '../../actors/agent/pool/allocator.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { err, ok } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import type { CniAdd } from '../../protocol/cni.js';

const KEY: PodKey = { containerId: 'c1', ifname: 'eth0' };
const REQUEST: CniAdd = {
  containerId: 'c1',
  ifname: 'eth0',
  netns: '/var/run/netns/x',
  podNamespace: 'default',
  podName: 'p',
  network: 'n',
  mtu: 0,
  ips: [{ address: 0x0af44d05, prefixLength: 24, gateway: 0 }],
  routes: [],
};
const POD = { podNamespace: 'default', podName: 'p', network: 'n', mac: '02:00:00:00:00:05', mtu: 1500, ips: [{ address: '10.244.77.5', prefixLength: 24 }], routes: [] };

type Step = 'allocate' | 'move' | 'plumb' | 'record' | 'verify' | 'register' | 'teardown';

/** Fake work recording its calls; `fail` makes a step fail (n times, or always). */
class FakeWork implements PodWork {
  readonly calls: Step[] = [];
  readonly fail = new Map<Step, number>();
  verdict: 'ok' | 'drifted' | 'gone' = 'ok';
  private held: Allocation | undefined;

  private failing(step: Step): boolean {
    this.calls.push(step);
    const n = this.fail.get(step) ?? 0;
    if (n === 0) return false;
    this.fail.set(step, n - 1);
    return true;
  }

  allocate(key: PodKey) {
    if (this.failing('allocate')) return Promise.resolve(err(new BusError('RESOURCE_EXHAUSTED', 'pool empty')));
    this.held = { ...key, index: 5, netns: null, name: 'P4TAP_5' };
    return Promise.resolve(ok(this.held));
  }
  /** Whether plumb was told the interface was moved already. */
  plumbedMoved: boolean | undefined;
  move(a: Allocation) {
    if (this.failing('move')) return Promise.resolve(err(new Error('move failed')));
    this.held = { ...a, netns: REQUEST.netns, name: 'eth0' };
    return Promise.resolve(ok(this.held));
  }
  plumb(_a: Allocation, _r: CniAdd | undefined, moved: boolean) {
    this.plumbedMoved = moved;
    if (this.failing('plumb')) return Promise.resolve(err(new Error('ip failed')));
    return Promise.resolve(ok({ name: 'eth0', netns: REQUEST.netns, pod: POD }));
  }
  record(_key: PodKey, where: { name: string; netns: string; pod: typeof POD }) {
    if (this.failing('record')) return Promise.resolve(err(new Error('disk full')));
    this.held = { ...this.held!, ...where };
    return Promise.resolve(ok(this.held));
  }
  verify() {
    if (this.failing('verify')) return Promise.resolve(err(new Error('cannot look')));
    return Promise.resolve(ok(this.verdict));
  }
  register() {
    if (this.failing('register')) return Promise.resolve(err(new BusError('UNAVAILABLE', 'no manager')));
    return Promise.resolve(ok(undefined));
  }
  teardown() {
    if (this.failing('teardown')) return Promise.resolve(err(new Error('stuck')));
    this.held = undefined;
    return Promise.resolve(ok(undefined));
  }
}

function run(work: FakeWork, clock: ManualClock, mode: 'add' | 'recover' | 'abandon' | 'prepare' = 'add', deadlineMs = 1000) {
  const outcomes: PodOutcome[] = [];
  const allocation: Allocation = { ...KEY, index: 5, netns: REQUEST.netns, name: 'eth0', pod: POD };
  const actor = createActor(podLogic, {
    clock,
    input: {
      key: KEY,
      mode: mode === 'prepare' ? 'add' : mode,
      ...(mode === 'add' ? { request: REQUEST } : mode === 'prepare' ? { prepare: { containerId: 'c1', netns: REQUEST.netns, ifname: 'eth0', mtu: 1500 }, prepareTimeoutMs: 5000 } : { allocation }),
      deadlineAt: clock.now() + deadlineMs,
      retryMs: 50,
      clock,
      work,
      notify: (o) => outcomes.push(o),
      logger: silentLogs().root,
    },
  });
  actor.start();
  return { actor, outcomes };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('pod actor', function () {
  it('adds: allocate → plumb → record → register → ready, then deletes', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    const { actor, outcomes } = run(work, clock);
    await settle();
    expect(actor.getSnapshot().value).to.equal('ready');
    expect(work.calls).to.deep.equal(['allocate', 'plumb', 'record', 'register']);
    expect(outcomes).to.deep.equal([{ kind: 'added', result: { ifname: 'eth0', mac: POD.mac, sandbox: REQUEST.netns, portId: 5 } }]);
    actor.send({ type: 'delete' });
    await settle();
    expect(actor.getSnapshot().status).to.equal('done');
    expect(outcomes.at(-1)).to.deep.equal({ kind: 'deleted' });
  });

  for (const step of ['allocate', 'plumb', 'record'] as const) {
    it(`rolls back when ${step} fails and reports the error`, async function () {
      const clock = new ManualClock();
      const work = new FakeWork();
      work.fail.set(step, 1);
      const { actor, outcomes } = run(work, clock);
      await settle();
      expect(actor.getSnapshot().status).to.equal('done');
      expect(work.calls.at(-1)).to.equal('teardown');
      expect(work.calls).to.not.include('register');
      expect(outcomes).to.have.length(1);
      expect(outcomes[0]!.kind).to.equal('add-failed');
      if (step === 'allocate') expect((outcomes[0] as { error: BusError }).error.code).to.equal('RESOURCE_EXHAUSTED');
    });
  }

  it('retries registration with backoff and succeeds before the deadline', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    work.fail.set('register', 3);
    const { actor, outcomes } = run(work, clock);
    await settle();
    expect(actor.getSnapshot().matches('registration')).to.equal(true);
    for (let i = 0; i < 4; i++) {
      await clock.advance(200);
      await settle();
    }
    expect(actor.getSnapshot().value).to.equal('ready');
    expect(work.calls.filter((c) => c === 'register')).to.have.length(4);
    expect(outcomes.map((o) => o.kind)).to.deep.equal(['added']);
  });

  it('fails with UNAVAILABLE at the deadline when the manager never answers, and rolls back', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    work.fail.set('register', Number.POSITIVE_INFINITY);
    const { actor, outcomes } = run(work, clock, 'add', 1000);
    for (let i = 0; i < 12; i++) {
      await clock.advance(100);
      await settle();
    }
    expect(actor.getSnapshot().status).to.equal('done');
    expect(outcomes).to.have.length(1);
    expect(outcomes[0]).to.deep.include({ kind: 'add-failed' });
    expect((outcomes[0] as { error: BusError }).error.code).to.equal('UNAVAILABLE');
    expect(work.calls.at(-1)).to.equal('teardown');
  });

  it('a DEL during the ADD is done as soon as the ADD settles', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    work.fail.set('register', 1);
    const { actor, outcomes } = run(work, clock);
    await settle();
    actor.send({ type: 'delete' });
    await clock.advance(200);
    await settle();
    expect(outcomes.map((o) => o.kind)).to.deep.equal(['added', 'deleted']);
    expect(actor.getSnapshot().status).to.equal('done');
  });

  it('a failed DEL reports the error and stays ready for the retry', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    work.fail.set('teardown', 1);
    const { actor, outcomes } = run(work, clock);
    await settle();
    actor.send({ type: 'delete' });
    await settle();
    expect(outcomes.map((o) => o.kind)).to.deep.equal(['added', 'delete-failed', 'added']);
    expect(actor.getSnapshot().value).to.equal('ready');
    actor.send({ type: 'delete' });
    await settle();
    expect(outcomes.at(-1)).to.deep.equal({ kind: 'deleted' });
  });

  it('recover: a verified pod is registered again; a drifted one re-plumbed; a gone one torn down', async function () {
    for (const [verdict, expected] of [
      ['ok', ['verify', 'register']],
      ['drifted', ['verify', 'plumb', 'record', 'register']],
      ['gone', ['verify', 'teardown']],
    ] as const) {
      const clock = new ManualClock();
      const work = new FakeWork();
      work.verdict = verdict;
      const { actor } = run(work, clock, 'recover');
      await settle();
      expect(work.calls, verdict).to.deep.equal(expected);
      expect(actor.getSnapshot().value, verdict).to.equal(verdict === 'gone' ? 'deleted' : 'ready');
    }
  });

  it('recover keeps retrying registration past any deadline (no caller is waiting)', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    work.fail.set('register', 20);
    const { actor } = run(work, clock, 'recover', 0);
    for (let i = 0; i < 40; i++) {
      await clock.advance(1000);
      await settle();
    }
    expect(actor.getSnapshot().value).to.equal('ready');
  });

  it('abandon: an allocation whose ADD never finished is torn down', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    const { actor, outcomes } = run(work, clock, 'abandon');
    await settle();
    expect(work.calls).to.deep.equal(['teardown']);
    expect(actor.getSnapshot().status).to.equal('done');
    expect(outcomes).to.deep.equal([{ kind: 'deleted' }]);
  });

  it('prepare: allocates and moves at once, then plumbs without moving when the ADD arrives', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    const { actor, outcomes } = run(work, clock, 'prepare');
    await settle();
    expect(actor.getSnapshot().value).to.equal('awaitingRequest');
    expect(work.calls).to.deep.equal(['allocate', 'move']);
    actor.send({ type: 'request', request: REQUEST, deadlineAt: clock.now() + 1000 });
    await settle();
    expect(actor.getSnapshot().value).to.equal('ready');
    expect(work.calls).to.deep.equal(['allocate', 'move', 'plumb', 'record', 'register']);
    expect(work.plumbedMoved).to.equal(true);
    expect(outcomes.map((o) => o.kind)).to.deep.equal(['added']);
  });

  it('prepare: an ADD that arrives while it is still moving is kept; a failed move leaves the whole job to plumb', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    work.fail.set('move', 1);
    const { actor } = run(work, clock, 'prepare');
    actor.send({ type: 'request', request: REQUEST, deadlineAt: clock.now() + 1000 });
    await settle();
    expect(actor.getSnapshot().value).to.equal('ready');
    expect(work.plumbedMoved).to.equal(false);
  });

  it('prepare: undone when no ADD follows in time, and on a DEL before the ADD', async function () {
    const clock = new ManualClock();
    const work = new FakeWork();
    const { actor } = run(work, clock, 'prepare');
    await settle();
    await clock.advance(5001);
    await settle();
    expect(actor.getSnapshot().status).to.equal('done');
    expect(work.calls.at(-1)).to.equal('teardown');

    const work2 = new FakeWork();
    const second = run(work2, new ManualClock(), 'prepare');
    await settle();
    second.actor.send({ type: 'delete' });
    await settle();
    expect(second.actor.getSnapshot().status).to.equal('done');
    expect(work2.calls).to.deep.equal(['allocate', 'move', 'teardown']);
    expect(second.outcomes.map((o) => o.kind)).to.include('deleted');
  });
});
