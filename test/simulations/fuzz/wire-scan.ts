/**
 * Lenient wire readers for the fuzz tests: they look inside a case to check what the generator
 * claims (this tag has that wire type, this string is that payload), reading past what a strict
 * decoder would refuse. Independent of simulations/fuzz/wire.ts on purpose.
 */
import protobuf from 'protobufjs';

export interface TagAt {
  readonly offset: number;
  readonly field: bigint;
  readonly wireType: number;
}

interface Varint {
  readonly value: bigint;
  readonly next: number;
}

/** Any length, no overflow check: the lenient reading. Undefined if the buffer ends first. */
function varint(bytes: Uint8Array, pos: number): Varint | undefined {
  let value = 0n;
  for (let i = pos, shift = 0n; i < bytes.length; i++, shift += 7n) {
    const b = bytes[i]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return { value, next: i + 1 };
  }
  return undefined;
}

/** End of the value after a tag, or undefined when it cannot be skipped. */
function skipValue(bytes: Uint8Array, pos: number, wireType: number, field: bigint, depth = 0): number | undefined {
  switch (wireType) {
    case 3:
      return depth < 200 ? skipGroup(bytes, pos, field, depth + 1) : undefined;
    case 0:
      return varint(bytes, pos)?.next;
    case 1:
      return pos + 8 <= bytes.length ? pos + 8 : undefined;
    case 5:
      return pos + 4 <= bytes.length ? pos + 4 : undefined;
    case 2: {
      const len = varint(bytes, pos);
      return len && len.next + Number(len.value) <= bytes.length ? len.next + Number(len.value) : undefined;
    }
    default:
      return undefined;
  }
}

function skipGroup(bytes: Uint8Array, pos: number, field: bigint, depth: number): number | undefined {
  for (let at = pos; ; ) {
    const tag = varint(bytes, at);
    if (!tag) return undefined;
    const wt = Number(tag.value & 7n);
    if (wt === 4) return tag.value >> 3n === field ? tag.next : undefined;
    const next = skipValue(bytes, tag.next, wt, tag.value >> 3n, depth);
    if (next === undefined) return undefined;
    at = next;
  }
}

/**
 * The tags read one after another from the start, skipping values (groups included); the last
 * one returned may be a tag whose value could not be skipped (wire type 6, a cut-off value...).
 */
export function scanTags(bytes: Uint8Array, from = 0): TagAt[] {
  const out: TagAt[] = [];
  let pos = from;
  while (pos < bytes.length) {
    const tag = varint(bytes, pos);
    if (!tag) break;
    const at: TagAt = { offset: pos, field: tag.value >> 3n, wireType: Number(tag.value & 7n) };
    out.push(at);
    const next = skipValue(bytes, tag.next, at.wireType, at.field);
    if (next === undefined) break;
    pos = next;
  }
  return out;
}

/** Counts consecutive start-group tags (wire type 3) beginning at `pos`. */
export function countStartGroups(bytes: Uint8Array, pos: number): number {
  let n = 0;
  for (let at = pos; at < bytes.length; ) {
    const tag = varint(bytes, at);
    if (!tag || Number(tag.value & 7n) !== 3) break;
    n++;
    at = tag.next;
  }
  return n;
}

/**
 * Every varint-shaped run in the bytes: a run of bytes with the high bit set and the byte that
 * ends it (undefined if the buffer ends first).
 */
export function highBitRuns(bytes: Uint8Array): { readonly length: number; readonly last: number | undefined }[] {
  const out: { length: number; last: number | undefined }[] = [];
  let run = 0;
  for (const b of bytes) {
    if (b >= 0x80) {
      run++;
    } else {
      if (run > 0) out.push({ length: run, last: b });
      run = 0;
    }
  }
  if (run > 0) out.push({ length: run, last: undefined });
  return out;
}

/** Payloads of the known string fields of `type`, at any depth of known message fields. */
export function stringPayloads(type: protobuf.Type, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const t of scanTags(bytes)) {
    const field = type.fieldsById[Number(t.field)];
    if (!field || t.wireType !== 2) continue;
    const tag = varint(bytes, t.offset)!;
    const len = varint(bytes, tag.next);
    if (!len) continue;
    const payload = bytes.subarray(len.next, len.next + Number(len.value));
    if (field.type === 'string' && !field.map) out.push(payload);
    else if (field.resolvedType instanceof protobuf.Type && !field.map) out.push(...stringPayloads(field.resolvedType, payload));
  }
  return out;
}

/** The length prefix after a LEN tag (however long its varint), or undefined if cut off. */
export function lengthAfter(bytes: Uint8Array, tag: TagAt): bigint | undefined {
  const t = varint(bytes, tag.offset);
  return t ? varint(bytes, t.next)?.value : undefined;
}

/**
 * Depth of the chain of length-delimited fields that each end their enclosing message: how deep
 * a message nests when every level's last field opens the next level.
 */
export function trailingNestingDepth(bytes: Uint8Array): number {
  let depth = 0;
  let view = bytes;
  for (;;) {
    const last = scanTags(view).at(-1);
    if (!last || last.wireType !== 2) return depth;
    const t = varint(view, last.offset)!;
    const len = varint(view, t.next);
    if (!len || len.next + Number(len.value) !== view.length) return depth;
    depth++;
    view = view.subarray(len.next);
  }
}
