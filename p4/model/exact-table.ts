/**
 * An exact-match table: an open-addressing hash table (linear probing, backward-shift deletion,
 * no tombstones) over 32-bit key words, sized from the P4Info (at most `size` entries, at least
 * twice as many slots). Laid out for the cache:
 * - a slot is 8 bytes, [entry index + 1, full 32-bit hash]: a miss reads one slot array and
 *   nothing else (the hash rules out almost every occupied slot of another key);
 * - an entry is one record in `rec`, [key words | meta | ref | parameter words]: a hit reads one
 *   record (a 104-bit connection key with its two parameters is 32 bytes);
 * - meta packs the action index, flags, expire-time profile and reference kind in one word.
 *
 * The data plane fills `key` (bind() + setKey*), calls find() (or home() + touch() early, then
 * findFrom()), and reads parameters at paramBase(e). Entry indices are stable for an entry's
 * lifetime (the ager and flow events name entries by them).
 *
 * @example
 * const t = new ExactTable(info, info.tableByName('MainControlImpl.ipv4_to_port'));
 * t.bind(['hdr.ipv4.dst_addr']);
 * t.setKey1(0x0af40002);
 * const e = t.find();                          // -1 on a miss
 * if (e >= 0) t.rec[t.paramBase(e)];           // the first parameter word of its action
 */
import type { P4Info, P4Table } from '../p4info.js';
import { keyWords, layoutActions, layoutFields, maxParamWords, type ActionLayout, type FieldLayout } from './layout.js';

/** How an entry of an indirect table names its action: nothing, a member, a group. */
export const REF_NONE = 0;
export const REF_MEMBER = 1;
export const REF_GROUP = 2;

/** Entry flags. */
export const F_LEARNED = 1;
export const F_CLOSING = 2;

/** Result of insert() when the key exists / the table is full. */
export const INSERT_EXISTS = -1;
export const INSERT_FULL = -2;

export class ExactTable {
  readonly id: number;
  readonly name: string;
  readonly alias: string;
  readonly fields: readonly FieldLayout[];
  readonly actions: readonly ActionLayout[];
  readonly words: number;
  readonly paramWords: number;
  /** Maximum number of entries (the P4Info size). */
  readonly size: number;
  /**
   * Entry records allocated so far: tables start small and double (up to `size`) when full, so a
   * target holds memory for what it holds, not for 2 × 262,144-entry connection tables it may
   * never fill (44 MB per target before; 100 targets run in one in-process simulation). The
   * arrays below are replaced when the table grows: read them through the table, never keep them.
   */
  allocated: number;
  /** Scratch key for find()/insert(), filled by the caller. */
  readonly key: Uint32Array;
  slots: Uint32Array;
  /** Entry records: recStride words each, [key | meta | ref | params]. */
  rec: Uint32Array;
  readonly recStride: number;
  lastHit: Float64Array;
  /** Dense list of learned entries (for the ager), and each entry's position in it (-1: none). */
  learnedList: Int32Array;
  learnedPos: Int32Array;
  learnedCount = 0;
  count = 0;
  private live8: Uint8Array;
  private mask: number;
  private free: Int32Array;
  private freeTop: number;
  /** Where the last missed find() stopped (the empty slot its key would go to) and its hash. */
  private missSlot = -1;
  private missHash = 0;
  private readonly bindWord = new Int32Array(8);
  private readonly bindShift = new Int32Array(8);

  constructor(info: P4Info, table: P4Table) {
    this.id = table.id;
    this.name = table.name;
    this.alias = table.alias || table.name;
    this.fields = layoutFields(table.matchFields);
    this.actions = layoutActions(info, table.actionRefs);
    this.words = Math.max(1, keyWords(this.fields));
    this.paramWords = Math.max(1, maxParamWords(this.actions));
    this.size = Math.max(1, table.size || 1024);
    this.allocated = Math.min(this.size, INITIAL_ENTRIES);
    this.key = new Uint32Array(this.words);
    this.recStride = this.words + 2 + this.paramWords;
    this.mask = capacityFor(this.allocated) - 1;
    this.slots = new Uint32Array((this.mask + 1) * 2);
    this.rec = new Uint32Array(this.allocated * this.recStride);
    this.lastHit = new Float64Array(this.allocated);
    this.live8 = new Uint8Array(this.allocated);
    this.learnedList = new Int32Array(this.allocated);
    this.learnedPos = new Int32Array(this.allocated).fill(-1);
    this.free = new Int32Array(this.allocated);
    for (let i = 0; i < this.allocated; i++) this.free[i] = this.allocated - 1 - i;
    this.freeTop = this.allocated;
  }

