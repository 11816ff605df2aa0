/**
 * Intent in, entries out: a pure, deterministic function from a node's intent (host interface,
 * pod interfaces, service ports with their endpoints) and its assigned ids to the P4Runtime
 * entities of k8s_dp. No I/O. Shared by the manager (desired state of the hardware session) and
 * by tests that need the expected pipeline.
 *
 * Choices (see PIPELINE.md):
 * - the gateway 169.254.1.1 answers ARP on port 0; the host interface and the node IP are on
 *   port 1; each pod's address maps to its pool port, ARP and IPv4 alike;
 * - one action-profile member per distinct endpoint ip:port (shared by every service it backs),
 *   one group per service port; a service port without usable endpoints points at the shared
 *   reject member, so new connections to it are dropped;
 * - endpoints follow kube-proxy: the ready ones; only if none is ready, the serving and
 *   terminating ones; an endpoint of this node whose pod is not known yet is pending (left out
 *   until its pod interface arrives); endpoints of other nodes are kept (they leave by the uplink).
 *
 * The per-object pieces (`gatewayEntities`, `hostEntities`, `podEntities`, `memberEntity`,
 * `serviceEntities`) are exported: the manager renders each domain object on its own when it
 * changes (actors/intent/desired-index.ts), and `render` is their composition, so the two agree
 * by construction (and a test checks it).
 *
 * @example
 * const ids = assignIds(intent, pools);
 * const entities = render(info, intent, ids); // → WireEntity[] for desiredSet()
 * podEntities(info, pod);                      // one pod interface's ARP and IPv4 entries
 */
import type { Endpoint, HostInterface, PodInterface, ServicePort } from '../protocol/intent.js';
import type { WireEntity } from './desired.js';
import { IdPool } from './ids.js';
import type { P4Info } from './p4info.js';

export const GATEWAY_IP = 0xa9fe0101; // 169.254.1.1
export const GATEWAY_PORT = 0;
export const UPLINK_PORT = 1;
/** Member id of the shared reject action (services without endpoints). */
export const REJECT_MEMBER_ID = 1;
/** Largest group a service port may have: the selector's max group size. */
export const GROUP_MAX_SIZE = 4096;

export interface RenderIntent {
  readonly node: string;
  readonly host: HostInterface | undefined;
  readonly pods: readonly PodInterface[];
  readonly services: readonly ServicePort[];
}

export interface IdPools {
  /** Endpoint (ip:port) → member id. Ids 2… (1 is the reject member). */
  readonly members: IdPool;
  /** Service port key → group id. */
  readonly groups: IdPool;
}

export function newIdPools(info: P4Info): IdPools {
  const profile = info.actionProfileByName('MainControlImpl.lb_selector');
  return { members: new IdPool(REJECT_MEMBER_ID + 1, profile.size), groups: new IdPool(1, info.tableByName('MainControlImpl.service_lb').size) };
}

export const endpointKey = (e: { readonly ipv4: number; readonly port: number }): number => e.ipv4 * 65536 + e.port;
export const servicePortKey = (s: { readonly clusterIp: number; readonly port: number; readonly protocol: 'TCP' | 'UDP' }): number =>
  s.clusterIp * 131072 + s.port * 2 + (s.protocol === 'UDP' ? 1 : 0);

/** kube-proxy's choice: ready endpoints; else serving-and-terminating; else none. Pending ones excluded. */
export function usableEndpoints(service: ServicePort, node: string, localPodIps: { has(ipv4: number): boolean }): Endpoint[] {
  const known = service.endpoints.filter((e) => e.node !== node || localPodIps.has(e.ipv4));
  const ready = known.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return known.filter((e) => e.serving && e.terminating);
}

/** Assigns ids for everything the intent needs (keeping earlier ones) and frees the rest. */
export function assignIds(intent: RenderIntent, pools: IdPools): void {
  const podIps = new Set(intent.pods.map((p) => p.ipv4));
  const members = new Set<number>();
  const groups = new Set<number>();
  for (const s of intent.services) {
    groups.add(servicePortKey(s));
    for (const e of usableEndpoints(s, intent.node, podIps)) members.add(endpointKey(e));
  }
  pools.members.retain(members);
  pools.groups.retain(groups);
  for (const k of [...members].sort((a, b) => a - b)) pools.members.allocate(k);
  for (const k of [...groups].sort((a, b) => a - b)) pools.groups.allocate(k);
}

const be = (v: number, bytes: number): Uint8Array => {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
};

interface Ids {
  table(name: string): number;
  action(name: string): number;
  profile: number;
}

/** Name lookups are cached per P4Info: the per-object renderers below run on every change. */
const idsCache = new WeakMap<P4Info, Ids>();

function idsOf(info: P4Info): Ids {
  const cached = idsCache.get(info);
  if (cached) return cached;
  const tables = new Map<string, number>();
  const actions = new Map<string, number>();
  const ids: Ids = {
    table: (n) => tables.get(n) ?? tables.set(n, info.tableByName(`MainControlImpl.${n}`).id).get(n)!,
    action: (n) => actions.get(n) ?? actions.set(n, info.actionByName(`MainControlImpl.${n}`).id).get(n)!,
    profile: info.actionProfileByName('MainControlImpl.lb_selector').id,
  };
  idsCache.set(info, ids);
  return ids;
}

