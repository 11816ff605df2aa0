/**
 * The client's lean WriteRequest encoder (p4/runtime-client.ts uses it; it sits beside the
 * target's lean codecs to share lean-wire.ts): from the client's plain snake_case objects straight
 * to bytes, exactly the bytes protobufjs's `encode(fromObject(m))` gives, for requests of table
 * entries with exact matches, members and groups whose fields hold the usual JS types (numbers,
 * decimal strings for 64-bit ids, Uint8Array values, enum names or numbers). For anything else
 * (another JS type, a field it does not write, a Message instance) it returns undefined and the
 * client uses protobufjs.
 *
 * Two passes over the object: size…() validates and records each sub-message's size in
 * pre-order, write…() emits the bytes, reading the sizes back in the same order.
 *
 * @example
 * const bytes = encodeLeanWrite({ device_id: 1, election_id: { high: 0, low: 1 }, updates }) ?? generic(m);
 */
import { LeanWriter, notLean, varint64Size, varintSize as vs } from './lean-wire.js';

type Msg = Record<string, unknown>;

let sizes = new Int32Array(1024);
let sizeTop = 0;
let sizeNext = 0;

function reserve(): number {
  if (sizeTop === sizes.length) {
    const bigger = new Int32Array(sizes.length * 2);
    bigger.set(sizes);
    sizes = bigger;
  }
  return sizeTop++;
}

/**
 * Fields protobufjs knows that the lean encoder does not write: when one is set, protobufjs
 * encodes the request. Written out as property reads (fast, monomorphic); target-codec.test.ts
 * checks these lists against the .proto, so a field added there cannot be dropped silently.
 */
export const NOT_WRITTEN: Readonly<Record<string, readonly string[]>> = {
  'p4.v1.WriteRequest': ['role_id'],
  'p4.v1.Entity': ['extern_entry', 'meter_entry', 'direct_meter_entry', 'counter_entry', 'direct_counter_entry', 'packet_replication_engine_entry', 'value_set_entry', 'register_entry', 'digest_entry'],
  'p4.v1.TableEntry': ['controller_metadata', 'meter_config', 'counter_data', 'meter_counter_data', 'idle_timeout_ns', 'time_since_last_hit', 'metadata', 'is_const'],
  'p4.v1.FieldMatch': ['ternary', 'lpm', 'range', 'optional', 'other'],
  'p4.v1.TableAction': ['action_profile_action_set'],
  'p4.v1.ActionProfileGroup.Member': ['watch', 'watch_port'],
};

const requestExtra = (o: Msg): boolean => o.role_id != null;
const entityExtra = (o: Msg): boolean =>
  o.extern_entry != null ||
  o.meter_entry != null ||
  o.direct_meter_entry != null ||
  o.counter_entry != null ||
  o.direct_counter_entry != null ||
  o.packet_replication_engine_entry != null ||
  o.value_set_entry != null ||
  o.register_entry != null ||
  o.digest_entry != null;
const tableEntryExtra = (o: Msg): boolean =>
  o.controller_metadata != null ||
  o.meter_config != null ||
  o.counter_data != null ||
  o.meter_counter_data != null ||
  o.idle_timeout_ns != null ||
  o.time_since_last_hit != null ||
  o.metadata != null ||
  o.is_const != null;
const fieldMatchExtra = (o: Msg): boolean => o.ternary != null || o.lpm != null || o.range != null || o.optional != null || o.other != null;
const tableActionExtra = (o: Msg): boolean => o.action_profile_action_set != null;
const groupMemberExtra = (o: Msg): boolean => o.watch != null || o.watch_port != null;

/** A message given as a plain object (not a protobufjs Message, not an array) with no field the encoder does not write. */
function plain(v: unknown, extra?: (o: Msg) => boolean): Msg {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return notLean();
  if (extra?.(v as Msg)) notLean();
  return v as Msg;
}

/** An optional message field: undefined when absent. */
function optional(v: unknown, extra?: (o: Msg) => boolean): Msg | undefined {
  return v == null ? undefined : plain(v, extra);
}

function list(v: unknown): readonly unknown[] {
  if (v == null) return [];
  return Array.isArray(v) ? v : notLean();
}

function u32(v: unknown): number {
  if (v == null) return 0;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : notLean();
}

function i32(v: unknown): number {
  if (v == null) return 0;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x7fffffff ? v : notLean();
}

function u64(v: unknown): bigint {
  if (v == null) return 0n;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) {
    const x = BigInt(v);
    if (x < 1n << 64n) return x;
  }
  return notLean();
}

function bytes(v: unknown): Uint8Array | undefined {
  if (v == null) return undefined;
  if (!(v instanceof Uint8Array)) return notLean();
  return v.length > 0 ? v : undefined;
}

function bool(v: unknown): boolean {
  if (v == null || v === false) return false;
  return v === true || notLean();
}

function enumOf(v: unknown, names: readonly string[]): number {
  if (v == null) return 0;
  if (typeof v === 'string') {
    const i = names.indexOf(v);
    return i >= 0 ? i : notLean();
  }
  return i32(v);
}

