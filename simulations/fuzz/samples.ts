/**
 * Random *valid* encodings of a schema's messages and of single fields. The malformed generators
 * splice these next to the one thing they break, so a decoder gets past the first byte and meets
 * the fault in the middle of real content; and a field written here must be one every parser
 * accepts, or a case tagged legal would lie.
 */
import protobuf from 'protobufjs';
import type { Random } from '../../core/random.js';
import { randomBytes } from './random-bytes.js';
import { fieldInfos, pick, type FieldInfo } from './schema.js';
import { WIRE, WireWriter } from './wire.js';

/** Beyond this depth, sample messages leave their message fields empty. */
const SAMPLE_DEPTH = 3;
/** Valid UTF-8 of 1 to 4 bytes per character, so string fields carry multi-byte text. */
const ALPHABET = ['a', 'b', 'z', '0', '-', '.', ' ', 'é', 'ß', 'Ω', '中', '€', '😀'];
const utf8 = new TextEncoder();

/**
 * `count` random messages of `type`, valid by construction (every field well-formed, oneofs with at
 * most one member, required fields present).
 *
 * @example
 * const valid = sampleMessages(root.lookupType('t.Node'), seededRandom(1), 20);
 */
export function sampleMessages(type: protobuf.Type, random: Random, count: number): Uint8Array[] {
  type.root.resolveAll();
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(sampleMessage(type, random));
  return out;
}

/** One random valid message of `type`. */
export function sampleMessage(type: protobuf.Type, random: Random, depth = 0): Uint8Array {
  const w = new WireWriter();
  writeSampleFields(w, type, random, depth);
  return w.finish();
}

function writeSampleFields(w: WireWriter, type: protobuf.Type, random: Random, depth: number): void {
  if (depth >= SAMPLE_DEPTH) {
    // Deep enough: only what validity demands. A proto2 type that requires itself cannot be
    // instantiated at all, so the cap below only stops a loop on such a schema.
    if (depth < SAMPLE_DEPTH + 8) w.raw(minimalMessage(type));
    return;
  }
  const chosenOneof = new Map<protobuf.OneOf, protobuf.Field | undefined>();
  for (const oneof of type.oneofsArray) chosenOneof.set(oneof, pick(random, [undefined, ...oneof.fieldsArray]));
  for (const info of fieldInfos(type)) {
    const f = info.field;
    if (f.partOf && chosenOneof.get(f.partOf) !== f) continue;
    if (!f.required && !f.partOf && random.next() < 0.4) continue;
    const repeats = info.singular ? 1 : random.int(1, 3);
    if (info.packable && random.next() < 0.5) writePacked(w, info, random, repeats);
    else for (let i = 0; i < repeats; i++) writeSampleField(w, info, random, depth);
  }
}

const minimalCache = new WeakMap<protobuf.Type, Uint8Array>();

/**
 * The smallest valid encoding of `type`: its proto2 required fields with zero values (and, for
 * required message fields, their own minimal content), else nothing at all.
 */
export function minimalMessage(type: protobuf.Type, seen: ReadonlySet<protobuf.Type> = new Set()): Uint8Array {
  const cached = minimalCache.get(type);
  if (cached) return cached;
  const w = new WireWriter(16);
  for (const info of fieldInfos(type)) {
    if (info.field.required) writeZeroElement(w, info, new Set([...seen, type]));
  }
  const bytes = w.finish();
  if (seen.size === 0) minimalCache.set(type, bytes);
  return bytes;
}

/**
 * The smallest well-formed element of a known field: a zero, an empty payload, a minimal message
 * or group. Any parser accepts it.
 */
export function writeZeroElement(w: WireWriter, info: FieldInfo, seen: ReadonlySet<protobuf.Type> = new Set()): WireWriter {
  const inner = info.message && !seen.has(info.message) ? minimalMessage(info.message, seen) : new Uint8Array(0);
  if (info.wireType === WIRE.SGROUP) return w.startGroup(info.id).raw(inner).endGroup(info.id);
  w.tag(info.id, info.wireType);
  if (info.wireType === WIRE.I32) return w.fixed32(0);
  if (info.wireType === WIRE.I64) return w.fixed64(0);
  if (info.wireType === WIRE.LEN) return w.varint(inner.length).raw(inner);
  return w.varint(0);
}

/**
 * What each level of a nesting route through known message fields must hold to stay valid (the
 * minimal message of the type it opens); empty for levels the schema does not know.
 */
export function levelContents(root: protobuf.Type, fieldNumbers: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let type: protobuf.Type | undefined = root;
  for (const n of fieldNumbers) {
    const target: unknown = type?.fieldsById[n]?.resolvedType;
    type = target instanceof protobuf.Type ? target : undefined;
    out.push(type ? minimalMessage(type) : new Uint8Array(0));
  }
  return out;
}

/**
 * One well-formed element of a known field: its tag and a value of its own type. Any parser
 * accepts it, whatever the field's presence rules (a repeat of a singular field replaces it).
 */
