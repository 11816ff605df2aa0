/**
 * The shape both process trees share (rest_for_one: each child depends on those before it):
 *
 *   bus → intent → <peer child> → heartbeat → server (<role>.*) → ctl (ctl.<role>.*)
 *
 * The bus comes first so that a dead connection restarts everything after it with a fresh one.
 * The peer child (the manager's agent registry, the agent's manager link) is what differs, with
 * the routes each side serves.
 */
import { createActor } from 'xstate';
import type { Clock } from '../core/clock.js';
import type { Logs } from '../core/logger.js';
import type { Random } from '../core/random.js';
import { Bus, type Route, type Served } from '../messages/bus.js';
import { connectionLogic, servingLogic } from '../messages/bus-actors.js';
import { ctlPrefix, prefix } from '../messages/subjects.js';
import type { Heartbeat, Role } from '../protocol/node.js';
import { Supervisor, type ChildSpec, type SupervisorReport } from '../supervisors/index.js';
import { ctlRoutes, intentRevision, type ProcessRefs } from './ctl-routes.js';
import { heartbeatLogic } from './heartbeat.js';
import { intentStoreLogic } from './intent/intent-store.js';
import type { ProcessConfig } from './process-config.js';

export interface BusRef {
  bus?: Bus;
}

/** What a process tree is built from; the same for the manager and the agent. */
export interface TreeDeps<C extends ProcessConfig = ProcessConfig> {
  readonly config: C;
  readonly logs: Logs;
  readonly clock: Clock;
  readonly random: Random;
  readonly instanceId: string;
  readonly onEscalate?: (report: SupervisorReport) => void;
  /**
   * Opens the process's bus instead of connecting to `config.nats` (the in-process simulator
   * gives a connection to its in-memory NATS). Called on every (re)start of the bus child.
   */
  readonly connectBus?: (name: string) => Promise<Bus>;
}

export interface ProcessTreeParts {
  readonly role: Extract<Role, 'manager' | 'agent'>;
  readonly refs: ProcessRefs & BusRef;
  /** The child that tracks the peer process (registry or link), third in the tree. */
  readonly peer: ChildSpec;
  /** Where the peer's heartbeats go. */
  readonly onPeerHeartbeat: (heartbeat: Heartbeat) => void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly routes: () => Route<any, any>[];
  /** Called after every change the intent store accepts. */
  readonly onIntentChange?: () => void;
  /**
   * The instance id the peer is told (heartbeats), read when the heartbeat starts; the process's
   * by default. The agent's changes whenever its intent store restarts empty, so that the
   * manager pulls the rebuilt state as it does a new process's.
   */
  readonly announceAs?: () => string;
  /** The role's own operator views, served beside `state` and `tree` on ctl.<role>.*. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly ctlRoutes?: () => Route<any, any>[];
}

export function processTree(deps: TreeDeps, parts: ProcessTreeParts): Supervisor {
  const { config, logs } = deps;
  parts.refs.startedAtMs ??= deps.clock.now();
  return (parts.refs.root = new Supervisor({
    id: parts.role,
    strategy: 'rest_for_one',
    intensity: 5,
    period: 10_000,
    clock: deps.clock,
    random: deps.random,
    logger: logs.for('supervisor'),
    ...(deps.onEscalate ? { onEscalate: deps.onEscalate } : {}),
    children: [busChild(parts.refs, config, `${parts.role}-${config.node.name}`, logs, deps.connectBus), ...processChildren(deps, parts)],
  }));
}

/** Everything after the bus: intent → peer → heartbeat → server → ctl. */
export function processChildren(deps: TreeDeps, parts: ProcessTreeParts): ChildSpec[] {
  const { config, logs, clock, instanceId } = deps;
  const { role, refs } = parts;
  const node = config.node.name;
  return [
    { id: 'intent', start: () => (refs.intent = createActor(intentStoreLogic, { input: { node, ...(parts.onIntentChange ? { onChange: parts.onIntentChange } : {}) }, clock })) },
    parts.peer,
    {
      id: 'heartbeat',
      start: () =>
        createActor(heartbeatLogic, {
          input: {
            bus: requireBus(refs),
            clock,
            node,
            role,
            instanceId: parts.announceAs?.() ?? instanceId,
            intervalMs: config.heartbeat.intervalMs,
            revision: () => intentRevision(refs),
            onPeer: parts.onPeerHeartbeat,
            logger: logs.for('heartbeat'),
          },
        }),
    },
    servingChild('server', refs, prefix(node, role), parts.routes),
    servingChild('ctl', refs, ctlPrefix(node, role), () => [
      ...ctlRoutes({ node, role, instanceId, clock, refs, askTimeoutMs: config.nats.timeoutMs }),
      ...(parts.ctlRoutes?.() ?? []),
    ]),
  ];
}

export function busChild(refs: BusRef, config: ProcessConfig, name: string, logs: Logs, connectBus?: (name: string) => Promise<Bus>): ChildSpec {
  return {
    id: 'bus',
    shutdown: 2000,
    start: async () => {
      const log = logs.for('bus');
      if (connectBus) {
        refs.bus = await connectBus(name);
        return createActor(connectionLogic, { input: { bus: refs.bus } });
      }
      // Until the first connection the client retries silently: say where it is trying, so a
      // process stuck here (a firewall, a wrong address) says so in its log.
      log.info({ servers: config.nats.servers, tls: config.nats.tls !== undefined }, 'connecting to NATS');
      const bus = await Bus.connect({
        servers: config.nats.servers,
        name,
        logger: logs.for('bus'),
        timeoutMs: config.nats.timeoutMs,
        ...(config.nats.tls ? { tls: config.nats.tls } : {}),
        ...(config.nats.inboxPrefix ? { inboxPrefix: config.nats.inboxPrefix } : {}),
      });
      refs.bus = bus;
      log.info({ server: bus.connection.getServer() }, 'connected to NATS');
      return createActor(connectionLogic, { input: { bus } });
    },
  };
}

function servingChild(
  id: string,
  refs: BusRef & { served: Served[] },
  prefix: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  routes: () => Route<any, any>[],
): ChildSpec {
  return {
    id,
    shutdown: 2000,
    start: () =>
      createActor(servingLogic, {
        input: {
          bus: requireBus(refs),
          prefix,
          routes: routes(),
          onServing: (served) => {
            const i = refs.served.findIndex((s) => s.subject === served.subject);
            if (i >= 0) refs.served[i] = served;
            else refs.served.push(served);
          },
        },
      }),
  };
}

export function requireBus(refs: BusRef): Bus {
  if (!refs.bus) throw new Error('the bus child has not started');
  return refs.bus;
}
