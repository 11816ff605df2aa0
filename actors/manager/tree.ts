/**
 * The manager's supervision tree. Only the leader of a node programs its device and serves the
 * node's subjects; a standby keeps the bus and waits for the lease.
 *
 *   manager (rest_for_one)
 *     bus         the NATS connection
 *     lease       the node's leadership lease in JetStream KV (epoch = P4Runtime election id)
 *     leadership  (one_for_one) empty while standby; while leader:
 *       leader (rest_for_one)
 *         intent → registry → heartbeat → server (manager.*) → ctl (ctl.manager.*) → session
 *
 * A bus failure restarts the lease and the leadership with a fresh connection; losing the lease
 * stops the leader subtree (its session closes, so the target refuses it anyway: a newer leader
 * arbitrates with a higher epoch).
 */
import { createActor, fromPromise } from 'xstate';
import type { Keyed } from '../../p4/desired.js';
import { desiredSet } from '../../p4/desired.js';
import { loadP4Info, DEFAULT_P4INFO_PATH } from '../../p4/p4info.js';
import { assignIds, newIdPools, render, type IdPools } from '../../p4/render.js';
import { readFileSync } from 'node:fs';
import { subjects } from '../../messages/subjects.js';
import { agentMethods } from '../../protocol/methods.js';
import { Supervisor, type ChildSpec } from '../../supervisors/index.js';
import { ask } from '../ask.js';
import type { ManagerConfig } from '../process-config.js';
import { busChild, processChildren, requireBus, type BusRef, type TreeDeps } from '../tree-parts.js';
import { agentRegistryLogic } from './agent-registry.js';
import { leaseKeeperLogic } from './lease-keeper.js';
import { managerRoutes, type ManagerRefs } from './routes.js';
import { sessionLogic, type SessionRef } from './session/session.js';

export type ManagerTreeRefs = ManagerRefs &
  BusRef & {
    session?: SessionRef;
    /** The lease epoch while this manager leads; undefined while standby. */
    epoch?: number;
    leadership?: Supervisor;
    /** The intent is complete for this leadership term (the agent's state was pulled). */
    intentLoaded: boolean;
  };

export interface ManagerTree {
  readonly supervisor: Supervisor;
  /** The live children, for tests and tools (refreshed whenever a child restarts). */
  readonly refs: Readonly<ManagerTreeRefs>;
}

export function managerTree(deps: TreeDeps<ManagerConfig>): ManagerTree {
  const { config, logs, clock } = deps;
  const node = config.node.name;
  const refs: ManagerTreeRefs = { served: [], intentLoaded: false };
  const log = logs.for('leadership');

  const leaderSpec = (epoch: number): ChildSpec => ({
    id: 'leader',
    type: 'supervisor',
    start: () => {
      refs.intentLoaded = false;
      return new Supervisor({
        id: 'leader',
        strategy: 'rest_for_one',
        intensity: 5,
        period: 10_000,
        clock,
        random: deps.random,
        logger: logs.for('supervisor'),
        children: leaderChildren(deps, refs, epoch),
      });
    },
  });

  const onLease = (leading: boolean, epoch: number): void => {
    const leadership = refs.leadership;
    refs.epoch = leading ? epoch : undefined;
    if (!leadership) return;
    const change = leading
      ? leadership.startChild(leaderSpec(epoch))
      : leadership.terminateChild('leader').then(() => leadership.deleteChild('leader'));
    void change.then((r) => {
      if (!r.ok && r.reason !== 'not_found') log.error({ reason: r.reason }, `cannot ${leading ? 'start' : 'stop'} the leader subtree`);
    });
  };

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
      busChild(refs, config, `manager-${node}`, logs),
      {
        id: 'lease',
        start: () =>
          createActor(leaseKeeperLogic, {
            input: {
              bus: requireBus(refs),
              clock,
              node,
              me: deps.instanceId,
              heartbeatMs: config.heartbeat.intervalMs,
              ttlMs: config.leadership.ttlMs ?? config.heartbeat.intervalMs * config.heartbeat.missedBeats,
              bucket: config.leadership.bucket,
              logger: logs.for('lease'),
              onChange: onLease,
            },
          }),
      },
      {
        id: 'leadership',
        type: 'supervisor',
        // Built afresh on every (re)start: if the lease is held already, lead at once.
        start: () =>
          (refs.leadership = new Supervisor({
            id: 'leadership',
            strategy: 'one_for_one',
            intensity: 3,
            period: 30_000,
            clock,
            random: deps.random,
            logger: logs.for('supervisor'),
            children: refs.epoch !== undefined ? [leaderSpec(refs.epoch)] : [],
          })),
      },
    ],
  });
  return { supervisor, refs };
}

