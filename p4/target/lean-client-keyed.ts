/**
 * A Read keyed straight from its bytes: each Entity of a ReadResponse becomes the Keyed that
 * keyed() (p4/desired.ts) gives for the decoded entity — the same key, value, kind, table and
 * default flag — without building the entity object first. The object is decoded only when
 * something asks for it (a delete needs its key fields, a retire judgement reads a learned entry).
 * An intact reconcile of a big node compares every entity and writes none, so this is its hot path.
 *
 * It takes what the lean decoder takes (p4/target/lean-client-read.ts: exact matches, members,
 * groups, fields in order) with match fields and params in ascending id order; for anything else
 * it keys nothing and says so, and the caller keys that message from its decoded objects.
 * lean-client-keyed.test.ts holds it to keyed(decodeReadResponse(bytes)) on every kind of entity.
 *
 * @example
 * const read: Keyed[] = [];
 * if (!keyLeanRead(message, read)) for (const e of decodeReadResponse(message)) read.push(keyed(e));
 */
import { canonicalHexOf as hex, KIND_GROUP, KIND_MEMBER, KIND_TABLE, type Keyed, type WireEntity } from '../desired.js';
import { decodeLeanEntity } from './lean-client-read.js';
import { LeanReader, notLean } from './lean-wire.js';

/** A read-back entity, keyed; its object decoded from the message's bytes on first use. */
class LeanKeyed implements Keyed {
  private decoded: WireEntity | undefined;

  constructor(
    readonly key: string,
    readonly kind: number,
    readonly value: string,
    readonly tableId: number,
    readonly isDefault: boolean,
    private readonly buf: Uint8Array,
    private readonly start: number,
    private readonly end: number,
  ) {}

  get entity(): WireEntity {
    return (this.decoded ??= decodeLeanEntity(this.buf, this.start, this.end));
  }
}

/**
 * Appends the keyed entities of one ReadResponse message to `out` and returns true; or returns
 * false, with `out` as it was, when the message is not one this path keys.
 */
export function keyLeanRead(buf: Uint8Array, out: Keyed[]): boolean {
  const before = out.length;
  try {
    const r = new LeanReader(buf, 0, buf.length);
    while (r.pos < r.end) {
      if (r.tag() !== 0x0a) notLean(); // ReadResponse.entities
      const end = r.sub();
      out.push(entity(r, end));
    }
    return true;
  } catch {
    // NOT_LEAN, or (were this code ever wrong) any error: the generic path keys the message.
    out.length = before;
    return false;
  }
}

function entity(r: LeanReader, end: number): Keyed {
  const start = r.pos;
  if (start === end) notLean();
  const tag = r.tag();
  let k: Keyed;
  if (tag === 0x12) k = tableEntry(r, r.sub(end), start, end);
  else if (tag === 0x1a) k = member(r, r.sub(end), start, end);
  else if (tag === 0x22) k = group(r, r.sub(end), start, end);
  else return notLean();
  if (r.pos !== end) notLean();
  return k;
}

function tableEntry(r: LeanReader, end: number, eStart: number, eEnd: number): Keyed {
  let tableId = 0;
  let match = '';
  let lastField = -1;
  let value = '';
  let isDefault = false;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) tableId = r.varint32();
    else if (tag === 0x12 && last <= 2) {
      const [id, text] = fieldMatch(r, r.sub(end));
      match = withPair(match, lastField, id, text);
      lastField = id;
    } else if (tag === 0x1a && last < 3) value = tableAction(r, r.sub(end));
    else if (tag === 0x20 && last < 4) r.int32(); // priority: not part of an exact entry's key
    else if (tag === 0x40 && last < 8) isDefault = r.varint32() !== 0;
    else if (tag === 0x52 && last < 10) idleTimeout(r, r.sub(end));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return new LeanKeyed('t' + tableId + (isDefault ? 'd:' : ':') + match, KIND_TABLE, value, tableId, isDefault, r.buf, eStart, eEnd);
}

