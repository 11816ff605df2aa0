/**
 * The pod hub: the agent's CNI backend. It owns the pool allocator for its lifetime, runs one
 * supervised pod actor per interface (pod-machine.ts) under a simple_one_for_one supervisor,
 * answers ADD/DEL/CHECK from their outcomes, and writes the port map after every change.
 *
 * On start it recovers: every recorded allocation gets its actor back (a plumbed pod is
 * recorded in the agent's intent store at once, then verified and registered again; an ADD that
 * never finished is torn down), so an agent restart neither leaks an interface nor hands one out
 * twice, and the manager hears of every pod again — in the first full state it pulls, too.
 *
 * @example
 * const hub = new PodHub({ node, allocator, pool, ip: execIp, clock, random, logger, ... });
 * const pods = hub.supervisor(); // a child of the agent tree
 * await hub.add(request, 10_000); // { ok: true, value: { ifname: 'eth0', mac, sandbox, portId } }
 */
import type { Logger } from 'pino';
import { createActor, type ActorRefFrom } from 'xstate';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import type { Random } from '../../../core/random.js';
import { err, ok, type Result } from '../../../core/result.js';
import { BusError } from '../../../messages/errors.js';
import { formatIpv4, parseIpv4, parseMac } from '../../../messages/validate.js';
import type { CniAdd, CniAddResult, CniCheck, CniPodRef, CniPrepare } from '../../../protocol/cni.js';
import type { PodInterface } from '../../../protocol/intent.js';
import { Supervisor, type ChildSpec, type StartContext } from '../../../supervisors/index.js';
import type { CniBackendPort } from '../cni-server.js';
import { createPool } from '../pool/setup.js';
import type { DiscoveredPool } from '../pool/discover.js';
import type { IpRunner } from '../pool/ip.js';
import type { Allocation, PodKey, PodRecord, PoolAllocator } from '../pool/allocator.js';
import { checkPod, movePod, plumbPod, unplumbPod } from './plumbing.js';
import { probeOf } from './inputs.js';
import { podLogic, type PodInput, type PodOutcome, type PodWork } from './pod-machine.js';

export interface PodHubDeps {
  readonly node: string;
  readonly allocator: PoolAllocator;
  readonly pool: DiscoveredPool;
  readonly ip: IpRunner;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** MTU when the network configuration gives none. */
  readonly defaultMtu: number;
  /** First retry of an unacknowledged registration (doubling up to 5 s). */
  readonly retryMs: number;
  /** Records the pod in the agent's intent store, then tells the manager. */
  readonly register: (pod: PodInterface) => Promise<Result<void, BusError>>;
  /** Removes it from both; when the manager does not answer, the hub tells it again until it does. */
  readonly unregister: (containerId: string) => Promise<Result<void, BusError>>;
  /**
   * Records a recovered pod in the agent's intent store only, before its actor verifies it: the
   * manager pulls the agent's full state as soon as the agent serves, and a recorded pod not yet
   * re-registered would be missing from it (the manager would delete the pod's entries and
   * retire its connections, then add it back).
   */
  readonly remember?: (pod: PodInterface) => Promise<Result<void, BusError>>;
  /** Called after every allocation change (the port map is written from it). */
  readonly onChange?: () => void;
  /** How long a prepared interface waits for its ADD (default 30 s). */
  readonly prepareTimeoutMs?: number;
}

type Phase = 'adding' | 'ready' | 'deleting';

interface Entry {
  phase: Phase;
  actor: ActorRefFrom<typeof podLogic> | undefined;
  request: CniAdd | undefined;
  /** Clock time by which the ADD must be done (set with `request`). */
  deadlineAt: number;
  result: CniAddResult | undefined;
  addWaiters: ((r: Result<CniAddResult, BusError>) => void)[];
  /** Milliseconds per step of the current ADD, logged (debug) when it settles. */
  timings: Record<string, number>;
  delWaiters: ((r: Result<void, BusError>) => void)[];
}

/** The arguments a pod actor is started (and restarted) with. */
interface PodArgs {
  readonly key: PodKey;
  readonly mode: PodInput['mode'];
  readonly request?: CniAdd;
  readonly prepare?: CniPrepare;
  readonly allocation?: Allocation;
  readonly deadlineAt: number;
}

const keyOf = (k: PodKey): string => `${k.containerId}\u0000${k.ifname}`;

