/**
 * The in-process cluster: every node's target, managers and agent in this process, on one
 * ManualClock, joined by the deterministic stand-ins —
 *
 *   agent ──MemoryNats── manager(s) ──LoopbackPath/loopbackLink── P4RuntimeServer (model device)
 *     │                      │
 *     │ informers            └── MemoryKv (lease, intent)
 *     ▼
 *   MemoryKube ◀── the workload (Services, EndpointSlices)      CNI: InprocCni.call(bytes)
 *
 * — with the real trees (actors/manager/tree.ts, actors/agent/tree.ts), their real configuration
 * (checked by the same schemas), logs parsed as process mode parses them (ProcessLogs: instance
 * ids, leadership claims, supervisor restarts). A "process" is an Incarnation: kill -9 clears its
 * timers and leaves every promise it waits for unanswered, its connections are killed at the
 * stand-ins, and it is started again 300 ms later with a new instance id — as systemd would.
 *
 * `drive(promise, limitMs)` is the only way time moves: the clock advances step by step until the
 * promise settles or the limit passes.
 *
 * @example
 * const cluster = startInprocCluster({ plan });
 * await cluster.drive(cluster.ready(), 60_000, 50);
 */
import { ManualClock, OffsetClock, type Clock } from '../../core/clock.js';
import { createLogs } from '../../core/logger.js';
import { seededRandom, type Random } from '../../core/random.js';
import { MemoryKv } from '../../actors/intent/memory-kv.js';
import { agentTree, type AgentTree } from '../../actors/agent/tree.js';
import type { InprocCni } from '../../actors/agent/cni-server.js';
import { managerTree, type ManagerTree } from '../../actors/manager/tree.js';
import { agentConfigSchema, managerConfigSchema } from '../../actors/process-config.js';
import { newInstanceId } from '../../actors/process-identity.js';
import { Bus } from '../../messages/bus.js';
import { MemoryNats, type NatsTraceEvent } from '../../messages/memory-nats.js';
import { modelDevice } from '../../p4/target/model-program.js';
import { loopbackLink, LoopbackPath, type LoopbackLink } from '../../p4/target/loopback.js';
import { P4RuntimeServer } from '../../p4/target/server.js';
import type { Supervisor } from '../../supervisors/index.js';
import { bootstrapPool } from '../kernel/bootstrap.js';
import { MemoryKernelStorage } from '../kernel/memory-store.js';
import { SyntheticKernel } from '../kernel/synthetic-ip.js';
import { cniDriver } from '../cluster/cni-driver.js';
import type { EventLog } from '../cluster/event-log.js';
import { InterfaceCheck } from '../cluster/interfaces-check.js';
import type { InvariantBook } from '../cluster/invariants.js';
import { PrimaryObserver, type LeadershipSources } from '../cluster/leadership-check.js';
import type { NodeSpec, SimPlan } from '../cluster/plan-types.js';
import { ProcessLogs } from '../cluster/process-logs.js';
import { POOL_PREFIX } from '../cluster/sim-node.js';
import type { PodInterface } from '../../protocol/intent.js';
import type { WorkloadCluster, WorkloadNode } from '../cluster/workload-runner.js';
import { parseLeaseRecord } from '../../actors/manager/lease.js';
import { LEASE_BUCKET, type LeaseStore } from '../../actors/manager/lease-keeper.js';
import { nodeToken } from '../../messages/subjects.js';
import { RESOURCES } from '../kube/resources.js';
import { Incarnation } from './incarnation.js';
import { MemoryFiles } from './memory-files.js';
import { MemoryKube } from './memory-kube.js';

/** Timings as in process mode (sim-node.ts): recovery must fit a short run. */
const HEARTBEAT_MS = 300;
const LEASE_TTL_MS = 1500;
const RESTART_AFTER_MS = 300;
const STATE_DIR = '/var/lib/infra-agent';
const DEVICE = 1;
/** Clusters above this many nodes log only process starts and leadership (the supervisors' reports too below it). */
const QUIET_ABOVE_NODES = 20;