/** The role name: ASCII only (protobufjs and Buffer disagree on lone surrogates; names are ASCII). */
function role(v: unknown): string {
  if (v == null) return '';
  return typeof v === 'string' && isAscii(v) ? v : notLean();
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

const UPDATE_TYPES = ['UNSPECIFIED', 'INSERT', 'MODIFY', 'DELETE'];
const ATOMICITY = ['CONTINUE_ON_ERROR', 'ROLLBACK_ON_ERROR', 'DATAPLANE_ATOMIC'];

/** Size of a length-delimited field holding `n` bytes, tag included. */
const field = (n: number): number => 1 + vs(n) + n;
const u32Field = (v: number): number => (v !== 0 ? 1 + vs(v) : 0);

/** Encodes a WriteRequest the lean way, or returns undefined when protobufjs must. */
export function encodeLeanWrite(m: unknown): Buffer | undefined {
  sizeTop = 0;
  sizeNext = 0;
  try {
    const req = plain(m, requestExtra);
    const total = sizeRequest(req);
    const w = new LeanWriter(total);
    w.ensure(total);
    writeRequest(req, w);
    if (w.pos !== total || sizeNext !== sizeTop) throw new Error(`lean WriteRequest encoder: wrote ${w.pos} of ${total} bytes`);
    return w.finish();
  } catch {
    // NOT_LEAN, or (were the lean code ever wrong) any error: protobufjs takes the message, so a
    // lean-path bug can cost speed, never an answer. The codec tests hold it to what it must take.
    return undefined;
  }
}

function sizeRequest(m: Msg): number {
  const dev = u64(m.device_id);
  let n = dev !== 0n ? 1 + varint64Size(dev) : 0;
  const el = optional(m.election_id);
  if (el) n += field(sizeUint128(el));
  for (const u of list(m.updates)) n += field(sizeUpdate(plain(u)));
  const at = enumOf(m.atomicity, ATOMICITY);
  if (at !== 0) n += 1 + vs(at);
  const r = role(m.role);
  if (r !== '') n += field(r.length);
  return n;
}

function writeRequest(m: Msg, w: LeanWriter): void {
  const dev = u64(m.device_id);
  if (dev !== 0n) {
    w.byte(0x08);
    w.varint64(dev);
  }
  if (m.election_id != null) {
    w.byte(0x1a);
    writeUint128(m.election_id as Msg, w);
  }
  for (const u of list(m.updates)) {
    w.byte(0x22);
    writeUpdate(u as Msg, w);
  }
  const at = enumOf(m.atomicity, ATOMICITY);
  if (at !== 0) {
    w.byte(0x28);
    w.varint32(at);
  }
  const r = role(m.role);
  if (r !== '') {
    w.byte(0x32);
    w.varint32(r.length);
    w.pos += w.buf.write(r, w.pos, 'latin1');
  }
}

function sizeUint128(m: Msg): number {
  const slot = reserve();
  const high = u64(m.high);
  const low = u64(m.low);
  const n = (high !== 0n ? 1 + varint64Size(high) : 0) + (low !== 0n ? 1 + varint64Size(low) : 0);
  sizes[slot] = n;
  return n;
}

function writeUint128(m: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  const high = u64(m.high);
  const low = u64(m.low);
  if (high !== 0n) {
    w.byte(0x08);
    w.varint64(high);
  }
  if (low !== 0n) {
    w.byte(0x10);
    w.varint64(low);
  }
}

function sizeUpdate(u: Msg): number {
  const slot = reserve();
  const type = enumOf(u.type, UPDATE_TYPES);
  let n = type !== 0 ? 1 + vs(type) : 0;
  const e = optional(u.entity, entityExtra);
  if (e) n += field(sizeEntity(e));
  sizes[slot] = n;
  return n;
}

function writeUpdate(u: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  const type = enumOf(u.type, UPDATE_TYPES);
  if (type !== 0) {
    w.byte(0x08);
    w.varint32(type);
  }
  if (u.entity != null) {
    w.byte(0x12);
    writeEntity(u.entity as Msg, w);
  }
}

function sizeEntity(e: Msg): number {
  const slot = reserve();
  let n = 0;
  const te = optional(e.table_entry, tableEntryExtra);
  if (te) n += field(sizeTableEntry(te));
  const m = optional(e.action_profile_member);
  if (m) n += field(sizeMember(m));
  const g = optional(e.action_profile_group);
  if (g) n += field(sizeGroup(g));
  sizes[slot] = n;
  return n;
}

function writeEntity(e: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  if (e.table_entry != null) {
    w.byte(0x12);
    writeTableEntry(e.table_entry as Msg, w);
  }
  if (e.action_profile_member != null) {
    w.byte(0x1a);
    writeMember(e.action_profile_member as Msg, w);
  }
  if (e.action_profile_group != null) {
    w.byte(0x22);
    writeGroup(e.action_profile_group as Msg, w);
  }
}

function putU32(w: LeanWriter, tag: number, v: number): void {
  if (v === 0) return;
  w.byte(tag);
  w.varint32(v);
}

function putBytes(w: LeanWriter, tag: number, v: Uint8Array | undefined): void {
  if (!v) return;
  w.byte(tag);
  w.varint32(v.length);
  w.bytes(v);
}

function sizeTableEntry(t: Msg): number {
  const slot = reserve();
  let n = u32Field(u32(t.table_id));
  for (const m of list(t.match)) n += field(sizeFieldMatch(plain(m, fieldMatchExtra)));
  const a = optional(t.action, tableActionExtra);
  if (a) n += field(sizeTableAction(a));
  n += u32Field(i32(t.priority));
  if (bool(t.is_default_action)) n += 2;
  sizes[slot] = n;
  return n;
}

function writeTableEntry(t: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  putU32(w, 0x08, u32(t.table_id));
  for (const m of list(t.match)) {
    w.byte(0x12);
    writeFieldMatch(m as Msg, w);
  }
  if (t.action != null) {
    w.byte(0x1a);
    writeTableAction(t.action as Msg, w);
  }
  putU32(w, 0x20, i32(t.priority));
  if (bool(t.is_default_action)) {
    w.byte(0x40);
    w.byte(1);
  }
}

function sizeFieldMatch(m: Msg): number {
  const slot = reserve();
  let n = u32Field(u32(m.field_id));
  const exact = optional(m.exact);
  if (exact) {
    const v = bytes(exact.value);
    n += field(v ? field(v.length) : 0);
  }
  sizes[slot] = n;
  return n;
}

function writeFieldMatch(m: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  putU32(w, 0x08, u32(m.field_id));
  if (m.exact != null) {
    const v = bytes((m.exact as Msg).value);
    w.byte(0x12);
    w.varint32(v ? field(v.length) : 0);
    putBytes(w, 0x0a, v);
  }
}

/** TableAction: its oneof's scalar members are written when set, even to 0 (explicit presence). */
function sizeTableAction(a: Msg): number {
  const slot = reserve();
  let n = 0;
  const act = optional(a.action);
  if (act) n += field(sizeAction(act));
  if (a.action_profile_member_id != null) n += 1 + vs(u32(a.action_profile_member_id));
  if (a.action_profile_group_id != null) n += 1 + vs(u32(a.action_profile_group_id));
  sizes[slot] = n;
  return n;
}

function writeTableAction(a: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  if (a.action != null) {
    w.byte(0x0a);
    writeAction(a.action as Msg, w);
  }
  if (a.action_profile_member_id != null) {
    w.byte(0x10);
    w.varint32(u32(a.action_profile_member_id));
  }
  if (a.action_profile_group_id != null) {
    w.byte(0x18);
    w.varint32(u32(a.action_profile_group_id));
  }
}

function sizeAction(a: Msg): number {
  const slot = reserve();
  let n = u32Field(u32(a.action_id));
  for (const p of list(a.params)) {
    const param = plain(p);
    const v = bytes(param.value);
    n += field(u32Field(u32(param.param_id)) + (v ? field(v.length) : 0));
  }
  sizes[slot] = n;
  return n;
}

function writeAction(a: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  putU32(w, 0x08, u32(a.action_id));
  for (const p of list(a.params)) {
    const param = p as Msg;
    const id = u32(param.param_id);
    const v = bytes(param.value);
    w.byte(0x22);
    w.varint32(u32Field(id) + (v ? field(v.length) : 0));
    putU32(w, 0x10, id);
    putBytes(w, 0x1a, v);
  }
}

function sizeMember(m: Msg): number {
  const slot = reserve();
  let n = u32Field(u32(m.action_profile_id)) + u32Field(u32(m.member_id));
  const act = optional(m.action);
  if (act) n += field(sizeAction(act));
  sizes[slot] = n;
  return n;
}

function writeMember(m: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  putU32(w, 0x08, u32(m.action_profile_id));
  putU32(w, 0x10, u32(m.member_id));
  if (m.action != null) {
    w.byte(0x1a);
    writeAction(m.action as Msg, w);
  }
}

function sizeGroup(g: Msg): number {
  const slot = reserve();
  let n = u32Field(u32(g.action_profile_id)) + u32Field(u32(g.group_id));
  for (const x of list(g.members)) {
    const m = plain(x, groupMemberExtra);
    n += field(u32Field(u32(m.member_id)) + u32Field(i32(m.weight)));
  }
  n += u32Field(i32(g.max_size));
  sizes[slot] = n;
  return n;
}

function writeGroup(g: Msg, w: LeanWriter): void {
  w.varint32(sizes[sizeNext++]!);
  putU32(w, 0x08, u32(g.action_profile_id));
  putU32(w, 0x10, u32(g.group_id));
  for (const x of list(g.members)) {
    const m = x as Msg;
    const id = u32(m.member_id);
    const weight = i32(m.weight);
    w.byte(0x1a);
    w.varint32(u32Field(id) + u32Field(weight));
    putU32(w, 0x08, id);
    putU32(w, 0x10, weight);
  }
  putU32(w, 0x20, i32(g.max_size));
}