/** A simple_one_for_one supervisor that brings back the recorded pods once it runs. */
class PodSupervisor extends Supervisor {
  constructor(
    options: ConstructorParameters<typeof Supervisor>[0],
    private readonly podHub: PodHub,
  ) {
    super(options);
  }

  override async start(): ReturnType<Supervisor['start']> {
    const started = await super.start();
    if (started.ok) await this.podHub.recover();
    return started;
  }

  override async stop(): ReturnType<Supervisor['stop']> {
    const stopped = await super.stop();
    this.podHub.abandon();
    return stopped;
  }
}

export class PodHub implements CniBackendPort {
  private readonly entries = new Map<string, Entry>();
  /**
   * Deletions the manager has not acknowledged, by container id: retried with a growing delay
   * until it does (a lost request would otherwise leave the pod in the manager's intent and its
   * entries on the device while this agent lives), or until the container is added again.
   */
  private readonly unacked = new Map<string, { attempts: number; timer: TimerHandle | undefined }>();
  private pods: Supervisor | undefined;
  private readonly work: PodWork;

  constructor(private readonly deps: PodHubDeps) {
    this.work = this.timed(this.bindWork());
  }

  /** Records each step's duration on the pod's entry (for the debug line when an ADD settles). */
  private timed(work: PodWork): PodWork {
    const wrap = <A extends unknown[], R>(name: string, keyOf_: (...a: A) => PodKey, f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        const started = performance.now();
        try {
          return await f(...a);
        } finally {
          const entry = this.entries.get(keyOf(keyOf_(...a)));
          if (entry) entry.timings[name] = +(performance.now() - started).toFixed(2);
        }
      };
    return {
      allocate: wrap('allocate', (k: PodKey) => k, (k) => work.allocate(k)),
      move: wrap('move', (a: Allocation, _p: CniPrepare) => a, (a, p) => work.move(a, p)),
      plumb: wrap('plumb', (a: Allocation, _r: CniAdd | undefined, _m: boolean) => a, (a, r, m) => work.plumb(a, r, m)),
      record: wrap('record', (k: PodKey, _w: { name: string; netns: string; pod: PodRecord }) => k, (k, where) => work.record(k, where)),
      verify: wrap('verify', (a: Allocation) => a, (a) => work.verify(a)),
      register: wrap('register', (a: Allocation) => a, (a) => work.register(a)),
      teardown: wrap('teardown', (k: PodKey) => k, (k) => work.teardown(k)),
    };
  }

  /** The pods' supervisor (a child of the agent tree); built once per hub. */
  supervisor(ctx?: Partial<StartContext>): Supervisor {
    const template: ChildSpec = {
      id: 'pod',
      restart: 'transient',
      shutdown: 2000,
      start: (_ctx, args) => this.createPodActor(args as PodArgs),
    };
    const pods = new PodSupervisor(
      {
        id: ctx?.id ?? 'pods',
        strategy: 'simple_one_for_one',
        intensity: 50,
        period: 10_000,
        clock: this.deps.clock,
        random: this.deps.random,
        logger: this.deps.logger,
        children: [template],
      },
      this,
    );
    this.pods = pods;
    return pods;
  }

  /**
   * Starts an actor for every recorded allocation that has none — except a plumbed pod whose TAP
   * is back home while its namespace is still there: a DEL that was cut short (the TAP moved home,
   * then the release could not be written). The runtime will DEL again (or ADD again), so the
   * interface stays the pod's until it does, as it would have in the agent that took the DEL.
   */
  async recover(): Promise<void> {
    let recovered = 0;
    let awaiting = 0;
    const probe = probeOf(this.deps.ip);
    for (const a of this.deps.allocator.allocations()) {
      const key = { containerId: a.containerId, ifname: a.ifname };
      if (this.entries.has(keyOf(key))) continue;
      if (a.pod?.sandbox && a.netns === null && (await probe.exists(a.pod.sandbox))) {
        awaiting++;
        continue;
      }
      const mode = a.pod ? 'recover' : 'abandon';
      if (mode === 'recover' && this.deps.remember) {
        const pod = podInterfaceOf(this.deps.node, a, this.deps.pool.names[a.index] ?? a.name);
        const kept = pod.ok ? await this.deps.remember(pod.value) : pod;
        if (!kept.ok) this.deps.logger.warn({ err: kept.error, pod: key }, 'a recovered pod could not be recorded before its check');
      }
      const entry = this.newEntry(mode === 'recover' ? 'adding' : 'deleting');
      this.entries.set(keyOf(key), entry);
      const started = await this.startPod({ key, mode, allocation: a, deadlineAt: this.deps.clock.now() });
      if (!started) this.entries.delete(keyOf(key));
      else recovered++;
    }
    if (recovered > 0) this.deps.logger.info({ pods: recovered }, 'recovered recorded pod interfaces');
    if (awaiting > 0) this.deps.logger.info({ pods: awaiting }, 'interfaces back home while their pod namespaces remain: kept for the runtime\'s DEL');
  }