  /**
   * Doubles the allocation (up to `size`): records copied, the new indices on the free list
   * (lowest first), the slots rehashed into a table twice the entries. Only when the free list is
   * empty, so no free index is lost.
   */
  private grow(): void {
    const from = this.allocated;
    const to = Math.min(this.size, from * 2);
    const copy = <T extends Uint32Array | Float64Array | Uint8Array | Int32Array>(old: T, make: (n: number) => T, per = 1): T => {
      const out = make(to * per);
      out.set(old);
      return out;
    };
    this.rec = copy(this.rec, (n) => new Uint32Array(n), this.recStride);
    this.lastHit = copy(this.lastHit, (n) => new Float64Array(n));
    this.live8 = copy(this.live8, (n) => new Uint8Array(n));
    this.learnedList = copy(this.learnedList, (n) => new Int32Array(n));
    this.learnedPos = copy(this.learnedPos, (n) => new Int32Array(n));
    this.learnedPos.fill(-1, from);
    this.free = new Int32Array(to);
    for (let i = 0; i < to - from; i++) this.free[i] = to - 1 - i;
    this.freeTop = to - from;
    const old = this.slots;
    const mask = capacityFor(to) - 1;
    const slots = new Uint32Array((mask + 1) * 2);
    for (let b = 0; b < old.length; b += 2) {
      if (old[b] === 0) continue;
      const h = old[b + 1]!;
      let i = h & mask;
      while (slots[i << 1] !== 0) i = (i + 1) & mask;
      slots[i << 1] = old[b]!;
      slots[(i << 1) + 1] = h;
    }
    this.slots = slots;
    this.mask = mask;
    this.allocated = to;
  }

  /** Index of a key field by name; throws if absent (the P4Info does not fit the model). */
  fieldIndex(name: string): number {
    const i = this.fields.findIndex((f) => f.name === name);
    if (i < 0) throw new Error(`table ${this.name} has no key field ${name}`);
    return i;
  }

  /** Index of an action of this table by name; throws if absent. */
  actionIndex(name: string): number {
    const i = this.actions.findIndex((a) => a.name === name);
    if (i < 0) throw new Error(`table ${this.name} has no action ${name}`);
    return i;
  }

  /** Word offset of a parameter inside an entry's parameter words. */
  paramOffset(actionName: string, paramName: string): number {
    const a = this.actions[this.actionIndex(actionName)]!;
    const p = a.params.find((x) => x.name === paramName);
    if (!p) throw new Error(`action ${actionName} has no parameter ${paramName}`);
    return p.offset;
  }

  /** Fixes which key field each data-plane value goes to (setKey1/3/5 arguments in this order). */
  bind(names: readonly string[]): void {
    names.forEach((n, i) => {
      const f = this.fields[this.fieldIndex(n)]!;
      if (f.bitwidth > 32) throw new Error(`data-plane key field ${n} is wider than 32 bits`);
      this.bindWord[i] = f.word;
      this.bindShift[i] = f.shift;
    });
    if (names.length !== this.fields.length) throw new Error(`table ${this.name} has ${this.fields.length} key fields, ${names.length} bound`);
  }

  setKey1(a: number): void {
    const k = this.key;
    for (let i = 0; i < this.words; i++) k[i] = 0;
    or(k, this.bindWord[0]!, a << this.bindShift[0]!);
  }

