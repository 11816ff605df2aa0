/**
 * The lean encoder of Read results: encoded p4.v1.Entity records collected into ReadResponse
 * messages by size (ReadChunker), and a wildcard table read encoded straight from the model's
 * table records (encodeTableScan) without building an entity object per entry.
 *
 * The scan reads the exact-table layout (p4/model/exact-table.ts) through its public accessors
 * and writes what the generic path writes for the same entries (Pipeline.read → entityToWire →
 * protobufjs), byte for byte: canonical bytestrings, fields in ascending order, proto3 zeros left
 * out, oneof members always written. target-codec.test.ts compares the two on every kind of
 * entry (direct, member, group, learned), so a change of layout in the model fails a test.
 *
 * @example
 * const chunks: Buffer[] = [];
 * const out = new ReadChunker((c) => chunks.push(c), 256 << 10);
 * encodeTableScan(table, pipeline.selector, pipeline.time, out, fallback);
 * out.flush();                    // every chunk is one encoded ReadResponse
 */
import { F_LEARNED, REF_MEMBER, REF_NONE, type ExactTable } from '../model/exact-table.js';
import type { ActionLayout } from '../model/layout.js';
import type { ActionSelector } from '../model/selector.js';
import { LeanWriter, varint64Size, varintSize as vs } from './lean-wire.js';

/** Default size of one ReadResponse message; gRPC's usual 4 MiB receive limit is far above. */
export const READ_CHUNK_BYTES = 256 << 10;

/** Collects encoded entities into ReadResponse messages of about `chunkBytes` (and at most `chunkEntities`). */
export class ReadChunker {
  /** Entities added so far, in all chunks. */
  entities = 0;
  private inChunk = 0;
  private readonly w: LeanWriter;

  constructor(
    private readonly emit: (chunk: Buffer) => void,
    private readonly chunkBytes = READ_CHUNK_BYTES,
    private readonly chunkEntities = Infinity,
  ) {
    this.w = new LeanWriter(Math.min(chunkBytes, READ_CHUNK_BYTES) + 1024);
  }

  /** Starts the record of an Entity of `size` bytes; the caller writes exactly `size` bytes, then end(). */
  begin(size: number): LeanWriter {
    const record = 1 + vs(size) + size;
    if (this.w.pos > 0 && this.w.pos + record > this.chunkBytes) this.flush();
    this.w.ensure(record);
    this.w.byte(0x0a); // ReadResponse.entities
    this.w.varint32(size);
    return this.w;
  }

  end(): void {
    this.entities++;
    if (++this.inChunk >= this.chunkEntities || this.w.pos >= this.chunkBytes) this.flush();
  }

  /** Adds an Entity encoded elsewhere (the generic path). */
  add(entity: Uint8Array): void {
    this.begin(entity.length).bytes(entity);
    this.end();
  }

  /** Emits what is collected as one ReadResponse (nothing if empty). */
  flush(): void {
    if (this.w.pos === 0) return;
    this.inChunk = 0;
    this.emit(this.w.finish());
  }
}

// Per-entry scratch (one scan runs at a time: the target is single-threaded and a scan never yields).
const SCRATCH = 64;
const keyWords = new Uint32Array(SCRATCH);
const fieldWords = new Uint32Array(SCRATCH);
const valueLen = new Int32Array(SCRATCH);
const fieldLen = new Int32Array(SCRATCH);
const paramValueLen = new Int32Array(SCRATCH);
const paramLen = new Int32Array(SCRATCH);

/** Bytes of the canonical (shortest, at least one byte) big-endian string of words[off .. off+n). */
function canonLen(words: Uint32Array, off: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const v = words[off + i]!;
    if (v !== 0) return (n - i - 1) * 4 + (v > 0xffffff ? 4 : v > 0xffff ? 3 : v > 0xff ? 2 : 1);
  }
  return 1;
}

/** Writes the last `len` bytes of the big-endian form of words[off .. off+n). */
function writeCanon(w: LeanWriter, words: Uint32Array, off: number, n: number, len: number): void {
  const buf = w.buf;
  let pos = w.pos + len;
  for (let i = off + n - 1, left = len; left > 0; i--) {
    let v = words[i]!;
    for (let k = 0; k < 4 && left > 0; k++, left--) {
      buf[--pos] = v & 0xff;
      v >>>= 8;
    }
  }
  w.pos += len;
}

/** The size of the p4.v1.Action of an entry (fills the param scratch for writeAction). */
function actionSize(a: ActionLayout, rec: Uint32Array, base: number): number {
  let n = a.id !== 0 ? 1 + vs(a.id) : 0;
  for (let j = 0; j < a.params.length; j++) {
    const p = a.params[j]!;
    const len = canonLen(rec, base + p.offset, p.nWords);
    const pl = (p.id !== 0 ? 1 + vs(p.id) : 0) + 1 + vs(len) + len;
    paramValueLen[j] = len;
    paramLen[j] = pl;
    n += 1 + vs(pl) + pl;
  }
  return n;
}

function writeAction(w: LeanWriter, a: ActionLayout, rec: Uint32Array, base: number, size: number): void {
  w.byte(0x0a); // TableAction.action
  w.varint32(size);
  if (a.id !== 0) {
    w.byte(0x08);
    w.varint32(a.id);
  }
  for (let j = 0; j < a.params.length; j++) {
    const p = a.params[j]!;
    w.byte(0x22); // Action.params
    w.varint32(paramLen[j]!);
    if (p.id !== 0) {
      w.byte(0x10);
      w.varint32(p.id);
    }
    w.byte(0x1a);
    w.varint32(paramValueLen[j]!);
    writeCanon(w, rec, base + p.offset, p.nWords, paramValueLen[j]!);
  }
}