  /**
   * A CNI Prepare: allocate and move the interface now, while the plugin runs IPAM; the ADD that
   * follows finds the actor waiting for it. A pod that already has an actor is left alone.
   */
  async prepare(request: CniPrepare): Promise<Result<void, BusError>> {
    const key = { containerId: request.containerId, ifname: request.ifname };
    if (this.entries.has(keyOf(key))) return ok(undefined);
    const entry = this.newEntry('adding');
    this.entries.set(keyOf(key), entry);
    const started = await this.startPod({ key, mode: 'add', prepare: request, deadlineAt: this.deps.clock.now() + (this.deps.prepareTimeoutMs ?? 30_000) });
    if (!started) {
      this.entries.delete(keyOf(key));
      return err(new BusError('UNAVAILABLE', 'the agent is restarting its pod interfaces; try again'));
    }
    return ok(undefined);
  }

  async add(request: CniAdd, deadlineMs: number): Promise<Result<CniAddResult, BusError>> {
    const key = { containerId: request.containerId, ifname: request.ifname };
    let entry = this.entries.get(keyOf(key));
    if (entry?.phase === 'adding' && !entry.request) {
      // Prepared: hand the request to the actor that is moving (or has moved) the interface.
      const prepared = entry;
      prepared.request = request;
      prepared.deadlineAt = this.deps.clock.now() + deadlineMs;
      const outcome = new Promise<Result<CniAddResult, BusError>>((resolve) => prepared.addWaiters.push(resolve));
      prepared.actor?.send({ type: 'request', request, deadlineAt: prepared.deadlineAt });
      return outcome;
    }
    if (entry?.phase === 'deleting') {
      await new Promise<Result<void, BusError>>((resolve) => entry!.delWaiters.push(resolve));
      entry = this.entries.get(keyOf(key));
    }
    if (entry?.phase === 'ready' && entry.result) {
      if (entry.result.sandbox !== request.netns) {
        return err(new BusError('CONFLICT', `container ${request.containerId} already has ${request.ifname} in ${entry.result.sandbox}`, 'netns'));
      }
      return ok(entry.result);
    }
    if (entry) return new Promise((resolve) => entry.addWaiters.push(resolve));
    const fresh = this.newEntry('adding');
    fresh.request = request;
    this.entries.set(keyOf(key), fresh);
    const outcome = new Promise<Result<CniAddResult, BusError>>((resolve) => fresh.addWaiters.push(resolve));
    const started = await this.startPod({ key, mode: 'add', request, deadlineAt: this.deps.clock.now() + deadlineMs });
    if (!started) {
      this.entries.delete(keyOf(key));
      return err(new BusError('UNAVAILABLE', 'the agent is restarting its pod interfaces; try again'));
    }
    return outcome;
  }

  async del(request: CniPodRef): Promise<Result<void, BusError>> {
    const key = { containerId: request.containerId, ifname: request.ifname };
    const entry = this.entries.get(keyOf(key));
    if (!entry) {
      const held = this.deps.allocator.lookup(key);
      if (!held) return ok(undefined); // nothing left: DEL is idempotent
      const fresh = this.newEntry('deleting');
      this.entries.set(keyOf(key), fresh);
      const outcome = new Promise<Result<void, BusError>>((resolve) => fresh.delWaiters.push(resolve));
      if (!(await this.startPod({ key, mode: 'abandon', allocation: held, deadlineAt: this.deps.clock.now() }))) {
        this.entries.delete(keyOf(key));
        return err(new BusError('UNAVAILABLE', 'the agent is restarting its pod interfaces; try again'));
      }
      return outcome;
    }
    const outcome = new Promise<Result<void, BusError>>((resolve) => entry.delWaiters.push(resolve));
    if (entry.phase !== 'deleting') {
      if (entry.phase === 'ready') entry.phase = 'deleting';
      entry.actor?.send({ type: 'delete' });
    }
    return outcome;
  }