type Msg = Record<string, unknown>;

export interface InprocClusterOptions {
  readonly plan: SimPlan;
  /**
   * Debugging a replayed seed: every log line (debug level and up) of the processes whose name
   * starts with `logs` (e.g. 'node-3/' or 'node-3/agent'), and every bus delivery and fault
   * decision whose text contains `bus` (e.g. 'node-3' or 'service.upsert'), told to `out` with
   * the simulated ms since the cluster started. Tracing changes nothing the run does.
   */
  readonly trace?: { readonly logs?: string; readonly bus?: string; readonly out: (line: string) => void };
}

/** One simulated process: its current life, name and instance id; killed and restarted by the cluster. */
export class InprocProcess<T extends { readonly supervisor: Supervisor }> {
  life: Incarnation | undefined;
  tree: T | undefined;
  instanceId = '';
  /** The process's view of the time (a clock jump moves it; a restart resets it). */
  view: OffsetClock | undefined;
  restarts = 0;
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly clock: ManualClock,
    private readonly random: Random,
    private readonly build: (p: { instanceId: string; clock: Clock; life: Incarnation; onDeath: () => void }) => T,
    /** Cuts what the stand-ins hold for a life: its bus connection, KV client, P4Runtime links. */
    private readonly sever: (p: InprocProcess<T>) => void,
    /** Told of every death that a restart follows (the report's `process:<role>` restarts). */
    private readonly onRestart?: (name: string) => void,
  ) {}

  get running(): boolean {
    return this.life !== undefined && !this.life.killed;
  }

  start(): void {
    if (this.stopping) return;
    const life = new Incarnation(this.clock);
    this.life = life;
    this.view = new OffsetClock(life.clock);
    this.instanceId = newInstanceId(this.random);
    const onDeath = (): void => {
      if (this.life === life) this.kill();
    };
    this.tree = this.build({ instanceId: this.instanceId, clock: this.view, life, onDeath });
    void this.tree.supervisor.start().then((r) => {
      if (!r.ok && this.life === life) this.kill();
    });
  }

  /** kill -9, then a restart RESTART_AFTER_MS later. */
  kill(): void {
    const life = this.life;
    if (!life || life.killed) return;
    life.kill();
    this.sever(this);
    // Its actors stop without reaching anything: every connection is dead already.
    void this.tree?.supervisor.stop().catch(() => undefined);
    if (this.stopping) return;
    this.restarts++;
    this.onRestart?.(this.name);
    this.clock.setTimeout(() => this.start(), RESTART_AFTER_MS);
  }

  /** For good (the end of the run). */
  stop(): void {
    this.stopping = true;
    this.kill();
  }
}

export interface InprocNode extends WorkloadNode {
  readonly spec: NodeSpec;
  target: P4RuntimeServer;
  readonly path: LoopbackPath;
  readonly managers: readonly InprocProcess<ManagerTree>[];
  readonly agent: InprocProcess<AgentTree>;
  readonly disk: MemoryFiles;
  readonly kernelStorage: MemoryKernelStorage;
  cni: InprocCni | undefined;
  /** Restarts the target: a new process with empty tables and no learned connections. */
  restartTarget(): void;
}