/** The size of the match of entry e (its key words are in keyWords); fills the field scratch. */
function matchSize(table: ExactTable): number {
  let n = 0;
  const fields = table.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    let len: number;
    if (f.nWords > 1) len = canonLen(keyWords, f.word, f.nWords);
    else {
      fieldWords[i] = (keyWords[f.word]! >>> f.shift) & (f.bitwidth >= 32 ? 0xffffffff : (1 << f.bitwidth) - 1);
      len = canonLen(fieldWords, i, 1);
    }
    const ex = 1 + vs(len) + len;
    const fm = (f.id !== 0 ? 1 + vs(f.id) : 0) + 1 + vs(ex) + ex;
    valueLen[i] = len;
    fieldLen[i] = fm;
    n += 1 + vs(fm) + fm;
  }
  return n;
}

function writeMatch(w: LeanWriter, table: ExactTable): void {
  const fields = table.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const len = valueLen[i]!;
    w.byte(0x12); // TableEntry.match
    w.varint32(fieldLen[i]!);
    if (f.id !== 0) {
      w.byte(0x08);
      w.varint32(f.id);
    }
    w.byte(0x12); // FieldMatch.exact
    w.varint32(1 + vs(len) + len);
    w.byte(0x0a);
    w.varint32(len);
    if (f.nWords > 1) writeCanon(w, keyWords, f.word, f.nWords, len);
    else writeCanon(w, fieldWords, i, 1, len);
  }
}

/** The entry being encoded: what planEntry() measured, for writeEntry() (one entry at a time). */
const entry = { te: 0, ta: 0, act: 0, kind: REF_NONE, ref: 0, base: 0, layout: undefined as ActionLayout | undefined, elapsedNs: -1n };

/**
 * Measures entry e of `table` (sizes of its TableEntry and TableAction, canonical lengths of its
 * values) into `entry`; false when its idle time is too large to encode here exactly as protobufjs
 * does (over 10^21 ns, which no real clock reaches).
 */
function planEntry(table: ExactTable, selector: ActionSelector, now: number, e: number): boolean {
  table.keyOf(e, keyWords);
  const kind = table.refKind(e);
  const layout = kind === REF_NONE ? table.actions[table.action(e)]! : undefined;
  entry.kind = kind;
  entry.layout = layout;
  entry.base = table.paramBase(e);
  entry.ref = kind === REF_NONE ? 0 : kind === REF_MEMBER ? selector.memberIdAt(table.ref(e)) : selector.groupIdAt(table.ref(e));
  entry.act = layout ? actionSize(layout, table.rec, entry.base) : 0;
  entry.ta = layout ? 1 + vs(entry.act) + entry.act : 1 + vs(entry.ref);
  entry.te = (table.id !== 0 ? 1 + vs(table.id) : 0) + matchSize(table) + 1 + vs(entry.ta) + entry.ta;
  entry.elapsedNs = -1n;
  if ((table.flags(e) & F_LEARNED) !== 0) {
    // entityToWire sends String(Math.round(ms * 1e6)); protobufjs parses it as an int64.
    const ns = Math.round(Math.max(0, now - table.lastHit[e]!) * 1e6);
    if (!(ns < 1e21)) return false;
    entry.elapsedNs = BigInt.asUintN(64, BigInt(String(ns)));
    const it = 1 + varint64Size(entry.elapsedNs);
    entry.te += 1 + vs(it) + it;
  }
  return true;
}

/** Writes the Entity that planEntry() measured. */
function writeEntry(w: LeanWriter, table: ExactTable): void {
  w.byte(0x12); // Entity.table_entry
  w.varint32(entry.te);
  if (table.id !== 0) {
    w.byte(0x08);
    w.varint32(table.id);
  }
  writeMatch(w, table);
  w.byte(0x1a); // TableEntry.action
  w.varint32(entry.ta);
  if (entry.layout) writeAction(w, entry.layout, table.rec, entry.base, entry.act);
  else {
    w.byte(entry.kind === REF_MEMBER ? 0x10 : 0x18); // action_profile_member_id / action_profile_group_id
    w.varint32(entry.ref);
  }
  if (entry.elapsedNs >= 0n) {
    w.byte(0x52); // TableEntry.time_since_last_hit
    w.varint32(1 + varint64Size(entry.elapsedNs));
    w.byte(0x08);
    w.varint64(entry.elapsedNs);
  }
}

/**
 * Appends every entry of `table`, in slot order (as Pipeline.read lists them), to `out`.
 * `fallback(e)` encodes an entry the generic way, for what the scan does not: an idle time
 * beyond 10^21 ns, a table wider than the scratch space.
 */
export function encodeTableScan(table: ExactTable, selector: ActionSelector, now: number, out: ReadChunker, fallback: (e: number) => Uint8Array): void {
  const fits = table.words <= SCRATCH && table.fields.length <= SCRATCH && table.actions.every((a) => a.params.length <= SCRATCH);
  for (const e of table.entries()) {
    if (!fits || !planEntry(table, selector, now, e)) {
      out.add(fallback(e));
      continue;
    }
    writeEntry(out.begin(1 + vs(entry.te) + entry.te), table);
    out.end();
  }
}