  setKey3(a: number, b: number, c: number): void {
    const k = this.key;
    const w = this.bindWord;
    const s = this.bindShift;
    for (let i = 0; i < this.words; i++) k[i] = 0;
    or(k, w[0]!, a << s[0]!);
    or(k, w[1]!, b << s[1]!);
    or(k, w[2]!, c << s[2]!);
  }

  setKey5(a: number, b: number, c: number, d: number, e: number): void {
    const k = this.key;
    const w = this.bindWord;
    const s = this.bindShift;
    for (let i = 0; i < this.words; i++) k[i] = 0;
    or(k, w[0]!, a << s[0]!);
    or(k, w[1]!, b << s[1]!);
    or(k, w[2]!, c << s[2]!);
    or(k, w[3]!, d << s[3]!);
    or(k, w[4]!, e << s[4]!);
  }

  /** Whether `other` packs its data-plane key exactly like this table (same words, same hash). */
  sameKeyLayout(other: ExactTable): boolean {
    if (other.words !== this.words || other.fields.length !== this.fields.length) return false;
    for (let i = 0; i < this.fields.length; i++) if (other.bindWord[i] !== this.bindWord[i] || other.bindShift[i] !== this.bindShift[i]) return false;
    return true;
  }

  /** Copies another table's key words (see sameKeyLayout). */
  copyKey(other: ExactTable): void {
    for (let i = 0; i < this.words; i++) this.key[i] = other.key[i]!;
  }

  /** The hash of `key` (find() = findFrom(home())). */
  home(): number {
    return hashWords(this.key, 0, this.words);
  }

  /**
   * The first word of the home slot of hash h: reading it early for several tables lets their
   * cache misses overlap (memory-level parallelism) before the probes that depend on them.
   */
  touch(h: number): number {
    return this.slots[(h & this.mask) << 1]!;
  }

  /** The entry whose key equals `key`, or -1. */
  find(): number {
    return this.findFrom(hashWords(this.key, 0, this.words));
  }

