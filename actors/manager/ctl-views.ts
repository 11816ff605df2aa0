/**
 * The manager's operator views, as pure functions of what its actors hold: services with their
 * endpoints and the member and group ids the manager gave them (from the intent store's objects
 * and id pools), and leadership (the lease as last
 * seen, the hardware session's state and its last write figures). Each is bounded by the
 * request's limit and says how much it left out. actors/manager/ctl-routes.ts serves them.
 *
 * @example
 * servicesView(intent, { limit: 1000 }).services[0]?.endpoints[0]; // { address: '10.244.0.5:8080', memberId: 2, state: 'active', … }
 */
import { formatIpv4 } from '../../messages/validate.js';
import { endpointKey, REJECT_MEMBER_ID, usableEndpoints } from '../../p4/render.js';
import type { EndpointState, EndpointView, LeadershipReply, ServicesReply, ServiceView, SyncFigures } from '../../protocol/ctl.js';
import { serviceKeyText } from '../../protocol/intent.js';
import { byName } from '../ctl-intent-views.js';
import { stateText } from '../ctl-tree.js';
import type { ManagerIntent } from '../intent/manager-intent.js';
import type { LeaseStatus } from './lease-keeper.js';
import type { WriteCounts } from './session/session-io.js';

/** The session's last successful reconcile or sync, as the tree records it. */
export interface LastSync {
  readonly kind: 'reconcile' | 'sync';
  readonly counts: WriteCounts;
  readonly atMs: number;
}


/**
 * Services in namespace/name/port order; each service and each endpoint listed counts against
 * the limit. An endpoint is active (in the group), pending (of this node, its pod not known yet)
 * or unused (not chosen: not ready while others are).
 */
export function servicesView(intent: ManagerIntent, options: { readonly limit: number }): Omit<ServicesReply, 'node'> {
  const podIps = new Set([...intent.pods.values()].map((p) => p.ipv4));
  const states = [...intent.services.values()].sort(
    (a, b) => byName(a.service, b.service) || a.service.port - b.service.port || a.service.protocol.localeCompare(b.service.protocol),
  );
  let room = options.limit;
  let omittedEndpoints = 0;
  let omittedServices = 0;
  const services: ServiceView[] = [];
  for (const { service: s, groupId } of states) {
    if (room <= 0) {
      omittedServices++;
      omittedEndpoints += s.endpoints.length;
      continue;
    }
    room--;
    const usable = new Set(usableEndpoints(s, intent.node, podIps).map(endpointKey));
    const sorted = [...s.endpoints].sort((a, b) => a.ipv4 - b.ipv4 || a.port - b.port);
    const shown = sorted.slice(0, Math.max(0, room));
    room -= shown.length;
    omittedEndpoints += sorted.length - shown.length;
    const endpoints = shown.map((e): EndpointView => {
      const key = endpointKey(e);
      const state: EndpointState = usable.has(key) ? 'active' : e.node === intent.node && !podIps.has(e.ipv4) ? 'pending' : 'unused';
      return {
        address: `${formatIpv4(e.ipv4)}:${e.port}`,
        node: e.node,
        ready: e.ready,
        serving: e.serving,
        terminating: e.terminating,
        memberId: intent.pools.members.idOf(key) ?? 0,
        state,
      };
    });
    services.push({
      namespace: s.namespace,
      name: s.name,
      portName: s.portName,
      key: serviceKeyText(s),
      groupId,
      rejecting: usable.size === 0,
      endpointCount: s.endpoints.length,
      endpoints,
    });
  }
  return { revision: intent.revision, count: states.length, services, omittedEndpoints, omittedServices, rejectMemberId: REJECT_MEMBER_ID };
}

/** What the session's snapshot says, for the leadership view. */
export interface SessionFacts {
  readonly value: unknown;
  readonly target: string;
  readonly deviceId: number;
  readonly reconciles: number;
  readonly lastError: string | undefined;
}

export interface LeadershipFacts {
  readonly node: string;
  readonly instanceId: string;
  readonly now: number;
  /** This manager's epoch while it leads. */
  readonly epoch: number | undefined;
  readonly lease: LeaseStatus | undefined;
  readonly session: SessionFacts | undefined;
  readonly lastSync: LastSync | undefined;
  readonly intentRevision: number;
}

/** The session's state split into what an operator asks: connected? primary (arbitrated)? ready? */
export function sessionFlags(value: unknown): { connected: boolean; primary: boolean; ready: boolean } {
  const inner = value !== null && typeof value === 'object' ? (value as Record<string, unknown>).connected : undefined;
  const connected = inner !== undefined;
  const step = typeof inner === 'string' ? inner : '';
  return { connected, primary: connected && step !== 'arbitrating', ready: step === 'ready' || step === 'syncing' };
}

export function leadershipView(f: LeadershipFacts): LeadershipReply {
  const flags = f.session ? sessionFlags(f.session.value) : { connected: false, primary: false, ready: false };
  const last = f.lastSync;
  const lastSync: SyncFigures | undefined = last
    ? {
        kind: last.kind,
        inserted: last.counts.insert,
        modified: last.counts.modify,
        deleted: last.counts.delete,
        unchanged: last.counts.unchanged,
        retired: last.counts.retired,
        writes: last.counts.writes,
        agoMs: Math.max(0, f.now - last.atMs),
      }
    : undefined;
  const renewed = f.lease?.renewedAtMs;
  return {
    node: f.node,
    instanceId: f.instanceId,
    leader: f.epoch !== undefined,
    holder: f.lease?.holder ?? (f.epoch !== undefined ? f.instanceId : ''),
    epoch: f.lease?.epoch ?? f.epoch ?? 0,
    leaseRevision: f.lease?.revision ?? 0,
    renewedAgoMs: renewed !== undefined && Number.isFinite(renewed) ? Math.max(0, Math.round(f.now - renewed)) : 0,
    hasSession: f.session !== undefined,
    sessionState: f.session ? stateText(f.session.value).slice(0, 64) : '',
    ...flags,
    target: f.session?.target.slice(0, 512) ?? '',
    deviceId: f.session?.deviceId ?? 0,
    reconciles: f.session?.reconciles ?? 0,
    lastError: (f.session?.lastError ?? '').slice(0, 512),
    lastSync,
    intentRevision: f.intentRevision,
  };
}
