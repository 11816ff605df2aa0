/**
 * The hardware session's conversations with a P4Runtime target, as plain async functions the
 * session machine invokes: the pipeline step (keep a running pipeline that matches ours, push ours
 * otherwise — never wipe a matching one), the full reconcile (read back everything, write only
 * the difference in dependency order) and the incremental sync (difference from the shadow of
 * what was last written).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { diffEntities, keyed, type DiffPlan, type Keyed, type WireEntity, type WireUpdate } from '../../../p4/desired.js';
import { decodeReadResponse, P4RuntimeError } from '../../../p4/runtime-client.js';
import { keyLeanRead } from '../../../p4/target/lean-client-keyed.js';
import type { P4RuntimeLink } from '../../../p4/runtime-link.js';
import { RpcCode } from '../../../p4/rpc-code.js';
import { toUint128 } from '../../../p4/uint128.js';
import { fromProto3Json, p4Types } from '../../../p4/runtime-proto.js';

export interface SessionTarget {
  /** The connection: grpc-js's P4RuntimeClient, or an in-process link (p4/target/loopback.ts). */
  readonly client: P4RuntimeLink;
  readonly deviceId: number;
  readonly electionId: bigint;
  readonly role?: string;
  /** Told of every Write RPC's outcome (metrics). */
  readonly observer?: SessionObserver;
}

/**
 * What the session reports as it works, for metrics. Called in the session's own turns with data
 * it holds anyway; implementations count per call (a batch, a plan), never look labels up per
 * entry, and must not throw (a throw is caught and ignored).
 */
export interface SessionObserver {
  /** One Write RPC: the updates it carried and, when it failed, the error (per-update details, or a transport failure). */
  wrote(updates: readonly WireUpdate[], error?: unknown): void;
  /**
   * A reconcile ended after `seconds`: on success with its plan, counts, what was read back and
   * the shadow it leaves (exactly what is programmed now, learned tables aside); undefined on failure.
   */
  reconciled(seconds: number, outcome?: ReconcileOutcome): void;
  /** A sync wrote `updates` (key → new entity, or undefined: deleted); `shadow` is still as before them. */
  synced(shadow: ReadonlyMap<string, Keyed>, updates: readonly (readonly [string, Keyed | undefined])[]): void;
  /** The shadow was replaced as a whole (a sync without a change list). */
  replaced(shadow: ReadonlyMap<string, Keyed>): void;
  /** A sweep read the learned tables and deleted `retired` of what it read. */
  swept(learned: readonly WireEntity[], retired: readonly WireEntity[]): void;
}

export interface ReconcileOutcome {
  readonly plan: DiffPlan;
  readonly counts: WriteCounts;
  /** What was read back, keyed (an entity's object is decoded only if asked for). */
  readonly actual: readonly Keyed[];
  readonly shadow: ReadonlyMap<string, Keyed>;
}

/** Calls an observer, which must never break what it observes. */
export function tell(observer: SessionObserver | undefined, call: (o: SessionObserver) => void): void {
  if (!observer) return;
  try {
    call(observer);
  } catch {
    // Metrics are not worth a failed write.
  }
}

export interface WriteCounts {
  readonly insert: number;
  readonly modify: number;
  readonly delete: number;
  readonly unchanged: number;
  readonly retired: number;
  /** Write RPCs sent. */
  readonly writes: number;
}


/** Our pipeline, ready to compare and to push: the P4Info message and its cookie (a hash of it). */
export interface OurPipeline {
  readonly p4info: ReturnType<typeof fromProto3Json>;
  readonly cookie: bigint;
  readonly bytes: Uint8Array;
}

export function ourPipeline(p4infoJson: unknown): OurPipeline {
  const p4info = fromProto3Json(p4Types.P4Info, p4infoJson);
  const bytes = p4Types.P4Info.encode(p4info).finish();
  const cookie = createHash('sha256').update(bytes).digest().readBigUInt64BE(0);
  return { p4info, cookie, bytes };
}

