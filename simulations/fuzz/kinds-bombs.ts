/**
 * Generators aimed at a decoder's resources rather than its grammar: nesting that walks the
 * stack, groups that open a hundred thousand times, a repeated field with tens of thousands of
 * elements, a length that promises a billion packed values, a message made of tiny fields.
 */
import { illegal, legal, pickValid, type Draft, type GenContext } from './case-context.js';
import { levelContents, minimalMessage, writeSampleField, writeZeroElement } from './samples.js';
import { pick, unknownFieldNumber, type FieldInfo } from './schema.js';
import { nestedLength, tagLength, WIRE, WireWriter } from './wire.js';

/** How deep the group bomb nests: far past any recursion limit, and past a naive stack. */
export const GROUP_BOMB_DEPTH = 100_000;
/** The recursion limit of protobufjs and C++ protobuf (Go's default is 10,000). */
export const RECURSION_LIMIT = 100;
/** Count bombs stop here even when maxBytes would allow more. */
const COUNT_BOMB_MAX = 200_000;

/** A nesting depth in ~100..1000, with the limit's edges (99, 100, 101) drawn often. */
function drawDepth(ctx: GenContext): number {
  const r = ctx.random;
  return r.next() < 0.25 ? RECURSION_LIMIT - 1 + r.int(0, 2) : r.int(RECURSION_LIMIT, 1000);
}

/** The longest prefix of `path` whose nesting, with its level contents, fits `budget`. */
function fitPath(path: number[], levels: Uint8Array[], budget: number): number[] {
  let n = path.length;
  while (n > 0 && nestedLength(path.slice(0, n), 0, levels.slice(0, n)) > budget) n = Math.floor(n * 0.9);
  return path.slice(0, n);
}

/** `deep_nesting`: 99-1000 nested messages, through recursive known fields and unknown blobs. */
export function deepNesting(ctx: GenContext): Draft {
  const r = ctx.random;
  const depth = drawDepth(ctx);
  const rec = ctx.info.recursion;
  const known: number[] = [];
  if (rec && r.next() < 0.6) {
    known.push(...rec.prefix.fieldNumbers);
    while (known.length < depth) known.push(...rec.cycle);
  } else {
    // Known fields as far as the schema goes, then unknown blobs the rest of the way.
    const chain = rec ? [...rec.prefix.fieldNumbers, ...rec.cycle] : [...ctx.info.longestChain.fieldNumbers];
    known.push(...chain.slice(0, r.int(0, Math.min(chain.length, RECURSION_LIMIT))));
  }
  known.length = Math.min(known.length, depth);
  const blob = unknownFieldNumber(ctx.info, r);
  const full = [...known, ...new Array<number>(depth - known.length).fill(blob)];
  // Types with required fields get them at every level, so only the depth is at fault.
  const root = minimalMessage(ctx.info.type);
  const allLevels = levelContents(ctx.info.type, full);
  const path = fitPath(full, allLevels, ctx.maxBytes - root.length);
  const knownDepth = Math.min(known.length, path.length);
  const bytes = new WireWriter().raw(root).nested(path, new Uint8Array(0), allLevels.slice(0, path.length)).finish();
  const what = `${path.length} nested length-delimited messages: ${knownDepth} through known message fields, ${path.length - knownDepth} as unknown field ${blob}`;
  if (knownDepth <= RECURSION_LIMIT) {
    return legal(bytes, `${what}; unknown fields are opaque bytes, so parsers never descend into them`);
  }
  return {
    bytes,
    note: `${what}; ${knownDepth} known levels exceed the recursion limit of 100 of C++ and protobufjs (Go allows 10,000)`,
    legal: 'maybe',
  };
}

/** `group_bomb`: GROUP_BOMB_DEPTH nested start-group tags, unclosed or balanced. */
export function groupBomb(ctx: GenContext): Draft {
  const r = ctx.random;
  const known = pick(r, ctx.info.fields);
  const useKnown = known !== undefined && r.next() < 0.4;
  const n = useKnown ? known.id : unknownFieldNumber(ctx.info, r, true);
  const balanced = r.next() < 0.3;
  const base = r.next() < 0.5 ? pickValid(ctx, 0) : new Uint8Array(0);
  const start = new WireWriter(8).startGroup(n).finish();
  const w = new WireWriter(base.length + GROUP_BOMB_DEPTH * start.length * 2).raw(base).repeat(start, GROUP_BOMB_DEPTH);
  if (balanced) w.repeat(new WireWriter(8).endGroup(n).finish(), GROUP_BOMB_DEPTH);
  const field = useKnown ? `known field ${known.field.name} = ${n}` : `unknown field ${n}`;
  const end = balanced ? 'each closed again (balanced, well-formed but nested past every recursion limit)' : 'never closed';
  const prefix = base.length > 0 ? ` after a ${base.length}-byte valid message` : '';
  return illegal(w.finish(), `${GROUP_BOMB_DEPTH} nested start-group tags of ${field}${prefix}, ${end}`, 'depth');
}

