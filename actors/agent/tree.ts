/**
 * The agent's supervision tree (rest_for_one, the shape of tree-parts.ts):
 *
 *   bus → intent → [kube] → link (hello, manager liveness) → heartbeat → server (agent.*) → ctl (ctl.agent.*)
 *
 * `kube` (the Kubernetes watches, kube-watchers.ts) is there when the configuration has a `kube`
 * section. It comes right after the intent store because it writes into it and must restart
 * with it (and with the bus it sends on). API errors and outages never reach the supervisor: the
 * watches retry inside the child with their own back-off, so a 30 s outage costs no restart
 * intensity; only a bug (a throwing handler) makes the child fail and restart.
 *
 * With a `pods` section (pod-children.ts) the interface pool and the pod actors come after the
 * intent store (and the watches), and the CNI socket last:
 *
 *   bus → intent → [kube] → [pool → pods] → link → heartbeat → server → ctl → [cni]
 *
 * Everything the tree touches outside itself is a dependency with the machine's as the default
 * (`AgentEnvironment`): the bus (`connectBus`, tree-parts.ts), the kernel (`ip`), the files of
 * `pods.stateDir` (`files`), how CNI is served (`cni`) and where the informers come from
 * (`informers`). The in-process simulator gives each its in-memory stand-in, with a ManualClock
 * and a seeded Random, and runs many agents in one process:
 *
 * @example
 * const tree = agentTree({
 *   config, logs, clock, random, instanceId,
 *   connectBus: (name) => Promise.resolve(Bus.over(nats.connect(name), { servers: 'memory', name, logger })),
 *   ip: kernel,                                            // SyntheticKernel over a MemoryKernelStorage
 *   files: disk,                                           // MemoryFiles
 *   cni: { serve: 'inproc', onBackend: (cni) => (node.cni = cni) },
 *   informers: (kube) => memoryKube.informers({ clock, ...kube }),
 * });
 * await tree.supervisor.start();
 */
import { createActor, fromPromise } from 'xstate';
import { subjects } from '../../messages/subjects.js';
import { formatCidr } from '../../messages/validate.js';
import { managerMethods } from '../../protocol/methods.js';
import type { HelloReply } from '../../protocol/node.js';
import { Supervisor, type ChildSpec } from '../../supervisors/index.js';
import type { ProcessRefs } from '../ctl-routes.js';
import { VERSION } from '../process-identity.js';
import { busChild, processChildren, requireBus, type BusRef, type TreeDeps } from '../tree-parts.js';
import { intentPort, managerPort } from './kube-ports.js';
import { KubeStatus, kubeWatchersLogic, type InformerFactory } from './kube-watchers.js';
import { managerLinkLogic, type ManagerLinkRef } from './manager-link.js';
import { podChildren, type PodEnvironment, type PodRefs } from './pod-children.js';
import type { AgentConfig, KubeSection } from '../process-config.js';
import { agentCtlRoutes } from './ctl-views.js';
import { agentRoutes } from './routes.js';
import { CniMetrics } from '../metrics/cni-metrics.js';
import { observedBusChild, type Observability } from '../metrics/observability.js';
import { agentReadiness } from '../metrics/readiness.js';
import { kindsOf } from '../metrics/supervision-metrics.js';

/** The agent's children and supervisors, each its own kind in the actor metrics; every pod actor is `pod`. */
export const AGENT_KINDS = ['agent', 'bus', 'intent', 'kube', 'pool', 'pods', 'pod', 'link', 'heartbeat', 'server', 'ctl', 'cni'] as const;

/** What the agent tree is built from: the shared dependencies, and the process's metrics if it serves them. */
export type AgentTreeDeps = TreeDeps<AgentConfig> & { readonly observability?: Observability };

export type AgentTreeRefs = ProcessRefs & BusRef & PodRefs & { link?: ManagerLinkRef; kube?: KubeStatus };

export interface AgentTree {
  readonly supervisor: Supervisor;
  /** The live children, for tests and tools (refreshed whenever a child restarts). */
  readonly refs: Readonly<AgentTreeRefs>;
}

/**
 * What the agent runs on, when not the machine's own (the pod children's kernel, files and CNI
 * serving: PodEnvironment in pod-children.ts; and the Kubernetes informers).
 */
export interface AgentEnvironment extends PodEnvironment {
  /**
   * The Kubernetes informers, made from the `kube` section: the API server of `kube.server`
   * (KubeApi, kube-informer.ts) unless given — simulations/inproc/memory-kube.ts in process.
   */
  readonly informers?: (kube: KubeSection) => InformerFactory;
}

/** The kernel the pod children drive (bin/sim-agent gives a synthetic one): the part of AgentEnvironment it had first. */
export type AgentKernelDep = Pick<AgentEnvironment, 'ip'>;