  /** find() for a key whose home() is h. */
  findFrom(h: number): number {
    const s = this.slots;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = s[i << 1]!;
      if (e === 0) {
        this.missSlot = i;
        this.missHash = h;
        return -1;
      }
      if (s[(i << 1) + 1] === h && this.sameKey(e - 1)) return e - 1;
    }
  }

  private sameKey(e: number): boolean {
    const r = this.rec;
    const k = this.key;
    const b = e * this.recStride;
    const n = this.words;
    if (r[b] !== k[0]) return false;
    for (let w = 1; w < n; w++) if (r[b + w] !== k[w]) return false;
    return true;
  }

  /** Inserts `key` (action data left to the caller). Returns the entry, INSERT_EXISTS or INSERT_FULL. */
  insert(): number {
    if (this.find() >= 0) return INSERT_EXISTS;
    return this.insertAfterMiss();
  }

  /** Inserts `key` right after a find() that missed with the same key and no write in between. */
  insertAfterMiss(): number {
    if (this.freeTop === 0) {
      if (this.allocated === this.size) return INSERT_FULL;
      this.grow();
      // The slot the miss stopped at moved with the rehash: find it again (the key is unchanged).
      this.findFrom(this.missHash);
    }
    const e = this.free[--this.freeTop]!;
    const b = e * this.recStride;
    this.rec.fill(0, b, b + this.recStride);
    this.rec.set(this.key, b);
    this.slots[this.missSlot << 1] = e + 1;
    this.slots[(this.missSlot << 1) + 1] = this.missHash;
    this.live8[e] = 1;
    this.count++;
    return e;
  }

  /** Removes an entry; its index becomes free. */
  remove(e: number): void {
    if (!this.live(e)) return;
    const s = this.slots;
    const mask = this.mask;
    let hole = hashWords(this.rec, e * this.recStride, this.words) & mask;
    while (s[hole << 1] !== e + 1) hole = (hole + 1) & mask;
    this.unlistLearned(e);
    // Backward shift: pull later entries of the probe run into the hole when their home allows.
    for (let j = (hole + 1) & mask; s[j << 1] !== 0; j = (j + 1) & mask) {
      const home = s[(j << 1) + 1]! & mask;
      if (((j - home) & mask) < ((j - hole) & mask)) continue;
      s[hole << 1] = s[j << 1]!;
      s[(hole << 1) + 1] = s[(j << 1) + 1]!;
      hole = j;
    }
    s[hole << 1] = 0;
    s[(hole << 1) + 1] = 0;
    this.live8[e] = 0;
    this.free[this.freeTop++] = e;
    this.count--;
  }

  /** Whether entry index `e` holds an entry. */
  live(e: number): boolean {
    return e >= 0 && e < this.allocated && this.live8[e] === 1;
  }

  /** Copies entry e's key words into `out` (for reads and events). */
  keyOf(e: number, out: Uint32Array): void {
    const b = e * this.recStride;
    for (let w = 0; w < this.words; w++) out[w] = this.rec[b + w]!;
  }

  /** Every live entry index, in slot order (control-plane reads). */
  entries(): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.slots.length; b += 2) if (this.slots[b] !== 0) out.push(this.slots[b]! - 1);
    return out;
  }

  /** Index in `rec` of entry e's first parameter word. */
  paramBase(e: number): number {
    return e * this.recStride + this.words + 2;
  }

  action(e: number): number {
    return this.rec[e * this.recStride + this.words]! & 0xff;
  }

  flags(e: number): number {
    return (this.rec[e * this.recStride + this.words]! >>> 8) & 0xff;
  }

  profile(e: number): number {
    return (this.rec[e * this.recStride + this.words]! >>> 16) & 0xff;
  }

  refKind(e: number): number {
    return this.rec[e * this.recStride + this.words]! >>> 24;
  }

  ref(e: number): number {
    return this.rec[e * this.recStride + this.words + 1]!;
  }

  /** Sets the meta word: action index, flags, expire-time profile, reference kind. */
  setMeta(e: number, action: number, flags: number, profile: number, refKind: number): void {
    this.rec[e * this.recStride + this.words] = (action | (flags << 8) | (profile << 16) | (refKind << 24)) >>> 0;
  }

  setRef(e: number, slot: number): void {
    this.rec[e * this.recStride + this.words + 1] = slot;
  }

  markLearned(e: number): void {
    if (this.learnedPos[e]! >= 0) return;
    this.learnedPos[e] = this.learnedCount;
    this.learnedList[this.learnedCount++] = e;
  }

  private unlistLearned(e: number): void {
    const p = this.learnedPos[e]!;
    if (p < 0) return;
    const last = this.learnedList[--this.learnedCount]!;
    this.learnedList[p] = last;
    this.learnedPos[last] = p;
    this.learnedPos[e] = -1;
  }
}

/** Records a table starts with (it doubles from there up to its P4Info size). */
const INITIAL_ENTRIES = 1024;

/** Slots for `entries`: a power of two at least four times as many (load ≤ 0.25: short probe runs for the misses every new flow makes). */
function capacityFor(entries: number): number {
  let capacity = 16;
  while (capacity < entries * 4) capacity *= 2;
  return capacity;
}

function or(k: Uint32Array, i: number, v: number): void {
  k[i] = k[i]! | v;
}

/**
 * Hash of n key words: the words multiplied by distinct odd constants and summed (independent
 * multiplies, no serial chain for up to 4 words), then the murmur3 finaliser to spread every bit
 * into the low bits that pick the slot. The full key is always compared, so the hash only has to
 * spread realistic keys, not resist an adversary.
 */
export function hashWords(a: Uint32Array, off: number, n: number): number {
  let h = Math.imul(a[off]!, 0x9e3779b1);
  if (n > 1) h = (h + Math.imul(a[off + 1]!, 0x85ebca77)) | 0;
  if (n > 2) h = (h + Math.imul(a[off + 2]!, 0xc2b2ae3d)) | 0;
  if (n > 3) h = (h + Math.imul(a[off + 3]!, 0x27d4eb2f)) | 0;
  for (let i = 4; i < n; i++) h = (Math.imul(h, 0x165667b1) + a[off + i]!) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
