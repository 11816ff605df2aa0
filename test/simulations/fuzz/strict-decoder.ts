/**
 * A strict reference decoder for the fuzz tests: it says whether bytes are a well-formed message
 * of a type and, if not, why. Written apart from the generator (it shares no code with wire.ts),
 * so a bug in one does not hide in the other. It follows the strictest common parser behaviour:
 * Go's protowire for varints and field numbers, a recursion limit of 100 like C++ and
 * protobufjs, and proto3's UTF-8 check on string fields.
 */
import protobuf from 'protobufjs';
import type { Violation } from '../../../simulations/fuzz/malformed.js';

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: Violation; readonly message: string };

export interface StrictOptions {
  /** Reject larger inputs before parsing ('size'). Default: no limit. */
  readonly maxBytes?: number;
  /** Deepest nesting of messages and groups below the root. Default 100. */
  readonly recursionLimit?: number;
}

const MAX_FIELD = (1n << 29n) - 1n;
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

class Rejected extends Error {
  constructor(
    readonly reason: Violation,
    message: string,
  ) {
    super(message);
  }
}

/**
 * @example
 * strictDecode(type, bytes); // { ok: false, reason: 'wire', message: 'field number 0 at 3' }
 */
export function strictDecode(type: protobuf.Type, bytes: Uint8Array, options: StrictOptions = {}): Verdict {
  if (options.maxBytes !== undefined && bytes.length > options.maxBytes) {
    return { ok: false, reason: 'size', message: `${bytes.length} bytes > ${options.maxBytes}` };
  }
  type.root.resolveAll();
  try {
    new StrictReader(bytes, options.recursionLimit ?? 100).message(type, bytes.length, 0, undefined);
    return { ok: true };
  } catch (e) {
    if (e instanceof Rejected) return { ok: false, reason: e.reason, message: e.message };
    throw e;
  }
}

type Scalar = { kind: 'varint' } | { kind: 'fixed'; size: number } | { kind: 'len'; string: boolean };

/** How a field's own (non-mismatched) encoding is read; written out here, not taken from protobufjs. */
function scalarOf(typeName: string): Scalar | undefined {
  if (['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool'].includes(typeName)) return { kind: 'varint' };
  if (['fixed32', 'sfixed32', 'float'].includes(typeName)) return { kind: 'fixed', size: 4 };
  if (['fixed64', 'sfixed64', 'double'].includes(typeName)) return { kind: 'fixed', size: 8 };
  if (typeName === 'string') return { kind: 'len', string: true };
  if (typeName === 'bytes') return { kind: 'len', string: false };
  return undefined;
}

function verifiesUtf8(field: protobuf.FieldBase): boolean {
  return (field as unknown as { _features?: { utf8_validation?: string } })._features?.utf8_validation === 'VERIFY';
}

class StrictReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly limit: number,
  ) {}

  /** Parses fields up to `end`; inside a group, until the end tag of `group`. */
  message(type: protobuf.Type | undefined, end: number, depth: number, group: bigint | undefined): void {
    if (depth > this.limit) throw new Rejected('depth', `nesting deeper than ${this.limit}`);
    const seen = new Set<number>();
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.varint(end);
      const num = tag >> 3n;
      const wt = Number(tag & 7n);
      if (num === 0n || num > MAX_FIELD) throw new Rejected('wire', `field number ${num} at ${at}`);
      if (wt === 4) {
        if (group === num) return this.checkRequired(type, seen);
        throw new Rejected('wire', `end-group ${num} at ${at} closes nothing`);
      }
      const field = type?.fieldsById[Number(num)];
      if (field) seen.add(field.id);
      this.value(field, wt, num, end, depth);
    }
    if (group !== undefined) throw new Rejected('wire', `group ${group} never closed`);
    this.checkRequired(type, seen);
  }

  private checkRequired(type: protobuf.Type | undefined, seen: Set<number>): void {
    for (const f of type?.fieldsArray ?? []) {
      if (f.required && !seen.has(f.id)) throw new Rejected('required', `required ${f.name} missing`);
    }
  }

  private value(field: protobuf.Field | undefined, wt: number, num: bigint, end: number, depth: number): void {
    switch (wt) {
      case 0:
        this.varint(end);
        return;
      case 1:
        return this.skip(8, end);
      case 5:
        return this.skip(4, end);
      case 2: {
        const len = this.varint(end);
        if (len > BigInt(end - this.pos)) throw new Rejected('wire', `length ${len} at ${this.pos} runs past ${end}`);
        const sub = this.pos + Number(len);
        if (field) this.lengthDelimited(field, sub, depth);
        this.pos = sub;
        return;
      }
      case 3: {
        const groupType = field && field.delimited && field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
        return this.message(groupType, end, depth + 1, num);
      }
      default:
        throw new Rejected('wire', `wire type ${wt} at ${this.pos}`);
    }
  }

  /** A LEN value of a known field: parse it as what the field holds, if LEN is its encoding. */
  private lengthDelimited(field: protobuf.Field, end: number, depth: number): void {
    if (field.map) return this.mapEntry(field as unknown as protobuf.MapField, end, depth);
    const target = field.resolvedType;
    if (target instanceof protobuf.Type) {
      if (!field.delimited) this.message(target, end, depth + 1, undefined);
      return;
    }
    const scalar = target instanceof protobuf.Enum ? ({ kind: 'varint' } as const) : scalarOf(field.type);
    if (scalar?.kind === 'len') {
      if (scalar.string && verifiesUtf8(field)) this.utf8(end);
    } else if (scalar && field.repeated) {
      this.packed(scalar, end);
    }
  }

  private packed(scalar: Scalar, end: number): void {
    if (scalar.kind === 'fixed') {
      if ((end - this.pos) % scalar.size !== 0) throw new Rejected('wire', `packed run of ${end - this.pos} bytes, not ${scalar.size}-byte elements`);
      return;
    }
    while (this.pos < end) this.varint(end);
  }

  /** A map entry counts no level of its own (as in protobufjs); a message value counts one. */
  private mapEntry(field: protobuf.MapField, end: number, depth: number): void {
    while (this.pos < end) {
      const tag = this.varint(end);
      const num = tag >> 3n;
      const wt = Number(tag & 7n);
      if (num === 0n || num > MAX_FIELD || wt === 4) throw new Rejected('wire', `bad tag ${tag} in map entry`);
      const isKey = num === 1n && wt === 2 && field.keyType === 'string';
      const isValue = num === 2n && wt === 2;
      if (!isKey && !isValue) {
        this.value(undefined, wt, num, end, depth);
        continue;
      }
      const len = this.varint(end);
      if (len > BigInt(end - this.pos)) throw new Rejected('wire', `map entry length ${len} runs past ${end}`);
      const sub = this.pos + Number(len);
      if (isKey && verifiesUtf8(field)) this.utf8(sub);
      else if (isValue && field.resolvedType instanceof protobuf.Type) this.message(field.resolvedType, sub, depth + 1, undefined);
      else if (isValue && field.type === 'string' && verifiesUtf8(field)) this.utf8(sub);
      this.pos = sub;
    }
  }

  private utf8(end: number): void {
    try {
      fatalUtf8.decode(this.buf.subarray(this.pos, end));
    } catch {
      throw new Rejected('utf8', `invalid UTF-8 in a string at ${this.pos}`);
    }
  }

  private skip(n: number, end: number): void {
    if (this.pos + n > end) throw new Rejected('wire', `${n} fixed bytes at ${this.pos} run past ${end}`);
    this.pos += n;
  }

  /** At most 10 bytes, and the 10th may only carry bit 63 (Go's protowire rule). */
  private varint(end: number): bigint {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw new Rejected('wire', `varint cut off at ${this.pos}`);
      const b = this.buf[this.pos++]!;
      if (i === 9 && b > 1) throw new Rejected('wire', `varint overflows 64 bits at ${this.pos - 1}`);
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return value;
    }
    throw new Rejected('wire', `varint longer than 10 bytes at ${this.pos}`);
  }
}
