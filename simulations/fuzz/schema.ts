/**
 * What the generators need to know about a protobufjs Type, read once per run: each field's wire
 * type, which fields hold strings or messages, how the schema recurses, which field numbers are
 * free. The fuzz cases aim at known fields because that is where a decoder's real code runs;
 * unknown fields mostly get skipped.
 */
import protobuf from 'protobufjs';
import type { Random } from '../../core/random.js';
import { MAX_FIELD_NUMBER, RESERVED_FIELD_NUMBERS, WIRE } from './wire.js';

export interface FieldInfo {
  readonly field: protobuf.Field;
  readonly id: number;
  /** The wire type an encoder uses for one element of this field. */
  readonly wireType: number;
  /** Every wire type a parser reads as this field (a packable repeated field also takes LEN). */
  readonly wireTypes: readonly number[];
  /** The message type of a message-typed (not map) field. */
  readonly message: protobuf.Type | undefined;
  readonly isString: boolean;
  /** Repeated scalar numeric or enum: may be sent packed. */
  readonly packable: boolean;
  /** Neither repeated nor map: a later value replaces an earlier one. */
  readonly singular: boolean;
}

/** A route from the root type into nested messages, as the field numbers to follow. */
export interface Route {
  readonly fieldNumbers: readonly number[];
  /** The type reached at the end of the route. */
  readonly type: protobuf.Type;
}

/** A string field somewhere under the root, with the route to its message. */
export interface StringSite {
  readonly route: Route;
  readonly field: FieldInfo;
  /** protobufjs and proto3 verify UTF-8 on this field (editions feature `utf8_validation`). */
  readonly verified: boolean;
}

export interface SchemaInfo {
  readonly type: protobuf.Type;
  readonly fields: readonly FieldInfo[];
  readonly hasRequired: boolean;
  /** Route to a message type that contains itself, and the cycle from it back to itself. */
  readonly recursion: { readonly prefix: Route; readonly cycle: readonly number[] } | undefined;
  /** Longest route through message fields that visits no type twice (used when nothing recurses). */
  readonly longestChain: Route;
  readonly strings: readonly StringSite[];
  /** Field numbers used by the type or by any message type under it. */
  readonly usedNumbers: ReadonlySet<number>;
}

/**
 * Reads the parts of `type` the generators use. Resolves the type's root first, so field types
 * and editions features are known.
 *
 * @example
 * const info = inspectSchema(root.lookupType('infra.v1.PodInterface'));
 * info.fields.filter((f) => f.isString).map((f) => f.field.name);
 */
export function inspectSchema(type: protobuf.Type): SchemaInfo {
  type.root.resolveAll();
  const fields = fieldInfos(type);
  return {
    type,
    fields,
    hasRequired: fields.some((f) => f.field.required),
    recursion: findRecursion(type),
    longestChain: longestChain(type),
    strings: stringSites(type),
    usedNumbers: numbersUnder(type),
  };
}

const infoCache = new WeakMap<protobuf.Type, FieldInfo[]>();

/** Field infos of any type, cached (the generators ask for nested types repeatedly). */
export function fieldInfos(type: protobuf.Type): FieldInfo[] {
  let infos = infoCache.get(type);
  if (!infos) {
    infos = type.fieldsArray.map((f) => fieldInfo(f.resolve()));
    infoCache.set(type, infos);
  }
  return infos;
}

function fieldInfo(field: protobuf.Field): FieldInfo {
  const message = field.resolvedType instanceof protobuf.Type && !field.map ? field.resolvedType : undefined;
  const isEnum = field.resolvedType instanceof protobuf.Enum;
  let wireType: number;
  if (field.map) wireType = WIRE.LEN;
  else if (message) wireType = field.delimited ? WIRE.SGROUP : WIRE.LEN;
  else if (isEnum) wireType = WIRE.VARINT;
  else wireType = (protobuf.types.basic as Record<string, number | undefined>)[field.type] ?? WIRE.LEN;
  const packable = field.repeated && !field.map && !message && (isEnum || wireType !== WIRE.LEN);
  return {
    field,
    id: field.id,
    wireType,
    wireTypes: packable ? [wireType, WIRE.LEN] : [wireType],
    message,
    isString: !field.map && field.type === 'string',
    packable,
    singular: !field.repeated && !field.map,
  };
}

/** Message fields a nesting route may follow: length-delimited, not maps. */
function nestable(type: protobuf.Type): FieldInfo[] {
  return fieldInfos(type).filter((f) => f.message && f.wireType === WIRE.LEN);
}

