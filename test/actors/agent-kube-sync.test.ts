import { expect } from 'chai';
import { ServiceChangeTracker } from '../../actors/agent/kube-changes.js';
import { ServiceSyncer, type IntentPort, type ManagerPort, type RoundResult } from '../../actors/agent/kube-sync.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { err, ok, type Result } from '../../core/result.js';
import { BusError, type ErrorCode } from '../../messages/errors.js';
import { parseIpv4 } from '../../messages/validate.js';
import { serviceKeyText, type ChangeReply, type ServiceKey, type ServicePort } from '../../protocol/intent.js';

/** A service port of `name` on 10.96.0.<vip>:80 with endpoints 10.244.0.1…n. */
function port(name: string, vip: number, n: number, p = 80): ServicePort {
  return {
    namespace: 'default',
    name,
    portName: '',
    clusterIp: parseIpv4(`10.96.0.${vip}`)!,
    port: p,
    protocol: 'TCP',
    endpoints: Array.from({ length: n }, (_, i) => ({ ipv4: parseIpv4(`10.244.0.${i + 1}`)!, port: 8080, node: 'node-1', ready: true, serving: true, terminating: false })),
  };
}

/** Records every call; `failures` makes the next calls fail with `code`. */
class Recorder implements IntentPort, ManagerPort {
  readonly calls: string[] = [];
  readonly held = new Map<string, ServicePort>();
  failures = 0;
  code: ErrorCode = 'UNAVAILABLE';

  constructor(private readonly name: string) {}

  services(): Promise<Result<readonly ServicePort[], BusError>> {
    return Promise.resolve(ok([...this.held.values()]));
  }
  upsert(s: ServicePort): Promise<Result<ChangeReply, BusError>> {
    return this.answer(`upsert ${serviceKeyText(s)} ${s.endpoints.length}`, () => this.held.set(serviceKeyText(s), s));
  }
  delete(k: ServiceKey): Promise<Result<ChangeReply, BusError>> {
    return this.answer(`delete ${serviceKeyText(k)}`, () => this.held.delete(serviceKeyText(k)));
  }
  private answer(call: string, apply: () => void): Promise<Result<ChangeReply, BusError>> {
    this.calls.push(call);
    if (this.failures > 0) {
      this.failures--;
      return Promise.resolve(err(new BusError(this.code, `${this.name} says no`)));
    }
    apply();
    return Promise.resolve(ok({ revision: this.calls.length, changed: true }));
  }
}

