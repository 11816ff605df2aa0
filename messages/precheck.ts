/**
 * A cheap structural check of untrusted protobuf bytes before protobufjs decodes them.
 *
 * protobufjs sets no limit on nesting, field counts or sizes and recurses on groups, so hostile
 * bytes can exhaust the stack or memory. This scanner walks the wire format once, guided by the
 * expected message schema, without allocating: it enforces size, depth and field-count limits,
 * rejects groups, reserved wire types, field number 0, over-long varints, lengths past the end,
 * a wrong wire type for a known field and invalid UTF-8 in string fields. Unknown fields with
 * valid wire types are allowed (proto3 semantics) but counted.
 *
 * @example
 * const schema = compileSchema(root.lookupType('infra.v1.ServiceUpsert'));
 * const problem = precheck(schema, bytes, { maxBytes: 65536, maxDepth: 16, maxFields: 20000 });
 * if (problem) return err(problem);
 */
import protobuf from 'protobufjs';
import { MalformedError, TooLargeError, type BusError } from './errors.js';

export interface Limits {
  /** Largest accepted payload in bytes. */
  readonly maxBytes: number;
  /** Deepest accepted nesting of messages (the top level is depth 1). */
  readonly maxDepth: number;
  /** Most fields (tags, plus elements of packed arrays) in the whole message. */
  readonly maxFields: number;
}

export const DEFAULT_LIMITS: Limits = { maxBytes: 1 << 20, maxDepth: 16, maxFields: 100_000 };

const KIND_SCALAR = 0;
const KIND_STRING = 1;
const KIND_BYTES = 2;
const KIND_MESSAGE = 3;

interface FieldRule {
  readonly wireType: number;
  /** Repeated numeric scalars may also arrive packed (wire type 2). */
  readonly packable: boolean;
  /** Bytes per element when packed with a fixed width (0 for varints). */
  readonly packedWidth: number;
  readonly kind: number;
  /** Filled after construction so recursive schemas can refer to themselves. */
  message: ScanSchema | undefined;
}

/** The part of a message schema the scanner needs, indexed by field number. */
export interface ScanSchema {
  readonly name: string;
  readonly dense: (FieldRule | undefined)[];
  readonly sparse: Map<number, FieldRule>;
}

const DENSE_LIMIT = 1024;

/** Compiles (and caches) the scan schema of a protobufjs message type. */
export function compileSchema(type: protobuf.Type, cache = new Map<protobuf.Type, ScanSchema>()): ScanSchema {
  const known = cache.get(type);
  if (known) return known;
  const schema: ScanSchema = { name: type.fullName.replace(/^\./, ''), dense: [], sparse: new Map() };
  cache.set(type, schema);
  type.resolveAll();
  for (const field of type.fieldsArray) {
    const rule = ruleFor(field);
    if (field.resolvedType instanceof protobuf.Type && !(field instanceof protobuf.MapField)) {
      rule.message = compileSchema(field.resolvedType, cache);
    }
    if (field.id < DENSE_LIMIT) schema.dense[field.id] = rule;
    else schema.sparse.set(field.id, rule);
  }
  return schema;
}

function ruleFor(field: protobuf.Field): FieldRule {
  if (field instanceof protobuf.MapField) {
    return { wireType: 2, packable: false, packedWidth: 0, kind: KIND_BYTES, message: undefined };
  }
  if (field.resolvedType instanceof protobuf.Type) {
    return { wireType: 2, packable: false, packedWidth: 0, kind: KIND_MESSAGE, message: undefined };
  }
  if (field.resolvedType instanceof protobuf.Enum) {
    return { wireType: 0, packable: field.repeated, packedWidth: 0, kind: KIND_SCALAR, message: undefined };
  }
  const basic = (protobuf.types.basic as Record<string, number | undefined>)[field.type];
  const wireType = basic ?? 2;
  const kind = field.type === 'string' ? KIND_STRING : field.type === 'bytes' ? KIND_BYTES : KIND_SCALAR;
  const packedWidth = wireType === 5 ? 4 : wireType === 1 ? 8 : 0;
  return { wireType, packable: field.repeated && kind === KIND_SCALAR, packedWidth, kind, message: undefined };
}

/**
 * Returns undefined when the bytes are structurally sound for `schema` within `limits`,
 * otherwise the first problem found, as a typed error. Never throws.
 */
export function precheck(schema: ScanSchema, bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): BusError | undefined {
  if (bytes.length > limits.maxBytes) {
    return new TooLargeError(`${bytes.length} bytes exceed the limit of ${limits.maxBytes} for ${schema.name}`);
  }
  const scanner = new Scanner(bytes, limits);
  scanner.scan(schema, 0, bytes.length, 1);
  return scanner.problem;
}