interface Visit {
  readonly type: protobuf.Type;
  readonly path: number[];
}

/** Breadth-first over message fields; `visit` returns true to stop. Each type is seen once. */
function walk(from: protobuf.Type, visit: (v: Visit) => boolean): void {
  const seen = new Set<protobuf.Type>([from]);
  const queue: Visit[] = [{ type: from, path: [] }];
  for (let head = 0; head < queue.length; head++) {
    const current = queue[head]!;
    if (visit(current)) return;
    for (const f of nestable(current.type)) {
      if (seen.has(f.message!)) continue;
      seen.add(f.message!);
      queue.push({ type: f.message!, path: [...current.path, f.id] });
    }
  }
}

/** Shortest route from `type` back to itself through message fields, if there is one. */
function cycleOf(type: protobuf.Type): number[] | undefined {
  for (const f of nestable(type)) if (f.message === type) return [f.id];
  let found: number[] | undefined;
  for (const first of nestable(type)) {
    walk(first.message!, (v) => {
      const back = nestable(v.type).find((f) => f.message === type);
      if (back && (!found || v.path.length + 2 < found.length)) found = [first.id, ...v.path, back.id];
      return back !== undefined;
    });
  }
  return found;
}

function findRecursion(type: protobuf.Type): SchemaInfo['recursion'] {
  let result: SchemaInfo['recursion'];
  walk(type, (v) => {
    const cycle = cycleOf(v.type);
    if (cycle) result = { prefix: { fieldNumbers: v.path, type: v.type }, cycle };
    return cycle !== undefined;
  });
  return result;
}

function longestChain(type: protobuf.Type): Route {
  let best: Route = { fieldNumbers: [], type };
  const visit = (t: protobuf.Type, path: number[], seen: Set<protobuf.Type>): void => {
    if (path.length > best.fieldNumbers.length) best = { fieldNumbers: [...path], type: t };
    if (path.length >= 64) return; // deep enough; keeps wide schemas from exploding
    for (const f of nestable(t)) {
      if (seen.has(f.message!)) continue;
      seen.add(f.message!);
      visit(f.message!, [...path, f.id], seen);
      seen.delete(f.message!);
    }
  };
  visit(type, [], new Set([type]));
  return best;
}

function stringSites(type: protobuf.Type): StringSite[] {
  const out: StringSite[] = [];
  walk(type, (v) => {
    for (const f of fieldInfos(v.type)) {
      if (f.isString && f.wireType === WIRE.LEN) {
        out.push({ route: { fieldNumbers: v.path, type: v.type }, field: f, verified: utf8Verified(f.field) });
      }
    }
    return false;
  });
  return out;
}

/**
 * Numbers used anywhere under `type`: an "unknown" number must be unknown at every level a case
 * may nest it into, or a nested type could read it as, say, a string and check its UTF-8.
 */
function numbersUnder(type: protobuf.Type): Set<number> {
  const used = new Set<number>();
  const seen = new Set<protobuf.Type>();
  const visit = (t: protobuf.Type): void => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const f of fieldInfos(t)) {
      used.add(f.id);
      if (f.message) visit(f.message);
    }
  };
  visit(type);
  return used;
}

/**
 * Whether the decoder must reject invalid UTF-8 in this field. protobufjs keeps resolved editions
 * features on a private `_features`; proto3 resolves to VERIFY, proto2 to NONE.
 */
export function utf8Verified(field: protobuf.Field): boolean {
  const features = (field as unknown as { _features?: { utf8_validation?: string } })._features;
  return features?.utf8_validation === 'VERIFY';
}

/**
 * A field number no type under the root uses and protobuf allows. `small` asks for one with a 1-byte tag
 * (1..15) when such a number is free: bombs of a million tags are half the size.
 */
export function unknownFieldNumber(info: SchemaInfo, random: Random, small = false): number {
  if (small) {
    const free: number[] = [];
    for (let n = 1; n <= 15; n++) if (!info.usedNumbers.has(n)) free.push(n);
    if (free.length > 0) return free[random.int(0, free.length - 1)]!;
  }
  for (;;) {
    const n = random.next() < 0.5 ? random.int(1, 2047) : random.int(1, MAX_FIELD_NUMBER);
    const reserved = n >= RESERVED_FIELD_NUMBERS.first && n <= RESERVED_FIELD_NUMBERS.last;
    if (!info.usedNumbers.has(n) && !reserved) return n;
  }
}

/** One element of `items`, chosen with `random`; undefined for an empty list. */
export function pick<T>(random: Random, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[random.int(0, items.length - 1)];
}
