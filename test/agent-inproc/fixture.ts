/**
 * One simulated node in this process, as the in-process simulator builds it: the real agent
 * tree on a ManualClock and a seeded Random, over the in-memory NATS (messages/memory-nats.ts),
 * the synthetic kernel on a MemoryKernelStorage, MemoryFiles for its state directory,
 * memory-kube for the Kubernetes API, and its CNI backend handed over in process. A manager
 * stand-in on the same NATS answers the agent (hello, pods, host, services) and records, at
 * which clock time, what reached it. Each agent life is an Incarnation, so a test can kill it
 * as kill -9 would and start another over the same disk and kernel.
 *
 * Nothing here touches a socket, the disk or the machine's kernel; time moves only when the
 * test advances the clock (`drive`).
 */
import { agentTree, type AgentTree } from '../../actors/agent/tree.js';
import type { InprocCni } from '../../actors/agent/cni-server.js';
import { agentConfigSchema } from '../../actors/process-config.js';
import { pullFullState } from '../../actors/sync-pages.js';
import { ManualClock, type Clock } from '../../core/clock.js';
import type { IpRunner } from '../../actors/agent/pool/ip.js';
import { parseConfig } from '../../core/config.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { err, ok, type Result } from '../../core/result.js';
import { Bus, route, type BusOptions } from '../../messages/bus.js';
import { BusError } from '../../messages/errors.js';
import { MemoryNats } from '../../messages/memory-nats.js';
import { prefix, subjects } from '../../messages/subjects.js';
import { formatIpv4, formatMac } from '../../messages/validate.js';
import { serviceKeyText, type HostInterface, type PodInterface, type ServicePort } from '../../protocol/intent.js';
import { agentMethods, managerMethods } from '../../protocol/methods.js';
import type { FullState } from '../../protocol/sync.js';
import { bootstrapPool } from '../../simulations/kernel/bootstrap.js';
import { MemoryKernelStorage } from '../../simulations/kernel/memory-store.js';
import { SyntheticKernel } from '../../simulations/kernel/synthetic-ip.js';
import { Incarnation } from '../../simulations/inproc/incarnation.js';
import { MemoryFiles } from '../../simulations/inproc/memory-files.js';
import { MemoryKube } from '../../simulations/inproc/memory-kube.js';
import { nodeObject } from '../../simulations/kube/objects.js';

export const NODE = 'node-1';
export const NODE_IP = '192.0.2.10';
export const POD_CIDR = '10.244.1.0/24';
export const PREFIX = 'P_';
export const POOL = 16;
export const STATE_DIR = '/var/lib/infra-offload';

/** A manager on the memory NATS: holds what the agent registers, logs each request with its clock time. */
export class ManagerStandin {
  readonly pods = new Map<string, PodInterface>();
  readonly services = new Map<string, ServicePort>();
  host: HostInterface | undefined;
  readonly log: string[] = [];
  /** Operations answered UNAVAILABLE for now (a manager that is restarting). */
  readonly unavailable = new Set<string>();
  private revision = 0;

  constructor(
    readonly bus: Bus,
    private readonly clock: ManualClock,
  ) {
    const next = () => ok({ revision: ++this.revision, changed: true });
    bus.serve(prefix(NODE, 'manager'), [
      route(managerMethods.hello, (h) => {
        this.note(`hello ${h.instanceId}`);
        return ok({ node: NODE, instanceId: 'manager1', stateRevision: 0, resyncRequested: false, heartbeatIntervalMs: 200 });
      }),
      route(managerMethods.podAdd, (p) => {
        if (this.unavailable.has('pod.add')) return err(new BusError('UNAVAILABLE', 'the manager is restarting'));
        this.pods.set(p.containerId, p);
        this.note(`pod.add ${p.containerId} port ${p.portId} ${formatIpv4(p.ipv4)} ${formatMac(p.mac)}`);
        return next();
      }),
      route(managerMethods.podDelete, (d) => {
        this.pods.delete(d.containerId);
        this.note(`pod.delete ${d.containerId}`);
        return next();
      }),
      route(managerMethods.hostSetup, (h) => {
        this.host = h;
        this.note(`host.setup ${h.interfaceName} ${formatIpv4(h.ipv4)} ${formatMac(h.mac)}`);
        return next();
      }),
      route(managerMethods.serviceUpsert, (u) => {
        const key = serviceKeyText(u.service);
        this.services.set(key, u.service);
        this.note(`service.upsert ${key} ${u.service.endpoints.map((e) => `${formatIpv4(e.ipv4)}:${e.port}`).join(',')}`);
        return next();
      }),
      route(managerMethods.serviceDelete, (d) => {
        const key = serviceKeyText(d);
        this.services.delete(key);
        this.note(`service.delete ${key}`);
        return next();
      }),
    ]);
  }