/** The leader subtree's children: the shared process shape, then the hardware session. */
function leaderChildren(deps: TreeDeps<ManagerConfig>, refs: ManagerTreeRefs, epoch: number): ChildSpec[] {
  const { config, logs, clock, instanceId } = deps;
  const node = config.node.name;
  const askTimeoutMs = config.nats.timeoutMs;
  const notifySession = (): void => refs.session?.send({ type: 'desired.changed' });

  // The registry's way to learn what a (new) agent holds: ask it, install the answer.
  const pullState = fromPromise<void, { instanceId: string }>(async () => {
    const r = await requireBus(refs).request(subjects.agent(node, agentMethods.sync.op), agentMethods.sync, { node, from: 'manager', instanceId });
    if (!r.ok) throw r.error;
    const installed = await ask(refs.intent, (reply) => ({ type: 'state.replace', state: r.value, reply }), { clock, timeoutMs: askTimeoutMs });
    if (!installed.ok) throw installed.error;
    refs.intentLoaded = true;
    notifySession();
  });

  const children = processChildren(deps, {
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
    onIntentChange: notifySession,
    routes: () => managerRoutes({ node, instanceId, clock, refs, askTimeoutMs }),
  });
  return config.p4 ? [...children, sessionChild(deps, refs, epoch, config.p4)] : children;
}

const P4INFO_JSON = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as unknown;
const P4INFO = loadP4Info();

function sessionChild(deps: TreeDeps<ManagerConfig>, refs: ManagerTreeRefs, epoch: number, p4: NonNullable<ManagerConfig['p4']>): ChildSpec {
  const pools: IdPools = newIdPools(P4INFO);
  let cache: { revision: number; desired: ReadonlyMap<string, Keyed> } | undefined;
  // The desired entities of the current intent, re-rendered only when the intent's revision moved.
  const desired = (): ReadonlyMap<string, Keyed> => {
    const snap = refs.intent?.getSnapshot();
    const intent = snap?.status === 'active' ? snap.context.intent : undefined;
    if (!intent) return cache?.desired ?? new Map();
    if (cache?.revision === intent.revision) return cache.desired;
    const state = intent.fullState();
    const renderIntent = { node: state.node, host: state.host, pods: state.pods, services: state.services };
    assignIds(renderIntent, pools);
    cache = { revision: intent.revision, desired: desiredSet(render(P4INFO, renderIntent, pools)) };
    return cache.desired;
  };
  const tls = p4.tls
    ? {
        ca: readFileSync(p4.tls.caFile),
        ...(p4.tls.certFile ? { cert: readFileSync(p4.tls.certFile) } : {}),
        ...(p4.tls.keyFile ? { key: readFileSync(p4.tls.keyFile) } : {}),
        ...(p4.tls.serverName ? { serverName: p4.tls.serverName } : {}),
      }
    : undefined;
  return {
    id: 'session',
    trapShutdown: true,
    shutdown: 2000,
    start: () =>
      (refs.session = createActor(sessionLogic, {
        clock: deps.clock,
        input: {
          address: p4.target,
          ...(tls ? { tls } : {}),
          deviceId: p4.deviceId,
          electionId: BigInt(epoch),
          p4infoJson: P4INFO_JSON,
          desired,
          desiredReady: () => refs.intentLoaded,
          volatileTables: new Set(P4INFO.tables.filter((t) => t.addOnMiss).map((t) => t.id)),
          profileIds: P4INFO.actionProfiles.map((p) => p.id),
          resyncMs: p4.resyncMs,
          batchSize: p4.batchSize,
          backoff: { initialMs: 100, maxMs: 5000 },
          random: deps.random,
          logger: deps.logs.for('session'),
        },
      })),
  };
}
