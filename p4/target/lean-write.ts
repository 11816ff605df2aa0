/**
 * The lean decoder of a p4.v1.WriteRequest: from the request bytes straight to the model's
 * entities (p4/model/entities.ts), without protobufjs messages in between. It yields exactly
 * what the generic path (precheck, protobufjs decode, entityFromWire) yields, for the requests
 * it accepts: table entries with exact matches and direct or member/group actions, action-profile
 * members and groups, in the field order every protobuf encoder writes. Everything else (other
 * match kinds or entity kinds, unknown or deprecated fields, repeated singular fields, negative
 * int32s, malformed bytes) is left to the generic path, which answers it as before: decode it,
 * or give its status. target-codec.test.ts holds the two paths to the same results.
 *
 * @example
 * const w = decodeLeanWrite(bytes, 64 << 20, 16_000_000); // undefined: the generic path decides
 * if (w) applyUpdates(program, w, false);                  // write-apply.ts, as for a generic request
 */
import type { ActionProfileGroup, ActionProfileMember, ActionParam, Entity, FieldMatch, GroupMember, TableAction, TableEntry } from '../model/index.js';
import { validUtf8 } from '../../messages/precheck.js';
import { LeanReader, notLean } from './lean-wire.js';

/** A WriteRequest as the lean decoder reads it: the header, and per update its type and entity. */
export class LeanWrite {
  deviceId = 0;
  role = '';
  electionId: bigint | undefined = undefined;
  atomicity = 0;
  /** Update.type as sent (0 when absent); the server maps it as for the generic path. */
  readonly types: number[] = [];
  /** The entity of each update; undefined for an update without one (absent or empty). */
  readonly entities: (Entity | undefined)[] = [];

  /** `raw`: the request bytes, for a program without a lean path (decoded the generic way). */
  constructor(readonly raw: Uint8Array) {}
}

const EMPTY = new Uint8Array(0);

/** Decodes a WriteRequest the lean way, or returns undefined when the generic path must. */
export function decodeLeanWrite(buf: Uint8Array, maxBytes: number, maxFields: number): LeanWrite | undefined {
  if (buf.length > maxBytes) return undefined;
  try {
    return writeRequest(new LeanReader(buf, 0, buf.length, maxFields));
  } catch {
    // NOT_LEAN, or (were the lean code ever wrong) any error: protobufjs takes the message, so a
    // lean-path bug can cost speed, never an answer. The codec tests hold it to what it must take.
    return undefined;
  }
}

/** Fields are read in ascending order; `last` is the field number read last (see lean-wire.ts). */
function writeRequest(r: LeanReader): LeanWrite {
  const w = new LeanWrite(r.buf);
  const end = r.end;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) {
      w.deviceId = Number(r.varint64());
      last = 1;
    } else if (tag === 0x1a && last < 3) {
      w.electionId = uint128(r, r.sub(end));
      last = 3;
    } else if (tag === 0x22 && last <= 4) {
      update(r, r.sub(end), w);
      last = 4;
    } else if (tag === 0x28 && last < 5) {
      w.atomicity = r.int32();
      last = 5;
    } else if (tag === 0x32 && last < 6) {
      w.role = utf8(r, r.sub(end));
      last = 6;
    } else notLean();
  }
  if (r.pos !== end) notLean();
  return w;
}

function uint128(r: LeanReader, end: number): bigint {
  let high = 0n;
  let low = 0n;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) high = r.varint64();
    else if (tag === 0x10 && last < 2) low = r.varint64();
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return (high << 64n) | low;
}

/** A string field: valid UTF-8 only (the precheck refuses the rest). */
function utf8(r: LeanReader, end: number): string {
  if (!validUtf8(r.buf, r.pos, end)) notLean();
  const s = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, end - r.pos).toString('utf8');
  r.pos = end;
  return s;
}

function update(r: LeanReader, end: number, w: LeanWrite): void {
  let type = 0;
  let entity: Entity | undefined;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) {
      type = r.int32();
      last = 1;
    } else if (tag === 0x12 && last < 2) {
      entity = entityOf(r, r.sub(end));
      last = 2;
    } else notLean();
  }
  if (r.pos !== end) notLean();
  w.types.push(type);
  w.entities.push(entity);
}

function entityOf(r: LeanReader, end: number): Entity | undefined {
  if (r.pos === end) return undefined;
  const tag = r.tag();
  let e: Entity;
  if (tag === 0x12) e = { tableEntry: tableEntry(r, r.sub(end)) };
  else if (tag === 0x1a) e = { member: member(r, r.sub(end)) };
  else if (tag === 0x22) e = { group: group(r, r.sub(end)) };
  else return notLean();
  if (r.pos !== end) notLean();
  return e;
}

