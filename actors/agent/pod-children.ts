/**
 * The agent tree's pod children, present when the configuration has a `pods` section:
 *
 *   … → pool (node-pool.ts) → pods (the pod hub's supervisor) → … → cni (the gRPC socket, last)
 *
 * `pool` prepares the interface pool and registers the host interface; `pods` runs one actor
 * per pod interface and recovers the recorded ones when it starts; `cni` serves the plugin and
 * comes last, so a request only arrives when everything it needs runs. Registration records a
 * change in the agent's intent store before it is sent to the manager, so a manager that
 * restarts in between gets it from the next full sync.
 *
 * What they run on is the machine's unless `env` says otherwise: the kernel (`ip`: iproute2, or
 * a synthetic kernel), the files of `pods.stateDir` (`files`: the disk, or memory), and how the
 * CNI backend is served (`cni`: the gRPC socket, or handed to the in-process simulator).
 *
 * @example
 * const parts = podChildren(deps, refs); // undefined without config.pods
 * const inproc = podChildren(deps, refs, { ip: kernel, files: disk, cni: { serve: 'inproc', onBackend: (cni) => (node.cni = cni) } });
 */
import { createActor } from 'xstate';
import { err, ok, type Result } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import { subjects } from '../../messages/subjects.js';
import { formatCidr, formatIpv4 } from '../../messages/validate.js';
import type { ChangeReply, HostInterface, PodInterface } from '../../protocol/intent.js';
import { managerMethods } from '../../protocol/methods.js';
import type { ChildSpec } from '../../supervisors/index.js';
import { ask } from '../ask.js';
import type { ProcessRefs } from '../ctl-routes.js';
import type { AgentConfig } from '../process-config.js';
import { requireBus, type BusRef, type TreeDeps } from '../tree-parts.js';
import { cniServingLogic, type CniObserver, type CniServe } from './cni-server.js';
import { hostInterfaceOf, nodePoolLogic, preparePool, writePortMap, type PreparedPool } from './pod/node-pool.js';
import { PodHub } from './pod/pod-hub.js';
import type { AgentFiles } from './pool/files.js';
import { execIp, type IpRunner } from './pool/ip.js';

export interface PodRefs extends ProcessRefs, BusRef {
  pool?: PreparedPool;
  pods?: PodHub;
  /** Told of every CNI request served (the agent's metrics), when set by the tree. */
  cniObserver?: CniObserver;
}

/** What the pod children run on, when not the machine's own (see the top of this file). */
export interface PodEnvironment {
  /** The kernel: real iproute2 (execIp) unless given (bin/sim-agent and the simulator give a synthetic one). */
  readonly ip?: IpRunner;
  /** The filesystem of pool.json and portmap.json: the machine's unless given (MemoryFiles in process). */
  readonly files?: AgentFiles;
  /** How the CNI backend is served: the socket of `pods.socket` unless given. */
  readonly cni?: CniServe;
}

export interface PodChildren {
  /** pool and pods: after the intent store (and the watches), before the manager link. */
  readonly early: ChildSpec[];
  /** cni: the last child. */
  readonly cni: ChildSpec;
}

