/**
 * The manager's intent as domain objects — the host interface, one record per pod interface,
 * one per service port with its endpoint set — with the ids the manager allocates for them
 * (a member id per endpoint ip:port, shared by every service that lists it; a group id per
 * service port), and the desired entities they render to (DesiredIndex), kept object by object.
 *
 * Changes happen in batches (see durable-store.ts): each request is checked and applied here at
 * once (so the next request of the batch sees it), which marks the KV keys to write and the
 * objects to re-render; `pendingWrites` lists the writes; after they are durable, `committed`
 * renders the touched objects into the index (what the session sees) and frees the ids the
 * batch released. Ids freed in a batch are not reused inside it, so a batch that half-lands can
 * never leave two stored records claiming one id.
 *
 * Member ids are allocated for every endpoint a service lists, ready or not, pending or not: the
 * id is then a function of the service records alone, so a pod arriving (a pending endpoint
 * becoming usable) or a readiness flap rewrites no stored record, and the member keeps its id.
 *
 * @example
 * const intent = new ManagerIntent('node-1', info, newPullTracker());
 * intent.addPod(pod);                  // { ok: true, value: true }: changed
 * const writes = intent.pendingWrites();
 * intent.committed(writes, await kv.write(writes));
 */
import { err, ok, type Result } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import { formatIpv4 } from '../../messages/validate.js';
import type { P4Info } from '../../p4/p4info.js';
import {
  endpointKey,
  gatewayEntities,
  GATEWAY_IP,
  GROUP_MAX_SIZE,
  hostEntities,
  memberEntity,
  newIdPools,
  podEntities,
  rejectMemberEntity,
  serviceEntities,
  servicePortKey,
  usableEndpoints,
  type IdPools,
} from '../../p4/render.js';
import type { Endpoint, HostInterface, PodInterface, ServiceKey, ServicePort } from '../../protocol/intent.js';
import { intentDigest } from '../../protocol/intent-digest.js';
import type { FullState } from '../../protocol/sync.js';
import { DesiredIndex } from './desired-index.js';
import type { KvWrite } from './intent-kv.js';
import { encodeHost, encodePod, encodeService, HOST_KEY, podKvKey, serviceKvKey } from './intent-records.js';

/** Which objects requests changed while the agent's full state was being pulled (see replaceAll). */
export interface PullTracker {
  seq: number;
  open: boolean;
  readonly touched: Map<string, number>;
}

export function newPullTracker(): PullTracker {
  return { seq: 0, open: false, touched: new Map() };
}

export interface ServiceState {
  readonly service: ServicePort;
  readonly kvKey: string;
  readonly groupId: number;
  /** Endpoint key → endpoint, as listed. */
  readonly listed: ReadonlyMap<number, Endpoint>;
}

/** A change: whether it changed anything, or why it was refused. */
export type Change = Result<boolean, BusError>;

export interface ReplaceOutcome {
  readonly changed: boolean;
  /** Objects of the agent's state that were refused (and why). */
  readonly refused: readonly string[];
  /** Objects kept as they are because a request changed them during the pull. */
  readonly kept: number;
}