function tableEntry(r: LeanReader, end: number): TableEntry {
  let tableId = 0;
  const match: FieldMatch[] = [];
  let ta: TargetRef | undefined;
  let priority = 0;
  let isDefaultAction = false;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) tableId = r.varint32();
    else if (tag === 0x12 && last <= 2) match.push(fieldMatch(r, r.sub(end)));
    else if (tag === 0x1a && last < 3) ta = tableAction(r, r.sub(end));
    else if (tag === 0x20 && last < 4) priority = r.int32();
    else if (tag === 0x40 && last < 8) isDefaultAction = r.varint32() !== 0;
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  // The same keys, in the same order, as entityFromWire (model-program.ts) gives.
  return {
    tableId,
    match,
    ...(ta?.action ? { action: ta.action } : {}),
    ...(ta?.memberId !== undefined ? { memberId: ta.memberId } : {}),
    ...(ta?.groupId !== undefined ? { groupId: ta.groupId } : {}),
    priority,
    isDefaultAction,
  };
}

function fieldMatch(r: LeanReader, end: number): FieldMatch {
  let fieldId = 0;
  let exact: Uint8Array | undefined;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) fieldId = r.varint32();
    else if (tag === 0x12 && last < 2) exact = bytesField(r, r.sub(end), 0x0a);
    else notLean();
    last = tag >>> 3;
  }
  // No exact field: another match kind, or none, which the generic path refuses with its status.
  if (r.pos !== end || exact === undefined) notLean();
  return { fieldId, exact };
}

/** A message holding one bytes field `tag` (FieldMatch.Exact.value); absent means empty. */
function bytesField(r: LeanReader, end: number, tag: number): Uint8Array {
  if (r.pos === end) return EMPTY;
  if (r.tag() !== tag) notLean();
  const stop = r.sub(end);
  const v = stop === r.pos ? EMPTY : r.buf.subarray(r.pos, stop);
  r.pos = stop;
  if (stop !== end) notLean();
  return v;
}

interface TargetRef {
  action?: TableAction;
  memberId?: number;
  groupId?: number;
}

/** TableAction: one member of its oneof, or none; two are left to the generic path. */
function tableAction(r: LeanReader, end: number): TargetRef {
  if (r.pos === end) return {};
  const tag = r.tag();
  let ref: TargetRef;
  if (tag === 0x0a) ref = { action: action(r, r.sub(end)) };
  else if (tag === 0x10) ref = { memberId: r.varint32() };
  else if (tag === 0x18) ref = { groupId: r.varint32() };
  else return notLean();
  if (r.pos !== end) notLean();
  return ref;
}

function action(r: LeanReader, end: number): TableAction {
  let actionId = 0;
  const params: ActionParam[] = [];
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) actionId = r.varint32();
    else if (tag === 0x22 && last <= 4) params.push(param(r, r.sub(end)));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return { actionId, params };
}

function param(r: LeanReader, end: number): ActionParam {
  let paramId = 0;
  let value: Uint8Array = EMPTY;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x10 && last < 2) paramId = r.varint32();
    else if (tag === 0x1a && last < 3) {
      const stop = r.sub(end);
      if (stop > r.pos) value = r.buf.subarray(r.pos, stop);
      r.pos = stop;
    } else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return { paramId, value };
}

function member(r: LeanReader, end: number): ActionProfileMember {
  let profileId = 0;
  let memberId = 0;
  let act: TableAction | undefined;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) profileId = r.varint32();
    else if (tag === 0x10 && last < 2) memberId = r.varint32();
    else if (tag === 0x1a && last < 3) act = action(r, r.sub(end));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return { profileId, memberId, ...(act ? { action: act } : {}) };
}

function group(r: LeanReader, end: number): ActionProfileGroup {
  let profileId = 0;
  let groupId = 0;
  const members: GroupMember[] = [];
  let maxSize = 0;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) profileId = r.varint32();
    else if (tag === 0x10 && last < 2) groupId = r.varint32();
    else if (tag === 0x1a && last <= 3) members.push(groupMember(r, r.sub(end)));
    else if (tag === 0x20 && last < 4) maxSize = r.int32();
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return { profileId, groupId, members, maxSize };
}

function groupMember(r: LeanReader, end: number): GroupMember {
  let memberId = 0;
  let weight = 0;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) memberId = r.varint32();
    else if (tag === 0x10 && last < 2) weight = r.int32();
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return { memberId, weight };
}
