/**
 * Desired P4Runtime entities and their difference from what a target holds: the heart of a
 * reconcile that writes only what differs. Entities are p4.v1.Entity objects (snake_case, as on
 * the wire). Values are compared in canonical form (bytestrings without leading zero bytes,
 * group members sorted), so a desired entity written with padded values equals its read-back.
 *
 * The difference comes out in dependency order, one phase per Write call (P4Runtime may reorder
 * updates inside one batch): members, then groups, then table entries are inserted or modified;
 * table entries, then groups, then members are deleted.
 *
 * @example
 * const desired = desiredSet(render(intent));
 * const plan = diffEntities(desired, await client.read(all), { volatileTables });
 * for (const phase of plan.phases) await client.write({ …, updates: phase });
 */
export type WireEntity = Record<string, unknown>;

export type UpdateType = 'INSERT' | 'MODIFY' | 'DELETE';

export interface WireUpdate {
  readonly type: UpdateType;
  readonly entity: WireEntity;
}

/** Members first, then groups, then entries (what references comes after what it references). */
export const KIND_MEMBER = 0;
export const KIND_GROUP = 1;
export const KIND_TABLE = 2;

export interface Keyed {
  /** Identity: kind, table or profile id, match key or member/group id. */
  readonly key: string;
  readonly kind: number;
  /** Canonical content beyond the key: equal values mean nothing to write. */
  readonly value: string;
  readonly entity: WireEntity;
  /** Table id for table entries, else 0. */
  readonly tableId: number;
  /** A table's default entry: it always exists, so it is modified, never inserted or deleted. */
  readonly isDefault: boolean;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Canonical hex of a bytestring: no leading zero bytes, "00" for zero. */
export function canonicalHex(v: unknown): string {
  const b = v instanceof Uint8Array ? v : EMPTY;
  return canonicalHexOf(b, 0, b.length);
}

/** canonicalHex of the bytes [start, end) of `b`, without a view of them. */
export function canonicalHexOf(b: Uint8Array, start: number, end: number): string {
  if (start === end) return '00';
  let i = start;
  while (i < end - 1 && b[i] === 0) i++;
  let s = HEX[b[i]!]!;
  for (i++; i < end; i++) s += HEX[b[i]!];
  return s;
}

const EMPTY = new Uint8Array(0);

function num(v: unknown): string {
  if (typeof v === 'number') return '' + v;
  if (v === undefined || v === null) return '0';
  if (typeof v === 'string' || typeof v === 'bigint') return String(v);
  // A protobufjs Long: its own toString gives the decimal value.
  return (v as { toString(): string }).toString();
}

type Msg = Record<string, unknown>;
const list = (v: unknown): Msg[] => (Array.isArray(v) ? (v as Msg[]) : []);

/**
 * "id=hex,id=hex" of a list of (id, bytes) pairs in ascending id order. Written for speed (a
 * reconcile keys every entity the target holds): no intermediate arrays unless the list arrives
 * out of order, which P4Runtime allows but our render and target never do.
 */
function pairsText(items: Msg[], idKey: string, value: (m: Msg) => unknown): string {
  let out = '';
  let last = -1;
  for (let i = 0; i < items.length; i++) {
    const m = items[i]!;
    const id = Number(m[idKey] ?? 0);
    if (id <= last) return sortedPairsText(items, idKey, value);
    last = id;
    out += (i === 0 ? '' : ',') + id + '=' + canonicalHex(value(m));
  }
  return out;
}

function sortedPairsText(items: Msg[], idKey: string, value: (m: Msg) => unknown): string {
  return items
    .map((m) => [Number(m[idKey] ?? 0), canonicalHex(value(m))] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([id, hex]) => `${id}=${hex}`)
    .join(',');
}

const paramValue = (p: Msg): unknown => p.value;
const exactValue = (m: Msg): unknown => (m.exact as Msg | undefined)?.value;

function actionText(a: Msg | undefined): string {
  if (!a) return '';
  return 'a' + num(a.action_id) + '(' + pairsText(list(a.params), 'param_id', paramValue) + ')';
}

/** Key and canonical value of one entity. */
export function keyed(entity: WireEntity): Keyed {
  const t = entity.table_entry as Msg | undefined;
  if (t) {
    const match = pairsText(list(t.match), 'field_id', exactValue);
    const ta = (t.action ?? {}) as Msg;
    const value = ta.action
      ? actionText(ta.action as Msg)
      : ta.action_profile_member_id !== undefined && ta.action_profile_member_id !== null
        ? 'm' + num(ta.action_profile_member_id)
        : ta.action_profile_group_id !== undefined && ta.action_profile_group_id !== null
          ? 'g' + num(ta.action_profile_group_id)
          : '';
    const tableId = Number(num(t.table_id));
    const isDefault = t.is_default_action === true;
    return { key: 't' + tableId + (isDefault ? 'd:' : ':') + match, kind: KIND_TABLE, value, entity, tableId, isDefault };
  }
  const m = entity.action_profile_member as Msg | undefined;
  if (m) {
    return { key: 'm' + num(m.action_profile_id) + ':' + num(m.member_id), kind: KIND_MEMBER, value: actionText(m.action as Msg | undefined), entity, tableId: 0, isDefault: false };
  }
  const g = entity.action_profile_group as Msg | undefined;
  if (g) {
    const members = list(g.members)
      .map((x) => `${num(x.member_id)}*${num(x.weight ?? 1)}`)
      .sort()
      .join(',');
    return { key: 'g' + num(g.action_profile_id) + ':' + num(g.group_id), kind: KIND_GROUP, value: members, entity, tableId: 0, isDefault: false };
  }
  throw new Error(`not a table entry, member or group: ${Object.keys(entity).join(',') || 'empty'}`);
}

/** Indexes desired entities by key; a duplicate key is a bug in the render, so it throws. */
export function desiredSet(entities: Iterable<WireEntity>): Map<string, Keyed> {
  const out = new Map<string, Keyed>();
  for (const e of entities) {
    const k = keyed(e);
    if (out.has(k.key)) throw new Error(`two desired entities share the key ${k.key}`);
    out.set(k.key, k);
  }
  return out;
}

export interface DiffOptions {
  /** Tables whose entries the data plane learns (add-on-miss): not desired state, never deleted… */
  readonly volatileTables: ReadonlySet<number>;
  /** …except the learned entries this returns true for (e.g. flows of a removed endpoint). */
  readonly retire?: (entity: WireEntity) => boolean;
}

export interface DiffPlan {
  /** Updates per phase, in the order they must be written (each phase its own Write calls). */
  readonly phases: readonly (readonly WireUpdate[])[];
  readonly counts: { readonly insert: number; readonly modify: number; readonly delete: number; readonly unchanged: number; readonly retired: number };
}

/** What to write so that `actual` becomes `desired`. */
export function diffEntities(desired: ReadonlyMap<string, Keyed>, actual: Iterable<WireEntity>, options: DiffOptions): DiffPlan {
  const read: Keyed[] = [];
  for (const entity of actual) read.push(keyed(entity));
  return diffKeyed(desired, read, options);
}

/**
 * diffEntities of a read-back keyed already (keyed() of each entity): a reconcile keys each
 * Read response message as it arrives, while the target encodes the next, and diffs at the end
 * against `desired` as it is then.
 */
export function diffKeyed(desired: ReadonlyMap<string, Keyed>, actual: readonly Keyed[], options: DiffOptions): DiffPlan {
  const upserts: WireUpdate[][] = [[], [], []];
  const deletes: WireUpdate[][] = [[], [], []];
  const seen = new Set<Keyed>();
  let unchanged = 0;
  let retired = 0;
  for (let i = 0; i < actual.length; i++) {
    // a.entity only where it is needed: a read-back entity may decode its object on first use.
    const a = actual[i]!;
    if (a.kind === KIND_TABLE && options.volatileTables.has(a.tableId)) {
      if (options.retire?.(a.entity)) {
        deletes[KIND_TABLE]!.push({ type: 'DELETE', entity: keyOnly(a.entity) });
        retired++;
      }
      continue;
    }
    const d = desired.get(a.key);
    if (!d) {
      if (!a.isDefault) deletes[a.kind]!.push({ type: 'DELETE', entity: keyOnly(a.entity) });
      continue;
    }
    seen.add(d);
    if (d.value === a.value) unchanged++;
    else upserts[d.kind]!.push({ type: 'MODIFY', entity: d.entity });
  }
  let insert = 0;
  // After a restart against an intact target every desired entity was seen: nothing to insert.
  if (seen.size < desired.size) for (const d of desired.values()) {
    if (seen.has(d)) continue;
    upserts[d.kind]!.push({ type: d.isDefault ? 'MODIFY' : 'INSERT', entity: d.entity });
    insert++;
  }
  const modify = upserts.reduce((n, p) => n + p.length, 0) - insert;
  const phases = [upserts[KIND_MEMBER]!, upserts[KIND_GROUP]!, upserts[KIND_TABLE]!, deletes[KIND_TABLE]!, deletes[KIND_GROUP]!, deletes[KIND_MEMBER]!].filter((p) => p.length > 0);
  return { phases, counts: { insert, modify, delete: deletes.reduce((n, p) => n + p.length, 0) - retired, unchanged, retired } };
}

/** DELETE needs only the key: drop actions and data that are not part of it. */
function keyOnly(entity: WireEntity): WireEntity {
  const t = entity.table_entry as Msg | undefined;
  if (t) return { table_entry: { table_id: t.table_id, match: t.match } };
  const m = entity.action_profile_member as Msg | undefined;
  if (m) return { action_profile_member: { action_profile_id: m.action_profile_id, member_id: m.member_id } };
  const g = entity.action_profile_group as Msg;
  return { action_profile_group: { action_profile_id: g.action_profile_id, group_id: g.group_id } };
}