/**
 * Keeps a running pipeline that is ours (same cookie, or byte-identical P4Info); otherwise
 * commits ours. Returns whether it committed (which cleared the target's forwarding state).
 */
export async function ensurePipeline(t: SessionTarget, ours: OurPipeline, log: Logger): Promise<boolean> {
  const got = await t.client.getPipeline({ device_id: t.deviceId, response_type: 'P4INFO_AND_COOKIE' });
  const config = (got.config ?? {}) as Record<string, unknown>;
  const cookie = (config.cookie as { cookie?: string } | undefined)?.cookie;
  const running = config.p4info ? p4Types.P4Info.encode(p4Types.P4Info.fromObject(config.p4info)).finish() : undefined;
  if (cookie === ours.cookie.toString() || (running && Buffer.from(running).equals(Buffer.from(ours.bytes)))) {
    log.info({ cookie: cookie ?? null }, 'target runs our pipeline: keeping it and its state');
    return false;
  }
  log.warn({ running: running ? 'another program' : 'none' }, 'pushing our pipeline (VERIFY_AND_COMMIT)');
  await t.client.setPipeline({
    device_id: t.deviceId,
    election_id: toUint128(t.electionId),
    ...(t.role ? { role: t.role } : {}),
    action: 'VERIFY_AND_COMMIT',
    config: { p4info: ours.p4info, cookie: { cookie: ours.cookie.toString() } },
  });
  return true;
}

/**
 * Everything the target holds that reconcile compares: all table entries, members and groups.
 * Each response message is keyed as it arrives, from its bytes (p4/target/lean-client-keyed.ts),
 * while the target encodes the next; entity objects are decoded only where the diff needs them.
 */
export async function readAll(t: SessionTarget, profileIds: readonly number[]): Promise<Keyed[]> {
  const read: Keyed[] = [];
  await t.client.readEach(readAllRequest(t.deviceId, profileIds), (message) => keyReadResponse(message, read));
  return read;
}

/** The ReadRequest of every table entry, and every member and group of the given profiles. */
export function readAllRequest(deviceId: number, profileIds: readonly number[]): Record<string, unknown> {
  const entities = [{ table_entry: { table_id: 0 } }, ...profileIds.flatMap((id) => [{ action_profile_member: { action_profile_id: id } }, { action_profile_group: { action_profile_id: id } }])];
  return { device_id: deviceId, entities };
}

/** Keys one ReadResponse message into `out`: from its bytes where it can, else from its decoded entities. */
export function keyReadResponse(message: Uint8Array, out: Keyed[]): void {
  if (keyLeanRead(message, out)) return;
  let entities: WireEntity[];
  try {
    entities = decodeReadResponse(message);
  } catch (e) {
    // What grpc-js answers when its deserializer throws, as a plain read would have failed.
    throw new P4RuntimeError(RpcCode.INTERNAL, `Response message parsing error: ${(e as Error).message}`, []);
  }
  for (const e of entities) out.push(keyed(e));
}

/** Writes a plan phase by phase (each phase in batches), in order. Throws P4RuntimeError. */
export async function writePlan(t: SessionTarget, plan: DiffPlan, batchSize: number): Promise<number> {
  let writes = 0;
  for (const phase of plan.phases) {
    for (let i = 0; i < phase.length; i += batchSize) {
      const updates = phase.slice(i, i + batchSize);
      try {
        await t.client.write({
          device_id: t.deviceId,
          election_id: toUint128(t.electionId),
          ...(t.role ? { role: t.role } : {}),
          updates,
        });
      } catch (e) {
        tell(t.observer, (o) => o.wrote(updates, e));
        throw e;
      }
      tell(t.observer, (o) => o.wrote(updates));
      writes++;
    }
  }
  return writes;
}

export function countsOf(plan: DiffPlan, writes: number): WriteCounts {
  return { ...plan.counts, writes };
}

/** Does this failure mean our picture of the target is wrong (re-read and repair), not that it is gone? */
export function needsRepair(e: unknown): boolean {
  return e instanceof P4RuntimeError && e.details.some((d) => d.canonical_code === 6 || d.canonical_code === 5);
}

