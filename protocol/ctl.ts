/**
 * The operator's views (proto/infra/v1/ctl.proto): requests offloadctl sends to
 * infra.v1.<node>.ctl.<role>.<op> and the replies the manager and the agent render. Requests are
 * checked like every other request (node name, limits in range, a table name's characters);
 * replies are checked on the way in too (bounded strings and counts), since an operator's tool
 * trusts the bus no more than a process does.
 *
 * @example
 * const r = tablesRequestCodec.decode(bytes); // { ok: true, value: { node: 'node-1', table: '', limit: 1000, learnedOnly: false } }
 * await bus.request(`${ctlPrefix(node, 'manager')}.tables`, ctlMethods.tables, { node, table: '', limit: 0, learnedOnly: true });
 */
import { protoCodec, type WireMessage } from '../messages/codec.js';
import { ValidationError } from '../messages/errors.js';
import { nodeName, u64, uint } from '../messages/validate.js';
import { instanceId, roleFromWire, roleToWire, type Role } from './node.js';
import { wireType } from './root.js';

/** Entries (or endpoints, or pods) a view shows when the request names no limit. */
export const DEFAULT_VIEW_LIMIT = 1000;
/** The largest limit a request may ask for (a reply must fit in one NATS message). */
export const MAX_VIEW_LIMIT = 10_000;
/** Children of one supervisor a tree view lists, and how deep it goes. */
export const MAX_TREE_CHILDREN = 256;
export const MAX_TREE_DEPTH = 8;

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,127}$/;

// ---- requests ----

export interface TreeRequest {
  readonly node: string;
}

export interface TablesRequest {
  readonly node: string;
  /** A table or action profile, by alias or full name; '' for all. */
  readonly table: string;
  /** 1…MAX_VIEW_LIMIT (0 on the wire means DEFAULT_VIEW_LIMIT). */
  readonly limit: number;
  readonly learnedOnly: boolean;
}

export interface ServicesRequest {
  readonly node: string;
  readonly limit: number;
}

export interface PodsRequest {
  readonly node: string;
  readonly limit: number;
}

export interface LeadershipRequest {
  readonly node: string;
}

// ---- replies ----

export interface SupervisionNode {
  readonly id: string;
  readonly kind: 'supervisor' | 'worker';
  readonly status: string;
  /** '' for workers. */
  readonly strategy: string;
  readonly restarts: number;
  /** '' when the child is not a state machine (or not running). */
  readonly state: string;
  readonly lastError: string;
  readonly lastErrorAtMs: number;
  readonly dynamic: boolean;
  readonly children: readonly SupervisionNode[];
  readonly omittedChildren: number;
}

export interface TreeReply {
  readonly node: string;
  readonly role: Role;
  readonly instanceId: string;
  readonly startedAtMs: number;
  readonly uptimeMs: number;
  readonly root: SupervisionNode;
}

export interface NamedValue {
  readonly name: string;
  readonly value: string;
}

export interface TableEntryView {
  /** In the order of the table's `matchFields`. */
  readonly match: readonly string[];
  /** '' when the entry points at a member or a group. */
  readonly action: string;
  readonly params: readonly NamedValue[];
  readonly memberId: number;
  readonly groupId: number;
  readonly isDefault: boolean;
  readonly priority: number;
}

export interface TableView {
  readonly name: string;
  readonly id: number;
  readonly matchFields: readonly string[];
  /** Entries the device holds, shown or not. */
  readonly count: number;
  readonly capacity: number;
  readonly learned: boolean;
  readonly entries: readonly TableEntryView[];
}

export interface MemberView {
  readonly id: number;
  readonly action: string;
  readonly params: readonly NamedValue[];
}

export interface GroupView {
  readonly id: number;
  readonly members: readonly number[];
}

export interface ProfileView {
  readonly name: string;
  readonly memberCount: number;
  readonly groupCount: number;
  readonly members: readonly MemberView[];
  readonly groups: readonly GroupView[];
}

export interface TablesReply {
  readonly node: string;
  readonly target: string;
  readonly deviceId: number;
  readonly electionId: number;
  readonly tables: readonly TableView[];
  readonly learned: readonly TableView[];
  readonly profiles: readonly ProfileView[];
  readonly shown: number;
  readonly omitted: number;
  readonly readMs: number;
}

export type EndpointState = 'active' | 'pending' | 'unused';

