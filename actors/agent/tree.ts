/**
 * The agent's supervision tree (see tree-parts.ts for the shared shape):
 *
 *   bus → intent → link (hello, manager liveness) → heartbeat → server (agent.*) → ctl (ctl.agent.*)
 *
 * Later issues add the interface pool, the CNI server, the ARP proxy and the Kubernetes
 * watches.
 */
import { createActor, fromPromise } from 'xstate';
import { subjects } from '../../messages/subjects.js';
import { formatCidr } from '../../messages/validate.js';
import { managerMethods } from '../../protocol/methods.js';
import type { HelloReply } from '../../protocol/node.js';
import type { Supervisor } from '../../supervisors/index.js';
import type { ProcessRefs } from '../ctl-routes.js';
import type { AgentConfig } from '../process-config.js';
import { VERSION } from '../process-identity.js';
import { processTree, requireBus, type BusRef, type TreeDeps } from '../tree-parts.js';
import { managerLinkLogic, type ManagerLinkRef } from './manager-link.js';
import { agentRoutes } from './routes.js';

export type AgentTreeRefs = ProcessRefs & BusRef & { link?: ManagerLinkRef };

export interface AgentTree {
  readonly supervisor: Supervisor;
  /** The live children, for tests and tools (refreshed whenever a child restarts). */
  readonly refs: Readonly<AgentTreeRefs>;
}

export function agentTree(deps: TreeDeps<AgentConfig>): AgentTree {
  const { config, logs, clock, instanceId } = deps;
  const node = config.node.name;
  const refs: AgentTreeRefs = { served: [] };
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

  const supervisor = processTree(deps, {
    role: 'agent',
    refs,
    peer: {
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
    onPeerHeartbeat: (heartbeat) => refs.link?.send({ type: 'manager.heartbeat', heartbeat }),
    routes: () => agentRoutes({ node, clock, refs, askTimeoutMs: config.nats.timeoutMs }),
  });
  return { supervisor, refs };
}
