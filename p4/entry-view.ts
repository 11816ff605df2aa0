/**
 * What a P4 device holds, as an operator reads it: read-back P4Runtime entities (table entries,
 * action profile members and groups, snake_case as the client returns them) turned into the
 * text views of offloadctl's `tables` (protocol/ctl.ts), named after the P4Info — table, match
 * field, action and parameter names — with values formatted by what they are: 48-bit values as
 * MACs, 32-bit values as dotted IPv4 unless their name says "port", an 8-bit protocol as tcp/udp,
 * everything else in decimal. Pure, no I/O; bounded by an entry limit and a byte budget so a reply
 * always fits in one NATS message, and every entry left out is counted.
 *
 * @example
 * const view = tablesView(info, await client.read(request), { read: () => true, list: (id) => id !== learnedId, limit: 1000 });
 * view.tables[0]?.entries[0]; // { match: ['10.244.0.5'], action: 'set_port', params: [{ name: 'port', value: '2' }], … }
 */
import { formatIpv4, formatMac } from '../messages/validate.js';
import type { GroupView, MemberView, NamedValue, ProfileView, TableEntryView, TableView } from '../protocol/ctl.js';
import type { WireEntity } from './desired.js';
import type { P4Action, P4Info, P4Table } from './p4info.js';

type Msg = Record<string, unknown>;

export interface TablesViewOptions {
  /** Whether this table (or action profile) was read: it appears, with its count, even when empty. */
  readonly read: (id: number) => boolean;
  /** Whether its entries are listed; the others are only counted. */
  readonly list: (id: number) => boolean;
  /** Most entries, members and groups listed in all. */
  readonly limit: number;
  /** Approximate bytes the listed items may take (default 700 KB: a NATS message is 1 MB). */
  readonly byteBudget?: number;
}

export interface TablesView {
  /** Programmed tables, in P4Info order (only those the entities came from, or listed). */
  readonly tables: TableView[];
  /** Learned-connection (add-on-miss) tables. */
  readonly learned: TableView[];
  readonly profiles: ProfileView[];
  readonly shown: number;
  readonly omitted: number;
}

const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

/** The short name operators know: the alias, else the last part of the full name. */
export function shortName(o: { readonly name: string; readonly alias: string }): string {
  return o.alias || o.name.slice(o.name.lastIndexOf('.') + 1);
}