  async check(request: CniCheck): Promise<Result<void, BusError>> {
    const key = { containerId: request.containerId, ifname: request.ifname };
    const held = this.deps.allocator.lookup(key);
    const entry = this.entries.get(keyOf(key));
    if (!held?.pod || entry?.phase !== 'ready') return err(new BusError('NOT_FOUND', `no interface ${request.ifname} for container ${request.containerId}`));
    const mac = request.mac || held.pod.mac;
    if (mac !== held.pod.mac) return err(new BusError('CONFLICT', `the interface's MAC is ${held.pod.mac}, not ${mac}`, 'mac'));
    const r = await checkPod(this.deps.ip, { ...this.plumbSpec(held, request), mac });
    return r.ok ? ok(undefined) : err(new BusError('CONFLICT', r.error.message));
  }

  /** Tells the manager of a deletion until it acknowledges (see `unacked`). */
  private noticeDeletion(containerId: string): void {
    const pending = this.unacked.get(containerId) ?? { attempts: 0, timer: undefined };
    this.unacked.set(containerId, pending);
    const delay = Math.min(5000, this.deps.retryMs * 2 ** Math.min(pending.attempts, 10));
    pending.timer = this.deps.clock.setTimeout(() => {
      pending.timer = undefined;
      if (this.unacked.get(containerId) !== pending) return;
      void this.deps.unregister(containerId).then((r) => {
        if (this.unacked.get(containerId) !== pending) return;
        if (r.ok) {
          this.unacked.delete(containerId);
          this.deps.logger.info({ containerId, attempts: pending.attempts + 1 }, 'manager told of the deletion');
          return;
        }
        pending.attempts++;
        this.noticeDeletion(containerId);
      });
    }, delay);
  }

  /** A container added again: its old deletion needs no more telling (the new registration supersedes it). */
  private forgetDeletion(containerId: string): void {
    const pending = this.unacked.get(containerId);
    if (!pending) return;
    if (pending.timer !== undefined) this.deps.clock.clearTimeout(pending.timer);
    this.unacked.delete(containerId);
  }

  /** Deletions not yet acknowledged by the manager (tests, operators). */
  get unacknowledgedDeletions(): string[] {
    return [...this.unacked.keys()];
  }

  /** Answers every waiting call with UNAVAILABLE (the hub's supervisor stopped; the runtime retries). */
  abandon(): void {
    for (const pending of this.unacked.values()) if (pending.timer !== undefined) this.deps.clock.clearTimeout(pending.timer);
    this.unacked.clear();
    const gone = new BusError('UNAVAILABLE', 'the agent restarted its pod interfaces; try again');
    for (const entry of this.entries.values()) {
      for (const w of entry.addWaiters.splice(0)) w(err(gone));
      for (const w of entry.delWaiters.splice(0)) w(err(gone));
    }
    this.entries.clear();
  }

  /** The phase of one pod interface's actor (adding, ready, deleting), if it has one: the operator's view. */
  phase(key: PodKey): Phase | undefined {
    return this.entries.get(keyOf(key))?.phase;
  }

  /** Pods by phase, for state summaries and tests. */
  counts(): Record<Phase, number> {
    const counts: Record<Phase, number> = { adding: 0, ready: 0, deleting: 0 };
    for (const e of this.entries.values()) counts[e.phase]++;
    return counts;
  }

  private newEntry(phase: Phase): Entry {
    return { phase, actor: undefined, request: undefined, deadlineAt: 0, result: undefined, addWaiters: [], delWaiters: [], timings: {} };
  }

  private async startPod(args: PodArgs): Promise<boolean> {
    const pods = this.pods;
    if (!pods) return false;
    const id = `pod-${args.key.containerId}-${args.key.ifname}`;
    const r = await pods.startChild(args, id);
    if (!r.ok) this.deps.logger.warn({ pod: args.key, reason: r.reason }, 'cannot start a pod actor');
    return r.ok;
  }