export function podChildren(deps: TreeDeps<AgentConfig>, refs: PodRefs, env: PodEnvironment = {}): PodChildren | undefined {
  const { config, clock, logs } = deps;
  const ip = env.ip ?? execIp;
  const pods = config.pods;
  if (!pods) return undefined;
  const node = config.node.name;
  const nodeIp = formatIpv4(config.node.ip);
  const podCidr = config.node.podCidr ? formatCidr(config.node.podCidr) : '';
  const opts = { clock, timeoutMs: config.nats.timeoutMs };

  type Local = (reply: (r: Result<ChangeReply, BusError>) => void) => { type: string };

  /** The agent's intent store only (alone: recovery, before the agent serves its full state). */
  async function remember(local: Local): Promise<Result<void, BusError>> {
    const stored = await ask<ChangeReply>(refs.intent, local, opts);
    return stored.ok ? ok(undefined) : stored;
  }

  /** Intent store first, then the manager: the change is never only in flight. */
  async function record(local: Local, remote: () => Promise<Result<ChangeReply, BusError>>): Promise<Result<void, BusError>> {
    const stored = await remember(local);
    if (!stored.ok) return stored;
    if (!refs.bus) return err(new BusError('UNAVAILABLE', 'the bus is restarting'));
    const sent = await remote();
    return sent.ok ? ok(undefined) : sent;
  }

  const registerPod = (pod: PodInterface) =>
    record(
      (reply) => ({ type: 'pod.add', pod, reply }),
      () => requireBus(refs).request(subjects.manager(node, managerMethods.podAdd.op), managerMethods.podAdd, pod),
    );
  const unregisterPod = (containerId: string) =>
    record(
      (reply) => ({ type: 'pod.delete', node, containerId, reply }),
      () => requireBus(refs).request(subjects.manager(node, managerMethods.podDelete.op), managerMethods.podDelete, { node, containerId }),
    );
  const registerHost = (host: HostInterface) =>
    record(
      (reply) => ({ type: 'host.setup', host, reply }),
      () => requireBus(refs).request(subjects.manager(node, managerMethods.hostSetup.op), managerMethods.hostSetup, host),
    );

  const pool: ChildSpec = {
    id: 'pool',
    start: async () => {
      refs.pool = undefined;
      const prepared = await preparePool(ip, { pods, nodeIp, podCidrs: podCidr ? [podCidr] : [], ...(env.files ? { files: env.files } : {}) });
      if (!prepared.ok) throw prepared.error;
      refs.pool = prepared.value;
      // In the agent's full state from the start (the actor below registers it with the manager).
      const host = hostInterfaceOf(node, nodeIp, podCidr, prepared.value);
      if (host.ok) {
        const kept = await remember((reply) => ({ type: 'host.setup', host: host.value, reply }));
        if (!kept.ok) logs.for('pool').warn({ err: kept.error }, 'the host interface could not be recorded before its registration');
      }
      return createActor(nodePoolLogic, {
        clock,
        input: {
          prepared: prepared.value,
          registerHost: async (p) => {
            const host = hostInterfaceOf(node, nodeIp, podCidr, p);
            return host.ok ? registerHost(host.value) : host;
          },
          retryMs: pods.retryMs,
          logger: logs.for('pool'),
        },
      });
    },
  };

  const podsChild: ChildSpec = {
    id: 'pods',
    type: 'supervisor',
    start: (ctx) => {
      const prepared = refs.pool;
      if (!prepared) throw new Error('the interface pool is not ready');
      let writing: Promise<unknown> = Promise.resolve();
      const hub = new PodHub({
        node,
        allocator: prepared.allocator,
        pool: prepared.pool,
        ip,
        clock,
        random: deps.random,
        logger: logs.for('pods'),
        defaultMtu: pods.mtu,
        retryMs: pods.retryMs,
        register: registerPod,
        unregister: unregisterPod,
        remember: (pod) => remember((reply) => ({ type: 'pod.add', pod, reply })),
        onChange: () => {
          writing = writing.then(() => writePortMap(prepared)).catch(() => undefined);
        },
      });
      refs.pods = hub;
      return hub.supervisor(ctx);
    },
  };

  const cni: ChildSpec = {
    id: 'cni',
    shutdown: 3000,
    start: () =>
      createActor(cniServingLogic, {
        clock,
        input: {
          socketPath: pods.socket,
          backend: () => refs.pods,
          logger: logs.for('cni'),
          maxDeadlineMs: pods.addTimeoutMs,
          clock,
          ...(env.cni ? { serve: env.cni } : {}),
          ...(refs.cniObserver ? { observer: refs.cniObserver } : {}),
        },
      }),
  };
  return { early: [pool, podsChild], cni };
}