export interface EndpointView {
  readonly address: string;
  readonly node: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly memberId: number;
  readonly state: EndpointState;
}

export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  /** "10.96.0.10:53/UDP" */
  readonly key: string;
  readonly groupId: number;
  readonly rejecting: boolean;
  readonly endpointCount: number;
  readonly endpoints: readonly EndpointView[];
}

export interface ServicesReply {
  readonly node: string;
  readonly revision: number;
  readonly count: number;
  readonly services: readonly ServiceView[];
  readonly omittedEndpoints: number;
  readonly omittedServices: number;
  readonly rejectMemberId: number;
}

export interface PodView {
  readonly containerId: string;
  readonly namespace: string;
  readonly name: string;
  readonly ifname: string;
  readonly poolInterface: string;
  readonly portId: number;
  readonly mac: string;
  readonly ipv4: string;
  readonly netns: string;
  readonly phase: string;
}

export interface PortView {
  readonly port: number;
  readonly name: string;
  readonly netns: string;
  readonly role: string;
  readonly allocated: boolean;
}

export interface HostView {
  readonly interfaceName: string;
  readonly portId: number;
  readonly ipv4: string;
  readonly mac: string;
  readonly nodeIp: string;
  readonly podCidr: string;
}

export interface PodsReply {
  readonly node: string;
  readonly role: Role;
  readonly count: number;
  readonly pods: readonly PodView[];
  readonly hasPool: boolean;
  readonly portCount: number;
  readonly ports: readonly PortView[];
  readonly omitted: number;
  readonly host: HostView | undefined;
}

export interface SyncFigures {
  readonly kind: string;
  readonly inserted: number;
  readonly modified: number;
  readonly deleted: number;
  readonly unchanged: number;
  readonly retired: number;
  readonly writes: number;
  readonly agoMs: number;
}

export interface LeadershipReply {
  readonly node: string;
  readonly instanceId: string;
  readonly leader: boolean;
  readonly holder: string;
  readonly epoch: number;
  readonly leaseRevision: number;
  readonly renewedAgoMs: number;
  readonly hasSession: boolean;
  readonly sessionState: string;
  readonly connected: boolean;
  readonly primary: boolean;
  readonly ready: boolean;
  readonly target: string;
  readonly deviceId: number;
  readonly reconciles: number;
  readonly lastError: string;
  readonly lastSync: SyncFigures | undefined;
  readonly intentRevision: number;
}

// ---- field checks ----

/** An optional string of at most `max` characters ('' when absent). */
function text(value: unknown, field: string, max = 256): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ValidationError(field, 'not a string');
  if (value.length > max) throw new ValidationError(field, `longer than ${max} characters`);
  return value;
}

/** A repeated field of at most `max` items. */
function items<T = WireMessage>(value: unknown, field: string, max: number): T[] {
  const list = Array.isArray(value) ? (value as T[]) : [];
  if (list.length > max) throw new ValidationError(field, `more than ${max} items`);
  return list;
}

const u32 = (value: unknown, field: string): number => uint(value ?? 0, field, 0, 0xffffffff);
const u53 = (value: unknown, field: string): number => (value === undefined || value === null ? 0 : u64(value, field));
const i32 = (value: unknown, field: string): number => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff) return value;
  if (value === undefined || value === null) return 0;
  throw new ValidationError(field, 'not a 32-bit integer');
};
const sub = (value: unknown): WireMessage => (value !== null && typeof value === 'object' ? (value as WireMessage) : {});

/** A request's limit: 0 (absent) is the default, anything above MAX_VIEW_LIMIT is refused. */
export function viewLimit(value: unknown, field: string): number {
  const n = uint(value ?? 0, field, 0, MAX_VIEW_LIMIT);
  return n === 0 ? DEFAULT_VIEW_LIMIT : n;
}

function tableFilter(value: unknown, field: string): string {
  const name = text(value, field, 128);
  if (name !== '' && !TABLE_NAME.test(name)) throw new ValidationError(field, `"${name.slice(0, 64)}" is not a table name`);
  return name;
}

// ---- codecs: requests ----

const REQUEST_LIMITS = { maxBytes: 1024, maxDepth: 1, maxFields: 16 };
const nodeOnly = (w: WireMessage): { node: string } => ({ node: nodeName(w.node, 'node') });

export const treeRequestCodec = protoCodec<TreeRequest>(wireType('TreeRequest'), { toWire: (r) => ({ ...r }), fromWire: nodeOnly }, REQUEST_LIMITS);

