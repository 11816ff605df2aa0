/**
 * The manager's supervision tree (rest_for_one: each child depends on those before it):
 *
 *   bus → intent → registry → heartbeat → server (manager.*) → ctl (ctl.manager.*)
 *
 * A bus failure restarts everything after it with a fresh connection; a crashing intent store
 * restarts the registry (which then pulls the agent's state again) and the servers.
 */
import { createActor, fromPromise } from 'xstate';
import type { Clock } from '../../core/clock.js';
import type { Logs } from '../../core/logger.js';
import type { Random } from '../../core/random.js';
import { ctlPrefix, prefix, subjects } from '../../messages/subjects.js';
import { agentMethods } from '../../protocol/methods.js';
import { Supervisor } from '../../supervisors/index.js';
import { ask } from '../ask.js';
import { ctlRoutes, intentRevision } from '../ctl-routes.js';
import { heartbeatLogic } from '../heartbeat.js';
import { intentStoreLogic } from '../intent/intent-store.js';
import type { ManagerConfig } from '../process-config.js';
import { busChild, requireBus, servingChild, type BusRef } from '../tree-parts.js';
import { agentRegistryLogic } from './agent-registry.js';
import { managerRoutes, type ManagerRefs } from './routes.js';

export interface ManagerTreeDeps {
  readonly config: ManagerConfig;
  readonly logs: Logs;
  readonly clock: Clock;
  readonly random: Random;
  readonly instanceId: string;
  readonly onEscalate?: ConstructorParameters<typeof Supervisor>[0]['onEscalate'];
}

export type ManagerTreeRefs = ManagerRefs & BusRef;

export interface ManagerTree {
  readonly supervisor: Supervisor;
  /** The live children, for tests and tools (refreshed whenever a child restarts). */
  readonly refs: Readonly<ManagerTreeRefs>;
}

export function managerTree(deps: ManagerTreeDeps): ManagerTree {
  const { config, logs, clock, instanceId } = deps;
  const node = config.node.name;
  const refs: ManagerTreeRefs = { served: [] };
  const askTimeoutMs = config.nats.timeoutMs;
  const routeDeps = { node, instanceId, clock, refs, askTimeoutMs };

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

  const supervisor = new Supervisor({
    id: 'manager',
    strategy: 'rest_for_one',
    intensity: 5,
    period: 10_000,
    clock,
    random: deps.random,
    logger: logs.for('supervisor'),
    ...(deps.onEscalate ? { onEscalate: deps.onEscalate } : {}),
    children: [
      busChild(refs, { servers: config.nats.servers, name: `manager-${node}`, timeoutMs: config.nats.timeoutMs, logs, ...tls(config) }),
      {
        id: 'intent',
        start: () => (refs.intent = createActor(intentStoreLogic, { input: { node }, clock })),
      },
      {
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
      {
        id: 'heartbeat',
        start: () =>
          createActor(heartbeatLogic, {
            input: {
              bus: requireBus(refs),
              clock,
              node,
              role: 'manager',
              instanceId,
              intervalMs: config.heartbeat.intervalMs,
              revision: () => intentRevision(refs),
              onPeer: (heartbeat) => refs.registry?.send({ type: 'agent.heartbeat', heartbeat }),
              logger: logs.for('heartbeat'),
            },
          }),
      },
      servingChild('server', refs, prefix(node, 'manager'), () => managerRoutes(routeDeps)),
      servingChild('ctl', refs, ctlPrefix(node, 'manager'), () => ctlRoutes({ ...routeDeps, role: 'manager' })),
    ],
  });
  return { supervisor, refs };
}

function tls(config: ManagerConfig): { tls?: NonNullable<ManagerConfig['nats']['tls']> } {
  return config.nats.tls ? { tls: config.nats.tls } : {};
}