function fieldMatch(r: LeanReader, end: number): [number, string] {
  let id = 0;
  let text = '00';
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) id = r.varint32();
    else if (tag === 0x12 && last < 2) text = exact(r, r.sub(end));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return [id, text];
}

/** FieldMatch.Exact { value }: its canonical hex. */
function exact(r: LeanReader, end: number): string {
  if (r.pos === end) return '00';
  if (r.tag() !== 0x0a) notLean();
  const text = bytesHex(r, end);
  if (r.pos !== end) notLean();
  return text;
}

/** A bytes field (its length is read here) as canonical hex. */
function bytesHex(r: LeanReader, end: number): string {
  const stop = r.sub(end);
  const text = hex(r.buf, r.pos, stop);
  r.pos = stop;
  return text;
}

/** keyed()'s "id=hex" list with one more pair; this path keys only ascending ids (keyed() sorts others). */
function withPair(list: string, lastId: number, id: number, text: string): string {
  if (id <= lastId) notLean();
  return (lastId < 0 ? '' : list + ',') + id + '=' + text;
}

function tableAction(r: LeanReader, end: number): string {
  if (r.pos === end) return '';
  const tag = r.tag();
  let text: string;
  if (tag === 0x0a) text = action(r, r.sub(end));
  else if (tag === 0x10) text = 'm' + r.varint32();
  else if (tag === 0x18) text = 'g' + r.varint32();
  else return notLean();
  if (r.pos !== end) notLean();
  return text;
}

/** keyed()'s action text: a<id>(<param id>=<hex>,…). */
function action(r: LeanReader, end: number): string {
  let id = 0;
  let params = '';
  let lastParam = -1;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) id = r.varint32();
    else if (tag === 0x22 && last <= 4) {
      const [pid, text] = param(r, r.sub(end));
      params = withPair(params, lastParam, pid, text);
      lastParam = pid;
    } else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return 'a' + id + '(' + params + ')';
}

/** Action.Param { param_id, value }: its id and canonical hex. */
function param(r: LeanReader, end: number): [number, string] {
  let id = 0;
  let text = '00';
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x10 && last < 2) id = r.varint32();
    else if (tag === 0x1a && last < 3) text = bytesHex(r, end);
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return [id, text];
}

/** TableEntry.IdleTimeout: checked as the lean decoder checks it, not part of key or value. */
function idleTimeout(r: LeanReader, end: number): void {
  if (r.pos === end) return;
  if (r.tag() !== 0x08) notLean();
  r.varint64();
  if (r.pos !== end) notLean();
}

function member(r: LeanReader, end: number, eStart: number, eEnd: number): Keyed {
  let profile = 0;
  let id = 0;
  let value = '';
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) profile = r.varint32();
    else if (tag === 0x10 && last < 2) id = r.varint32();
    else if (tag === 0x1a && last < 3) value = action(r, r.sub(end));
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return new LeanKeyed('m' + profile + ':' + id, KIND_MEMBER, value, 0, false, r.buf, eStart, eEnd);
}

function group(r: LeanReader, end: number, eStart: number, eEnd: number): Keyed {
  let profile = 0;
  let id = 0;
  const members: string[] = [];
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) profile = r.varint32();
    else if (tag === 0x10 && last < 2) id = r.varint32();
    else if (tag === 0x1a && last <= 3) members.push(groupMember(r, r.sub(end)));
    else if (tag === 0x20 && last < 4) r.int32(); // max_size: not compared
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return new LeanKeyed('g' + profile + ':' + id, KIND_GROUP, members.sort().join(','), 0, false, r.buf, eStart, eEnd);
}

/** keyed()'s "<member id>*<weight>", a weight of zero (proto3: not kept) counting as 1. */
function groupMember(r: LeanReader, end: number): string {
  let id = 0;
  let weight = 0;
  let last = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08 && last < 1) id = r.varint32();
    else if (tag === 0x10 && last < 2) weight = r.int32();
    else notLean();
    last = tag >>> 3;
  }
  if (r.pos !== end) notLean();
  return id + '*' + (weight === 0 ? 1 : weight);
}
