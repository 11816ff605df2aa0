/**
 * The manager's supervision tree (see tree-parts.ts for the shared shape):
 *
 *   bus → intent → registry → heartbeat → server (manager.*) → ctl (ctl.manager.*)
 *
 * A bus failure restarts everything after it with a fresh connection; a crashing intent store
 * restarts the registry (which then pulls the agent's state again) and the servers.
 */
import { createActor, fromPromise } from 'xstate';
import { subjects } from '../../messages/subjects.js';
import { agentMethods } from '../../protocol/methods.js';
import type { Supervisor } from '../../supervisors/index.js';
import { ask } from '../ask.js';
import type { ManagerConfig } from '../process-config.js';
import { processTree, requireBus, type BusRef, type TreeDeps } from '../tree-parts.js';
import { agentRegistryLogic } from './agent-registry.js';
import { managerRoutes, type ManagerRefs } from './routes.js';

export type ManagerTreeRefs = ManagerRefs & BusRef;

export interface ManagerTree {
  readonly supervisor: Supervisor;
  /** The live children, for tests and tools (refreshed whenever a child restarts). */
  readonly refs: Readonly<ManagerTreeRefs>;
}

export function managerTree(deps: TreeDeps<ManagerConfig>): ManagerTree {
  const { config, logs, clock, instanceId } = deps;
  const node = config.node.name;
  const refs: ManagerTreeRefs = { served: [] };
  const askTimeoutMs = config.nats.timeoutMs;

  // The registry's way to learn what a (new) agent holds: ask it, install the answer.
  const pullState = fromPromise<void, { instanceId: string }>(async () => {
    const r = await requireBus(refs).request(subjects.agent(node, agentMethods.sync.op), agentMethods.sync, {
      node,
      from: 'manager',
      instanceId,
    });
    if (!r.ok) throw r.error;
    const installed = await ask(refs.intent, (reply) => ({ type: 'state.replace', state: r.value, reply }), {
      clock,
      timeoutMs: askTimeoutMs,
    });
    if (!installed.ok) throw installed.error;
  });

  const supervisor = processTree(deps, {
    role: 'manager',
    refs,
    peer: {
      id: 'registry',
      start: () =>
        (refs.registry = createActor(agentRegistryLogic.provide({ actors: { pullState } }), {
          clock,
          input: {
            node,
            managerInstanceId: instanceId,
            heartbeatIntervalMs: config.heartbeat.intervalMs,
            missedBeats: config.heartbeat.missedBeats,
            logger: logs.for('registry'),
          },
        })),
    },
    onPeerHeartbeat: (heartbeat) => refs.registry?.send({ type: 'agent.heartbeat', heartbeat }),
    routes: () => managerRoutes({ node, instanceId, clock, refs, askTimeoutMs }),
  });
  return { supervisor, refs };
}