function exactEntry(ids: Ids, table: string, key: number, action: string, params: readonly [number, number][]): WireEntity {
  return {
    table_entry: {
      table_id: ids.table(table),
      match: [{ field_id: 1, exact: { value: be(key, 4) } }],
      action: { action: { action_id: ids.action(action), params: params.map(([v, bytes], i) => ({ param_id: i + 1, value: be(v, bytes) })) } },
    },
  };
}

/** The gateway's ARP entry (169.254.1.1 → port 0): always present. */
export function gatewayEntities(info: P4Info): WireEntity[] {
  return [exactEntry(idsOf(info), 'arp_to_port', GATEWAY_IP, 'set_port', [[GATEWAY_PORT, 4]])];
}

/** The host interface's address and the node IP: ARP and IPv4 towards the uplink port. */
export function hostEntities(info: P4Info, host: HostInterface): WireEntity[] {
  const ids = idsOf(info);
  const out: WireEntity[] = [];
  for (const addr of new Set([host.ipv4, host.nodeIp])) {
    out.push(exactEntry(ids, 'arp_to_port', addr, 'set_port', [[UPLINK_PORT, 4]]));
    out.push(exactEntry(ids, 'ipv4_to_port', addr, 'set_dest_mac_port', [[UPLINK_PORT, 4], [host.mac, 6]]));
  }
  return out;
}

/** One pod interface: its address answers ARP on its port, and IPv4 to it leaves there with its MAC. */
export function podEntities(info: P4Info, p: PodInterface): WireEntity[] {
  const ids = idsOf(info);
  return [
    exactEntry(ids, 'arp_to_port', p.ipv4, 'set_port', [[p.portId, 4]]),
    exactEntry(ids, 'ipv4_to_port', p.ipv4, 'set_dest_mac_port', [[p.portId, 4], [p.mac, 6]]),
  ];
}

/** The shared member of services without usable endpoints (new connections dropped). */
export function rejectMemberEntity(info: P4Info): WireEntity {
  const ids = idsOf(info);
  return { action_profile_member: { action_profile_id: ids.profile, member_id: REJECT_MEMBER_ID, action: { action_id: ids.action('lb_reject') } } };
}

/** The member of one endpoint ip:port (shared by every service it backs). */
export function memberEntity(info: P4Info, e: { readonly ipv4: number; readonly port: number }, memberId: number): WireEntity {
  const ids = idsOf(info);
  return {
    action_profile_member: {
      action_profile_id: ids.profile,
      member_id: memberId,
      action: { action_id: ids.action('lb_set_endpoint'), params: [{ param_id: 1, value: be(e.ipv4, 4) }, { param_id: 2, value: be(e.port, 2) }] },
    },
  };
}

/**
 * One service port's own entities: its group of `memberIds` and its service_lb entry pointing at
 * it, or, with no member, a service_lb entry pointing at the reject member (no group).
 */
export function serviceEntities(info: P4Info, s: ServicePort, groupId: number, memberIds: readonly number[]): WireEntity[] {
  const ids = idsOf(info);
  const match = [
    { field_id: 1, exact: { value: be(s.clusterIp, 4) } },
    { field_id: 2, exact: { value: be(s.protocol === 'TCP' ? 6 : 17, 1) } },
    { field_id: 3, exact: { value: be(s.port, 2) } },
  ];
  const lb = ids.table('service_lb');
  if (memberIds.length === 0) return [{ table_entry: { table_id: lb, match, action: { action_profile_member_id: REJECT_MEMBER_ID } } }];
  const sorted = [...memberIds].sort((a, b) => a - b);
  return [
    { action_profile_group: { action_profile_id: ids.profile, group_id: groupId, members: sorted.map((m) => ({ member_id: m, weight: 1 })), max_size: GROUP_MAX_SIZE } },
    { table_entry: { table_id: lb, match, action: { action_profile_group_id: groupId } } },
  ];
}

function localEntries(info: P4Info, intent: RenderIntent): WireEntity[] {
  const out = gatewayEntities(info);
  if (intent.host) out.push(...hostEntities(info, intent.host));
  for (const p of intent.pods) out.push(...podEntities(info, p));
  return out;
}

function allServiceEntries(info: P4Info, intent: RenderIntent, pools: IdPools): WireEntity[] {
  const podIps = new Set(intent.pods.map((p) => p.ipv4));
  const members = new Map<number, Endpoint>();
  const out: WireEntity[] = [];
  for (const s of intent.services) {
    const usable = usableEndpoints(s, intent.node, podIps);
    const memberIds = usable.map((e) => {
      members.set(endpointKey(e), e);
      return pools.members.allocate(endpointKey(e));
    });
    const groupId = usable.length === 0 ? 0 : pools.groups.allocate(servicePortKey(s));
    out.push(...serviceEntities(info, s, groupId, memberIds));
  }
  const memberEntities: WireEntity[] = [rejectMemberEntity(info)];
  for (const [key, e] of [...members].sort((a, b) => a[0] - b[0])) memberEntities.push(memberEntity(info, e, pools.members.allocate(key)));
  return [...memberEntities, ...out];
}

/** Every entity the intent needs. Call assignIds first (render allocates only what it must). */
export function render(info: P4Info, intent: RenderIntent, pools: IdPools): WireEntity[] {
  return [...localEntries(info, intent), ...allServiceEntries(info, intent, pools)];
}