export function agentTree(deps: AgentTreeDeps & AgentEnvironment): AgentTree {
  const { config, logs, clock, instanceId } = deps;
  const node = config.node.name;
  const startedAtMs = clock.now();
  const refs: AgentTreeRefs = { served: [], startedAtMs };
  const obs = deps.observability;
  if (obs) {
    if (config.pods) refs.cniObserver = new CniMetrics(obs.registry);
    obs.setReadiness(() => {
      const link = refs.link?.getSnapshot();
      return agentReadiness({
        ...(config.pods ? { pool: refs.pool ? 'prepared' : 'not prepared' } : {}),
        link: link?.status !== 'active' ? 'stopped' : typeof link.value === 'string' ? link.value : Object.keys(link.value)[0] ?? 'unknown',
        helloAttempts: link?.context.attempts ?? 0,
      });
    });
  }

  // The agent's intent store lives in memory: each time it restarts (with the bus, under
  // rest_for_one) the agent's state is rebuilt from the pool and the API, and a service deleted
  // meanwhile is in no baseline any more. The manager learns of it as of a new process: hello and
  // heartbeats name a new instance (the process's id with the store's generation), so it pulls
  // the rebuilt state and drops what is gone.
  let generation = -1;
  const announced = (): string => (generation <= 0 ? instanceId : `${instanceId}-${generation}`);

  const sayHello = fromPromise<HelloReply, void>(async () => {
    const r = await requireBus(refs).request(subjects.manager(node, managerMethods.hello.op), managerMethods.hello, {
      node,
      role: 'agent',
      instanceId: announced(),
      startedAtMs,
      version: VERSION,
      nodeIp: config.node.ip,
      podCidr: config.node.podCidr ? formatCidr(config.node.podCidr) : '',
    });
    if (!r.ok) throw r.error;
    return r.value;
  });

  const link: ChildSpec = {
    id: 'link',
    start: () =>
      (refs.link = createActor(managerLinkLogic.provide({ actors: { sayHello } }), {
        clock,
        input: {
          node,
          heartbeatIntervalMs: config.heartbeat.intervalMs,
          missedBeats: config.heartbeat.missedBeats,
          logger: logs.for('link'),
        },
      })),
  };
  const children = processChildren(deps, {
    role: 'agent',
    refs,
    announceAs: announced,
    peer: link,
    onPeerHeartbeat: (heartbeat) => refs.link?.send({ type: 'manager.heartbeat', heartbeat }),
    routes: () => agentRoutes({ node, clock, random: deps.random, refs, askTimeoutMs: config.nats.timeoutMs, ...(refs.kube ? { kube: refs.kube } : {}) }),
    ctlRoutes: () => agentCtlRoutes({ node, clock, refs, askTimeoutMs: config.nats.timeoutMs }),
  });
  const intentAt = children.findIndex((c) => c.id === 'intent');
  const store = children[intentAt]!;
  children[intentAt] = {
    ...store,
    start: (ctx) => {
      generation++;
      return store.start(ctx);
    },
  };
  const kube = kubeChild(deps, refs, deps.informers);
  if (kube) children.splice(1, 0, kube); // right after the intent store it writes into
  const pods = podChildren(deps, refs, {
    ...(deps.ip ? { ip: deps.ip } : {}),
    ...(deps.files ? { files: deps.files } : {}),
    ...(deps.cni ? { cni: deps.cni } : {}),
  });
  if (pods) {
    children.splice(kube ? 2 : 1, 0, ...pods.early); // they register into the intent store too
    children.push(pods.cni); // last: a CNI request arrives only when everything it needs runs
  }
  const supervisor = new Supervisor({
    id: 'agent',
    strategy: 'rest_for_one',
    intensity: 5,
    period: 10_000,
    clock,
    random: deps.random,
    logger: logs.for('supervisor'),
    ...(deps.onEscalate ? { onEscalate: deps.onEscalate } : {}),
    ...(obs ? { observer: obs.supervisorObserver(kindsOf(AGENT_KINDS, { pods: 'pod' }), AGENT_KINDS.slice(1), ['agent', 'pods']) } : {}),
    children: [observedBusChild(busChild(refs, config, `agent-${node}`, logs, deps.connectBus), () => refs.bus, obs), ...children],
  });
  refs.root = supervisor;
  return { supervisor, refs };
}

/** The Kubernetes watches, when the configuration has a `kube` section. */
function kubeChild(deps: TreeDeps<AgentConfig>, refs: AgentTreeRefs, informers?: (kube: KubeSection) => InformerFactory): ChildSpec | undefined {
  const { config, clock, logs } = deps;
  if (!config.kube) return undefined;
  const kube = config.kube;
  // Made once per tree; every run of the watchers opens its informers from it (without one, each run makes a KubeApi).
  const factory = informers?.(kube);
  // One status for the process's lifetime: agent.sync reads it; each watcher run resets `complete`.
  const status = (refs.kube = new KubeStatus());
  const ports = { node: config.node.name, clock, refs, askTimeoutMs: config.nats.timeoutMs };
  return {
    id: 'kube',
    shutdown: 2000,
    start: () =>
      createActor(kubeWatchersLogic, {
        clock,
        input: {
          node: config.node.name,
          nodeIp: config.node.ip,
          config: kube,
          clock,
          logger: logs.for('kube'),
          intent: intentPort(ports),
          manager: managerPort(ports),
          status,
          ...(factory ? { informers: factory } : {}),
        },
      }),
  };
}
