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
 * The leader's intent is the durable store (actors/intent/durable-store.ts): it loads the node's
 * intent bucket before it accepts a request, makes each change durable in KV before answering,
 * and renders it incrementally into the index the session reads (desired entities and the keys
 * that changed). The registry then pulls the agent's full state, which the store merges (the
 * agent owns what exists; the store keeps the ids).
 *
 * A bus failure restarts the lease and the leadership with a fresh connection, and the new lease
 * keeper decides anew: the manager leads again only once it has retaken the lease, at a new epoch
 * (another manager may have led in between). Losing the lease stops the leader subtree (its
 * session closes, so the target refuses it anyway: a newer leader arbitrates with a higher
 * epoch), and so does leading at another epoch than the running subtree's.
 */
import { createActor, fromPromise } from 'xstate';
import type { Keyed } from '../../p4/desired.js';
import { loadP4Info, DEFAULT_P4INFO_PATH } from '../../p4/p4info.js';
import type { P4RuntimeLink } from '../../p4/runtime-link.js';
import { readFileSync } from 'node:fs';
import { subjects } from '../../messages/subjects.js';
import { agentMethods } from '../../protocol/methods.js';
import { changeReplyCodec, type ChangeReply } from '../../protocol/intent.js';
import { Supervisor, type ChildSpec } from '../../supervisors/index.js';
import { ask } from '../ask.js';
import { pullFullState } from '../sync-pages.js';
import { durableStoreLogic, type DurableStoreRef, type StoreContext as DurableStoreContext } from '../intent/durable-store.js';
import { IntentKv, intentBucketName, type IntentStorage } from '../intent/intent-kv.js';
import type { IntentStoreRef } from '../intent/intent-store.js';
import type { ManagerConfig } from '../process-config.js';
import { busChild, processChildren, requireBus, type BusRef, type TreeDeps } from '../tree-parts.js';
import { agentRegistryLogic } from './agent-registry.js';
import { managerCtlRoutes } from './ctl-routes.js';
import type { LastSync } from './ctl-views.js';
import { flowRetirer, intentLiveness } from './flows.js';
import { leaseKeeperLogic, type LeaseStatus, type LeaseStore } from './lease-keeper.js';
import { managerRoutes, type ManagerRefs } from './routes.js';
import { sessionLogic, sessionReadiness, type SessionRef } from './session/session.js';
import { ManagerMetrics } from '../metrics/manager-metrics.js';
import type { ProgrammingTracker } from '../metrics/programming.js';
import { observedBusChild, type Observability } from '../metrics/observability.js';
import { managerReadiness } from '../metrics/readiness.js';
import { kindsOf } from '../metrics/supervision-metrics.js';

/** The manager's children and supervisors, each its own kind in the actor metrics. */
export const MANAGER_KINDS = ['manager', 'bus', 'lease', 'leadership', 'leader', 'intent', 'registry', 'heartbeat', 'server', 'ctl', 'session'] as const;

/** The manager's KV buckets opened another way than over the bus (the in-process simulator's MemoryKv). */
export interface ManagerKv {
  readonly lease: (bucket: string) => Promise<LeaseStore>;
  readonly intent: (bucket: string) => Promise<IntentStorage>;
}

/**
 * What the manager tree is built from: the shared dependencies, the process's metrics if it
 * serves them, and — in-process only — its KV and its P4Runtime link made another way.
 */
export type ManagerTreeDeps = TreeDeps<ManagerConfig> & {
  readonly observability?: Observability;
  readonly kv?: ManagerKv;
  /** Opens the session's P4Runtime connection instead of dialling p4.target (the simulator's loopback link). */
  readonly connectP4?: () => Promise<P4RuntimeLink>;
};

export type ManagerTreeRefs = ManagerRefs &
  BusRef & {
    session?: SessionRef;
    /** The lease epoch while this manager leads; undefined while standby. */
    epoch?: number;
    /** The epoch (election id) the running leader subtree was started with; undefined when none runs. */
    leaderEpoch?: number;
    leadership?: Supervisor;
    /** The leader's durable intent store (also in `intent`, typed for the shared routes). */
    store?: DurableStoreRef;
    /** What the lease keeper last saw (the operator's leadership view). */
    lease?: LeaseStatus;
    /** The session's last successful reconcile or sync. */
    lastSync?: LastSync;
    /** The manager's metrics (with observability). */
    metrics?: ManagerMetrics;
  };

export interface ManagerTree {
  readonly supervisor: Supervisor;
  /** The live children, for tests and tools (refreshed whenever a child restarts). */
  readonly refs: Readonly<ManagerTreeRefs>;
}

