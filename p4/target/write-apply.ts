/**
 * Applying the updates of a Write to a program, for the generic (protobufjs-decoded) and the
 * lean (lean-write.ts) forms of a request alike: one status per update, in order, with
 * CONTINUE_ON_ERROR or ROLLBACK_ON_ERROR. Both forms go through the same checks in the same order,
 * so a request gets the same statuses whichever decoder read it.
 *
 * @example
 * const statuses = applyUpdates(program, request, false); // UpdateStatus[] (OK or the error)
 */
import type { Entity } from '../model/index.js';
import { LeanWrite } from './lean-write.js';
import type { Applied, TargetProgram, UpdateType, WireEntity } from './program.js';
import { Code, decodeGenericWrite, isMalformed, type UpdateStatus } from './wire.js';

type Msg = Record<string, unknown>;

export const UPDATE_TYPES: readonly (UpdateType | undefined)[] = [undefined, 'INSERT', 'MODIFY', 'DELETE'];

const BAD_TYPE: Applied = { status: { code: Code.INVALID_ARGUMENT, message: 'update type must be INSERT, MODIFY or DELETE' } };
const NO_ENTITY: Applied = { status: { code: Code.INVALID_ARGUMENT, message: 'update without an entity' } };

/** Applies update i; `wantUndo` asks for the undo of a successful update. */
type ApplyAt = (i: number, wantUndo: boolean) => Applied;

export interface AppliedWrite {
  readonly statuses: UpdateStatus[];
  /** Update.type of each update as sent (for the counters). */
  readonly types: readonly number[];
}

/**
 * Applies every update of `req`, all or nothing when `rollback` (ROLLBACK_ON_ERROR). `inject`
 * (fault injection, faults.ts) is asked before each update and may fail it instead of applying
 * it; without it nothing is added per update.
 */
export function applyUpdates(program: TargetProgram, req: Msg | LeanWrite, rollback: boolean, inject?: () => UpdateStatus | undefined): AppliedWrite {
  const { at: apply, types } = applier(program, req);
  const at: ApplyAt = inject ? (i, undo) => {
    const injected = inject();
    return injected ? { status: injected } : apply(i, undo);
  } : apply;
  return { statuses: rollback ? allOrNothing(types.length, at) : each(types.length, at), types };
}

/** The table update `i` of a request names (undefined for other entities), for the counters of a failed update. */
export function tableIdOf(req: Msg | LeanWrite, i: number): number | undefined {
  if (req instanceof LeanWrite) {
    const e = req.entities[i];
    return e && 'tableEntry' in e ? e.tableEntry.tableId : undefined;
  }
  const updates = Array.isArray(req.updates) ? (req.updates as Msg[]) : [];
  const entry = (updates[i]?.entity as { table_entry?: { table_id?: unknown } } | undefined)?.table_entry;
  return entry ? Number(entry.table_id ?? 0) : undefined;
}

function applier(program: TargetProgram, req: Msg | LeanWrite): { at: ApplyAt; types: readonly number[] } {
  if (req instanceof LeanWrite) {
    const decoded = program.applyDecoded?.bind(program);
    if (decoded) return { at: (i, undo) => leanOne(decoded, req.types[i]!, req.entities[i], undo), types: req.types };
    // A program without a lean path: the same bytes, decoded the generic way (they decode: the lean decoder read them).
    const generic = decodeGenericWrite(req.raw);
    if (isMalformed(generic)) throw new Error(`a request the lean decoder read is malformed: ${generic.__malformed}`);
    return applier(program, generic as Msg);
  }
  const updates = Array.isArray(req.updates) ? (req.updates as Msg[]) : [];
  return { at: (i, undo) => genericOne(program, updates[i]!, undo), types: updates.map((u) => Number(u.type ?? 0)) };
}

function genericOne(program: TargetProgram, update: Msg, wantUndo: boolean): Applied {
  const type = UPDATE_TYPES[Number(update.type ?? 0)];
  if (!type) return BAD_TYPE;
  const entity = update.entity as WireEntity | undefined;
  if (!entity || Object.keys(entity).length === 0) return NO_ENTITY;
  return program.apply(type, entity, wantUndo);
}

function leanOne(apply: NonNullable<TargetProgram['applyDecoded']>, typeNo: number, entity: Entity | undefined, wantUndo: boolean): Applied {
  const type = UPDATE_TYPES[typeNo];
  if (!type) return BAD_TYPE;
  if (!entity) return NO_ENTITY;
  return apply(type, entity, wantUndo);
}

function each(n: number, at: ApplyAt): UpdateStatus[] {
  const out = new Array<UpdateStatus>(n);
  for (let i = 0; i < n; i++) out[i] = at(i, false).status;
  return out;
}

/** ROLLBACK_ON_ERROR: the first failure undoes the updates before it, in reverse order. */
function allOrNothing(n: number, at: ApplyAt): UpdateStatus[] {
  const undo: (() => void)[] = [];
  const out: UpdateStatus[] = [];
  for (let i = 0; i < n; i++) {
    const r = at(i, true);
    if (r.status.code !== Code.OK) {
      for (const f of undo.reverse()) f();
      const aborted = { code: Code.ABORTED, message: 'rolled back: another update in the batch failed' };
      return Array.from({ length: n }, (_, k) => (k === i ? r.status : aborted));
    }
    out.push(r.status);
    if (r.undo) undo.push(r.undo);
  }
  return out;
}
