/**
 * Generators that keep the framing intact and play with fields instead: a known field under a
 * wire type it does not have, fields the schema does not know, a singular field sent many times,
 * a string that is not UTF-8. Several of these are legal protobuf, and say so: a decoder must
 * accept them, and a test that expects a rejection would be wrong.
 */
import { illegal, legal, pickValid, spliceAtBoundary, type Draft, type GenContext } from './case-context.js';
import { randomBytes } from './random-bytes.js';
import { levelContents, minimalMessage, sampleText, writeAnyElement, writeSampleField } from './samples.js';
import { pick, unknownFieldNumber, type FieldInfo } from './schema.js';
import { WIRE, WireWriter } from './wire.js';

const ELEMENT_WIRE_TYPES = [WIRE.VARINT, WIRE.I64, WIRE.LEN, WIRE.SGROUP, WIRE.I32] as const;

/** Byte sequences no UTF-8 decoder may accept, each with what is wrong with it. */
export const INVALID_UTF8: readonly { readonly bytes: readonly number[]; readonly what: string }[] = [
  { bytes: [0x80], what: 'a lone continuation byte' },
  { bytes: [0xbf], what: 'a lone continuation byte 0xbf' },
  { bytes: [0xc0, 0xaf], what: "an overlong 2-byte '/'" },
  { bytes: [0xc1, 0xbf], what: 'an overlong 2-byte encoding' },
  { bytes: [0xe0, 0x80, 0xaf], what: "an overlong 3-byte '/'" },
  { bytes: [0xf0, 0x80, 0x80, 0xaf], what: "an overlong 4-byte '/'" },
  { bytes: [0xed, 0xa0, 0x80], what: 'the surrogate U+D800' },
  { bytes: [0xed, 0xbf, 0xbf], what: 'the surrogate U+DFFF' },
  { bytes: [0xff], what: 'the byte 0xff' },
  { bytes: [0xfe], what: 'the byte 0xfe' },
  { bytes: [0xf4, 0x90, 0x80, 0x80], what: 'a code point above U+10FFFF' },
  { bytes: [0xe2, 0x82], what: 'a 3-byte sequence cut after 2 bytes' },
  { bytes: [0xf8, 0x88, 0x80, 0x80, 0x80], what: 'an obsolete 5-byte form' },
];

function typeName(f: FieldInfo): string {
  return `${f.field.name} = ${f.id} (${f.field.repeated ? 'repeated ' : ''}${f.field.type}, wire type ${f.wireType})`;
}

/** `wrong_wire_type`: a known field under a wire type it does not have. */
export function wrongWireType(ctx: GenContext): Draft {
  const r = ctx.random;
  const field = pick(r, ctx.info.fields);
  if (!field) {
    const n = unknownFieldNumber(ctx.info, r, true);
    return illegal(new WireWriter().tag(n, 6).varint(0).finish(), `the type has no fields: field ${n} with wire type 6 instead`);
  }
  const w = new WireWriter();
  const roll = r.next();
  let draft: Draft;
  if (roll < 0.5) {
    const wt = pick(r, ELEMENT_WIRE_TYPES.filter((t) => !field.wireTypes.includes(t)))!;
    writeAnyElement(w, field.id, wt, r);
    draft = legal(w.finish(), `known field ${typeName(field)} sent as a well-formed wire type ${wt} element: parsers keep a wire-type mismatch as an unknown field`);
  } else if (roll < 0.8) {
    const wt = r.int(6, 7);
    w.tag(field.id, wt).raw(randomBytes(r, r.int(0, 8)));
    draft = illegal(w.finish(), `known field ${typeName(field)} with the unassigned wire type ${wt}`);
  } else if (roll < 0.9 || field.wireTypes.includes(WIRE.SGROUP)) {
    w.endGroup(field.id);
    draft = illegal(w.finish(), `known field ${typeName(field)} as an end-group tag with no group open`);
  } else {
    const closeWith = r.next() < 0.5 ? field.id + 1 : undefined;
    w.startGroup(field.id).tag(1, WIRE.VARINT).varint(1);
    if (closeWith !== undefined) w.endGroup(closeWith);
    const how = closeWith === undefined ? 'never closed' : `closed by end-group ${closeWith}`;
    draft = illegal(w.finish(), `known field ${typeName(field)} as a start-group tag, ${how}`);
  }
  const base = pickValid(ctx, draft.bytes.length);
  return { ...draft, bytes: spliceAtBoundary(r, base, draft.bytes) };
}