export const leadershipRequestCodec = protoCodec<LeadershipRequest>(
  wireType('LeadershipRequest'),
  { toWire: (r) => ({ ...r }), fromWire: nodeOnly },
  REQUEST_LIMITS,
);

export const tablesRequestCodec = protoCodec<TablesRequest>(
  wireType('TablesRequest'),
  {
    toWire: (r) => ({ ...r }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      table: tableFilter(w.table, 'table'),
      limit: viewLimit(w.limit, 'limit'),
      learnedOnly: w.learnedOnly === true,
    }),
  },
  REQUEST_LIMITS,
);

export const servicesRequestCodec = protoCodec<ServicesRequest>(
  wireType('ServicesRequest'),
  { toWire: (r) => ({ ...r }), fromWire: (w) => ({ node: nodeName(w.node, 'node'), limit: viewLimit(w.limit, 'limit') }) },
  REQUEST_LIMITS,
);

export const podsRequestCodec = protoCodec<PodsRequest>(
  wireType('PodsRequest'),
  { toWire: (r) => ({ ...r }), fromWire: (w) => ({ node: nodeName(w.node, 'node'), limit: viewLimit(w.limit, 'limit') }) },
  REQUEST_LIMITS,
);

// ---- codecs: replies ----

const KINDS = ['supervisor', 'worker'] as const;

function supervisionToWire(n: SupervisionNode): WireMessage {
  return { ...n, children: n.children.map(supervisionToWire) };
}

function supervisionFromWire(w: WireMessage, at: string, depth: number): SupervisionNode {
  if (depth > MAX_TREE_DEPTH) throw new ValidationError(at, `deeper than ${MAX_TREE_DEPTH}`);
  const kind = text(w.kind, `${at}kind`, 16);
  if (!(KINDS as readonly string[]).includes(kind)) throw new ValidationError(`${at}kind`, `"${kind}" is neither supervisor nor worker`);
  return {
    id: text(w.id, `${at}id`, 128),
    kind: kind as SupervisionNode['kind'],
    status: text(w.status, `${at}status`, 32),
    strategy: text(w.strategy, `${at}strategy`, 32),
    restarts: u32(w.restarts, `${at}restarts`),
    state: text(w.state, `${at}state`, 256),
    lastError: text(w.lastError, `${at}last_error`, 512),
    lastErrorAtMs: u53(w.lastErrorAtMs, `${at}last_error_at_ms`),
    dynamic: w.dynamic === true,
    children: items(w.children, `${at}children`, MAX_TREE_CHILDREN).map((c, i) => supervisionFromWire(c, `${at}children[${i}].`, depth + 1)),
    omittedChildren: u32(w.omittedChildren, `${at}omitted_children`),
  };
}

export const treeReplyCodec = protoCodec<TreeReply>(
  wireType('TreeReply'),
  {
    toWire: (r) => ({ ...r, role: roleToWire(r.role), root: supervisionToWire(r.root) }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      role: roleFromWire(w.role, 'role'),
      instanceId: instanceId(w.instanceId, 'instance_id'),
      startedAtMs: u53(w.startedAtMs, 'started_at_ms'),
      uptimeMs: u53(w.uptimeMs, 'uptime_ms'),
      root: supervisionFromWire(sub(w.root), 'root.', 1),
    }),
  },
  { maxBytes: 1 << 20, maxDepth: MAX_TREE_DEPTH + 2, maxFields: 100_000 },
);

function namedValues(value: unknown, at: string): NamedValue[] {
  return items(value, at, 64).map((p, i) => ({ name: text(p.name, `${at}[${i}].name`, 128), value: text(p.value, `${at}[${i}].value`, 128) }));
}

function entryFromWire(w: WireMessage, at: string): TableEntryView {
  return {
    match: items<unknown>(w.match, `${at}match`, 64).map((m, i) => text(m, `${at}match[${i}]`, 128)),
    action: text(w.action, `${at}action`, 128),
    params: namedValues(w.params, `${at}params`),
    memberId: u32(w.memberId, `${at}member_id`),
    groupId: u32(w.groupId, `${at}group_id`),
    isDefault: w.isDefault === true,
    priority: i32(w.priority, `${at}priority`),
  };
}