  private createPodActor(args: PodArgs) {
    const key = keyOf(args.key);
    const known = this.entries.get(key);
    // A restarted actor of a prepared pod gets the ADD's request if it has arrived meanwhile.
    const request = args.request ?? known?.request;
    const actor = createActor(podLogic, {
      clock: this.deps.clock,
      input: {
        ...args,
        ...(request ? { request, deadlineAt: args.request ? args.deadlineAt : known!.deadlineAt } : {}),
        ...(this.deps.prepareTimeoutMs !== undefined ? { prepareTimeoutMs: this.deps.prepareTimeoutMs } : {}),
        retryMs: this.deps.retryMs,
        clock: this.deps.clock,
        work: this.work,
        notify: (outcome) => this.settle(key, outcome),
        logger: this.deps.logger.child({ pod: `${args.key.containerId}/${args.key.ifname}` }),
      },
    });
    const entry = this.entries.get(key);
    if (entry) entry.actor = actor;
    return actor;
  }

  private settle(key: string, outcome: PodOutcome): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    switch (outcome.kind) {
      case 'added': {
        if (entry.addWaiters.length > 0) this.deps.logger.debug({ pod: outcome.result.sandbox, steps: entry.timings }, 'pod interface ready');
        entry.result = outcome.result;
        if (entry.phase === 'adding') entry.phase = 'ready';
        for (const w of entry.addWaiters.splice(0)) w(ok(outcome.result));
        return;
      }
      case 'add-failed': {
        for (const w of entry.addWaiters.splice(0)) w(err(outcome.error));
        if (entry.delWaiters.length === 0) this.entries.delete(key);
        return;
      }
      case 'deleted': {
        this.entries.delete(key);
        for (const w of entry.addWaiters.splice(0)) w(err(new BusError('NOT_FOUND', 'the pod was deleted while it was being added')));
        for (const w of entry.delWaiters.splice(0)) w(ok(undefined));
        return;
      }
      case 'delete-failed': {
        entry.phase = 'ready';
        for (const w of entry.delWaiters.splice(0)) w(err(outcome.error));
        return;
      }
    }
  }

  private plumbSpec(a: Allocation, request: CniAdd) {
    return {
      from: { name: this.deps.pool.names[a.index]!, ...(this.deps.pool.netns ? { netns: this.deps.pool.netns } : {}) },
      netns: request.netns,
      ifname: request.ifname,
      mtu: request.mtu || this.deps.defaultMtu,
      ips: request.ips.map((i) => ({ address: formatIpv4(i.address), prefixLength: i.prefixLength })),
      routes: request.routes.map((r) => ({ dst: formatIpv4(r.dst), prefixLength: r.prefixLength })),
    };
  }

  /** Binds the pod actors' side effects to the pool, iproute2 and the bus. */
  private bindWork(): PodWork {
    const { allocator, ip, pool, node } = this.deps;
    const changed = () => this.deps.onChange?.();
    return {
      allocate: async (key) => {
        const r = await allocator.allocate(key);
        if (r.ok) changed();
        return r.ok ? r : err(r.error.name === 'PoolExhaustedError' ? new BusError('RESOURCE_EXHAUSTED', r.error.message) : r.error);
      },
      move: async (a, prepare) => {
        if (a.netns !== null) return ok(a); // recorded as moved already (a restarted actor)
        const from = { name: pool.names[a.index]!, ...(pool.netns ? { netns: pool.netns } : {}) };
        const mtu = prepare.mtu || this.deps.defaultMtu;
        const moved = await movePod(ip, { from, netns: prepare.netns, ifname: prepare.ifname, mtu });
        if (!moved.ok) return moved;
        // Recorded at once: a crash from here on finds the TAP where it is, and tears it down.
        const recorded = await allocator.relocate(a, { netns: prepare.netns, name: prepare.ifname });
        if (!recorded.ok) return recorded;
        changed();
        return recorded.value ? ok(recorded.value) : err(new BusError('NOT_FOUND', 'the allocation vanished while moving'));
      },
      plumb: async (a, asked, moved) => {
        const request = asked ?? requestFromAllocation(a);
        const spec = this.plumbSpec(a, request);
        const r = await plumbPod(ip, spec, { moved });
        if (!r.ok) return r;
        const record: PodRecord = {
          podNamespace: request.podNamespace,
          podName: request.podName,
          network: request.network,
          mac: r.value.mac,
          mtu: spec.mtu,
          ips: spec.ips,
          routes: spec.routes,
          sandbox: request.netns,
        };
        return ok({ name: r.value.ifname, netns: request.netns, pod: record });
      },
      record: async (key, where) => {
        const r = await allocator.relocate(key, where);
        if (!r.ok) return r;
        changed();
        return r.value ? ok(r.value) : err(new BusError('NOT_FOUND', 'the allocation vanished while plumbing'));
      },
      verify: async (a) => {
        if (!a.pod || a.netns === null) return ok('gone');
        if (a.netns.startsWith('/') && !(await probeOf(ip).exists(a.netns))) return ok('gone');
        const link = await ip.run(['link', 'show', 'dev', a.name], a.netns);
        if (!link.ok) return ok('gone');
        const checked = await checkPod(ip, { ...this.plumbSpec(a, requestFromAllocation(a)), mac: a.pod.mac });
        return ok(checked.ok ? 'ok' : 'drifted');
      },
      register: async (a) => {
        const pod = podInterfaceOf(node, a, pool.names[a.index] ?? a.name);
        if (!pod.ok) return pod;
        this.forgetDeletion(a.containerId);
        return this.deps.register(pod.value);
      },
      teardown: async (key) => {
        const a = allocator.lookup(key);
        if (!a) return ok(undefined);
        const un = await this.deps.unregister(a.containerId);
        if (!un.ok) {
          this.deps.logger.info({ err: un.error, pod: key }, 'manager not told of the deletion yet: telling it again until it answers');
          this.noticeDeletion(a.containerId);
        }
        if (a.netns !== null) {
          const home = { name: pool.names[a.index]!, ...(pool.netns ? { netns: pool.netns } : {}) };
          const back = await unplumbPod(ip, { netns: a.netns, ifname: a.name }, home);
          if (!back.ok) return back;
          if (back.value === 'gone') {
            // The kernel destroyed the TAP with the pod's namespace: make it again, at home.
            const made = await createPool(ip, { prefix: pool.prefix, count: pool.size, ...(pool.netns ? { netns: pool.netns } : {}), indices: [a.index] });
            if (!made.ok) return made;
          }
        }
        const released = await allocator.release(key);
        if (!released.ok) return released;
        changed();
        return ok(undefined);
      },
    };
  }
}

