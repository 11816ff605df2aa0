/**
 * The manager's own operator queries on infra.v1.<node>.ctl.manager.<op>, beside `state` and
 * `tree` (actors/ctl-routes.ts):
 *
 *   tables      what the device holds, read back through the leader's P4Runtime connection (a
 *               wildcard Read per table and per action profile, as the session reads for a
 *               reconcile), rendered by p4/entry-view.ts; learned connections listed apart.
 *   services    services with their endpoints and the member and group ids the render uses.
 *   pods        the intent's pod interfaces and the host interface.
 *   leadership  the lease, this manager's role, the session's state and last write figures.
 *
 * Handlers hold nothing: they read the owning actors' snapshots in one turn (as the session
 * reads the store's index), or the device. Without a session (no `p4` section, a standby, a
 * session that is reconnecting) `tables` answers UNAVAILABLE saying why.
 *
 * @example
 * managerCtlRoutes({ node, instanceId, clock, info, refs, readTimeoutMs: 8000 });
 */
import type { Clock } from '../../core/clock.js';
import { err, ok, toError, type Result } from '../../core/result.js';
import { route, type Route } from '../../messages/bus.js';
import { BusError } from '../../messages/errors.js';
import type { WireEntity } from '../../p4/desired.js';
import { shortName, tablesView } from '../../p4/entry-view.js';
import type { P4Info } from '../../p4/p4info.js';
import type { P4RuntimeLink } from '../../p4/runtime-link.js';
import type { TablesRequest } from '../../protocol/ctl.js';
import { ctlMethods } from '../../protocol/methods.js';
import { stateText } from '../ctl-tree.js';
import { wrongNode } from '../ctl-routes.js';
import type { DurableStoreRef, StoreContext } from '../intent/durable-store.js';
import { hostView, podsView } from '../ctl-intent-views.js';
import { leadershipView, servicesView, type LastSync } from './ctl-views.js';
import type { LeaseStatus } from './lease-keeper.js';
import type { SessionRef } from './session/session.js';

/** What the views read: live references the manager's tree keeps (refreshed on restart). */
export interface ManagerViewRefs {
  readonly store?: DurableStoreRef;
  readonly session?: SessionRef;
  /** The lease epoch while this manager leads; undefined while standby. */
  readonly epoch?: number;
  readonly lease?: LeaseStatus;
  readonly lastSync?: LastSync;
}

export interface ManagerCtlDeps {
  readonly node: string;
  readonly instanceId: string;
  readonly clock: Clock;
  readonly info: P4Info;
  readonly refs: ManagerViewRefs;
  /** Deadline of the device read behind `tables`. */
  readonly readTimeoutMs: number;
}

const unavailable = (message: string): Result<never, BusError> => err(new BusError('UNAVAILABLE', message));

/** The store's state while it serves (loaded), read in this turn. */
function storeContext(refs: ManagerViewRefs): Result<StoreContext, BusError> {
  if (refs.epoch === undefined) return unavailable('this manager is a standby: the leader answers');
  const snap = refs.store?.getSnapshot();
  if (!snap || snap.status !== 'active') return unavailable('the intent store is restarting');
  if (!snap.context.loaded) return unavailable('the intent is loading');
  return ok(snap.context);
}

interface DeviceLink {
  readonly client: P4RuntimeLink;
  readonly deviceId: number;
  readonly electionId: bigint;
  readonly target: string;
}

/** The session's P4Runtime connection, when it has one. */
function deviceLink(refs: ManagerViewRefs): Result<DeviceLink, BusError> {
  if (refs.epoch === undefined) return unavailable('this manager is a standby: only the leader talks to the device');
  if (!refs.session) return unavailable('this manager has no P4Runtime session (no p4 section in its configuration)');
  const snap = refs.session.getSnapshot();
  const c = snap.context;
  if (snap.status !== 'active' || !c.client || typeof snap.value === 'string') {
    const why = c.lastError ? ` (last error: ${c.lastError})` : '';
    return unavailable(`the P4Runtime session to ${c.address} is ${snap.status === 'active' ? stateText(snap.value) : 'restarting'}${why}`);
  }
  return ok({ client: c.client, deviceId: c.deviceId, electionId: c.electionId, target: c.address });
}