/** `huge_repeated`: 10,000-50,000 repeated elements (legal), or a packed run claiming ~2^31 bytes. */
export function hugeRepeated(ctx: GenContext): Draft {
  const r = ctx.random;
  const packable = pick(r, ctx.info.fields.filter((f) => f.packable));
  if (r.next() < 0.4) return packedClaim(ctx, packable);
  const field = pick(r, ctx.info.fields.filter((f) => f.field.repeated && !f.field.map));
  const base = pickValid(ctx, Math.floor(ctx.maxBytes / 2));
  const room = ctx.maxBytes - base.length;
  const wanted = r.int(10_000, 50_000);
  const w = new WireWriter(ctx.maxBytes).raw(base);
  if (!field) {
    const n = unknownFieldNumber(ctx.info, r, true);
    const unit = new WireWriter().tag(n, WIRE.VARINT).varint(1).finish();
    const count = Math.min(wanted, Math.floor(room / unit.length));
    return legal(w.repeat(unit, count).finish(), `no repeated field in the type: unknown field ${n} repeated ${count} times`);
  }
  if (field.packable && r.next() < 0.5) {
    const size = elementSize(field);
    const count = Math.max(0, Math.min(wanted, Math.floor((room - tagLength(field.id) - 5) / size)));
    w.lengthDelimited(field.id, new Uint8Array(count * size));
    return legal(w.finish(), `packed repeated field ${field.field.name} = ${field.id} with ${count} zero elements of ${size} bytes`);
  }
  // Sometimes a real value, when ten thousand of them still fit; else the smallest element.
  let unit = writeSampleField(new WireWriter(), field, r, 3).finish();
  if (r.next() < 0.8 || room / unit.length < 10_000) unit = writeZeroElement(new WireWriter(), field).finish();
  const count = Math.min(wanted, Math.floor(room / unit.length));
  return legal(w.repeat(unit, count).finish(), `repeated field ${field.field.name} = ${field.id} with ${count} elements of ${unit.length} bytes each`);
}

/** Bytes of one packed element when its value is zero (a 1-byte varint, or 4 or 8 fixed bytes). */
function elementSize(field: FieldInfo): number {
  return field.wireType === WIRE.I64 ? 8 : field.wireType === WIRE.I32 ? 4 : 1;
}

/** A packed field whose length claims far more elements than follow (or a ragged fixed run). */
function packedClaim(ctx: GenContext, field: FieldInfo | undefined): Draft {
  const r = ctx.random;
  const id = field?.id ?? unknownFieldNumber(ctx.info, r);
  const size = field ? elementSize(field) : 1;
  const present = r.int(1, 16) * size;
  const w = new WireWriter().raw(pickValid(ctx, 64)).tag(id, WIRE.LEN);
  const name = field ? `packed field ${field.field.name} = ${id}` : `unknown LEN field ${id}`;
  if (field && size > 1 && r.next() < 0.3) {
    const ragged = present + r.int(1, size - 1);
    w.varint(ragged).raw(new Uint8Array(ragged));
    return illegal(w.finish(), `${name}: ${ragged} bytes of ${size}-byte elements (not a whole number of them)`);
  }
  const claim = r.next() < 0.5 ? 2 ** 31 - 1 : r.int(1 << 20, 1 << 30);
  w.varint(claim).raw(new Uint8Array(present));
  return illegal(w.finish(), `${name} claims ${claim} bytes (~${Math.floor(claim / size)} elements); ${present} bytes follow`);
}

/** `count_bomb`: as many tiny well-formed fields as fit in maxBytes, up to 200,000 (legal). */
export function countBomb(ctx: GenContext): Draft {
  const r = ctx.random;
  const known = pick(r, ctx.info.fields);
  const w = new WireWriter();
  let what: string;
  if (known && r.next() < 0.6) {
    writeZeroElement(w, known);
    what = `known field ${known.field.name} = ${known.id} (${known.singular ? 'singular: the last wins' : 'repeated: one element each'})`;
  } else if (r.next() < 0.5) {
    const n = unknownFieldNumber(ctx.info, r, true);
    w.tag(n, WIRE.LEN).varint(0);
    what = `unknown field ${n} with an empty length-delimited value`;
  } else {
    const n = unknownFieldNumber(ctx.info, r, true);
    w.startGroup(n).endGroup(n);
    what = `unknown field ${n} as an empty group`;
  }
  const unit = w.finish();
  const base = pickValid(ctx, Math.floor(ctx.maxBytes * 0.9));
  const count = Math.min(COUNT_BOMB_MAX, Math.floor((ctx.maxBytes - base.length) / unit.length));
  const bytes = new WireWriter(ctx.maxBytes).raw(base).repeat(unit, count).finish();
  return legal(bytes, `${count} tiny fields of ${unit.length} bytes: ${what}; legal, and one allocation or map entry each in a naive decoder`);
}