export function managerTree(deps: ManagerTreeDeps): ManagerTree {
  const { config, logs, clock } = deps;
  const node = config.node.name;
  const refs: ManagerTreeRefs = { served: [], startedAtMs: clock.now() };
  const log = logs.for('leadership');
  const obs = deps.observability;
  if (obs) {
    refs.metrics = new ManagerMetrics(obs.registry, P4INFO, obs.stopwatch);
    obs.setReadiness(() =>
      managerReadiness({
        leading: refs.epoch !== undefined,
        ...(refs.lease ? { holder: refs.lease.holder, epoch: refs.lease.leading ? refs.lease.epoch : Math.max(refs.lease.epoch, refs.lease.highestEpoch ?? 0) } : {}),
        ...(refs.leadership ? { leaderSubtree: refs.leadership.whichChildren().find((c) => c.id === 'leader')?.status ?? 'not started' } : {}),
        ...(config.p4 ? { session: sessionReadiness(refs.session?.getSnapshot()) } : {}),
      }),
    );
  }

  const leaderSpec = (epoch: number): ChildSpec => ({
    id: 'leader',
    type: 'supervisor',
    start: () =>
      new Supervisor({
        id: 'leader',
        strategy: 'rest_for_one',
        intensity: 5,
        period: 10_000,
        clock,
        random: deps.random,
        logger: logs.for('supervisor'),
        children: leaderChildren(deps, refs, epoch),
      }),
  });

  /**
   * Makes the leadership supervisor's children match `refs.epoch`: no leader subtree while
   * standby, one started with the lease's epoch while leading. A subtree running with another
   * epoch is stopped first — between two epochs of this manager another may have led with one in
   * between, which the old election id would stay below. One change at a time, in order.
   */
  let changes: Promise<void> = Promise.resolve();
  const reconcileLeader = async (): Promise<void> => {
    const leadership = refs.leadership;
    if (!leadership) return;
    const want = refs.epoch;
    if (refs.leaderEpoch !== undefined && refs.leaderEpoch !== want) {
      const stopped = await leadership.terminateChild('leader');
      if (!stopped.ok && stopped.reason !== 'not_found') log.error({ reason: stopped.reason }, 'cannot stop the leader subtree');
      await leadership.deleteChild('leader');
      refs.leaderEpoch = undefined;
    }
    if (want === undefined || refs.leaderEpoch !== undefined || refs.leadership !== leadership) return;
    const started = await leadership.startChild(leaderSpec(want));
    if (started.ok) refs.leaderEpoch = want;
    else log.error({ reason: started.reason, epoch: want }, 'cannot start the leader subtree');
  };
  const onLease = (leading: boolean, epoch: number): void => {
    refs.epoch = leading ? epoch : undefined;
    changes = changes.then(reconcileLeader).catch((e: unknown) => log.error({ err: e }, 'cannot change the leader subtree'));
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
    ...(obs ? { observer: obs.supervisorObserver(kindsOf(MANAGER_KINDS), MANAGER_KINDS.slice(1), ['manager', 'leadership', 'leader']) } : {}),
    children: [
      observedBusChild(busChild(refs, config, `manager-${node}`, logs, deps.connectBus), () => refs.bus, obs),
      {
        id: 'lease',
        start: () => {
          // A new keeper starts knowing nothing of the lease: this manager leads again only when
          // it reports so (the leadership supervisor, restarted after it, starts with no leader).
          refs.epoch = undefined;
          return createActor(leaseKeeperLogic, {
            input: {
              bus: requireBus(refs),
              clock,
              node,
              me: deps.instanceId,
              heartbeatMs: config.heartbeat.intervalMs,
              ttlMs: config.leadership.ttlMs ?? config.heartbeat.intervalMs * config.heartbeat.missedBeats,
              bucket: config.leadership.bucket,
              ...(deps.kv ? { openStore: () => deps.kv!.lease(config.leadership.bucket) } : {}),
              logger: logs.for('lease'),
              onChange: onLease,
              onView: (status) => {
                refs.lease = status;
                refs.metrics?.lease(status);
              },
            },
          });
        },
      },
      {
        id: 'leadership',
        type: 'supervisor',
        // Built afresh on every (re)start: if the lease is held already, lead at once.
        start: () => {
          refs.leaderEpoch = refs.epoch;
          return (refs.leadership = new Supervisor({
            id: 'leadership',
            strategy: 'one_for_one',
            intensity: 3,
            period: 30_000,
            clock,
            random: deps.random,
            logger: logs.for('supervisor'),
            children: refs.epoch !== undefined ? [leaderSpec(refs.epoch)] : [],
          }));
        },
      },
    ],
  });
  refs.root = supervisor;
  return { supervisor, refs };
}

