/**
 * Full-state sync in pages. A node's intent can exceed one NATS message (1 MiB) and one page's
 * item cap (MAX_SYNC_ITEMS): 10,000 services are cluster-wide, so every agent holds them all. The
 * responder takes a snapshot on the first request and serves it page by page; the puller asks
 * for the next offset of the same snapshot until the last page, so it gets one consistent state
 * however long the pull takes and whatever changes meanwhile (changes made during a pull reach the
 * puller as ordinary requests: see ManagerIntent.replaceAll).
 *
 * The responder keeps a few recent snapshots for a while (`ttlMs`); a snapshot it no longer holds
 * — it restarted, or the puller was too slow — is refused with NOT_FOUND, and the puller starts
 * again from a new snapshot (a bounded number of times). Losing the cache is harmless.
 *
 * @example
 * const snapshots = new SyncSnapshots({ clock, random });
 * route(agentMethods.sync, (r) => snapshots.page(r, () => ask(intent, (reply) => ({ type: 'state.get', reply }), opts)));
 * // the puller
 * const state = await pullFullState((req) => bus.request(subject, agentMethods.sync, req), { node, from: 'manager', instanceId });
 */
import type { Clock } from '../core/clock.js';
import { err, ok, type Result } from '../core/result.js';
import type { Random } from '../core/random.js';
import { BusError } from '../messages/errors.js';
import type { PodInterface, ServicePort } from '../protocol/intent.js';
import { MAX_SYNC_ITEMS, type FullState, type SyncPage, type SyncRequest } from '../protocol/sync.js';

/** Bytes a page may fill (estimated), well under NATS's 1 MiB max_payload. */
export const PAGE_BYTES = 512 * 1024;

// Generous per-item estimates of the encoded size (a pod carries names and ids, an endpoint an
// address, a port, a node name and flags).
const POD_BYTES = 160;
const SERVICE_BYTES = 128;
const ENDPOINT_BYTES = 48;

interface Held {
  readonly id: number;
  readonly state: FullState;
  readonly total: number;
  at: number;
}

export interface SnapshotOptions {
  readonly clock: Clock;
  readonly random: Random;
  /** How long an unused snapshot is kept (default 30 s). */
  readonly ttlMs?: number;
  /** How many snapshots are kept at most (default 4: one per concurrent puller is plenty). */
  readonly keep?: number;
  readonly pageBytes?: number;
  readonly pageItems?: number;
}

/** The responder's side: snapshots taken on demand and served page by page. */
export class SyncSnapshots {
  private readonly held: Held[] = [];
  private next: number;

  constructor(private readonly options: SnapshotOptions) {
    // A random start, so a restarted responder never serves pages of an id it handed out before.
    this.next = options.random.int(1, 2 ** 40) * 1024;
  }

  /** Answers one sync request: a new snapshot's first page, or a later page of a held one. */
  async page(request: SyncRequest, take: () => Promise<Result<FullState, BusError>>): Promise<Result<SyncPage, BusError>> {
    const now = this.options.clock.now();
    this.expire(now);
    const offset = request.offset ?? 0;
    let held: Held | undefined;
    if (!request.snapshot) {
      if (offset !== 0) return err(new BusError('INVALID_ARGUMENT', 'a new snapshot starts at offset 0', 'offset'));
      const taken = await take();
      if (!taken.ok) return taken;
      held = { id: ++this.next, state: taken.value, total: taken.value.pods.length + taken.value.services.length, at: now };
      this.held.push(held);
      if (this.held.length > (this.options.keep ?? 4)) this.held.shift();
    } else {
      held = this.held.find((h) => h.id === request.snapshot);
      if (!held) return err(new BusError('NOT_FOUND', `snapshot ${request.snapshot} is no longer held; start again`, 'snapshot'));
      if (offset > held.total) return err(new BusError('INVALID_ARGUMENT', `offset ${offset} is past the snapshot's ${held.total} items`, 'offset'));
      held.at = now;
    }
    return ok(this.slice(held, offset));
  }

  private expire(now: number): void {
    const ttl = this.options.ttlMs ?? 30_000;
    for (let i = this.held.length - 1; i >= 0; i--) if (now - this.held[i]!.at > ttl) this.held.splice(i, 1);
  }

  private slice(held: Held, offset: number): SyncPage {
    const { state } = held;
    const budget = this.options.pageBytes ?? PAGE_BYTES;
    const maxItems = this.options.pageItems ?? MAX_SYNC_ITEMS;
    const pods: PodInterface[] = [];
    const services: ServicePort[] = [];
    let bytes = 0;
    let i = offset;
    // At least one item per page, so a pull always progresses (one service port fits a page by its codec's limits).
    for (; i < held.total; i++) {
      const isPod = i < state.pods.length;
      const size = isPod ? POD_BYTES : SERVICE_BYTES + ENDPOINT_BYTES * state.services[i - state.pods.length]!.endpoints.length;
      if (pods.length + services.length > 0 && (bytes + size > budget || pods.length >= maxItems || services.length >= maxItems)) break;
      bytes += size;
      if (isPod) pods.push(state.pods[i]!);
      else services.push(state.services[i - state.pods.length]!);
    }
    return {
      state: { node: state.node, revision: state.revision, host: offset === 0 ? state.host : undefined, pods, services },
      snapshot: held.id,
      offset,
      total: held.total,
      more: i < held.total,
    };
  }
}

/**
 * The puller's side: every page of one snapshot, joined. A snapshot lost mid-way (NOT_FOUND)
 * or pages that do not line up start the pull again, up to `attempts` times.
 */
export async function pullFullState(
  ask: (request: SyncRequest) => Promise<Result<SyncPage, BusError>>,
  base: Pick<SyncRequest, 'node' | 'from' | 'instanceId'>,
  attempts = 3,
): Promise<Result<FullState, BusError>> {
  let last: BusError | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const pulled = await pullSnapshot(ask, base);
    if (pulled.ok || !pulled.error.again) return pulled.ok ? pulled : err(pulled.error.error);
    last = pulled.error.error;
  }
  return err(last ?? new BusError('UNAVAILABLE', 'the full state could not be pulled'));
}

/** The pages of one snapshot, joined; `again` when the snapshot was lost or a page did not line up. */
async function pullSnapshot(
  ask: (request: SyncRequest) => Promise<Result<SyncPage, BusError>>,
  base: Pick<SyncRequest, 'node' | 'from' | 'instanceId'>,
): Promise<Result<FullState, { error: BusError; again: boolean }>> {
  const first = await ask({ ...base, snapshot: 0, offset: 0 });
  if (!first.ok) return err({ error: first.error, again: false });
  const { snapshot, total } = first.value;
  const pods = [...first.value.state.pods];
  const services = [...first.value.state.services];
  for (let more = first.value.more; more; ) {
    const offset = pods.length + services.length;
    const next = await ask({ ...base, snapshot, offset });
    if (!next.ok) return err({ error: next.error, again: next.error.code === 'NOT_FOUND' });
    const { state, ...page } = next.value;
    // Pods come before services: a page's pods continue the pods, its services the services.
    if (page.snapshot !== snapshot || page.offset !== offset || page.total !== total || state.pods.length + state.services.length === 0 || (state.pods.length > 0 && services.length > 0)) {
      return err({ error: new BusError('INTERNAL', `page at ${offset} of snapshot ${snapshot} does not line up (got ${page.snapshot}@${page.offset}/${page.total})`), again: true });
    }
    for (const p of state.pods) pods.push(p);
    for (const s of state.services) services.push(s);
    more = page.more;
  }
  return ok({ ...first.value.state, pods, services });
}