/** The ADD a recorded allocation came from. */
function requestFromAllocation(a: Allocation): CniAdd {
  const pod = a.pod;
  return {
    containerId: a.containerId,
    ifname: a.ifname,
    netns: a.netns ?? '',
    podNamespace: pod?.podNamespace ?? '',
    podName: pod?.podName ?? '',
    network: pod?.network ?? '',
    mtu: pod?.mtu ?? 0,
    ips: (pod?.ips ?? []).map((i) => ({ address: parseIpv4(i.address) ?? 0, prefixLength: i.prefixLength, gateway: 0 })),
    routes: (pod?.routes ?? []).map((r) => ({ dst: parseIpv4(r.dst) ?? 0, prefixLength: r.prefixLength, gateway: 0 })),
  };
}

const POD_NAME_CHARS = /[^a-z0-9-]/g;

/**
 * The manager's record of a pod. Outside Kubernetes (no K8S_POD_* in CNI_ARGS) the pod is
 * named after its container: namespace "default", name "cni-<first 12 of the id>".
 */
export function podInterfaceOf(node: string, a: Allocation, poolName: string): Result<PodInterface, BusError> {
  const pod = a.pod;
  const ipv4 = pod?.ips[0] ? parseIpv4(pod.ips[0].address) : undefined;
  const mac = pod ? parseMac(pod.mac) : undefined;
  if (!pod || ipv4 === undefined || mac === undefined) return err(new BusError('INTERNAL', `pod ${a.containerId} has no plumbed address or MAC`));
  const fallbackName = `cni-${a.containerId.toLowerCase().replace(POD_NAME_CHARS, '').slice(0, 12) || 'pod'}`;
  return ok({
    node,
    namespace: pod.podNamespace || 'default',
    name: pod.podName || fallbackName,
    containerId: a.containerId,
    interfaceName: poolName, // the pool TAP's host-side name, for operators (the in-pod name is the CNI ifname)
    portId: a.index,
    ipv4,
    mac,
  });
}