function tableFromWire(w: WireMessage, at: string): TableView {
  return {
    name: text(w.name, `${at}name`, 128),
    id: u32(w.id, `${at}id`),
    matchFields: items<unknown>(w.matchFields, `${at}match_fields`, 64).map((m, i) => text(m, `${at}match_fields[${i}]`, 128)),
    count: u32(w.count, `${at}count`),
    capacity: u32(w.capacity, `${at}capacity`),
    learned: w.learned === true,
    entries: items(w.entries, `${at}entries`, MAX_VIEW_LIMIT).map((e, i) => entryFromWire(e, `${at}entries[${i}].`)),
  };
}

function profileFromWire(w: WireMessage, at: string): ProfileView {
  return {
    name: text(w.name, `${at}name`, 128),
    memberCount: u32(w.memberCount, `${at}member_count`),
    groupCount: u32(w.groupCount, `${at}group_count`),
    members: items(w.members, `${at}members`, MAX_VIEW_LIMIT).map((m, i) => ({
      id: u32(m.id, `${at}members[${i}].id`),
      action: text(m.action, `${at}members[${i}].action`, 128),
      params: namedValues(m.params, `${at}members[${i}].params`),
    })),
    groups: items(w.groups, `${at}groups`, MAX_VIEW_LIMIT).map((g, i) => ({
      id: u32(g.id, `${at}groups[${i}].id`),
      members: items<unknown>(g.members, `${at}groups[${i}].members`, 65_536).map((m, j) => u32(m, `${at}groups[${i}].members[${j}]`)),
    })),
  };
}

export const tablesReplyCodec = protoCodec<TablesReply>(
  wireType('TablesReply'),
  {
    toWire: (r) => ({ ...r }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      target: text(w.target, 'target', 512),
      deviceId: u53(w.deviceId, 'device_id'),
      electionId: u53(w.electionId, 'election_id'),
      tables: items(w.tables, 'tables', 64).map((t, i) => tableFromWire(t, `tables[${i}].`)),
      learned: items(w.learned, 'learned', 64).map((t, i) => tableFromWire(t, `learned[${i}].`)),
      profiles: items(w.profiles, 'profiles', 64).map((p, i) => profileFromWire(p, `profiles[${i}].`)),
      shown: u32(w.shown, 'shown'),
      omitted: u32(w.omitted, 'omitted'),
      readMs: u53(w.readMs, 'read_ms'),
    }),
  },
  { maxBytes: 1 << 20, maxDepth: 5, maxFields: 500_000 },
);

const ENDPOINT_STATES: readonly EndpointState[] = ['active', 'pending', 'unused'];

function endpointFromWire(w: WireMessage, at: string): EndpointView {
  const state = text(w.state, `${at}state`, 16);
  if (!(ENDPOINT_STATES as readonly string[]).includes(state)) throw new ValidationError(`${at}state`, `unknown endpoint state "${state}"`);
  return {
    address: text(w.address, `${at}address`, 32),
    node: text(w.node, `${at}node`, 253),
    ready: w.ready === true,
    serving: w.serving === true,
    terminating: w.terminating === true,
    memberId: u32(w.memberId, `${at}member_id`),
    state: state as EndpointState,
  };
}

export const servicesReplyCodec = protoCodec<ServicesReply>(
  wireType('ServicesReply'),
  {
    toWire: (r) => ({ ...r }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      revision: u53(w.revision, 'revision'),
      count: u32(w.count, 'count'),
      services: items(w.services, 'services', MAX_VIEW_LIMIT).map((s, i) => {
        const at = `services[${i}].`;
        return {
          namespace: text(s.namespace, `${at}namespace`, 63),
          name: text(s.name, `${at}name`, 253),
          portName: text(s.portName, `${at}port_name`, 15),
          key: text(s.key, `${at}key`, 32),
          groupId: u32(s.groupId, `${at}group_id`),
          rejecting: s.rejecting === true,
          endpointCount: u32(s.endpointCount, `${at}endpoint_count`),
          endpoints: items(s.endpoints, `${at}endpoints`, MAX_VIEW_LIMIT).map((e, j) => endpointFromWire(e, `${at}endpoints[${j}].`)),
        };
      }),
      omittedEndpoints: u32(w.omittedEndpoints, 'omitted_endpoints'),
      omittedServices: u32(w.omittedServices, 'omitted_services'),
      rejectMemberId: u32(w.rejectMemberId, 'reject_member_id'),
    }),
  },
  { maxBytes: 1 << 20, maxDepth: 4, maxFields: 200_000 },
);