/** The leader subtree's children: the shared process shape with the durable store as its intent, then the hardware session. */
function leaderChildren(deps: ManagerTreeDeps, refs: ManagerTreeRefs, epoch: number): ChildSpec[] {
  const { config, logs, clock, instanceId } = deps;
  const node = config.node.name;
  const askTimeoutMs = config.nats.timeoutMs;
  const notifySession = (): void => refs.session?.send({ type: 'desired.changed' });
  // Network programming latency: a change's clock starts in the route, stops when a plan that
  // includes its revision is written (the session's onSynced). Only with a device to program.
  const programming = config.p4 ? refs.metrics?.tracker() : undefined;

  // The registry's way to learn what a (new) agent holds: mark the pull, ask the agent, merge
  // its answer (changes requested while the answer travelled are kept: see ManagerIntent.replaceAll).
  const pullState = fromPromise<void, { instanceId: string }>(async () => {
    const opts = { clock, timeoutMs: askTimeoutMs };
    const mark = await ask<number>(refs.store, (reply) => ({ type: 'sync.begin', reply }), opts);
    if (!mark.ok) throw mark.error;
    const bus = requireBus(refs);
    const r = await pullFullState((req) => bus.request(subjects.agent(node, agentMethods.sync.op), agentMethods.sync, req), { node, from: 'manager', instanceId });
    if (!r.ok) throw r.error;
    const installed = await ask<ChangeReply>(refs.store, (reply) => ({ type: 'state.replace', state: r.value, mark: mark.value, reply }), opts);
    if (!installed.ok) throw installed.error;
  });

  const store: ChildSpec = {
    id: 'intent',
    start: () => {
      const actor = createActor(durableStoreLogic, {
        clock,
        input: {
          node,
          info: P4INFO,
          open: () => (deps.kv ? deps.kv.intent(intentBucketName(node)) : IntentKv.open(requireBus(refs), intentBucketName(node), askTimeoutMs)),
          logger: logs.for('intent'),
          onCommitted: notifySession,
          onNeedsPull: () => refs.registry?.send({ type: 'agent.resync' }),
        },
      });
      refs.store = actor;
      // The shared routes, heartbeat and ctl speak to `intent` with the same events and read
      // `context.intent.revision`, which the store's context has too.
      refs.intent = actor as unknown as IntentStoreRef;
      return actor;
    },
  };

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
    routes: () => managerRoutes({ node, instanceId, clock, random: deps.random, refs, askTimeoutMs, ...(programming ? { programming } : {}) }),
    ctlRoutes: () => managerCtlRoutes({ node, instanceId, clock, info: P4INFO, refs, readTimeoutMs: Math.max(askTimeoutMs, CTL_READ_TIMEOUT_MS) }),
  }).map((c) => (c.id === 'intent' ? store : c));
  return config.p4 ? [...children, sessionChild(deps, refs, epoch, config.p4, programming)] : children;
}

/** Least time the operator's `tables` gives the device to answer its read. */
const CTL_READ_TIMEOUT_MS = 8000;

const P4INFO_JSON = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as unknown;
const P4INFO = loadP4Info();

function sessionChild(
  deps: ManagerTreeDeps,
  refs: ManagerTreeRefs,
  epoch: number,
  p4: NonNullable<ManagerConfig['p4']>,
  programming: ProgrammingTracker | undefined,
): ChildSpec {
  const empty: ReadonlyMap<string, Keyed> = new Map();
  const live = (): DurableStoreContext | undefined => {
    const snap = refs.store?.getSnapshot();
    return snap?.status === 'active' ? snap.context : undefined;
  };
  const node = deps.config.node.name;
  /** The intent revision the session's last plan was taken at. */
  let planned = 0;
  const retire = flowRetirer(P4INFO, intentLiveness(live));
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
          ...(deps.connectP4 ? { connect: deps.connectP4 } : {}),
          timeouts: { callMs: p4.callTimeoutMs, readIdleMs: p4.readIdleMs },
          deviceId: p4.deviceId,
          electionId: BigInt(epoch),
          p4infoJson: P4INFO_JSON,
          // Live views of the store's index: read synchronously by the session.
          desired: () => live()?.intent.index.desired ?? empty,
          takeChanges: () => {
            const ctx = live();
            planned = ctx?.intent.revision ?? planned;
            return ctx?.intent.index.takeChanges();
          },
          takeRetire: () => live()?.intent.takeRetire() ?? false,
          retire,
          desiredReady: () => (live()?.loaded ?? false) && (live()?.ready ?? false),
          volatileTables: new Set(P4INFO.tables.filter((t) => t.addOnMiss).map((t) => t.id)),
          profileIds: P4INFO.actionProfiles.map((p) => p.id),
          resyncMs: p4.resyncMs,
          batchSize: p4.batchSize,
          backoff: { initialMs: 100, maxMs: 5000 },
          random: deps.random,
          logger: deps.logs.for('session'),
          ...(refs.metrics ? { observer: refs.metrics.session, stopwatch: refs.metrics.now } : {}),
          // What is in the data plane now: every change answered with a revision ≤ `planned`.
          onSynced: (counts, kind) => {
            refs.lastSync = { kind, counts, atMs: deps.clock.now() };
            programming?.programmed(planned);
            if (refs.bus) refs.bus.publish(subjects.events(node, 'programmed'), changeReplyCodec, { revision: planned, changed: true });
          },
        },
      })),
  };
}