/** `unknown_fields`: a valid message plus unknown fields of every wire type (legal). */
export function unknownFields(ctx: GenContext): Draft {
  const r = ctx.random;
  const elements: Uint8Array[] = [];
  const parts: string[] = [];
  // Room for the smallest valid message too: the fields go into one.
  let size = minimalMessage(ctx.info.type).length;
  const add = (bytes: Uint8Array, what: string): void => {
    if (size + bytes.length > ctx.maxBytes) return;
    elements.push(bytes);
    parts.push(what);
    size += bytes.length;
  };
  for (const wt of ELEMENT_WIRE_TYPES) {
    const n = unknownFieldNumber(ctx.info, r);
    add(writeAnyElement(new WireWriter(), n, wt, r).finish(), `${n}:${wt}`);
  }
  const groupNumber = unknownFieldNumber(ctx.info, r);
  add(nestedGroups(groupNumber, r.int(2, 6), r), `${groupNumber}:nested groups`);
  const blobNumber = unknownFieldNumber(ctx.info, r);
  const blob = pick(r, ctx.valid.filter((v) => v.length <= 256)) ?? new Uint8Array(0);
  add(new WireWriter().lengthDelimited(blobNumber, blob).finish(), `${blobNumber}:LEN holding a valid message`);
  let bytes = pickValid(ctx, size - minimalMessage(ctx.info.type).length);
  for (const e of elements) bytes = spliceAtBoundary(r, bytes, e);
  return legal(bytes, `valid message plus unknown fields (number:wire type) ${parts.join(', ')}: parsers skip or keep them`);
}

/** Unknown groups nested `depth` deep, each closed by its own end tag. */
function nestedGroups(fieldNumber: number, depth: number, r: GenContext['random']): Uint8Array {
  const w = new WireWriter();
  for (let i = 0; i < depth; i++) w.startGroup(fieldNumber).tag(1, WIRE.VARINT).varint(r.int(0, 127));
  for (let i = 0; i < depth; i++) w.endGroup(fieldNumber);
  return w.finish();
}

/** `duplicate_singular`: a singular field sent 2-5 times with different values (legal). */
export function duplicateSingular(ctx: GenContext): Draft {
  const r = ctx.random;
  const singular = ctx.info.fields.filter((f) => f.singular);
  const field = pick(r, singular) ?? pick(r, ctx.info.fields);
  if (!field) {
    const n = unknownFieldNumber(ctx.info, r, true);
    const w = new WireWriter().tag(n, WIRE.VARINT).varint(1).tag(n, WIRE.VARINT).varint(2);
    return legal(w.finish(), `the type has no fields: unknown field ${n} twice with different values`);
  }
  // Nested messages stay empty under a small budget, so at least two copies always fit.
  const depth = ctx.maxBytes >= 4096 ? 2 : 3;
  const w = new WireWriter();
  const copies = r.int(2, 5);
  let written = 0;
  for (let i = 0; i < copies; i++) {
    const one = writeSampleField(new WireWriter(), field, r, depth).finish();
    if (written >= 2 && w.length + one.length > ctx.maxBytes / 2) break;
    w.raw(one);
    written++;
  }
  const base = pickValid(ctx, w.length);
  const merge = field.message ? 'message values merge' : 'the last value wins';
  const what = field.singular ? 'singular' : 'repeated (no singular field in the type)';
  return legal(spliceAtBoundary(r, base, w.finish()), `${what} field ${typeName(field)} sent ${written} times with different values: legal, ${merge}`);
}

/** `invalid_utf8`: a known string field, possibly nested, holding invalid UTF-8. */
export function invalidUtf8(ctx: GenContext): Draft {
  const r = ctx.random;
  const bad = INVALID_UTF8[r.int(0, INVALID_UTF8.length - 1)]!;
  const before = sampleText(r, r.int(0, 6));
  const after = r.next() < 0.3 ? new Uint8Array(0) : sampleText(r, r.int(1, 6));
  const text = new WireWriter().raw(before).raw(Uint8Array.from(bad.bytes)).raw(after).finish();
  const site = pick(r, ctx.info.strings);
  if (!site) {
    const n = unknownFieldNumber(ctx.info, r);
    const bytes = spliceAtBoundary(r, pickValid(ctx, text.length + 8), new WireWriter().lengthDelimited(n, text).finish());
    return legal(bytes, `the type has no string field: ${bad.what} in unknown LEN field ${n}, which parsers treat as bytes`);
  }
  const element = new WireWriter().lengthDelimited(site.field.id, text).finish();
  const nested = new WireWriter().nested(site.route.fieldNumbers, element, levelContents(ctx.info.type, site.route.fieldNumbers)).finish();
  const bytes = spliceAtBoundary(r, pickValid(ctx, nested.length), nested);
  const path = [...site.route.fieldNumbers, site.field.id].join('.');
  const note = `string field ${site.route.type.name}.${site.field.field.name} (path ${path}) holds ${bad.what}`;
  if (site.verified) return illegal(bytes, `${note}; the field requires UTF-8 (proto3 / utf8_validation VERIFY)`, 'utf8');
  return { bytes, note: `${note}; the field does not require UTF-8 (proto2 / NONE), so parsers may pass it through`, legal: 'maybe' };
}
