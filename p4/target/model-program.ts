/**
 * The behavioural model behind the P4Runtime target: converts decoded p4.v1 entities
 * (snake_case protobufjs messages) into the model's P4Runtime-shaped entities and back.
 * Every table of k8s_dp is exact-match, so any other match kind is INVALID_ARGUMENT; entity
 * kinds the program does not have (counters, meters, registers…) are UNIMPLEMENTED.
 *
 * ROLLBACK_ON_ERROR needs an undo per update: it is built from a read of the entity before the
 * change (the inverse of INSERT is DELETE, of MODIFY the old value, of DELETE the old entity);
 * other writes skip it.
 *
 * The lean path: applyDecoded() takes entities lean-write.ts decoded from the bytes, and
 * readEncoded() answers a wildcard table read straight from the tables (lean-read.ts).
 */
import type { P4Info } from '../p4info.js';
import {
  checkP4Info,
  Code,
  Pipeline,
  type Entity,
  type OutFrame,
  type PipelineOptions,
  type Status,
  type TableAction,
  type TableEntry,
} from '../model/index.js';
import { p4Types } from '../runtime-proto.js';
import { encodeTableScan, type ReadChunker } from './lean-read.js';
import type { Applied, Processed, ProgramStats, ReadOutcome, TargetProgram, UpdateType, WireEntity } from './program.js';
import { u64 } from './wire.js';

type Msg = Record<string, unknown>;

class WireError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
  }
}

function fail(code: number, message: string): never {
  throw new WireError({ code: code as Status['code'], message });
}

/** proto3 does not send an empty bytes field: absent means empty (which the model refuses as OUT_OF_RANGE). */
function bytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : EMPTY;
}

const EMPTY = new Uint8Array(0);

function has(o: Msg, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key) && o[key] !== null && o[key] !== undefined;
}

function id(v: unknown): number {
  return Number(u64(v));
}

function list(v: unknown): Msg[] {
  return Array.isArray(v) ? (v as Msg[]) : [];
}

function actionFromWire(a: Msg | undefined, where: string): TableAction {
  if (!a) return fail(Code.INVALID_ARGUMENT, `${where}: no action`);
  return {
    actionId: id(a.action_id),
    params: list(a.params).map((p) => ({ paramId: id(p.param_id), value: bytes(p.value) })),
  };
}

function tableEntryFromWire(t: Msg): TableEntry {
  const match = list(t.match).map((m, i) => {
    const exact = m.exact as Msg | undefined;
    if (!exact) return fail(Code.INVALID_ARGUMENT, `match[${i}]: every table of this program is exact-match`);
    return { fieldId: id(m.field_id), exact: bytes(exact.value) };
  });
  const ta = t.action as Msg | undefined;
  let action: TableAction | undefined;
  let memberId: number | undefined;
  let groupId: number | undefined;
  // Oneof members: only the one set is an own property (unset scalars read 0 from the prototype).
  if (ta && has(ta, 'action')) action = actionFromWire(ta.action as Msg, 'action');
  else if (ta && has(ta, 'action_profile_member_id')) memberId = id(ta.action_profile_member_id);
  else if (ta && has(ta, 'action_profile_group_id')) groupId = id(ta.action_profile_group_id);
  else if (ta && has(ta, 'action_profile_action_set')) fail(Code.UNIMPLEMENTED, 'one-shot action profile action sets are not supported');
  return {
    tableId: id(t.table_id),
    match,
    ...(action ? { action } : {}),
    ...(memberId !== undefined ? { memberId } : {}),
    ...(groupId !== undefined ? { groupId } : {}),
    priority: Number(t.priority ?? 0),
    isDefaultAction: t.is_default_action === true,
  };
}

/** p4.v1.Entity → model Entity (throws WireError with the status to report). */
export function entityFromWire(e: WireEntity): Entity {
  if (has(e, 'table_entry')) return { tableEntry: tableEntryFromWire(e.table_entry as Msg) };
  if (has(e, 'action_profile_member')) {
    const m = e.action_profile_member as Msg;
    return { member: { profileId: id(m.action_profile_id), memberId: id(m.member_id), ...(m.action ? { action: actionFromWire(m.action as Msg, 'action') } : {}) } };
  }
  if (has(e, 'action_profile_group')) {
    const g = e.action_profile_group as Msg;
    return {
      group: {
        profileId: id(g.action_profile_id),
        groupId: id(g.group_id),
        members: list(g.members).map((m) => ({ memberId: id(m.member_id), weight: Number(m.weight ?? 0) })),
        maxSize: Number(g.max_size ?? 0),
      },
    };
  }
  const kind = Object.keys(e)[0] ?? 'an empty entity';
  return fail(Code.UNIMPLEMENTED, `${kind} is not supported by this target`);
}

function actionToWire(a: TableAction): Msg {
  return { action_id: a.actionId, params: a.params.map((p) => ({ param_id: p.paramId, value: p.value })) };
}