class Scanner {
  problem: BusError | undefined;
  private fields = 0;
  /** Result of the last readVarint (as a float: exact up to 2^53, enough for lengths and tags). */
  private value = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly limits: Limits,
  ) {}

  /** Scans [start, end) as a message of `schema`; returns false at the first problem. */
  scan(schema: ScanSchema | undefined, start: number, end: number, depth: number): boolean {
    if (depth > this.limits.maxDepth) return this.fail(`nesting deeper than ${this.limits.maxDepth}`, start, true);
    let pos = start;
    while (pos < end) {
      const tagAt = pos;
      pos = this.readVarint(pos, end, 5);
      if (pos < 0) return false;
      const tag = this.value;
      const fieldNo = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (wireType === 3 || wireType === 4) return this.fail('groups are not accepted', tagAt);
      if (wireType > 5) return this.fail(`invalid wire type ${wireType}`, tagAt);
      if (fieldNo === 0) return this.fail('field number 0', tagAt);
      if (fieldNo > 536_870_911) return this.fail('field number above 2^29-1', tagAt);
      if (++this.fields > this.limits.maxFields) return this.fail(`more than ${this.limits.maxFields} fields`, tagAt, true);
      const rule = schema === undefined ? undefined : fieldNo < DENSE_LIMIT ? schema.dense[fieldNo] : schema.sparse.get(fieldNo);
      if (rule !== undefined && wireType !== rule.wireType && !(rule.packable && wireType === 2)) {
        return this.fail(`field ${fieldNo} of ${schema?.name ?? '?'} has wire type ${wireType}, expected ${rule.wireType}`, tagAt);
      }
      pos = this.skipValue(rule, wireType, pos, end, depth, tagAt);
      if (pos < 0) return false;
    }
    return true;
  }

  private skipValue(rule: FieldRule | undefined, wireType: number, pos: number, end: number, depth: number, tagAt: number): number {
    switch (wireType) {
      case 0:
        return this.readVarint(pos, end, 10);
      case 1:
        return pos + 8 <= end ? pos + 8 : this.failAt('fixed64 past the end', tagAt);
      case 5:
        return pos + 4 <= end ? pos + 4 : this.failAt('fixed32 past the end', tagAt);
      case 2: {
        const at = this.readVarint(pos, end, 5);
        if (at < 0) return -1;
        const len = this.value;
        if (len > end - at) return this.failAt(`length ${len} past the end (${end - at} bytes left)`, pos);
        const stop = at + len;
        if (rule === undefined) return stop;
        if (rule.kind === KIND_MESSAGE) return this.scan(rule.message, at, stop, depth + 1) ? stop : -1;
        if (rule.kind === KIND_STRING) return validUtf8(this.buf, at, stop) ? stop : this.failAt('invalid UTF-8 in a string field', at);
        if (rule.packable) return this.countPacked(rule, at, stop) ? stop : -1;
        return stop;
      }
      default:
        return this.failAt(`invalid wire type ${wireType}`, tagAt);
    }
  }

  /** Packed arrays count their elements against maxFields (a count bomb hides here otherwise). */
  private countPacked(rule: FieldRule, start: number, end: number): boolean {
    const len = end - start;
    if (rule.packedWidth > 0) {
      if (len % rule.packedWidth !== 0) return this.fail('packed fixed-width array of ragged length', start);
      this.fields += len / rule.packedWidth;
    } else {
      let pos = start;
      while (pos < end) {
        pos = this.readVarint(pos, end, 10);
        if (pos < 0) return false;
        this.fields++;
      }
    }
    return this.fields <= this.limits.maxFields || this.fail(`more than ${this.limits.maxFields} fields`, start, true);
  }

  /** Reads a varint of at most `maxLen` bytes into this.value; returns the next position or -1. */
  private readVarint(pos: number, end: number, maxLen: number): number {
    const buf = this.buf;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < maxLen; i++) {
      if (pos >= end) return this.failAt('varint past the end', pos);
      const b = buf[pos++]!;
      if (i === 9 && b > 1) return this.failAt('varint overflows 64 bits', pos - 1);
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) {
        if (maxLen === 5 && value > 0xffffffff) return this.failAt('32-bit varint out of range', pos - 1);
        this.value = value;
        return pos;
      }
    }
    return this.failAt(`varint longer than ${maxLen} bytes`, pos);
  }

  private fail(message: string, offset: number, tooLarge = false): false {
    this.problem ??= tooLarge ? new TooLargeError(`${message} (at byte ${offset})`) : new MalformedError(message, offset);
    return false;
  }

  private failAt(message: string, offset: number): -1 {
    this.fail(message, offset);
    return -1;
  }
}

/** UTF-8 validation per RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
export function validUtf8(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + need >= end) return false;
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}