  /** agent.sync, as the manager's registry pulls it. */
  pull(): Promise<Result<FullState, BusError>> {
    return pullFullState((req) => this.bus.request(subjects.agent(NODE, agentMethods.sync.op), agentMethods.sync, req), { node: NODE, from: 'manager', instanceId: 'manager1' });
  }

  private note(line: string): void {
    this.log.push(`${this.clock.now()} ${line}`);
  }
}

export interface NodeOptions {
  readonly seed?: number;
  /** TAPs in the pool (default POOL). */
  readonly pool?: number;
  /** Extra settings of the agent's `kube` section. */
  readonly kube?: Record<string, unknown>;
}

/** The kernel with every command taking `ms` of simulated time (a loaded machine's exec). */
function slowed(kernel: IpRunner, clock: Clock, ms: number): IpRunner {
  const wait = (): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));
  return {
    ...(kernel.netns ? { netns: kernel.netns } : {}),
    run: async (args, netns) => {
      await wait();
      return kernel.run(args, netns);
    },
    ...(kernel.runBatch ? { runBatch: async (commands: readonly (readonly string[])[], netns?: string) => (await wait(), kernel.runBatch!(commands, netns)) } : {}),
  };
}

/** Fast timings: a burst is 100 ms of quiet, back-off 100 ms → 1 s, a silent watch 2.5 s. */
export const TEST_KUBE = {
  watchTimeoutSeconds: 2,
  idleGraceMs: 500,
  requestTimeoutMs: 2000,
  backoff: { initialMs: 100, maxMs: 1000 },
  syncDelayMs: 100,
  maxSyncDelayMs: 1000,
};

export class InprocNode {
  readonly clock = new ManualClock(0);
  readonly nats: MemoryNats;
  readonly kube: MemoryKube;
  readonly disk = new MemoryFiles();
  readonly storage = new MemoryKernelStorage(NODE);
  readonly manager: ManagerStandin;
  kernel!: SyntheticKernel;
  tree: AgentTree | undefined;
  life: Incarnation | undefined;
  /** The agent's CNI backend while its cni child runs (undefined: as a missing socket). */
  cni: InprocCni | undefined;
  /** Every hand-over of the CNI backend ('up') and its withdrawal ('down'), in order. */
  readonly handovers: string[] = [];
  private lives = 0;
  private readonly busOptions = (name: string): BusOptions => ({ servers: 'memory', name, logger: silentLogs().root, timeoutMs: 1000 });

  private constructor(private readonly options: NodeOptions) {
    this.nats = new MemoryNats({ clock: this.clock, random: seededRandom(options.seed ?? 1) });
    this.kube = new MemoryKube({ clock: this.clock });
    this.manager = new ManagerStandin(Bus.over(this.nats.connect('manager'), this.busOptions('manager')), this.clock);
  }