/** Which tables and profiles to read, and which to list, for a request. */
function selection(info: P4Info, r: TablesRequest): Result<{ read: Set<number>; list: Set<number> }, BusError> {
  const named = (o: { name: string; alias: string }): boolean => o.name === r.table || shortName(o) === r.table;
  if (r.table !== '') {
    const id = (info.tables.find(named) ?? info.actionProfiles.find(named))?.id;
    if (id === undefined) {
      const known = [...info.tables, ...info.actionProfiles].map(shortName).join(', ');
      return err(new BusError('NOT_FOUND', `no table or action profile "${r.table}" (there are: ${known})`, 'table'));
    }
    return ok({ read: new Set([id]), list: new Set([id]) });
  }
  if (r.learnedOnly) {
    const learned = info.tables.filter((t) => t.addOnMiss).map((t) => t.id);
    return ok({ read: new Set(learned), list: new Set(learned) });
  }
  const all = [...info.tables.map((t) => t.id), ...info.actionProfiles.map((p) => p.id)];
  const listed = [...info.tables.filter((t) => !t.addOnMiss).map((t) => t.id), ...info.actionProfiles.map((p) => p.id)];
  return ok({ read: new Set(all), list: new Set(listed) });
}

/** One Read of the selected tables (wildcard per table) and profiles (members and groups). */
function readRequest(info: P4Info, deviceId: number, ids: ReadonlySet<number>): Record<string, unknown> {
  const entities: WireEntity[] = [];
  for (const t of info.tables) if (ids.has(t.id)) entities.push({ table_entry: { table_id: t.id } });
  for (const p of info.actionProfiles) {
    if (ids.has(p.id)) entities.push({ action_profile_member: { action_profile_id: p.id } }, { action_profile_group: { action_profile_id: p.id } });
  }
  return { device_id: deviceId, entities };
}

function withDeadline<T>(work: Promise<T>, clock: Clock, ms: number): Promise<Result<T, BusError>> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(err(new BusError('DEADLINE_EXCEEDED', `the device did not answer the read within ${ms} ms`))), ms);
    work.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(ok(value));
      },
      (e: unknown) => {
        clock.clearTimeout(timer);
        resolve(err(new BusError('UNAVAILABLE', `the device refused the read: ${toError(e).message}`)));
      },
    );
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function managerCtlRoutes(deps: ManagerCtlDeps): Route<any, any>[] {
  const { node, refs, info, clock } = deps;
  return [
    route(ctlMethods.tables, async (r) => {
      const wrong = wrongNode(r.node, node, 'tables');
      if (wrong) return wrong;
      const chosen = selection(info, r);
      if (!chosen.ok) return chosen;
      const link = deviceLink(refs);
      if (!link.ok) return link;
      const { client, deviceId, electionId, target } = link.value;
      const started = performance.now();
      const read = await withDeadline(client.read(readRequest(info, deviceId, chosen.value.read)), clock, deps.readTimeoutMs);
      if (!read.ok) return read;
      const readMs = Math.round(performance.now() - started);
      const { read: readIds, list } = chosen.value;
      const view = tablesView(info, read.value, { read: (id) => readIds.has(id), list: (id) => list.has(id), limit: r.limit });
      return ok({ node, target, deviceId, electionId: Number(electionId), ...view, readMs });
    }),
    route(ctlMethods.services, (r) => {
      const wrong = wrongNode(r.node, node, 'services');
      if (wrong) return wrong;
      const ctx = storeContext(refs);
      if (!ctx.ok) return ctx;
      return ok({ node, ...servicesView(ctx.value.intent, { limit: r.limit }) });
    }),
    route(ctlMethods.pods, (r) => {
      const wrong = wrongNode(r.node, node, 'pods');
      if (wrong) return wrong;
      const ctx = storeContext(refs);
      if (!ctx.ok) return ctx;
      const intent = ctx.value.intent;
      return ok({
        node,
        role: 'manager' as const,
        ...podsView(intent.pods.values(), r.limit),
        hasPool: false,
        portCount: 0,
        ports: [],
        host: intent.host ? hostView(intent.host) : undefined,
      });
    }),
    route(ctlMethods.leadership, (r) => {
      const wrong = wrongNode(r.node, node, 'leadership');
      if (wrong) return wrong;
      const snap = refs.session?.getSnapshot();
      const store = refs.store?.getSnapshot();
      return ok(
        leadershipView({
          node,
          instanceId: deps.instanceId,
          now: clock.now(),
          epoch: refs.epoch,
          lease: refs.lease,
          session: snap
            ? {
                value: snap.status === 'active' ? snap.value : snap.status,
                target: snap.context.address,
                deviceId: snap.context.deviceId,
                reconciles: snap.context.reconciles,
                lastError: snap.context.lastError,
              }
            : undefined,
          lastSync: refs.lastSync,
          intentRevision: store?.status === 'active' ? store.context.intent.revision : 0,
        }),
      );
    }),
  ];
}