export interface InprocCluster {
  readonly clock: ManualClock;
  readonly nats: MemoryNats;
  readonly kv: MemoryKv;
  readonly kube: MemoryKube;
  readonly logs: ProcessLogs;
  readonly nodes: readonly InprocNode[];
  readonly workload: WorkloadCluster;
  readonly leadership: LeadershipSources;
  /** The simulator's own connection (the leaders' intent is read over it). */
  readonly bus: Bus;
  readonly interfaces: {
    podUp(node: string, pod: PodInterface, live: readonly PodInterface[], book: InvariantBook, log: EventLog): void;
    scan(node: string, live: readonly PodInterface[], book: InvariantBook, log: EventLog): Promise<void>;
  };
  /** Resolves when every node's leader has reconciled and its agent is linked. */
  ready(): Promise<void>;
  /** What is not ready yet (for the error of a cluster that never came up). */
  notReady(): string[];
  /** Advances the clock `stepMs` at a time until `p` settles or `limitMs` passes. */
  drive<T>(p: Promise<T>, limitMs: number, stepMs: number, onStep?: () => void): Promise<{ done: true; value: T } | { done: false }>;
  /** A P4Runtime Read of the node's current target. */
  p4Read(node: string): (req: Msg) => Promise<Msg[]>;
  /** no-duplicate-writes from the targets' own counters (ALREADY_EXISTS, NOT_FOUND). */
  sampleCounters(book: InvariantBook, log: EventLog): void;
  stop(): Promise<void>;
}

