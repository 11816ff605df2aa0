/**
 * Control-plane writes and reads of one table's entries with P4Runtime semantics: INSERT of an
 * existing key → ALREADY_EXISTS (entry unchanged), MODIFY/DELETE of a missing key → NOT_FOUND,
 * malformed entries → INVALID_ARGUMENT, bytestrings too wide or empty → OUT_OF_RANGE, a full table
 * → RESOURCE_EXHAUSTED. DELETE considers only the key. Reads return canonical bytestrings.
 *
 * @example
 * const s = writeEntry(table, selector, 'INSERT', entry); // Status
 * readEntries(table, selector, [], now);                  // every entry, learned ones marked
 */
import { canonical, decodeInto } from './bytestring.js';
import type { FieldMatch, TableEntry, UpdateType } from './entities.js';
import { ExactTable, F_LEARNED, REF_GROUP, REF_MEMBER, REF_NONE } from './exact-table.js';
import { decodeAction, encodeAction } from './layout.js';
import type { ActionSelector } from './selector.js';
import { Code, OK_STATUS, status, UNKNOWN_REFERENCE_CODE, type Status } from './status.js';

const fieldScratch = new Uint32Array(64);

/** Fills table.key from a P4Runtime match (every exact field exactly once). */
export function decodeMatch(table: ExactTable, match: readonly FieldMatch[]): Status | undefined {
  const k = table.key;
  k.fill(0);
  const seen = new Set<number>();
  for (const m of match) {
    const f = table.fields.find((x) => x.id === m.fieldId);
    if (!f) return status(Code.INVALID_ARGUMENT, `table ${table.name} has no match field id ${m.fieldId}`);
    if (seen.has(m.fieldId)) return status(Code.INVALID_ARGUMENT, `match field ${f.name} given twice`);
    seen.add(m.fieldId);
    if (!(m.exact instanceof Uint8Array)) return status(Code.INVALID_ARGUMENT, `match field ${f.name} is not an exact match`);
    if (!decodeInto(m.exact, f.bitwidth, fieldScratch, 0, f.nWords)) {
      return status(Code.OUT_OF_RANGE, `match field ${f.name}: ${m.exact.length === 0 ? 'empty bytestring' : `value wider than ${f.bitwidth} bits`}`);
    }
    if (f.nWords > 1) k.set(fieldScratch.subarray(0, f.nWords), f.word);
    else k[f.word] = (k[f.word]! | (fieldScratch[0]! << f.shift)) >>> 0;
  }
  if (seen.size !== table.fields.length) {
    const missing = table.fields.filter((f) => !seen.has(f.id)).map((f) => f.name);
    return status(Code.INVALID_ARGUMENT, `table ${table.name}: missing exact match field(s) ${missing.join(', ')}`);
  }
  return undefined;
}

/** One INSERT, MODIFY or DELETE of a match entry of `table`. */
export function writeEntry(table: ExactTable, selector: ActionSelector | undefined, type: UpdateType, entry: TableEntry): Status {
  if (entry.isDefaultAction) {
    return type === 'MODIFY'
      ? status(Code.PERMISSION_DENIED, `the default action of ${table.name} is const`)
      : status(Code.INVALID_ARGUMENT, `${type} of a default entry (${table.name})`);
  }
  if ((entry.priority ?? 0) !== 0) return status(Code.INVALID_ARGUMENT, `table ${table.name} is exact-match: priority must be 0`);
  const bad = decodeMatch(table, entry.match ?? []);
  if (bad) return bad;
  const e = table.find();
  if (type === 'DELETE') {
    if (e < 0) return status(Code.NOT_FOUND, `no such entry in ${table.name}`);
    unreference(table, selector, e);
    table.remove(e);
    return OK_STATUS;
  }
  const decoded = decodeTarget(table, selector, entry);
  if (decoded) return decoded;
  if (type === 'INSERT' && e >= 0) return status(Code.ALREADY_EXISTS, `the entry exists in ${table.name}`);
  if (type === 'MODIFY' && e < 0) return status(Code.NOT_FOUND, `no such entry in ${table.name}`);
  if (type === 'INSERT' && table.count >= table.size) return status(Code.RESOURCE_EXHAUSTED, `table ${table.name} is full (${table.size} entries)`);
  const target = type === 'INSERT' ? table.insertAfterMiss() : e;
  if (type === 'MODIFY') unreference(table, selector, target);
  commit(table, selector, target);
  return OK_STATUS;
}

/** What decodeTarget() decoded, applied by commit() once the write is known to succeed. */
const pending = { action: 0, kind: REF_NONE, slot: 0, params: new Uint32Array(64) };

