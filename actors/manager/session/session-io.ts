/**
 * The hardware session's conversations with a P4Runtime target, as plain async functions the
 * session machine invokes: the pipeline step (keep a running pipeline that matches ours, push ours
 * otherwise — never wipe a matching one), the full reconcile (read back everything, write only
 * the difference in dependency order) and the incremental sync (difference from the shadow of
 * what was last written).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { diffEntities, keyed, type DiffPlan, type Keyed, type WireEntity } from '../../../p4/desired.js';
import { P4RuntimeError, type P4RuntimeClient } from '../../../p4/runtime-client.js';
import { fromProto3Json, p4Types } from '../../../p4/runtime-proto.js';

export interface SessionTarget {
  readonly client: P4RuntimeClient;
  readonly deviceId: number;
  readonly electionId: bigint;
  readonly role?: string;
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

function election(id: bigint): { high: string; low: string } {
  return { high: (id >> 64n).toString(), low: (id & 0xffffffffffffffffn).toString() };
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
    election_id: election(t.electionId),
    ...(t.role ? { role: t.role } : {}),
    action: 'VERIFY_AND_COMMIT',
    config: { p4info: ours.p4info, cookie: { cookie: ours.cookie.toString() } },
  });
  return true;
}

/** Everything the target holds that reconcile compares: all table entries, members and groups. */
export async function readAll(t: SessionTarget, profileIds: readonly number[]): Promise<WireEntity[]> {
  const entities = [{ table_entry: { table_id: 0 } }, ...profileIds.flatMap((id) => [{ action_profile_member: { action_profile_id: id } }, { action_profile_group: { action_profile_id: id } }])];
  return t.client.read({ device_id: t.deviceId, entities });
}

/** Writes a plan phase by phase (each phase in batches), in order. Throws P4RuntimeError. */
export async function writePlan(t: SessionTarget, plan: DiffPlan, batchSize: number): Promise<number> {
  let writes = 0;
  for (const phase of plan.phases) {
    for (let i = 0; i < phase.length; i += batchSize) {
      await t.client.write({
        device_id: t.deviceId,
        election_id: election(t.electionId),
        ...(t.role ? { role: t.role } : {}),
        updates: phase.slice(i, i + batchSize),
      });
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

/** The shadow as the target really holds it (non-volatile entities only). */
export function shadowFromRead(actual: readonly WireEntity[], volatileTables: ReadonlySet<number>): Map<string, Keyed> {
  const out = new Map<string, Keyed>();
  for (const e of actual) {
    const k = keyed(e);
    if (k.kind === 2 && volatileTables.has(k.tableId)) continue;
    out.set(k.key, k);
  }
  return out;
}