/** Is the target unreachable or the stream gone (reconnect), as opposed to a refused request? */
export function isTransportFailure(e: unknown): boolean {
  return !(e instanceof P4RuntimeError) || [1, 4, 13, 14].includes(e.code);
}

/** The shadow after a successful sync: exactly the desired entities. */
export function shadowOf(desired: ReadonlyMap<string, Keyed>): Map<string, Keyed> {
  return new Map(desired);
}

/** The plan that takes the target from `shadow` to `desired`, without reading it back. */
export function planFromShadow(desired: ReadonlyMap<string, Keyed>, shadow: ReadonlyMap<string, Keyed>): DiffPlan {
  return diffEntities(desired, [...shadow.values()].map((k) => k.entity), { volatileTables: new Set() });
}

/**
 * The plan that takes the target from `shadow` to `desired` for the `keys` that may have changed
 * (and nothing else), with the shadow updates to apply once it is written. Same phase order as
 * diffEntities: members, groups, entries inserted or modified; entries, groups, members deleted.
 */
export function planFromChanges(
  desired: ReadonlyMap<string, Keyed>,
  shadow: ReadonlyMap<string, Keyed>,
  keys: Iterable<string>,
): { plan: DiffPlan; updates: [string, Keyed | undefined][] } {
  const upserts: WireUpdate[][] = [[], [], []];
  const deletes: WireUpdate[][] = [[], [], []];
  const updates: [string, Keyed | undefined][] = [];
  let insert = 0;
  let unchanged = 0;
  for (const key of keys) {
    const d = desired.get(key);
    const s = shadow.get(key);
    if (d && s && d.value === s.value) {
      unchanged++;
      continue;
    }
    if (d) {
      upserts[d.kind]!.push({ type: s || d.isDefault ? 'MODIFY' : 'INSERT', entity: d.entity });
      if (!s && !d.isDefault) insert++;
    } else if (s) {
      if (!s.isDefault) deletes[s.kind]!.push({ type: 'DELETE', entity: keyOnly(s.entity) });
    } else continue;
    updates.push([key, d]);
  }
  const modify = upserts.reduce((n, p) => n + p.length, 0) - insert;
  const phases = [upserts[0]!, upserts[1]!, upserts[2]!, deletes[2]!, deletes[1]!, deletes[0]!].filter((p) => p.length > 0);
  return { plan: { phases, counts: { insert, modify, delete: deletes.reduce((n, p) => n + p.length, 0), unchanged, retired: 0 } }, updates };
}

/** DELETE needs only the key. */
function keyOnly(entity: WireEntity): WireEntity {
  const t = entity.table_entry as Record<string, unknown> | undefined;
  if (t) return { table_entry: { table_id: t.table_id, match: t.match } };
  const m = entity.action_profile_member as Record<string, unknown> | undefined;
  if (m) return { action_profile_member: { action_profile_id: m.action_profile_id, member_id: m.member_id } };
  const g = entity.action_profile_group as Record<string, unknown>;
  return { action_profile_group: { action_profile_id: g.action_profile_id, group_id: g.group_id } };
}

/** Reads the learned tables and deletes the entries `retire` picks. Returns how many. */
export async function retireLearned(t: SessionTarget, volatileTables: ReadonlySet<number>, retire: (e: WireEntity) => boolean, batchSize: number): Promise<number> {
  if (volatileTables.size === 0) return 0;
  const learned = await t.client.read({ device_id: t.deviceId, entities: [...volatileTables].map((id) => ({ table_entry: { table_id: id } })) });
  const picked = learned.filter(retire);
  const doomed = picked.map((e): WireUpdate => ({ type: 'DELETE', entity: keyOnly(e) }));
  if (doomed.length > 0) await writePlan(t, { phases: [doomed], counts: { insert: 0, modify: 0, delete: 0, unchanged: 0, retired: doomed.length } }, batchSize);
  tell(t.observer, (o) => o.swept(learned, picked));
  return doomed.length;
}

