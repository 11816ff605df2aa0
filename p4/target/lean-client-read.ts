/**
 * The client's lean ReadResponse decoder (p4/runtime-client.ts uses it; it sits beside the
 * target's lean codecs to share lean-wire.ts): from the bytes straight to the plain objects the
 * client returns, exactly what protobufjs's `toObject(decode(b), { longs: String, enums: Number })`
 * gives — the same keys in the same order, zeros left out as proto3 decodes them, values as
 * Buffer views of the message — for table entries with exact matches, members and groups. For
 * anything else in a message (another entity or match kind, an unknown field, fields out of
 * order) it returns undefined and the client decodes that message with protobufjs.
 *
 * @example
 * const entities = decodeLeanRead(buf) ?? genericEntities(buf);
 */
import { LeanReader, notLean } from './lean-wire.js';

type Msg = Record<string, unknown>;

/** The entities of one ReadResponse, or undefined when protobufjs must decode it. */
export function decodeLeanRead(buf: Uint8Array): Msg[] | undefined {
  try {
    const r = new LeanReader(buf, 0, buf.length);
    const out: Msg[] = [];
    while (r.pos < r.end) {
      if (r.tag() !== 0x0a) notLean(); // ReadResponse.entities
      out.push(entity(r, r.sub()));
    }
    return out;
  } catch {
    // NOT_LEAN, or (were the lean code ever wrong) any error: protobufjs takes the message, so a
    // lean-path bug can cost speed, never an answer. The codec tests hold it to what it must take.
    return undefined;
  }
}

/**
 * One Entity from the bytes [start, end) of a message (lean-client-keyed.ts decodes a keyed
 * entity only when it is asked for). Throws NOT_LEAN for what the lean path does not take.
 */
export function decodeLeanEntity(buf: Uint8Array, start: number, end: number): Msg {
  return entity(new LeanReader(buf, start, end), end);
}

function entity(r: LeanReader, end: number): Msg {
  if (r.pos === end) return {};
  const tag = r.tag();
  let e: Msg;
  if (tag === 0x12) e = { table_entry: tableEntry(r, r.sub(end)) };
  else if (tag === 0x1a) e = { action_profile_member: member(r, r.sub(end)) };
  else if (tag === 0x22) e = { action_profile_group: group(r, r.sub(end)) };
  else return notLean();
  if (r.pos !== end) notLean();
  return e;
}

/** Bytes of a length-delimited field as protobufjs gives them: a view of the message's buffer. */
function view(r: LeanReader, end: number): Uint8Array {
  const stop = r.sub(end);
  const v = r.buf.subarray(r.pos, stop);
  r.pos = stop;
  return v;
}

function tableEntry(r: LeanReader, end: number): Msg {
  const d: Msg = {};
  let match: Msg[] | undefined;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) setU32(d, 'table_id', r.varint32());
    else if (tag === 0x12 && last <= 2) {
      if (!match) d.match = match = [];
      match.push(fieldMatch(r, r.sub(end)));
    } else if (tag === 0x1a && last < 3) d.action = tableAction(r, r.sub(end));
    else if (tag === 0x20 && last < 4) setU32(d, 'priority', r.int32());
    else if (tag === 0x40 && last < 8) {
      if (r.varint32() !== 0) d.is_default_action = true;
    } else if (tag === 0x52 && last < 10) d.time_since_last_hit = idleTimeout(r, r.sub(end));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return d;
}

/** proto3 scalars: a zero is not kept (protobufjs deletes it while decoding). */
function setU32(d: Msg, key: string, v: number): void {
  if (v !== 0) d[key] = v;
}

function fieldMatch(r: LeanReader, end: number): Msg {
  const d: Msg = {};
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) setU32(d, 'field_id', r.varint32());
    else if (tag === 0x12 && last < 2) d.exact = bytesMessage(r, r.sub(end));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return d;
}

/** FieldMatch.Exact: { value } (an empty value is not kept). */
function bytesMessage(r: LeanReader, end: number): Msg {
  if (r.pos === end) return {};
  if (r.tag() !== 0x0a) notLean();
  const v = view(r, end);
  if (r.pos !== end) notLean();
  return v.length > 0 ? { value: v } : {};
}

function tableAction(r: LeanReader, end: number): Msg {
  if (r.pos === end) return {};
  const tag = r.tag();
  let d: Msg;
  if (tag === 0x0a) d = { action: action(r, r.sub(end)) };
  else if (tag === 0x10) d = { action_profile_member_id: r.varint32() };
  else if (tag === 0x18) d = { action_profile_group_id: r.varint32() };
  else return notLean();
  if (r.pos !== end) notLean();
  return d;
}

function action(r: LeanReader, end: number): Msg {
  const d: Msg = {};
  let params: Msg[] | undefined;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) setU32(d, 'action_id', r.varint32());
    else if (tag === 0x22 && last <= 4) {
      if (!params) d.params = params = [];
      params.push(param(r, r.sub(end)));
    } else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return d;
}

function param(r: LeanReader, end: number): Msg {
  const d: Msg = {};
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x10 && last < 2) setU32(d, 'param_id', r.varint32());
    else if (tag === 0x1a && last < 3) {
      const v = view(r, end);
      if (v.length > 0) d.value = v;
    } else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return d;
}

/** TableEntry.IdleTimeout: elapsed_ns, an int64, as a decimal string. */
function idleTimeout(r: LeanReader, end: number): Msg {
  if (r.pos === end) return {};
  if (r.tag() !== 0x08) notLean();
  const ns = r.varint64();
  if (r.pos !== end) notLean();
  return ns === 0n ? {} : { elapsed_ns: BigInt.asIntN(64, ns).toString() };
}

function member(r: LeanReader, end: number): Msg {
  const d: Msg = {};
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) setU32(d, 'action_profile_id', r.varint32());
    else if (tag === 0x10 && last < 2) setU32(d, 'member_id', r.varint32());
    else if (tag === 0x1a && last < 3) d.action = action(r, r.sub(end));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return d;
}

function group(r: LeanReader, end: number): Msg {
  const d: Msg = {};
  let members: Msg[] | undefined;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) setU32(d, 'action_profile_id', r.varint32());
    else if (tag === 0x10 && last < 2) setU32(d, 'group_id', r.varint32());
    else if (tag === 0x1a && last <= 3) {
      if (!members) d.members = members = [];
      members.push(groupMember(r, r.sub(end)));
    } else if (tag === 0x20 && last < 4) setU32(d, 'max_size', r.int32());
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return d;
}

function groupMember(r: LeanReader, end: number): Msg {
  const d: Msg = {};
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) setU32(d, 'member_id', r.varint32());
    else if (tag === 0x10 && last < 2) setU32(d, 'weight', r.int32());
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return d;
}