const conflict = (message: string, field: string): Change => err(new BusError('CONFLICT', message, field));
const exhausted = (message: string, field: string): Change => err(new BusError('RESOURCE_EXHAUSTED', message, field));
const wrongNode = (got: string, field: string): Change => err(new BusError('INVALID_ARGUMENT', `request for node "${got}" sent to another node`, field));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export class ManagerIntent {
  host: HostInterface | undefined;
  readonly pods = new Map<string, PodInterface>();
  readonly services = new Map<number, ServiceState>();
  readonly index = new DesiredIndex();
  readonly pools: IdPools;
  private readonly podByIp = new Map<number, string>();
  private readonly podByPort = new Map<number, string>();
  /** Local endpoint address → service ports listing it (re-rendered when its pod comes or goes). */
  private readonly localUsers = new Map<number, Set<number>>();
  /** Endpoint key → how many service ports list it (its member id lives while > 0). */
  private readonly epRefs = new Map<number, number>();
  /** Service key → [endpoint key, member id] of the members its rendered group holds. */
  private readonly rendered = new Map<number, [number, number][]>();
  /** KV key → revision of its last message (value or delete marker); keys holding a value. */
  private readonly revs = new Map<string, number>();
  private readonly live = new Set<string>();
  private rev = 0;
  private endpointTotal = 0;
  private retirePending = false;
  private readonly arpCapacity: number;
  // The batch in progress.
  private readonly dirty = new Map<string, () => Uint8Array | null>();
  private readonly touchedPods = new Set<string>();
  private readonly touchedServices = new Set<number>();
  private hostTouched = false;
  private readonly freedMembers = new Set<number>();
  private readonly freedGroups = new Set<number>();

  constructor(
    readonly node: string,
    readonly info: P4Info,
    readonly pull: PullTracker,
    pools?: IdPools,
  ) {
    this.pools = pools ?? newIdPools(info);
    this.arpCapacity = info.tableByName('MainControlImpl.arp_to_port').size;
    this.index.setOwner('gw', gatewayEntities(info));
    this.index.setOwner('reject', [rejectMemberEntity(info)]);
  }

  /** The highest KV revision this intent has seen: what replies carry. */
  get revision(): number {
    return this.rev;
  }

  counts(): { pods: number; services: number; endpoints: number; hasHost: boolean } {
    return { pods: this.pods.size, services: this.services.size, endpoints: this.endpointTotal, hasHost: this.host !== undefined };
  }

  // ---- requests (each records what it touched for a concurrent pull) ----

  setHost(host: HostInterface): Change {
    if (host.node !== this.node) return wrongNode(host.node, 'node');
    return this.touching(HOST_KEY, this.applyHost(host));
  }

  addPod(pod: PodInterface): Change {
    if (pod.node !== this.node) return wrongNode(pod.node, 'interface.node');
    return this.touching(podKvKey(pod.containerId), this.applyPod(pod));
  }

  deletePod(node: string, containerId: string): Change {
    if (node !== this.node) return wrongNode(node, 'node');
    return this.touching(podKvKey(containerId), this.applyPodDelete(containerId));
  }

  upsertService(node: string, service: ServicePort): Change {
    if (node !== this.node) return wrongNode(node, 'node');
    return this.touching(serviceKvKey(service), this.applyService(service));
  }

  deleteService(node: string, key: ServiceKey): Change {
    if (node !== this.node) return wrongNode(node, 'node');
    return this.touching(serviceKvKey(key), this.applyServiceDelete(servicePortKey(key)));
  }

  /** A pull of the agent's full state begins: returns the mark to hand to replaceAll. */
  beginPull(): number {
    this.pull.open = true;
    this.pull.touched.clear();
    return this.pull.seq;
  }

  /**
   * Makes the intent what the agent holds (the agent owns pods, the host and what the API says),
   * keeping the ids of everything that stays. An object a request changed after `mark` (the pull
   * was under way) keeps the request's version: it is at least as new as the agent's answer. An
   * object the agent holds but this intent refuses (a conflict, a full table) is left out and named.
   */
  replaceAll(state: FullState, mark: number): Result<ReplaceOutcome, BusError> {
    if (state.node !== this.node) return err(new BusError('INVALID_ARGUMENT', `state of node "${state.node}" sent to ${this.node}`, 'node'));
    let kept = 0;
    const fresh = (kvKey: string): boolean => {
      const recent = (this.pull.touched.get(kvKey) ?? -1) > mark;
      if (recent) kept++;
      return !recent;
    };
    let changed = false;
    const note = (r: Change): Change => {
      if (r.ok && r.value) changed = true;
      return r;
    };
    const theirPods = new Set(state.pods.map((p) => p.containerId));
    const theirServices = new Set(state.services.map((s) => servicePortKey(s)));
    for (const id of [...this.pods.keys()]) if (!theirPods.has(id) && fresh(podKvKey(id))) note(this.applyPodDelete(id));
    for (const [key, s] of [...this.services]) if (!theirServices.has(key) && fresh(s.kvKey)) note(this.applyServiceDelete(key));
    const refused: string[] = [];
    if (fresh(HOST_KEY)) {
      const r = note(this.applyHost(state.host));
      if (!r.ok) refused.push(`host: ${r.error.message}`);
    }
    // Pods may swap addresses or ports: what conflicts now may fit once the others moved.
    let pending = state.pods.filter((p) => fresh(podKvKey(p.containerId)));
    for (let round = 0; round < 3 && pending.length > 0; round++) {
      const next = pending.filter((p) => !note(this.applyPod(p)).ok);
      if (next.length === pending.length) break;
      pending = next;
    }
    for (const p of pending) {
      const r = this.applyPod(p);
      if (!r.ok) refused.push(`pod ${p.containerId}: ${r.error.message}`);
    }
    for (const s of state.services) {
      if (!fresh(serviceKvKey(s))) continue;
      const r = note(this.applyService(s));
      if (!r.ok) refused.push(`service ${formatIpv4(s.clusterIp)}:${s.port}/${s.protocol}: ${r.error.message}`);
    }
    this.pull.open = false;
    this.pull.touched.clear();
    return ok({ changed, refused, kept });
  }

  private touching(kvKey: string, r: Change): Change {
    this.pull.seq++;
    if (r.ok && r.value && this.pull.open) this.pull.touched.set(kvKey, this.pull.seq);
    return r;
  }

  // ---- checks and changes ----

  private hostAddrs(host = this.host): number[] {
    return host ? [...new Set([host.ipv4, host.nodeIp])] : [];
  }

  /** Sets or (undefined) removes the host interface. */
  applyHost(host: HostInterface | undefined): Change {
    if (host === undefined ? this.host === undefined : this.host !== undefined && same(this.host, host)) return ok(false);
    if (host) {
      if (host.node !== this.node) return wrongNode(host.node, 'node');
      for (const addr of this.hostAddrs(host)) {
        const owner = this.podByIp.get(addr);
        if (owner !== undefined) return conflict(`${formatIpv4(addr)} belongs to container ${owner}`, 'ipv4');
        if (addr === GATEWAY_IP) return conflict(`${formatIpv4(addr)} is the gateway's address`, 'ipv4');
      }
      if (1 + this.hostAddrs(host).length + this.pods.size > this.arpCapacity) return exhausted('the ARP table is full', 'ipv4');
    }
    this.host = host;
    this.hostTouched = true;
    this.dirty.set(HOST_KEY, () => (this.host ? encodeHost(this.host) : null));
    return ok(true);
  }

  applyPod(pod: PodInterface): Change {
    if (pod.node !== this.node) return wrongNode(pod.node, 'interface.node');
    const id = pod.containerId;
    const existing = this.pods.get(id);
    if (existing && same(existing, pod)) return ok(false);
    const ipOwner = this.podByIp.get(pod.ipv4);
    if (ipOwner !== undefined && ipOwner !== id) return conflict(`${formatIpv4(pod.ipv4)} belongs to container ${ipOwner}`, 'interface.ipv4');
    const portOwner = this.podByPort.get(pod.portId);
    if (portOwner !== undefined && portOwner !== id) return conflict(`port ${pod.portId} belongs to container ${portOwner}`, 'interface.port_id');
    if (this.hostAddrs().includes(pod.ipv4)) return conflict(`${formatIpv4(pod.ipv4)} is the host's address`, 'interface.ipv4');
    if (pod.ipv4 === GATEWAY_IP) return conflict(`${formatIpv4(pod.ipv4)} is the gateway's address`, 'interface.ipv4');
    if (!existing && 1 + this.hostAddrs().length + this.pods.size >= this.arpCapacity) return exhausted('the pod tables are full', 'interface');
    if (existing) this.unindexPod(existing);
    this.pods.set(id, pod);
    this.podByIp.set(pod.ipv4, id);
    this.podByPort.set(pod.portId, id);
    this.localEndpointsChanged(pod.ipv4);
    this.touchedPods.add(id);
    this.dirty.set(podKvKey(id), () => {
      const p = this.pods.get(id);
      return p ? encodePod(p) : null;
    });
    return ok(true);
  }

  applyPodDelete(containerId: string): Change {
    const existing = this.pods.get(containerId);
    if (!existing) return ok(false); // DEL is idempotent, as CNI requires
    this.unindexPod(existing);
    this.pods.delete(containerId);
    this.touchedPods.add(containerId);
    this.dirty.set(podKvKey(containerId), () => {
      const p = this.pods.get(containerId);
      return p ? encodePod(p) : null;
    });
    return ok(true);
  }

  private unindexPod(pod: PodInterface): void {
    if (this.podByIp.get(pod.ipv4) === pod.containerId) this.podByIp.delete(pod.ipv4);
    if (this.podByPort.get(pod.portId) === pod.containerId) this.podByPort.delete(pod.portId);
    // Endpoints on this address become pending: their flows are dead.
    if (this.localEndpointsChanged(pod.ipv4)) this.retirePending = true;
  }

  /** Marks the services listing a local endpoint on `ipv4` for re-render; true if there were any. */
  private localEndpointsChanged(ipv4: number): boolean {
    const users = this.localUsers.get(ipv4);
    if (!users) return false;
    for (const k of users) this.touchedServices.add(k);
    return users.size > 0;
  }

  applyService(s: ServicePort): Change {
    const key = servicePortKey(s);
    const existing = this.services.get(key);
    if (existing && same(existing.service, s)) return ok(false);
    if (s.endpoints.length > GROUP_MAX_SIZE) return exhausted(`more than ${GROUP_MAX_SIZE} endpoints for one service port`, 'service.endpoints');
    if (!existing && this.pools.groups.idOf(key) === undefined && this.pools.groups.available < 1) return exhausted('the service table is full', 'service');
    const listed = new Map(s.endpoints.map((e) => [endpointKey(e), e] as const));
    let fresh = 0;
    for (const k of listed.keys()) if (!this.epRefs.has(k) && this.pools.members.idOf(k) === undefined) fresh++;
    if (fresh > this.pools.members.available) return exhausted(`no member id left for ${fresh} new endpoints`, 'service.endpoints');
    for (const k of listed.keys()) if (!existing?.listed.has(k)) this.refEndpoint(k);
    if (existing) {
      for (const k of existing.listed.keys()) if (!listed.has(k)) this.unrefEndpoint(k);
      this.setLocalUsers(key, existing.listed, false);
      this.endpointTotal -= existing.listed.size;
    }
    this.setLocalUsers(key, listed, true);
    this.endpointTotal += listed.size;
    this.freedGroups.delete(key);
    const state: ServiceState = { service: s, kvKey: serviceKvKey(s), groupId: this.pools.groups.allocate(key), listed };
    this.services.set(key, state);
    this.touchedServices.add(key);
    this.dirty.set(state.kvKey, () => this.serviceValue(key));
    return ok(true);
  }

  applyServiceDelete(key: number): Change {
    const existing = this.services.get(key);
    if (!existing) return ok(false);
    for (const k of existing.listed.keys()) this.unrefEndpoint(k);
    this.setLocalUsers(key, existing.listed, false);
    this.endpointTotal -= existing.listed.size;
    this.services.delete(key);
    this.freedGroups.add(key);
    this.touchedServices.add(key);
    this.dirty.set(existing.kvKey, () => this.serviceValue(key));
    return ok(true);
  }

  private serviceValue(key: number): Uint8Array | null {
    const s = this.services.get(key);
    if (!s) return null;
    return encodeService(this.node, s.service, s.groupId, s.service.endpoints.map((e) => this.pools.members.idOf(endpointKey(e)) ?? 0));
  }

  private refEndpoint(k: number): void {
    const n = this.epRefs.get(k) ?? 0;
    this.epRefs.set(k, n + 1);
    if (n === 0) this.pools.members.allocate(k);
  }

  private unrefEndpoint(k: number): void {
    const n = (this.epRefs.get(k) ?? 1) - 1;
    this.retirePending = true; // its flows through this service are dead
    if (n > 0) {
      this.epRefs.set(k, n);
      return;
    }
    this.epRefs.delete(k);
    this.freedMembers.add(k);
  }

  private setLocalUsers(key: number, listed: ReadonlyMap<number, Endpoint>, add: boolean): void {
    for (const e of listed.values()) {
      if (e.node !== this.node) continue;
      let users = this.localUsers.get(e.ipv4);
      if (add) {
        if (!users) this.localUsers.set(e.ipv4, (users = new Set()));
        users.add(key);
      } else if (users) {
        users.delete(key);
        if (users.size === 0) this.localUsers.delete(e.ipv4);
      }
    }
  }

  // ---- durability and rendering ----

  /** The KV writes the batch so far needs (compare-and-set on each key's revision). */
  pendingWrites(): KvWrite[] {
    const out: KvWrite[] = [];
    for (const [key, value] of this.dirty) {
      const bytes = value();
      if (bytes === null && !this.live.has(key)) continue; // created and deleted within the batch
      out.push({ key, value: bytes, revision: this.revs.get(key) ?? 0 });
    }
    return out;
  }

  /** The batch's writes are durable: record their revisions, render what changed, free ids. */
  committed(writes: readonly KvWrite[], revisions: readonly number[]): void {
    writes.forEach((w, i) => this.stored(w.key, revisions[i]!, w.value !== null));
    this.dirty.clear();
    this.renderTouched();
    for (const k of this.freedMembers) if (!this.epRefs.has(k)) this.pools.members.release(k);
    for (const k of this.freedGroups) if (!this.services.has(k)) this.pools.groups.release(k);
    this.freedMembers.clear();
    this.freedGroups.clear();
  }

  /** What the store holds for a key (loading, or after a write). */
  stored(key: string, revision: number, hasValue: boolean): void {
    this.revs.set(key, revision);
    if (hasValue) this.live.add(key);
    else this.live.delete(key);
    this.rev = Math.max(this.rev, revision);
  }

  /** Keeps only the marked writes `keep` accepts (loading: only records that need repair). */
  markClean(keep: (key: string) => boolean): void {
    for (const key of [...this.dirty.keys()]) if (!keep(key)) this.dirty.delete(key);
  }

  /** Marks a stored key for deletion (loading: a record that cannot be used). */
  markForDeletion(key: string): void {
    this.dirty.set(key, () => null);
  }

  /** Whether the batch so far has anything to write. */
  get hasPendingWrites(): boolean {
    return this.dirty.size > 0;
  }

  /** Whether flows may need retiring since the last call (an endpoint, service or pod went away). */
  takeRetire(): boolean {
    const r = this.retirePending;
    this.retirePending = false;
    return r;
  }

  /** Renders the objects changed since the last render into the index (what the session sees). */
  renderTouched(): void {
    if (this.hostTouched) this.index.setOwner('host', this.host ? hostEntities(this.info, this.host) : []);
    this.hostTouched = false;
    for (const id of this.touchedPods) {
      const pod = this.pods.get(id);
      this.index.setOwner(`p:${id}`, pod ? podEntities(this.info, pod) : []);
    }
    this.touchedPods.clear();
    for (const key of this.touchedServices) this.renderService(key);
    this.touchedServices.clear();
  }

  private renderService(key: number): void {
    const s = this.services.get(key);
    const before = this.rendered.get(key) ?? [];
    const usable = s ? usableEndpoints(s.service, this.node, this.podByIp) : [];
    const after = usable.map((e): [number, number] => [endpointKey(e), this.pools.members.idOf(endpointKey(e))!]);
    const had = new Set(before.map(([, id]) => id));
    const has = new Set(after.map(([, id]) => id));
    after.forEach(([, id], i) => {
      if (!had.has(id)) this.index.refMember(id, memberEntity(this.info, usable[i]!, id));
    });
    for (const [, id] of before) if (!has.has(id)) this.index.unrefMember(id);
    this.index.setOwner(`s:${key}`, s ? serviceEntities(this.info, s.service, s.groupId, after.map(([, id]) => id)) : []);
    if (s) this.rendered.set(key, after);
    else this.rendered.delete(key);
  }

  // ---- views ----

  /** Is a learned flow VIP:port/proto → endpoint still backed by the intent? (retire the rest) */
  isLiveFlow(vip: number, vport: number, proto: number, epIp: number, epPort: number): boolean {
    const s = this.services.get(servicePortKey({ clusterIp: vip, port: vport, protocol: proto === 17 ? 'UDP' : 'TCP' }));
    const e = s?.listed.get(endpointKey({ ipv4: epIp, port: epPort }));
    if (!e) return false;
    return e.node !== this.node || this.podByIp.has(epIp);
  }

  fullState(): FullState {
    return {
      node: this.node,
      revision: this.rev,
      host: this.host,
      pods: [...this.pods.values()],
      services: [...this.services.values()].map((s) => s.service),
    };
  }

  /** SHA-256 of the canonical intent (protocol/intent-digest.ts), the same computation as the agent's IntentState. */
  digest(): string {
    return intentDigest(this.host, this.pods.values(), [...this.services.values()].map((s) => s.service));
  }
}