function podFromWire(w: WireMessage, at: string): PodView {
  return {
    containerId: text(w.containerId, `${at}container_id`, 256),
    namespace: text(w.namespace, `${at}namespace`, 63),
    name: text(w.name, `${at}name`, 253),
    ifname: text(w.ifname, `${at}ifname`, 15),
    poolInterface: text(w.poolInterface, `${at}pool_interface`, 15),
    portId: u32(w.portId, `${at}port_id`),
    mac: text(w.mac, `${at}mac`, 17),
    ipv4: text(w.ipv4, `${at}ipv4`, 18),
    netns: text(w.netns, `${at}netns`, 4096),
    phase: text(w.phase, `${at}phase`, 16),
  };
}

export const podsReplyCodec = protoCodec<PodsReply>(
  wireType('PodsReply'),
  {
    toWire: (r) => ({ ...r, role: roleToWire(r.role), hasHost: r.host !== undefined, host: r.host }),
    fromWire: (w) => {
      const h = sub(w.host);
      return {
        node: nodeName(w.node, 'node'),
        role: roleFromWire(w.role, 'role'),
        count: u32(w.count, 'count'),
        pods: items(w.pods, 'pods', MAX_VIEW_LIMIT).map((p, i) => podFromWire(p, `pods[${i}].`)),
        hasPool: w.hasPool === true,
        portCount: u32(w.portCount, 'port_count'),
        ports: items(w.ports, 'ports', MAX_VIEW_LIMIT).map((p, i) => ({
          port: u32(p.port, `ports[${i}].port`),
          name: text(p.name, `ports[${i}].name`, 15),
          netns: text(p.netns, `ports[${i}].netns`, 4096),
          role: text(p.role, `ports[${i}].role`, 16),
          allocated: p.allocated === true,
        })),
        omitted: u32(w.omitted, 'omitted'),
        host:
          w.hasHost === true
            ? {
                interfaceName: text(h.interfaceName, 'host.interface_name', 15),
                portId: u32(h.portId, 'host.port_id'),
                ipv4: text(h.ipv4, 'host.ipv4', 15),
                mac: text(h.mac, 'host.mac', 17),
                nodeIp: text(h.nodeIp, 'host.node_ip', 15),
                podCidr: text(h.podCidr, 'host.pod_cidr', 18),
              }
            : undefined,
      };
    },
  },
  { maxBytes: 1 << 20, maxDepth: 3, maxFields: 200_000 },
);

export const leadershipReplyCodec = protoCodec<LeadershipReply>(
  wireType('LeadershipReply'),
  {
    toWire: (r) => ({ ...r, hasLastSync: r.lastSync !== undefined, lastSync: r.lastSync }),
    fromWire: (w) => {
      const s = sub(w.lastSync);
      return {
        node: nodeName(w.node, 'node'),
        instanceId: instanceId(w.instanceId, 'instance_id'),
        leader: w.leader === true,
        holder: text(w.holder, 'holder', 64),
        epoch: u53(w.epoch, 'epoch'),
        leaseRevision: u53(w.leaseRevision, 'lease_revision'),
        renewedAgoMs: u53(w.renewedAgoMs, 'renewed_ago_ms'),
        hasSession: w.hasSession === true,
        sessionState: text(w.sessionState, 'session_state', 64),
        connected: w.connected === true,
        primary: w.primary === true,
        ready: w.ready === true,
        target: text(w.target, 'target', 512),
        deviceId: u53(w.deviceId, 'device_id'),
        reconciles: u32(w.reconciles, 'reconciles'),
        lastError: text(w.lastError, 'last_error', 512),
        lastSync:
          w.hasLastSync === true
            ? {
                kind: text(s.kind, 'last_sync.kind', 16),
                inserted: u32(s.inserted, 'last_sync.inserted'),
                modified: u32(s.modified, 'last_sync.modified'),
                deleted: u32(s.deleted, 'last_sync.deleted'),
                unchanged: u32(s.unchanged, 'last_sync.unchanged'),
                retired: u32(s.retired, 'last_sync.retired'),
                writes: u32(s.writes, 'last_sync.writes'),
                agoMs: u53(s.agoMs, 'last_sync.ago_ms'),
              }
            : undefined,
        intentRevision: u53(w.intentRevision, 'intent_revision'),
      };
    },
  },
  { maxBytes: 16_384, maxDepth: 2, maxFields: 256 },
);