describe('agent: record changes, then sync (kube-changes, kube-sync)', () => {
  let clock: ManualClock;
  let intent: Recorder;
  let manager: Recorder;
  let rounds: RoundResult[];
  let syncer: ServiceSyncer;

  beforeEach(() => {
    clock = new ManualClock(0);
    intent = new Recorder('intent');
    manager = new Recorder('manager');
    rounds = [];
    syncer = new ServiceSyncer({
      clock,
      logger: silentLogs().root,
      intent,
      manager,
      delayMs: 100,
      maxDelayMs: 1000,
      backoff: { initialMs: 100, maxMs: 1000 },
      onRound: (r) => rounds.push(r),
      onFatal: (e) => {
        throw e;
      },
    });
  });
  afterEach(() => syncer.stop());

  /** Writes `ports` for 'default/web' and lets the round run. */
  async function settled(service: string, ports: ServicePort[]): Promise<void> {
    syncer.record(service, ports);
    await clock.advance(2000);
  }

  it('holds every round until released: the initial lists must all be in', async () => {
    syncer.record('default/web', [port('web', 10, 2)]);
    await clock.advance(5000);
    expect(manager.calls).to.deep.equal([]);
    syncer.release();
    await clock.advance(100);
    expect(manager.calls).to.deep.equal(['upsert 10.96.0.10:80/TCP 2']);
  });

  it('collapses a burst of 10 changes to one service into one request with the last state', async () => {
    syncer.release();
    for (let n = 1; n <= 10; n++) {
      syncer.record('default/web', [port('web', 10, n)]);
      await clock.advance(20); // quicker than the 100 ms of quiet a sync waits for
    }
    expect(manager.calls).to.deep.equal([]);
    await clock.advance(100);
    expect(manager.calls).to.deep.equal(['upsert 10.96.0.10:80/TCP 10']);
    expect(intent.calls).to.deep.equal(['upsert 10.96.0.10:80/TCP 10']);
  });

  it('sends nothing for a change and its revert', async () => {
    syncer.release();
    await settled('default/web', [port('web', 10, 2)]);
    manager.calls.length = 0;
    syncer.record('default/web', [port('web', 10, 3)]);
    await clock.advance(20);
    syncer.record('default/web', [port('web', 10, 2)]);
    await clock.advance(5000);
    expect(manager.calls).to.deep.equal([]);
    expect(syncer.tracker.pendingCount).to.equal(0);
  });

  it('never waits longer than maxSyncDelayMs under a steady stream of changes', async () => {
    syncer.release();
    for (let t = 0; t < 1000; t += 50) {
      syncer.record('default/web', [port('web', 10, 1 + ((t / 50) % 3))]);
      await clock.advance(50);
    }
    expect(rounds.length, 'one round at 1000 ms').to.equal(1);
  });

  it('turns a service that lost a port into a delete, and a deleted service into deletes of all its ports', async () => {
    syncer.release();
    await settled('default/dns', [port('dns', 10, 1, 53), port('dns', 10, 1, 54)]);
    await settled('default/dns', [port('dns', 10, 1, 53)]);
    await settled('default/dns', []);
    expect(manager.calls).to.deep.equal([
      'upsert 10.96.0.10:53/TCP 1',
      'upsert 10.96.0.10:54/TCP 1',
      'delete 10.96.0.10:54/TCP',
      'delete 10.96.0.10:53/TCP',
    ]);
  });

  it('deletes before upserts, and never deletes a ClusterIP:port another service has taken', async () => {
    syncer.release();
    await settled('default/old', [port('old', 10, 1)]);
    manager.calls.length = 0;
    syncer.record('default/new', [port('new', 10, 2)]); // the same 10.96.0.10:80, freed and reused
    syncer.record('default/old', []);
    await clock.advance(2000);
    expect(manager.calls).to.deep.equal(['upsert 10.96.0.10:80/TCP 2']);
    expect(manager.held.get('10.96.0.10:80/TCP')?.name).to.equal('new');
  });

  it('retries what the manager did not take, after a back-off that doubles, then resets', async () => {
    syncer.release();
    manager.failures = 2;
    syncer.record('default/web', [port('web', 10, 1)]);
    await clock.advance(100);
    expect(manager.calls).to.have.length(1);
    await clock.advance(99);
    expect(manager.calls, 'no retry before 100 ms').to.have.length(1);
    await clock.advance(1);
    expect(manager.calls).to.have.length(2);
    await clock.advance(199);
    expect(manager.calls, 'the second back-off is 200 ms').to.have.length(2);
    await clock.advance(1);
    expect(manager.calls).to.have.length(3);
    expect(manager.held.size).to.equal(1);
    expect(rounds.map((r) => r.managerFailures)).to.deep.equal([1, 1, 0]);
    syncer.record('default/web', [port('web', 10, 2)]);
    await clock.advance(100);
    expect(manager.calls, 'back to the normal delay after a success').to.have.length(4);
  });

  it('does not retry what the manager refused as invalid', async () => {
    syncer.release();
    manager.failures = 1;
    manager.code = 'INVALID_ARGUMENT';
    await settled('default/web', [port('web', 10, 1)]);
    expect(manager.calls).to.have.length(1);
    expect(syncer.tracker.pendingCount).to.equal(0);
  });

  it('writes only the intent store while pushToManager is off (a fresh agent: the manager pulls)', async () => {
    syncer.pushToManager = false;
    syncer.release();
    await settled('default/web', [port('web', 10, 1)]);
    expect(intent.calls).to.have.length(1);
    expect(manager.calls).to.deep.equal([]);
    expect(rounds[0]).to.include({ pushed: false, intentFailures: 0 });
  });

  it('a periodic resync sends every written port again', async () => {
    syncer.release();
    await settled('default/a', [port('a', 10, 1)]);
    await settled('default/b', [port('b', 11, 1)]);
    manager.calls.length = 0;
    syncer.resync();
    await clock.advance(2000);
    expect(manager.calls.sort()).to.deep.equal(['upsert 10.96.0.10:80/TCP 1', 'upsert 10.96.0.11:80/TCP 1']);
  });

  it('the tracker: seeded from what is written, a record equal to it is no change', () => {
    const t = new ServiceChangeTracker();
    t.seed([port('web', 10, 2), port('web', 10, 2, 443)]);
    t.record('default/web', [port('web', 10, 2, 443), port('web', 10, 2)]); // another order, same content
    expect(t.pendingCount).to.equal(0);
    t.record('default/web', [port('web', 10, 2)]);
    expect(t.changes().map((c) => [c.upserts.length, c.deletes.map(serviceKeyText)])).to.deep.equal([[0, ['10.96.0.10:443/TCP']]]);
  });

  it('the tracker: a service deleted while its first upsert is being written is deleted next (found by the in-process simulator)', () => {
    const t = new ServiceChangeTracker();
    t.record('default/web', [port('web', 10, 2)]);
    const [upsert] = t.changes();
    // The API deletes the service before the manager answered the upsert.
    t.record('default/web', []);
    t.commit(upsert!);
    const next = t.changes();
    expect(next.map((c) => [c.service, c.upserts.length, c.deletes.map(serviceKeyText)])).to.deep.equal([['default/web', 0, ['10.96.0.10:80/TCP']]]);
    t.commit(next[0]!);
    expect(t.pendingCount).to.equal(0);
    expect(t.writtenPorts()).to.deep.equal([]);
  });

  it('the tracker: ports of a write that failed (it may have landed: a timeout) are deleted when the service goes (process-mode soak seed 17)', () => {
    const t = new ServiceChangeTracker();
    t.record('default/web', [port('web', 10, 2)]);
    const [upsert] = t.changes();
    t.failed(upsert!);
    // The service is deleted before the retry: nothing was committed, yet the manager may hold it.
    t.record('default/web', []);
    const [next] = t.changes();
    expect([next!.upserts.length, next!.deletes.map(serviceKeyText)]).to.deep.equal([0, ['10.96.0.10:80/TCP']]);
    t.commit(next!);
    expect(t.pendingCount).to.equal(0);
    // Once a change is written, nothing is left in doubt: the same service again is an upsert only.
    t.record('default/web', [port('web', 10, 2)]);
    expect(t.changes().map((c) => [c.upserts.length, c.deletes.length])).to.deep.equal([[1, 0]]);
  });

  it('the tracker: a change back to what is in flight is dropped once that write lands', () => {
    const t = new ServiceChangeTracker();
    t.record('default/web', [port('web', 10, 2)]);
    const [first] = t.changes();
    t.record('default/web', [port('web', 10, 3)]);
    t.record('default/web', [port('web', 10, 2)]);
    t.commit(first!);
    expect(t.pendingCount).to.equal(0);
  });
});