export function startInprocCluster(o: InprocClusterOptions): InprocCluster {
  const { plan } = o;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const stream = (k: number): Random => seededRandom((plan.seed * 31 + k * 7919) | 0);
  const t0 = clock.now();
  const trace = o.trace;
  const busTrace = trace?.bus;
  const nats = new MemoryNats({
    clock,
    random: stream(1),
    ...(trace && busTrace
      ? {
          trace: (e: NatsTraceEvent) => {
            const text = `${e.kind} ${e.connection} ${e.subject}${e.side ? ` ${e.side}` : ''}${e.delayMs !== undefined ? ` +${e.delayMs}ms` : ''}`;
            if (text.includes(busTrace)) trace.out(`${clock.now() - t0} bus ${text}`);
          },
        }
      : {}),
  });
  const kv = new MemoryKv();
  const kube = new MemoryKube({ clock });
  const logs = new ProcessLogs(() => clock.now());
  const quiet = plan.nodes.length > QUIET_ABOVE_NODES;
  const traced = (processName: string): boolean => trace?.logs !== undefined && processName.startsWith(trace.logs);
  /** A pino destination per process: its lines parsed as process mode parses a child's stdout. */
  const logsOf = (processName: string, level: Record<string, string>) =>
    createLogs(
      traced(processName) ? { level: 'debug' } : { level: 'warn', modules: quiet ? { process: 'info', lease: 'info' } : { process: 'info', supervisor: 'info', ...level } },
      processName,
      {
        write: (line: string) => {
          if (traced(processName)) trace!.out(`${clock.now() - t0} ${processName} ${line.replace(/"time":"[^"]*","pid":\d+,/, '').trimEnd()}`);
          logs.onLine(processName, JSON.parse(line) as never);
        },
      },
    );
  const busOver = (name: string, processName: string, timeoutMs: number, life?: Incarnation): Promise<Bus> => {
    const make = (): Promise<Bus> => Promise.resolve(Bus.over(nats.connect(name), { servers: 'memory', name, logger: createLogs({ level: 'silent' }, processName).root, timeoutMs }));
    return life ? life.guard(make) : make();
  };
  const leaseRecords: ((node: string, record: ReturnType<typeof parseLeaseRecord>) => void)[] = [];
  const kernelInits: (() => Promise<void>)[] = [];

  const nodes: InprocNode[] = plan.nodes.map((spec, index) => {
    const name = spec.name;
    const common = { node: { name, ip: spec.nodeIp, podCidr: spec.podCidr }, heartbeat: { intervalMs: HEARTBEAT_MS, missedBeats: 3 } };
    const managerConfig = managerConfigSchema.parse({
      ...common,
      nats: { servers: ['nats://memory:4222'], insecure: true, timeoutMs: 1000 },
      logging: { level: 'warn' },
      p4: { target: 'unix:///inproc/p4rt.sock', resyncMs: 5000, insecure: true, callTimeoutMs: 3000, readIdleMs: 3000 },
      leadership: { ttlMs: LEASE_TTL_MS },
    });
    const agentConfig = agentConfigSchema.parse({
      ...common,
      nats: { servers: ['nats://memory:4222'], insecure: true, timeoutMs: 1000 },
      logging: { level: 'warn' },
      kube: { server: 'http://memory', watchTimeoutSeconds: 60, idleGraceMs: 3000, requestTimeoutMs: 3000, backoff: { initialMs: 100, maxMs: 1000 }, syncDelayMs: 30, maxSyncDelayMs: 200 },
      pods: { prefix: POOL_PREFIX, poolNetns: `${name}-pool`, gatewayNetns: `${name}-gw`, stateDir: STATE_DIR, socket: '/inproc/cni.sock', addTimeoutMs: 5000, retryMs: 100 },
    });
    const newTarget = (): P4RuntimeServer => new P4RuntimeServer({ devices: [{ id: DEVICE, ...modelDevice({ clock }) }], logger: createLogs({ level: 'silent' }, `${name}/target`).root, clock });
    const path = new LoopbackPath();
    const links = new Map<string, LoopbackLink[]>();
    const disk = new MemoryFiles();
    const kernelStorage = new MemoryKernelStorage(`${name}-kernel`);
    let kernel: SyntheticKernel | undefined;

    const managers = Array.from({ length: spec.managers }, (_, i) => {
      const procName = `${name}/${i === 0 ? 'manager' : `manager-${i + 1}`}`;
      return new InprocProcess<ManagerTree>(
        procName,
        clock,
        stream(100 + index * 8 + i),
        ({ instanceId, clock: view, life, onDeath }) => {
          const processLogs = logsOf(procName, { lease: 'info', session: 'info' });
          processLogs.for('process').info({ node: name, instanceId }, 'manager starting');
          const owned: LoopbackLink[] = [];
          links.set(instanceId, owned);
          return managerTree({
            config: managerConfig,
            logs: processLogs,
            clock: view,
            random: stream(1000 + index * 8 + i),
            instanceId,
            onEscalate: onDeath,
            connectBus: () => busOver(procName, procName, managerConfig.nats.timeoutMs, life),
            kv: {
              lease: (bucket) => life.guard(() => Promise.resolve(recordingLease(kv.leaseStore(bucket, instanceId), name, leaseRecords))),
              intent: (bucket) => life.guard(() => Promise.resolve(kv.intentStorage(bucket, instanceId))),
            },
            connectP4: () =>
              life.guard(() => {
                const link = loopbackLink(node.target, { clock, path, deadlineMs: 3000, readIdleMs: 3000 });
                owned.push(link);
                return Promise.resolve(link);
              }),
          });
        },
        (p) => {
          nats.kill(p.name);
          kv.setClientUnavailable(p.instanceId, true);
          for (const l of links.get(p.instanceId) ?? []) l.kill();
          links.delete(p.instanceId);
        },
        (n) => logs.restarts.processRestart(n),
      );
    });

    const agentName = `${name}/agent`;
    const agent = new InprocProcess<AgentTree>(
      agentName,
      clock,
      stream(200 + index),
      ({ instanceId, clock: view, life, onDeath }) => {
        const processLogs = logsOf(agentName, {});
        processLogs.for('process').info({ node: name, instanceId }, 'agent starting');
        return agentTree({
          config: agentConfig,
          logs: processLogs,
          clock: view,
          random: stream(2000 + index),
          instanceId,
          onEscalate: onDeath,
          connectBus: () => busOver(agentName, agentName, agentConfig.nats.timeoutMs, life),
          ip: life.ip(kernel!),
          files: life.files(disk),
          cni: { serve: 'inproc', onBackend: (cni) => void (life.killed ? undefined : (node.cni = cni)) },
          informers: (k) => kube.informers({ clock: view, ...k }, life),
        });
      },
      () => {
        nats.kill(agentName);
        node.cni = undefined;
      },
      (n) => logs.restarts.processRestart(n),
    );

    const runtime = cniDriver(async (method, bytes, deadlineMs) => {
      const cni = node.cni;
      if (!cni || !agent.running) throw new Error('connection refused: the agent is not serving CNI');
      return cni.call(method, bytes, deadlineMs);
    });
    const node: InprocNode = {
      name,
      spec,
      target: newTarget(),
      path,
      managers,
      agent,
      disk,
      kernelStorage,
      cni: undefined,
      admin: {
        process: (port, frame) => {
          const out = node.target.devices.get(DEVICE)?.program?.process(port, frame);
          return Promise.resolve(!out || out.dropped ? { dropped: true, port: 0, frame: new Uint8Array(0) } : { dropped: false, port: out.port, frame: out.frame.slice() });
        },
      },
      runtime: {
        makeNetns: async (id) => {
          const r = await kernelStorage.addMarker(id);
          if (!r.ok) throw r.error;
          return `${kernelStorage.netnsDir}/${id}`;
        },
        netnsPath: (id) => `${kernelStorage.netnsDir}/${id}`,
        removeNetns: async (id) => void (await kernelStorage.removeMarker(id)),
        ...runtime,
      },
      restartTarget: () => {
        logs.restarts.processRestart(`${name}/target`);
        const old = node.target;
        node.target = newTarget();
        void old.close(0);
      },
    };
    // Each node's kernel (its pool of TAPs) is made once, before anything starts: as the image a
    // node boots from, not something a process does.
    kernelInits.push(async () => {
      const opened = await SyntheticKernel.open({ storage: kernelStorage, seed: spec.kernelSeed });
      if (!opened.ok) throw opened.error;
      kernel = opened.value;
      const made = await bootstrapPool(kernel, { prefix: POOL_PREFIX, count: spec.pool, netns: agentConfig.pods!.poolNetns! });
      if (!made.ok) throw made.error;
    });
    return node;
  });

  const bus = Bus.over(nats.connect('simulator'), { servers: 'memory', name: 'simulator', logger: createLogs({ level: 'silent' }, 'simulator').root, timeoutMs: 3000 });
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const ifaces = new Map<string, InterfaceCheck>();
  const counted = new Map<string, { target: P4RuntimeServer; codes: Map<number, number> }>();

  const drive = async <T>(p: Promise<T>, limitMs: number, stepMs: number, onStep?: () => void): Promise<{ done: true; value: T } | { done: false }> => {
    let outcome: { done: true; value: T } | undefined;
    let failure: { error: unknown } | undefined;
    p.then(
      (value) => (outcome = { done: true, value }),
      (error: unknown) => (failure = { error }),
    );
    const end = clock.now() + limitMs;
    await clock.advance(0);
    let steps = 0;
    while (!outcome && !failure && clock.now() < end) {
      await clock.advance(Math.min(stepMs, end - clock.now()));
      if (onStep && ++steps % 20 === 0) onStep();
    }
    if (failure) throw failure.error;
    return outcome ?? { done: false };
  };

  let started = false;
  const start = async (): Promise<void> => {
    if (started) return;
    started = true;
    for (const init of kernelInits) await init();
    for (const n of nodes) {
      kube.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: n.name }, status: { addresses: [{ type: 'InternalIP', address: n.spec.nodeIp }] }, spec: { podCIDR: n.spec.podCidr, podCIDRs: [n.spec.podCidr] } });
      for (const m of n.managers) m.start();
      n.agent.start();
    }
  };

  const nodeReady = (n: InprocNode): string | undefined => {
    const leader = n.managers.find((m) => m.running && m.tree?.refs.epoch !== undefined);
    if (!leader) return `${n.name}: no leader`;
    const last = leader.tree?.refs.lastSync;
    if (!last) return `${n.name}: the leader has not reconciled`;
    if (!n.cni) return `${n.name}: the agent does not serve CNI`;
    const link = n.agent.tree?.refs.link?.getSnapshot();
    if (!link || link.status !== 'active' || JSON.stringify(link.value).includes('hello')) return `${n.name}: the agent has not said hello`;
    return undefined;
  };

  return {
    clock,
    nats,
    kv,
    kube,
    logs,
    nodes,
    bus,
    workload: {
      nodes,
      node: (name) => byName.get(name),
      kubeAdmin: {
        apply: (object) => Promise.resolve(kube.apply(object)).then((r) => (r.ok ? { ok: true as const, value: { action: 'applied' } } : { ok: false as const, error: { message: r.error.message ?? 'refused', code: r.error.code } })),
        delete: (resource, namespace, name) =>
          Promise.resolve(kube.delete(RESOURCES.find((r) => r.plural === resource)?.kind ?? resource, namespace, name)).then((r) => (r.ok ? { ok: true as const, value: r.value } : { ok: false as const, error: { message: r.error.message ?? 'refused', code: r.error.code } })),
      },
    },
    leadership: {
      nodes,
      logs,
      watchLeases: (onRecord) => {
        leaseRecords.push(onRecord);
        return { stop: () => void leaseRecords.splice(leaseRecords.indexOf(onRecord), 1) };
      },
      observePrimary: (node, onPrimary) => new PrimaryObserver(() => loopbackLink(byName.get(node)!.target, { clock }), onPrimary, clock),
    },
    interfaces: {
      podUp: (node, pod, live, book, log) => checkOf(node, book, log).podUp(node, pod, live),
      scan: (node, live, book, log) => {
        const n = byName.get(node)!;
        return checkOf(node, book, log).scan({ name: node, stateDir: STATE_DIR, files: n.disk, kernel: n.kernelStorage }, live);
      },
    },
    ready: async () => {
      await start();
      while (nodes.some((n) => nodeReady(n) !== undefined)) await clock.sleep(100);
    },
    notReady: () => nodes.map(nodeReady).filter((x): x is string => x !== undefined),
    drive,
    p4Read: (node) => (req) => loopbackLink(byName.get(node)!.target, { clock, deadlineMs: 10_000 }).read(req),
    sampleCounters: (book, log) => {
      for (const n of nodes) {
        const c = n.target.counters.failedByCode;
        const last = counted.get(n.name);
        const before = last && last.target === n.target ? last.codes : new Map<number, number>();
        for (const [code, label] of [
          [5, 'NOT_FOUND'],
          [6, 'ALREADY_EXISTS'],
        ] as const) {
          const now = c.get(code) ?? 0;
          if (now > (before.get(code) ?? 0)) book.violate('no-duplicate-writes', log.seconds(), n.name, `${now - (before.get(code) ?? 0)} update(s) refused with ${label} at the target`);
        }
        counted.set(n.name, { target: n.target, codes: new Map(c) });
      }
    },
    stop: async () => {
      for (const n of nodes) {
        n.agent.stop();
        for (const m of n.managers) m.stop();
      }
      await clock.advance(1000);
      for (const n of nodes) await n.target.close(0);
    },
  };

  function checkOf(node: string, book: InvariantBook, log: EventLog): InterfaceCheck {
    let c = ifaces.get(node);
    if (!c) ifaces.set(node, (c = new InterfaceCheck(book, log)));
    return c;
  }
}

/** The lease store as the manager sees it, telling the leadership check of every record it writes. */
function recordingLease(store: LeaseStore, node: string, listeners: readonly ((node: string, record: ReturnType<typeof parseLeaseRecord>) => void)[]): LeaseStore {
  const tell = (value: Uint8Array): void => {
    const record = parseLeaseRecord(value);
    for (const l of listeners) l(node, record);
  };
  return {
    get: (k) => store.get(k),
    create: (k, v) => store.create(k, v).then((rev) => (tell(v), rev)),
    update: (k, v, r) => store.update(k, v, r).then((rev) => (tell(v), rev)),
    delete: (k, o) => store.delete(k, o),
  };
}

/** The lease key of a node in the lease bucket (for kv-loss). */
export function leaseKeyOf(node: string): string {
  return `${nodeToken(node)}.manager`;
}

export { LEASE_BUCKET };