/** Model Entity → p4.v1.Entity in canonical form. */
export function entityToWire(e: Entity): WireEntity {
  if ('tableEntry' in e) {
    const t = e.tableEntry;
    const action = t.action
      ? { action: actionToWire(t.action) }
      : t.memberId !== undefined
        ? { action_profile_member_id: t.memberId }
        : t.groupId !== undefined
          ? { action_profile_group_id: t.groupId }
          : undefined;
    return {
      table_entry: {
        table_id: t.tableId,
        match: t.match.map((m) => ({ field_id: m.fieldId, exact: { value: m.exact } })),
        ...(action ? { action } : {}),
        ...(t.isDefaultAction ? { is_default_action: true } : {}),
        ...(t.elapsedMs !== undefined ? { time_since_last_hit: { elapsed_ns: String(Math.round(t.elapsedMs * 1e6)) } } : {}),
      },
    };
  }
  if ('member' in e) {
    const m = e.member;
    return { action_profile_member: { action_profile_id: m.profileId, member_id: m.memberId, ...(m.action ? { action: actionToWire(m.action) } : {}) } };
  }
  const g = e.group;
  return {
    action_profile_group: {
      action_profile_id: g.profileId,
      group_id: g.groupId,
      members: (g.members ?? []).map((m) => ({ member_id: m.memberId, weight: m.weight })),
      ...(g.maxSize ? { max_size: g.maxSize } : {}),
    },
  };
}

/** The entity as it is now, keyed like `e`; undefined if absent. */
function current(model: Pipeline, e: Entity): Entity | undefined {
  const r = model.read(e);
  return r.ok ? r.value[0] : undefined;
}

function inverse(model: Pipeline, type: UpdateType, e: Entity): (() => void) | undefined {
  if (type === 'INSERT') return () => void model.write({ type: 'DELETE', entity: e });
  const before = current(model, e);
  if (!before) return undefined;
  return () => void model.write({ type: type === 'MODIFY' ? 'MODIFY' : 'INSERT', entity: before });
}

/** How often tick() lets the model expire idle learned flows (each run visits a bounded number). */
const AGE_EVERY_MS = 1000;

export class ModelProgram implements TargetProgram {
  private readonly out: OutFrame = { port: 0, length: 0, bytes: new Uint8Array(16384) };
  private agedAt = 0;

  private readonly learned: ReadonlySet<number>;

  constructor(readonly model: Pipeline) {
    this.learned = new Set(model.info.tables.filter((t) => t.addOnMiss).map((t) => t.id));
  }

  learnedTable(tableId: number): boolean {
    return this.learned.has(tableId);
  }

  forward(port: number, frame: Uint8Array): number {
    return this.model.process(port, frame, frame.length, this.out);
  }

  forwarded(): Uint8Array {
    return this.out.bytes.subarray(0, this.out.length);
  }

  tick(): void {
    this.model.setTime();
    const now = this.model.time;
    if (now - this.agedAt >= AGE_EVERY_MS) {
      this.agedAt = now;
      this.model.age(now);
    }
  }

  process(port: number, frame: Uint8Array): Processed {
    this.model.setTime();
    const outPort = this.model.process(port, frame, frame.length, this.out);
    if (outPort < 0) return { dropped: true, reason: this.model.lastDropReason() ?? 'dropped' };
    return { dropped: false, port: outPort, frame: this.out.bytes.slice(0, this.out.length) };
  }

  stats(): ProgramStats {
    const s = this.model.stats();
    return { packets: s.packets, learned: s.learned, tableEntries: s.tables.reduce((n, t) => n + t.entries, 0) };
  }

  apply(type: UpdateType, wire: WireEntity, wantUndo = true): Applied {
    let entity: Entity;
    try {
      entity = entityFromWire(wire);
    } catch (e) {
      if (e instanceof WireError) return { status: e.status };
      throw e;
    }
    return this.applyDecoded(type, entity, wantUndo);
  }

  applyDecoded(type: UpdateType, entity: Entity, wantUndo: boolean): Applied {
    const undo = wantUndo ? inverse(this.model, type, entity) : undefined;
    const status = this.model.write({ type, entity });
    return status.code === Code.OK && undo ? { status, undo } : { status };
  }

  read(wire: WireEntity): ReadOutcome {
    let entity: Entity;
    try {
      entity = entityFromWire(wire);
    } catch (e) {
      if (e instanceof WireError) return { ok: false, status: e.status };
      throw e;
    }
    const r = this.model.read(entity);
    if (!r.ok) return { ok: false, status: r.error };
    return { ok: true, entities: r.value.map(entityToWire) };
  }

  /** read(), encoded: a wildcard table read straight from the tables, anything else entity by entity. */
  readEncoded(wire: WireEntity, out: ReadChunker): Status | undefined {
    let entity: Entity;
    try {
      entity = entityFromWire(wire);
    } catch (e) {
      if (e instanceof WireError) return e.status;
      throw e;
    }
    if ('tableEntry' in entity && entity.tableEntry.match.length === 0) {
      const id = entity.tableEntry.tableId;
      // The tables Pipeline.read would list, in its order; none (an unknown id): its status, below.
      const tables = this.model.tables.filter((t) => id === 0 || t.id === id);
      for (const t of tables) {
        const generic = (e: number): Uint8Array => encodeEntity({ tableEntry: this.model.entryAt(t.id, e)! });
        encodeTableScan(t, this.model.selector, this.model.time, out, generic);
      }
      if (tables.length > 0) return undefined;
    }
    const r = this.model.read(entity);
    if (!r.ok) return r.error;
    for (const e of r.value) out.add(encodeEntity(e));
    return undefined;
  }
}

/** A model entity as the generic path encodes it (a ReadResponse holds these, each behind its tag). */
function encodeEntity(e: Entity): Uint8Array {
  return p4Types.Entity.encode(entityToWire(e)).finish();
}

/** The device factory the target uses: a fresh model per committed pipeline. */
export function modelDevice(options: PipelineOptions = {}): { instantiate: (info: P4Info) => ModelProgram; verify: (c: { p4info: P4Info }) => string | undefined } {
  return {
    instantiate: (info) => new ModelProgram(new Pipeline(info, options)),
    verify: (c) => checkP4Info(c.p4info),
  };
}