function decodeTarget(table: ExactTable, selector: ActionSelector | undefined, entry: TableEntry): Status | undefined {
  const hasMember = entry.memberId !== undefined && entry.memberId !== 0;
  const hasGroup = entry.groupId !== undefined && entry.groupId !== 0;
  if (!selector) {
    if (hasMember || hasGroup) return status(Code.INVALID_ARGUMENT, `table ${table.name} is direct: it takes an action, not a member or group`);
    if (!entry.action) return status(Code.INVALID_ARGUMENT, `entry of ${table.name} has no action`);
    const index = decodeAction(table.actions, entry.action, pending.params, 0, table.name);
    if (typeof index !== 'number') return index;
    pending.action = index;
    pending.kind = REF_NONE;
    return undefined;
  }
  if (entry.action) return status(Code.INVALID_ARGUMENT, `table ${table.name} is implemented by ${selector.name}: give a member or group, not an action`);
  if (hasMember === hasGroup) return status(Code.INVALID_ARGUMENT, `entry of ${table.name} needs exactly one of member_id and group_id`);
  if (hasGroup && !selector.withSelector) return status(Code.INVALID_ARGUMENT, `${selector.name} has no groups`);
  const id = (hasMember ? entry.memberId : entry.groupId) ?? 0;
  const slot = hasMember ? selector.memberSlot(id) : selector.groupSlot(id);
  if (slot < 0) return status(UNKNOWN_REFERENCE_CODE, `${hasMember ? 'member' : 'group'} ${id} does not exist in ${selector.name}`);
  pending.kind = hasMember ? REF_MEMBER : REF_GROUP;
  pending.slot = slot;
  return undefined;
}

function commit(table: ExactTable, selector: ActionSelector | undefined, e: number): void {
  // A MODIFY keeps the entry's flags and expire-time profile (a learned entry stays learned).
  table.setMeta(e, pending.kind === REF_NONE ? pending.action : 0, table.flags(e), table.profile(e), pending.kind);
  if (pending.kind === REF_NONE) {
    table.rec.set(pending.params.subarray(0, table.paramWords), table.paramBase(e));
    return;
  }
  table.setRef(e, pending.slot);
  selector!.reference(pending.kind === REF_MEMBER ? 'member' : 'group', pending.slot, 1);
}

function unreference(table: ExactTable, selector: ActionSelector | undefined, e: number): void {
  const kind = table.refKind(e);
  if (!selector || kind === REF_NONE) return;
  selector.reference(kind === REF_MEMBER ? 'member' : 'group', table.ref(e), -1);
}

/** Entries of `table`: all of them for an empty match, else the one with that key (if any). */
export function readEntries(table: ExactTable, selector: ActionSelector | undefined, match: readonly FieldMatch[], now: number): TableEntry[] | Status {
  if (match.length === 0) return table.entries().map((e) => entryAt(table, selector, e, now));
  const bad = decodeMatch(table, match);
  if (bad) return bad;
  const e = table.find();
  return e < 0 ? [] : [entryAt(table, selector, e, now)];
}

const keyScratch = new Uint32Array(64);

/** The P4Runtime form of entry index e (canonical bytestrings). */
export function entryAt(table: ExactTable, selector: ActionSelector | undefined, e: number, now: number): TableEntry {
  table.keyOf(e, keyScratch);
  const match = table.fields.map((f) => {
    if (f.nWords > 1) return { fieldId: f.id, exact: canonical(keyScratch, f.word, f.nWords) };
    const mask = f.bitwidth >= 32 ? 0xffffffff : (1 << f.bitwidth) - 1;
    fieldScratch[0] = (keyScratch[f.word]! >>> f.shift) & mask;
    return { fieldId: f.id, exact: canonical(fieldScratch, 0, 1) };
  });
  const learned = (table.flags(e) & F_LEARNED) !== 0;
  const extra = learned ? { learned: true, expiryProfileId: table.profile(e), elapsedMs: Math.max(0, now - table.lastHit[e]!) } : {};
  const kind = table.refKind(e);
  if (kind === REF_MEMBER) return { tableId: table.id, match, memberId: selector!.memberIdAt(table.ref(e)), ...extra };
  if (kind === REF_GROUP) return { tableId: table.id, match, groupId: selector!.groupIdAt(table.ref(e)), ...extra };
  const action = encodeAction(table.actions[table.action(e)]!, table.rec, table.paramBase(e));
  return { tableId: table.id, match, action, ...extra };
}