export function writeSampleField(w: WireWriter, info: FieldInfo, random: Random, depth = 0): WireWriter {
  if (info.field.map) return w.lengthDelimited(info.id, sampleMapEntry(info.field as unknown as protobuf.MapField, random));
  if (info.message) {
    if (info.wireType === WIRE.SGROUP) {
      w.startGroup(info.id);
      writeSampleFields(w, info.message, random, depth + 1);
      return w.endGroup(info.id);
    }
    return w.lengthDelimited(info.id, sampleMessage(info.message, random, depth + 1));
  }
  w.tag(info.id, info.wireType);
  return writeScalar(w, info.field, info.wireType, random);
}

/** A packed run of `count` elements of a packable repeated field. */
export function writePacked(w: WireWriter, info: FieldInfo, random: Random, count: number): WireWriter {
  const body = new WireWriter();
  for (let i = 0; i < count; i++) writeScalar(body, info.field, info.wireType, random);
  return w.lengthDelimited(info.id, body.finish());
}

/** A value of the field's scalar type (string, bytes, number, bool or enum), without its tag. */
export function writeScalar(w: WireWriter, field: protobuf.FieldBase, wireType: number, random: Random): WireWriter {
  switch (wireType) {
    case WIRE.VARINT:
      return w.varint(scalarVarint(field, random));
    case WIRE.I32:
      return w.fixed32(random.int(0, 0xffffffff));
    case WIRE.I64:
      return w.fixed32(random.int(0, 0xffffffff)).fixed32(random.int(0, 0xffffffff));
    default: {
      const payload = field.type === 'string' ? sampleText(random, random.int(1, 12)) : randomBytes(random, random.int(1, 12));
      return w.varint(payload.length).raw(payload);
    }
  }
}

/** Values a decoder will read as meaningful, not just any 64-bit pattern. */
function scalarVarint(field: protobuf.FieldBase, random: Random): number {
  if (field.resolvedType instanceof protobuf.Enum) {
    const values = Object.values(field.resolvedType.values);
    return pick(random, values) ?? 0;
  }
  if (field.type === 'bool') return random.int(0, 1);
  if (field.type === 'sint32' || field.type === 'sint64') return random.int(0, 2000);
  return random.next() < 0.8 ? random.int(1, 1000) : random.int(0, 0x7fffffff);
}

/** Valid UTF-8 text of `chars` characters, some of them multi-byte. */
export function sampleText(random: Random, chars: number): Uint8Array {
  let s = '';
  for (let i = 0; i < chars; i++) s += ALPHABET[random.int(0, ALPHABET.length - 1)];
  return utf8.encode(s);
}

function sampleMapEntry(field: protobuf.MapField, random: Random): Uint8Array {
  const w = new WireWriter();
  const keyWire = (protobuf.types.mapKey as Record<string, number | undefined>)[field.keyType] ?? WIRE.VARINT;
  // writeScalar only reads `type` and `resolvedType`; a map key has no Field of its own.
  const keyField = { type: field.keyType, resolvedType: null } as unknown as protobuf.FieldBase;
  writeScalar(w.tag(1, keyWire), keyField, keyWire, random);
  if (field.resolvedType instanceof protobuf.Type) {
    w.lengthDelimited(2, minimalMessage(field.resolvedType));
  } else {
    const valueWire = field.resolvedType instanceof protobuf.Enum ? WIRE.VARINT : basicWire(field.type);
    writeScalar(w.tag(2, valueWire), field, valueWire, random);
  }
  return w.finish();
}

function basicWire(type: string): number {
  return (protobuf.types.basic as Record<string, number | undefined>)[type] ?? WIRE.LEN;
}

/**
 * A well-formed element of any wire type under any field number: a varint, 8 or 4 bytes, a short
 * length-delimited blob, or a group holding one varint field and closed by its own end tag.
 */
export function writeAnyElement(w: WireWriter, fieldNumber: number, wireType: number, random: Random): WireWriter {
  return writeAnyValue(w.tag(fieldNumber, wireType), fieldNumber, wireType, random);
}

/** What follows the tag in `writeAnyElement` (for a group: its content and end tag). */
export function writeAnyValue(w: WireWriter, fieldNumber: number, wireType: number, random: Random): WireWriter {
  switch (wireType) {
    case WIRE.VARINT:
      return w.varint(random.next() < 0.2 ? (1n << 64n) - 1n : random.int(0, 1_000_000));
    case WIRE.I64:
      return w.fixed64(BigInt(random.int(0, 0xffffffff)) << 16n);
    case WIRE.I32:
      return w.fixed32(random.int(0, 0xffffffff));
    case WIRE.SGROUP:
      return w.tag(1, WIRE.VARINT).varint(random.int(0, 1000)).endGroup(fieldNumber);
    default: {
      const payload = randomBytes(random, random.int(0, 8));
      return w.varint(payload.length).raw(payload);
    }
  }
}