  static async create(options: NodeOptions = {}): Promise<InprocNode> {
    const node = new InprocNode(options);
    const opened = await SyntheticKernel.open({ storage: node.storage, seed: options.seed ?? 1 });
    if (!opened.ok) throw opened.error;
    node.kernel = opened.value;
    const made = await bootstrapPool(node.kernel, { prefix: PREFIX, count: options.pool ?? POOL, netns: 'host' });
    if (!made.ok) throw made.error;
    node.kube.apply(nodeObject(NODE, NODE_IP, POD_CIDR));
    return node;
  }

  /** Starts an agent life over the node's disk, kernel, NATS and API; resolves once its tree runs. */
  async startAgent(options: { ipDelayMs?: number } = {}): Promise<AgentTree> {
    const raw = {
      node: { name: NODE, ip: NODE_IP, podCidr: POD_CIDR },
      nats: { servers: ['nats://memory:4222'], timeoutMs: 1000, insecure: true },
      heartbeat: { intervalMs: 200, missedBeats: 3 },
      kube: { server: 'http://memory-kube', ...TEST_KUBE, ...this.options.kube },
      pods: { prefix: PREFIX, poolNetns: 'host', gatewayNetns: 'gw', stateDir: STATE_DIR, addTimeoutMs: 5000, retryMs: 50 },
    };
    const config = parseConfig(raw, agentConfigSchema);
    if (!config.ok) throw config.error;
    const life = (this.life = new Incarnation(this.clock));
    const n = ++this.lives;
    const tree = agentTree({
      config: config.value,
      logs: silentLogs(),
      clock: life.clock,
      random: seededRandom((this.options.seed ?? 1) * 1000 + n),
      instanceId: `agent${n}`,
      connectBus: (name) => life.guard(() => Promise.resolve(Bus.over(this.nats.connect(name), this.busOptions(name)))),
      ip: life.ip(options.ipDelayMs ? slowed(this.kernel, life.clock, options.ipDelayMs) : this.kernel),
      files: life.files(this.disk),
      cni: {
        serve: 'inproc',
        onBackend: (cni) => {
          this.handovers.push(cni ? 'up' : 'down');
          this.cni = life.killed ? undefined : cni;
        },
      },
      informers: (kube) => this.kube.informers({ clock: life.clock, ...kube }, life),
    });
    this.tree = tree;
    const started = await this.drive(tree.supervisor.start(), 10_000);
    if (!started.ok) throw new Error(`the agent did not start: ${JSON.stringify(started)}`);
    return tree;
  }

  /** A graceful stop (the supervisor's shutdown, as SIGTERM). */
  async stopAgent(): Promise<void> {
    if (this.tree) await this.drive(this.tree.supervisor.stop(), 10_000);
    this.tree = undefined;
  }

  /** kill -9: the life's timers and answers are cut, its NATS connection closed; disk and kernel stay. */
  killAgent(): void {
    this.life?.kill();
    this.nats.kill(`agent-${NODE}`);
    this.cni = undefined;
    this.tree = undefined;
  }

  /** Advances the clock in small steps until `p` settles (at most `maxMs` of simulated time). */
  async drive<T>(p: Promise<T>, maxMs = 30_000, stepMs = 10): Promise<T> {
    let settled = false;
    const watched = p.finally(() => (settled = true));
    for (let t = 0; !settled && t <= maxMs; t += stepMs) await this.clock.advance(stepMs);
    if (!settled) throw new Error(`not settled within ${maxMs} ms of simulated time`);
    return watched;
  }

  /** Advances the clock until `check` holds (at most `maxMs` of simulated time). */
  async until(check: () => boolean | Promise<boolean>, maxMs = 30_000, what = 'condition', stepMs = 10): Promise<void> {
    for (let t = 0; t <= maxMs; t += stepMs) {
      if (await check()) return;
      await this.clock.advance(stepMs);
    }
    throw new Error(`${what} not reached within ${maxMs} ms of simulated time`);
  }

  /** Advances the clock by `ms`, in small steps. */
  async pass(ms: number, stepMs = 10): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) await this.clock.advance(Math.min(stepMs, ms - t));
  }
}
