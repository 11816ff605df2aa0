/**
 * Builds P4Runtime-shaped entities by P4 name (ids looked up in the P4Info, values as numbers
 * turned into canonical bytestrings), and describes read entities back by name. For tests,
 * benchmarks and control-plane code that should never hard-code an id.
 *
 * @example
 * const b = new EntityBuilder(loadP4Info());
 * pipeline.insert(b.entry('MainControlImpl.ipv4_to_port', { 'hdr.ipv4.dst_addr': 0x0af40002 },
 *   'MainControlImpl.set_dest_mac_port', { port: 2, dmac: 0x020000000002 }));
 * pipeline.insert(b.member('MainControlImpl.lb_selector', 1, 'MainControlImpl.lb_set_endpoint', { ep_ip, ep_port: 8080 }));
 */
import type { P4Info } from '../p4info.js';
import { bytesOf, valueOf } from './bytestring.js';
import type { Entity, FieldMatch, TableAction, TableEntry } from './entities.js';

export type Values = Readonly<Record<string, number | Uint8Array>>;

/** A table entry by name: the readable form of a TableEntry. */
export interface NamedEntry {
  readonly table: string;
  readonly match: Readonly<Record<string, number>>;
  readonly action?: string;
  readonly params?: Readonly<Record<string, number>>;
  readonly memberId?: number;
  readonly groupId?: number;
  readonly learned: boolean;
}

export class EntityBuilder {
  constructor(readonly info: P4Info) {}

  tableId(table: string): number {
    return this.info.tableByName(table).id;
  }

  profileId(profile: string): number {
    return this.info.actionProfileByName(profile).id;
  }

  /** The match of `table` from values by field name (every field must be given). */
  match(table: string, values: Values): FieldMatch[] {
    const t = this.info.tableByName(table);
    for (const k of Object.keys(values)) if (!t.matchFields.some((f) => f.name === k)) throw new Error(`${table} has no key field ${k}`);
    return t.matchFields.map((f) => {
      const v = values[f.name];
      if (v === undefined) throw new Error(`missing key field ${f.name} of ${table}`);
      return { fieldId: f.id, exact: typeof v === 'number' ? bytesOf(v) : v };
    });
  }

  action(action: string, params: Values = {}): TableAction {
    const a = this.info.actionByName(action);
    for (const k of Object.keys(params)) if (!a.params.some((p) => p.name === k)) throw new Error(`${action} has no parameter ${k}`);
    return {
      actionId: a.id,
      params: a.params.map((p) => {
        const v = params[p.name];
        if (v === undefined) throw new Error(`missing parameter ${p.name} of ${action}`);
        return { paramId: p.id, value: typeof v === 'number' ? bytesOf(v) : v };
      }),
    };
  }

  /** A direct table entry. */
  entry(table: string, match: Values, action: string, params: Values = {}): Entity {
    return { tableEntry: { tableId: this.tableId(table), match: this.match(table, match), action: this.action(action, params) } };
  }

  /** An indirect (action selector) table entry pointing at a member or a group. */
  indirect(table: string, match: Values, ref: { memberId: number } | { groupId: number }): Entity {
    return { tableEntry: { tableId: this.tableId(table), match: this.match(table, match), ...ref } };
  }

  /** Just the key of an entry (what DELETE and single-entry reads need). */
  key(table: string, match: Values): Entity {
    return { tableEntry: { tableId: this.tableId(table), match: this.match(table, match) } };
  }

  /** Every entry of a table (a wildcard read), or of every table with no name. */
  all(table?: string): Entity {
    return { tableEntry: { tableId: table === undefined ? 0 : this.tableId(table), match: [] } };
  }

  member(profile: string, memberId: number, action: string, params: Values = {}): Entity {
    return { member: { profileId: this.profileId(profile), memberId, action: this.action(action, params) } };
  }

  group(profile: string, groupId: number, members: readonly (number | { memberId: number; weight: number })[], maxSize?: number): Entity {
    const list = members.map((m) => (typeof m === 'number' ? { memberId: m, weight: 1 } : m));
    return { group: { profileId: this.profileId(profile), groupId, members: list, maxSize: maxSize ?? this.info.actionProfileByName(profile).maxGroupSize } };
  }

  /** A table entry by name (values as numbers; bytestrings of at most 53 bits). */
  describe(entry: TableEntry): NamedEntry {
    const t = this.info.table(entry.tableId);
    if (!t) throw new Error(`unknown table id ${entry.tableId}`);
    const match: Record<string, number> = {};
    for (const m of entry.match) match[t.matchFields.find((f) => f.id === m.fieldId)?.name ?? `field ${m.fieldId}`] = valueOf(m.exact);
    const base = { table: t.name, match, learned: entry.learned === true };
    if (entry.memberId !== undefined) return { ...base, memberId: entry.memberId };
    if (entry.groupId !== undefined) return { ...base, groupId: entry.groupId };
    if (!entry.action) return base;
    const a = this.info.action(entry.action.actionId);
    const params: Record<string, number> = {};
    for (const p of entry.action.params) params[a?.params.find((x) => x.id === p.paramId)?.name ?? `param ${p.paramId}`] = valueOf(p.value);
    return { ...base, action: a?.name ?? `action ${entry.action.actionId}`, params };
  }
}