/** A bytestring's value: a number up to 53 bits, a bigint above. */
function bytesValue(v: unknown): number | bigint {
  const b = v instanceof Uint8Array ? v : new Uint8Array(0);
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (b.length - i <= 6) {
    let n = 0;
    for (; i < b.length; i++) n = n * 256 + b[i]!;
    return n;
  }
  let n = 0n;
  for (; i < b.length; i++) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/**
 * A P4Runtime bytestring as an operator reads it, by its width and name.
 *
 * @example
 * formatP4Value(Uint8Array.of(10, 244, 0, 5), 32, 'hdr.ipv4.dst_addr'); // "10.244.0.5"
 * formatP4Value(Uint8Array.of(0, 0, 0, 2), 32, 'port');                 // "2"
 */
export function formatP4Value(bytes: unknown, bitwidth: number, name: string): string {
  const v = bytesValue(bytes);
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (bitwidth === 48) return formatMac(v);
  if (bitwidth === 32 && !/port/i.test(name)) return formatIpv4(v);
  if (bitwidth === 8 && /proto/i.test(name)) return PROTOCOLS[v] ?? String(v);
  return String(v);
}

const list = (v: unknown): Msg[] => (Array.isArray(v) ? (v as Msg[]) : []);
const num = (v: unknown): number => Number(v ?? 0);

/** Approximate encoded size of a list of strings (protobuf: a tag and a length byte each). */
function size(parts: readonly string[]): number {
  let n = 4;
  for (const p of parts) n += p.length + 3;
  return n;
}

function params(action: P4Action | undefined, raw: unknown): NamedValue[] {
  return list(raw).map((p) => {
    const spec = action?.params.find((x) => x.id === num(p.param_id));
    const name = spec?.name ?? `param${num(p.param_id)}`;
    return { name, value: formatP4Value(p.value, spec?.bitwidth ?? 0, name) };
  });
}

function matchText(m: Msg | undefined, bitwidth: number, name: string): string {
  if (!m) return '*';
  const f = (v: unknown): string => formatP4Value(v, bitwidth, name);
  const exact = m.exact as Msg | undefined;
  if (exact) return f(exact.value);
  const lpm = m.lpm as Msg | undefined;
  if (lpm) return `${f(lpm.value)}/${num(lpm.prefix_len)}`;
  const ternary = m.ternary as Msg | undefined;
  if (ternary) return `${f(ternary.value)}&&&${f(ternary.mask)}`;
  const range = m.range as Msg | undefined;
  if (range) return `${f(range.low)}..${f(range.high)}`;
  const optional = m.optional as Msg | undefined;
  if (optional) return f(optional.value);
  return '?';
}

function entryView(info: P4Info, table: P4Table, t: Msg): TableEntryView {
  const matches = list(t.match);
  const match = table.matchFields.map((field) =>
    matchText(
      matches.find((m) => num(m.field_id) === field.id),
      field.bitwidth,
      field.name,
    ),
  );
  const ta = (t.action ?? {}) as Msg;
  const a = ta.action as Msg | undefined;
  const action = a ? info.action(num(a.action_id)) : undefined;
  return {
    match,
    action: a ? (action ? shortName(action) : `action ${num(a.action_id)}`) : '',
    params: a ? params(action, a.params) : [],
    memberId: num(ta.action_profile_member_id),
    groupId: num(ta.action_profile_group_id),
    isDefault: t.is_default_action === true,
    priority: num(t.priority),
  };
}

/** Numeric order of match values (IPv4 and ports sort as numbers, not text). */
function byMatch(a: Msg, b: Msg): number {
  const am = list(a.match);
  const bm = list(b.match);
  for (let i = 0; i < Math.max(am.length, bm.length); i++) {
    const x = bytesValue((am[i]?.exact as Msg | undefined)?.value);
    const y = bytesValue((bm[i]?.exact as Msg | undefined)?.value);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Groups read-back entities by table and profile, counts them all and lists those `list`
 * selects, up to the limit and the byte budget.
 */
export function tablesView(info: P4Info, entities: Iterable<WireEntity>, options: TablesViewOptions): TablesView {
  const byTable = new Map<number, Msg[]>();
  const members = new Map<number, Msg[]>();
  const groups = new Map<number, Msg[]>();
  const push = (m: Map<number, Msg[]>, id: number, e: Msg): void => {
    const xs = m.get(id);
    if (xs) xs.push(e);
    else m.set(id, [e]);
  };
  for (const e of entities) {
    const t = e.table_entry as Msg | undefined;
    if (t) push(byTable, num(t.table_id), t);
    const m = e.action_profile_member as Msg | undefined;
    if (m) push(members, num(m.action_profile_id), m);
    const g = e.action_profile_group as Msg | undefined;
    if (g) push(groups, num(g.action_profile_id), g);
  }
  let room = options.limit;
  let bytes = options.byteBudget ?? 700_000;
  let shown = 0;
  let omitted = 0;
  /** Takes one more item if the limit and the budget allow; counts it as left out otherwise. */
  const take = (cost: number): boolean => {
    if (room > 0 && bytes - cost >= 0) {
      room--;
      bytes -= cost;
      shown++;
      return true;
    }
    omitted++;
    return false;
  };

  const tableView = (table: P4Table): TableView => {
    const raw = byTable.get(table.id) ?? [];
    const entries: TableEntryView[] = [];
    if (options.list(table.id)) {
      // Programmed tables in key order; learned ones (up to 2^18 each) in the device's order.
      const ordered = table.addOnMiss ? raw : [...raw].sort(byMatch);
      for (const t of ordered) {
        const view = entryView(info, table, t);
        if (take(size([...view.match, view.action, ...view.params.flatMap((p) => [p.name, p.value])]) + 12)) entries.push(view);
      }
    }
    return {
      name: shortName(table),
      id: table.id,
      matchFields: table.matchFields.map((f) => f.name),
      count: raw.length,
      capacity: table.size,
      learned: table.addOnMiss,
      entries,
    };
  };

  const read = (id: number): boolean => options.read(id) || byTable.has(id) || members.has(id) || groups.has(id);
  const tables = info.tables.filter((t) => !t.addOnMiss && read(t.id)).map(tableView);
  const profiles = info.actionProfiles
    .filter((p) => read(p.id))
    .map((p): ProfileView => {
      const ms = [...(members.get(p.id) ?? [])].sort((a, b) => num(a.member_id) - num(b.member_id));
      const gs = [...(groups.get(p.id) ?? [])].sort((a, b) => num(a.group_id) - num(b.group_id));
      const memberViews: MemberView[] = [];
      const groupViews: GroupView[] = [];
      if (options.list(p.id)) {
        for (const m of ms) {
          const a = (m.action ?? {}) as Msg;
          const action = info.action(num(a.action_id));
          const view = { id: num(m.member_id), action: action ? shortName(action) : `action ${num(a.action_id)}`, params: params(action, a.params) };
          if (take(size([view.action, ...view.params.flatMap((x) => [x.name, x.value])]) + 6)) memberViews.push(view);
        }
        for (const g of gs) {
          const view = { id: num(g.group_id), members: list(g.members).map((x) => num(x.member_id)).sort((a, b) => a - b) };
          if (take(8 + view.members.length * 4)) groupViews.push(view);
        }
      }
      return { name: shortName(p), memberCount: ms.length, groupCount: gs.length, members: memberViews, groups: groupViews };
    });
  const learned = info.tables.filter((t) => t.addOnMiss && read(t.id)).map(tableView);
  return { tables, learned, profiles, shown, omitted };
}
