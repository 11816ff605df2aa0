/**
 * The agent's supervision tree (rest_for_one: each child depends on those before it):
 *
 *   bus → intent → link (hello, manager liveness) → heartbeat → server (agent.*) → ctl (ctl.agent.*)
 *
 * Later issues add the interface pool, the CNI server, the ARP proxy and the Kubernetes
 * watches between intent and link.
 */
import { createActor, fromPromise } from 'xstate';
import type { Clock } from '../../core/clock.js';
import type { Logs } from '../../core/logger.js';
import type { Random } from '../../core/random.js';
import { ctlPrefix, prefix, subjects } from '../../messages/subjects.js';
import { formatCidr } from '../../messages/validate.js';
import { managerMethods } from '../../protocol/methods.js';
import type { HelloReply } from '../../protocol/node.js';
import { Supervisor } from '../../supervisors/index.js';
import { ctlRoutes, intentRevision, type ProcessRefs } from '../ctl-routes.js';
import { heartbeatLogic } from '../heartbeat.js';
import { intentStoreLogic } from '../intent/intent-store.js';
import type { AgentConfig } from '../process-config.js';
import { VERSION } from '../process-identity.js';
import { busChild, requireBus, servingChild, type BusRef } from '../tree-parts.js';
import { agentRoutes } from './routes.js';
import { managerLinkLogic, type ManagerLinkRef } from './manager-link.js';

export interface AgentTreeDeps {
  readonly config: AgentConfig;
  readonly logs: Logs;
  readonly clock: Clock;
  readonly random: Random;
  readonly instanceId: string;
  readonly onEscalate?: ConstructorParameters<typeof Supervisor>[0]['onEscalate'];
}

export type AgentTreeRefs = ProcessRefs & BusRef & { link?: ManagerLinkRef };

export interface AgentTree {
  readonly supervisor: Supervisor;
  /** The live children, for tests and tools (refreshed whenever a child restarts). */
  readonly refs: Readonly<AgentTreeRefs>;
}

export function agentTree(deps: AgentTreeDeps): AgentTree {
  const { config, logs, clock, instanceId } = deps;
  const node = config.node.name;
  const refs: AgentTreeRefs = { served: [] };
  const askTimeoutMs = config.nats.timeoutMs;
  const startedAtMs = clock.now();

  const sayHello = fromPromise<HelloReply, void>(async () => {
    const r = await requireBus(refs).request(subjects.manager(node, managerMethods.hello.op), managerMethods.hello, {
      node,
      role: 'agent',
      instanceId,
      startedAtMs,
      version: VERSION,
      nodeIp: config.node.ip,
      podCidr: config.node.podCidr ? formatCidr(config.node.podCidr) : '',
    });
    if (!r.ok) throw r.error;
    return r.value;
  });

  const supervisor = new Supervisor({
    id: 'agent',
    strategy: 'rest_for_one',
    intensity: 5,
    period: 10_000,
    clock,
    random: deps.random,
    logger: logs.for('supervisor'),
    ...(deps.onEscalate ? { onEscalate: deps.onEscalate } : {}),
    children: [
      busChild(refs, {
        servers: config.nats.servers,
        name: `agent-${node}`,
        timeoutMs: config.nats.timeoutMs,
        logs,
        ...(config.nats.tls ? { tls: config.nats.tls } : {}),
      }),
      {
        id: 'intent',
        start: () => (refs.intent = createActor(intentStoreLogic, { input: { node }, clock })),
      },
      {
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
      },
      {
        id: 'heartbeat',
        start: () =>
          createActor(heartbeatLogic, {
            input: {
              bus: requireBus(refs),
              clock,
              node,
              role: 'agent',
              instanceId,
              intervalMs: config.heartbeat.intervalMs,
              revision: () => intentRevision(refs),
              onPeer: (heartbeat) => refs.link?.send({ type: 'manager.heartbeat', heartbeat }),
              logger: logs.for('heartbeat'),
            },
          }),
      },
      servingChild('server', refs, prefix(node, 'agent'), () => agentRoutes({ node, clock, refs, askTimeoutMs })),
      servingChild('ctl', refs, ctlPrefix(node, 'agent'), () =>
        ctlRoutes({ node, role: 'agent', instanceId, clock, refs, askTimeoutMs }),
      ),
    ],
  });
  return { supervisor, refs };
}
