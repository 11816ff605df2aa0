/**
 * The P4Runtime Write oracle of the target fuzzer (issue 11): a deliberately simple, independent
 * model of one switch's forwarding state — table entries keyed by table + canonical match, and
 * action-profile members and groups keyed by id, with reference counts — that predicts the status
 * code of each Write update from the P4Runtime specification (../shared/reference/p4runtime.md)
 * and the P4Info alone. It shares no code with p4/target or p4/model, so it can disagree with them.
 *
 * Rules (spec v1.4): malformed entities (unknown table/action/field/param/profile ids, missing,
 * duplicate or extra match fields or params, a match kind other than the field's, a priority on an
 * exact-only table, an action the table does not allow, a direct action on an indirect table or the
 * reverse, a group naming an absent member or with a non-positive weight) → INVALID_ARGUMENT; a
 * value wider than its bit width or an empty bytestring → OUT_OF_RANGE (zero-padded values are
 * accepted); then INSERT of an existing key → ALREADY_EXISTS, MODIFY/DELETE of a missing key →
 * NOT_FOUND, a full table or profile → RESOURCE_EXHAUSTED, a group whose weights exceed its max_size
 * → RESOURCE_EXHAUSTED, a member or group still referenced deleted → FAILED_PRECONDITION. DELETE
 * looks only at the key. Updates apply in order (the fuzzer keeps a batch free of dependencies).
 *
 * @example
 * const m = new SwitchModel(loadP4Info());
 * m.apply({ type: 'INSERT', entity }).code; // 0, and the entry is in m.snapshot()
 * m.apply({ type: 'INSERT', entity }).code; // 6 ALREADY_EXISTS
 */
import type { P4Info, P4Table } from '../../p4/p4info.js';
import { err, ok, type Result } from '../../core/result.js';

type Msg = Record<string, unknown>;

export const CODE = { OK: 0, INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12 } as const;

export interface Update {
  readonly type: 'INSERT' | 'MODIFY' | 'DELETE';
  readonly entity: Msg;
}

export interface Prediction {
  readonly code: number;
  readonly why: string;
  /**
   * Other codes the specification equally allows: an update whose content is wrong *and* whose key
   * is already there (INSERT) or absent (MODIFY) breaks two rules, and the spec does not order
   * the checks, so ALREADY_EXISTS / NOT_FOUND is as right as the content error.
   */
  readonly also?: readonly number[];
}

type Check<T> = Result<T, Prediction>;
const fail = (code: number, why: string): { ok: false; error: Prediction } => err({ code, why });

/** What an indirect entry points at, or a direct action's canonical text. */
type Target = { kind: 'action'; text: string } | { kind: 'member' | 'group'; id: number };

interface Group {
  readonly members: readonly number[];
  readonly text: string;
}

/**
 * The canonical hex of a P4Runtime bytestring for `bitwidth` bits: leading zero bytes stripped
 * (one byte for 0), OUT_OF_RANGE when empty or wider than the width.
 *
 * @example
 * canonicalBytes(Uint8Array.of(0, 0, 7), 9); // ok('07')
 * canonicalBytes(Uint8Array.of(2, 0), 9);    // err OUT_OF_RANGE (512 needs 10 bits)
 */
export function canonicalBytes(v: unknown, bitwidth: number): Check<string> {
  const b = v instanceof Uint8Array ? v : new Uint8Array(0);
  if (b.length === 0) return fail(CODE.OUT_OF_RANGE, 'empty bytestring');
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const bits = (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]!));
  if (bits > bitwidth) return fail(CODE.OUT_OF_RANGE, `value needs ${bits} bits, field has ${bitwidth}`);
  return ok(Buffer.from(b.subarray(i)).toString('hex'));
}

/**
 * A canonical, order-free text for an entity as the fuzzer writes it or the target reads it back
 * (ids, match values, action or member/group reference, group members). Values are hex after
 * stripping leading zeros; anything unexpected is kept visible, not dropped.
 *
 * @example
 * canonicalEntity({ table_entry: { table_id: 5, match: [...], action: { action_profile_group_id: 1 } } });
 */
export function canonicalEntity(e: Msg): string {
  const hex = (v: unknown): string => {
    const s = Buffer.from(v instanceof Uint8Array ? v : new Uint8Array(0)).toString('hex').replace(/^(00)+(?=..)/, '');
    return s === '' ? '<empty>' : s;
  };
  const num = (v: unknown): string => String(Number(v ?? 0));
  const params = (a: Msg | undefined): string =>
    a ? `${num(a.action_id)}(${((a.params as Msg[] | undefined) ?? []).map((p) => `${num(p.param_id)}=${hex(p.value)}`).sort().join(',')})` : 'none';
  if (e.table_entry) {
    const t = e.table_entry as Msg;
    const match = ((t.match as Msg[] | undefined) ?? []).map((m) => `${num(m.field_id)}=${m.exact ? hex((m.exact as Msg).value) : JSON.stringify(Object.keys(m))}`).sort().join(',');
    const a = (t.action as Msg | undefined) ?? {};
    const act = a.action ? `a:${params(a.action as Msg)}` : a.action_profile_member_id !== undefined ? `m:${num(a.action_profile_member_id)}` : a.action_profile_group_id !== undefined ? `g:${num(a.action_profile_group_id)}` : 'none';
    return `T ${num(t.table_id)} [${match}] p${num(t.priority)} ${act}`;
  }
  if (e.action_profile_member) {
    const m = e.action_profile_member as Msg;
    return `M ${num(m.action_profile_id)}/${num(m.member_id)} ${params(m.action as Msg | undefined)}`;
  }
  if (e.action_profile_group) {
    const g = e.action_profile_group as Msg;
    const ms = ((g.members as Msg[] | undefined) ?? []).map((m) => `${num(m.member_id)}*${num(m.weight)}`).sort().join(',');
    return `G ${num(g.action_profile_id)}/${num(g.group_id)} [${ms}] max${num(g.max_size)}`;
  }
  return `? ${JSON.stringify(Object.keys(e))}`;
}

export interface SwitchModelOptions {
  /**
   * Tests only: a planted misprediction. An update it picks is predicted as usual but, when it
   * succeeds, not applied — the model then disagrees with a correct target (the P4Runtime fuzz
   * test plants one to prove that bisection names the update).
   */
  readonly plant?: (u: Update) => boolean;
}

/** The switch model: state plus the predicting rules. */
export class SwitchModel {
  /** table id → canonical match → (entity text, target). */
  private readonly tables = new Map<number, Map<string, { text: string; target: Target }>>();
  /** profile id → member id → text. */
  private readonly members = new Map<number, Map<number, string>>();
  private readonly groups = new Map<number, Map<number, Group>>();
  /** `${profile}/m${id}` or `${profile}/g${id}` → references (groups and entries). */
  private readonly refs = new Map<string, number>();
  /** The entity last written under each key (`e:`, `m:`, `g:` + ids and match): what a setup writes back. */
  private readonly written = new Map<string, Msg>();

  constructor(
    readonly info: P4Info,
    private options: SwitchModelOptions = {},
  ) {
    for (const t of info.tables) this.tables.set(t.id, new Map());
    for (const p of info.actionProfiles) {
      this.members.set(p.id, new Map());
      this.groups.set(p.id, new Map());
    }
  }

  /** An independent copy (for bisecting a batch). */
  clone(): SwitchModel {
    const c = new SwitchModel(this.info, this.options);
    for (const [k, v] of this.tables) c.tables.set(k, new Map(v));
    for (const [k, v] of this.members) c.members.set(k, new Map(v));
    for (const [k, v] of this.groups) c.groups.set(k, new Map(v));
    for (const [k, v] of this.refs) c.refs.set(k, v);
    for (const [k, v] of this.written) c.written.set(k, v);
    return c;
  }

  /**
   * A model with the same options whose state is `setup` applied without any planted
   * misprediction (what a target given that setup holds).
   *
   * @example
   * const m = model.rebuilt(model.setupUpdates()); // m.snapshot() equals model.snapshot()
   */
  rebuilt(setup: readonly (readonly Update[])[]): SwitchModel {
    const m = new SwitchModel(this.info);
    for (const phase of setup) for (const u of phase) m.apply(u);
    m.options = this.options;
    return m;
  }

  /**
   * The state as INSERTs a fresh target can be given, in dependency order: members, then groups,
   * then table entries (one Write each).
   *
   * @example
   * for (const phase of model.setupUpdates()) await client.write({ device_id: 1, election_id, updates: phase });
   */
  setupUpdates(): Update[][] {
    const phase = (prefix: string): Update[] => [...this.written].filter(([k]) => k.startsWith(prefix)).map(([, entity]) => ({ type: 'INSERT' as const, entity }));
    return [phase('m:'), phase('g:'), phase('e:')].filter((p) => p.length > 0);
  }

  /** Number of entries in a table, members or groups in a profile. */
  count(kind: 'table' | 'member' | 'group', id: number): number {
    return (kind === 'table' ? this.tables : kind === 'member' ? this.members : this.groups).get(id)?.size ?? 0;
  }

  hasMember(profile: number, id: number): boolean {
    return this.members.get(profile)?.has(id) ?? false;
  }

  hasGroup(profile: number, id: number): boolean {
    return this.groups.get(profile)?.has(id) ?? false;
  }

  /** References to a member or group (by groups and table entries). */
  refCount(profile: number, kind: 'm' | 'g', id: number): number {
    return this.refs.get(`${profile}/${kind}${id}`) ?? 0;
  }

  /**
   * What an update locks, for keeping a batch free of dependencies: the key it writes and the
   * members/groups it reads (new references and, for a MODIFY/DELETE, the old ones), plus the
   * container whose size it may hit. Best effort for malformed updates.
   */
  locks(u: Update): { write: string; read: string[]; container: string } {
    const e = u.entity;
    if (e.table_entry) {
      const t = e.table_entry as Msg;
      const table = this.info.table(Number(t.table_id ?? 0));
      const key = table ? this.matchKey(table, (t.match as Msg[] | undefined) ?? []) : undefined;
      const k = key?.ok ? key.value : JSON.stringify(t.match ?? null);
      const read: string[] = [];
      const a = (t.action as Msg | undefined) ?? {};
      if (a.action_profile_member_id !== undefined) read.push(`m:${Number(a.action_profile_member_id)}`);
      if (a.action_profile_group_id !== undefined) read.push(`g:${Number(a.action_profile_group_id)}`);
      const old = key?.ok ? this.tables.get(table!.id)?.get(k)?.target : undefined;
      if (old && old.kind !== 'action') read.push(`${old.kind[0]}:${old.id}`);
      return { write: `e:${String(t.table_id)}:${k}`, read, container: `t:${String(t.table_id)}` };
    }
    if (e.action_profile_member) {
      const m = e.action_profile_member as Msg;
      return { write: `m:${Number(m.member_id ?? 0)}`, read: [], container: `pm:${String(m.action_profile_id)}` };
    }
    const g = (e.action_profile_group ?? {}) as Msg;
    const id = Number(g.group_id ?? 0);
    const read = ((g.members as Msg[] | undefined) ?? []).map((x) => `m:${Number(x.member_id ?? 0)}`);
    for (const mid of this.groups.get(Number(g.action_profile_id ?? 0))?.get(id)?.members ?? []) read.push(`m:${mid}`);
    return { write: `g:${id}`, read, container: `pg:${String(g.action_profile_id)}` };
  }

  /** Every entity, canonical and sorted: what a full Read must return. */
  snapshot(): string[] {
    const out: string[] = [];
    for (const t of this.tables.values()) for (const e of t.values()) out.push(e.text);
    for (const ms of this.members.values()) for (const m of ms.values()) out.push(m);
    for (const gs of this.groups.values()) for (const g of gs.values()) out.push(g.text);
    return out.sort();
  }

  /** The status `u` must get, without changing the state. */
  predict(u: Update): Prediction {
    return this.clone().apply(u);
  }

  /** Predicts `u`'s status and, when OK, applies it (unless a planted misprediction picks it). */
  apply(u: Update): Prediction {
    if (this.options.plant?.(u)) {
      const shadow = this.clone();
      shadow.options = {};
      return shadow.apply(u);
    }
    const r = this.applyOne(u);
    if (r.code === CODE.OK) this.remember(u);
    return r;
  }

  /** Keeps (or, for a DELETE, drops) the entity written under the update's key. */
  private remember(u: Update): void {
    const e = u.entity;
    let key: string | undefined;
    if (e.table_entry) {
      const t = e.table_entry as Msg;
      const table = this.info.table(Number(t.table_id ?? 0));
      const k = table && this.matchKey(table, (t.match as Msg[] | undefined) ?? []);
      if (k?.ok) key = `e:${table!.id}:${k.value}`;
    } else if (e.action_profile_member) {
      const m = e.action_profile_member as Msg;
      key = `m:${Number(m.action_profile_id ?? 0)}/${Number(m.member_id ?? 0)}`;
    } else if (e.action_profile_group) {
      const g = e.action_profile_group as Msg;
      key = `g:${Number(g.action_profile_id ?? 0)}/${Number(g.group_id ?? 0)}`;
    }
    if (key === undefined) return;
    if (u.type === 'DELETE') this.written.delete(key);
    else this.written.set(key, e);
  }

  private applyOne(u: Update): Prediction {
    const e = u.entity;
    const kinds = ['table_entry', 'action_profile_member', 'action_profile_group'].filter((k) => e[k] !== undefined && e[k] !== null);
    if (kinds.length !== 1) return { code: CODE.INVALID_ARGUMENT, why: 'entity must hold exactly one of the supported kinds' };
    const exists = this.exists(e);
    const r = kinds[0] === 'table_entry' ? this.entry(u.type, e.table_entry as Msg) : kinds[0] === 'action_profile_member' ? this.member(u.type, e.action_profile_member as Msg) : this.group(u.type, e.action_profile_group as Msg);
    if (r.ok) return { code: CODE.OK, why: r.value };
    const state = u.type === 'INSERT' && exists === true ? CODE.ALREADY_EXISTS : u.type === 'MODIFY' && exists === false ? CODE.NOT_FOUND : undefined;
    return state !== undefined && state !== r.error.code ? { ...r.error, also: [state] } : r.error;
  }

  /** Whether the entity's key is present (undefined when the key itself is malformed). */
  private exists(e: Msg): boolean | undefined {
    if (e.table_entry) {
      const t = e.table_entry as Msg;
      const table = this.info.table(Number(t.table_id ?? 0));
      const key = table && this.matchKey(table, (t.match as Msg[] | undefined) ?? []);
      return key?.ok ? this.tables.get(table!.id)!.has(key.value) : undefined;
    }
    const m = (e.action_profile_member ?? e.action_profile_group) as Msg | undefined;
    const profile = Number(m?.action_profile_id ?? 0);
    if (!m || !this.info.actionProfile(profile)) return undefined;
    return e.action_profile_member ? this.hasMember(profile, Number(m.member_id ?? 0)) : this.hasGroup(profile, Number(m.group_id ?? 0));
  }

  private entry(type: Update['type'], t: Msg): Check<string> {
    const table = this.info.table(Number(t.table_id ?? 0));
    if (!table) return fail(CODE.INVALID_ARGUMENT, `unknown table ${String(t.table_id)}`);
    const key = this.matchKey(table, (t.match as Msg[] | undefined) ?? []);
    if (!key.ok) return key;
    if (Number(t.priority ?? 0) !== 0) return fail(CODE.INVALID_ARGUMENT, 'priority on an exact-match table');
    const rows = this.tables.get(table.id)!;
    const old = rows.get(key.value);
    if (type === 'DELETE') {
      if (!old) return fail(CODE.NOT_FOUND, 'DELETE of a missing entry');
      rows.delete(key.value);
      this.ref(table, old.target, -1);
      return ok('deleted');
    }
    const target = this.tableAction(table, t.action as Msg | undefined);
    if (!target.ok) return target;
    if (type === 'INSERT' && old) return fail(CODE.ALREADY_EXISTS, 'INSERT of an existing entry');
    if (type === 'MODIFY' && !old) return fail(CODE.NOT_FOUND, 'MODIFY of a missing entry');
    if (type === 'INSERT' && rows.size >= table.size) return fail(CODE.RESOURCE_EXHAUSTED, `table ${table.alias} full`);
    if (old) this.ref(table, old.target, -1);
    this.ref(table, target.value, +1);
    const act = target.value.kind === 'action' ? `a:${target.value.text}` : `${target.value.kind[0]}:${target.value.id}`;
    rows.set(key.value, { text: `T ${table.id} [${key.value}] p0 ${act}`, target: target.value });
    return ok(type === 'INSERT' ? 'inserted' : 'modified');
  }

  private matchKey(table: P4Table, match: readonly Msg[]): Check<string> {
    const seen = new Map<number, string>();
    for (const m of match) {
      const fid = Number(m.field_id ?? 0);
      const field = table.matchFields.find((f) => f.id === fid);
      if (!field) return fail(CODE.INVALID_ARGUMENT, `unknown match field ${fid}`);
      if (seen.has(fid)) return fail(CODE.INVALID_ARGUMENT, `match field ${fid} twice`);
      const kinds = ['exact', 'ternary', 'lpm', 'range', 'optional', 'other'].filter((k) => m[k] !== undefined && m[k] !== null);
      if (kinds.length !== 1 || kinds[0] !== field.matchType.toLowerCase()) return fail(CODE.INVALID_ARGUMENT, `field ${fid} is ${field.matchType}`);
      const v = canonicalBytes((m.exact as Msg).value, field.bitwidth);
      if (!v.ok) return v;
      seen.set(fid, `${fid}=${v.value}`);
    }
    for (const f of table.matchFields) if (!seen.has(f.id)) return fail(CODE.INVALID_ARGUMENT, `exact field ${f.id} missing`);
    return ok([...seen.values()].sort().join(','));
  }

  private tableAction(table: P4Table, a: Msg | undefined): Check<Target> {
    const kinds = ['action', 'action_profile_member_id', 'action_profile_group_id', 'action_set'].filter((k) => a?.[k] !== undefined && a[k] !== null);
    if (kinds.length !== 1) return fail(CODE.INVALID_ARGUMENT, 'a table entry needs one action');
    const profile = table.implementationId;
    if (kinds[0] === 'action') {
      if (profile !== 0) return fail(CODE.INVALID_ARGUMENT, 'direct action on an indirect table');
      const text = this.action(table, a!.action as Msg);
      return text.ok ? ok({ kind: 'action', text: text.value }) : text;
    }
    if (profile === 0 || kinds[0] === 'action_set') return fail(CODE.INVALID_ARGUMENT, 'indirect action on a direct table');
    const isMember = kinds[0] === 'action_profile_member_id';
    const id = Number(isMember ? a!.action_profile_member_id : a!.action_profile_group_id);
    if (!(isMember ? this.hasMember(profile, id) : this.hasGroup(profile, id))) return fail(CODE.INVALID_ARGUMENT, `${isMember ? 'member' : 'group'} ${id} does not exist`);
    return ok({ kind: isMember ? 'member' : 'group', id });
  }

  /** A direct action checked against the table's action refs (not DEFAULT_ONLY) and its params. */
  private action(table: P4Table, a: Msg): Check<string> {
    const id = Number(a.action_id ?? 0);
    const action = this.info.action(id);
    if (!action) return fail(CODE.INVALID_ARGUMENT, `unknown action ${id}`);
    const ref = table.actionRefs.find((r) => r.id === id);
    if (!ref || ref.scope === 'DEFAULT_ONLY') return fail(CODE.INVALID_ARGUMENT, `action ${action.alias} not allowed in ${table.alias}`);
    const seen = new Map<number, string>();
    for (const p of (a.params as Msg[] | undefined) ?? []) {
      const pid = Number(p.param_id ?? 0);
      const param = action.params.find((x) => x.id === pid);
      if (!param) return fail(CODE.INVALID_ARGUMENT, `unknown param ${pid}`);
      if (seen.has(pid)) return fail(CODE.INVALID_ARGUMENT, `param ${pid} twice`);
      const v = canonicalBytes(p.value, param.bitwidth);
      if (!v.ok) return v;
      seen.set(pid, `${pid}=${v.value}`);
    }
    if (seen.size !== action.params.length) return fail(CODE.INVALID_ARGUMENT, `action ${action.alias} needs ${action.params.length} params`);
    return ok(`${id}(${[...seen.values()].sort().join(',')})`);
  }

  private ref(table: P4Table, target: Target, by: number): void {
    if (target.kind === 'action') return;
    const k = `${table.implementationId}/${target.kind[0]}${target.id}`;
    this.refs.set(k, (this.refs.get(k) ?? 0) + by);
  }

  private member(type: Update['type'], m: Msg): Check<string> {
    const profile = this.info.actionProfile(Number(m.action_profile_id ?? 0));
    if (!profile) return fail(CODE.INVALID_ARGUMENT, `unknown action profile ${String(m.action_profile_id)}`);
    const id = Number(m.member_id ?? 0);
    const ms = this.members.get(profile.id)!;
    if (type === 'DELETE') {
      if (!ms.has(id)) return fail(CODE.NOT_FOUND, `member ${id} missing`);
      if (this.refCount(profile.id, 'm', id) > 0) return fail(CODE.FAILED_PRECONDITION, `member ${id} in use`);
      ms.delete(id);
      return ok('deleted');
    }
    const table = this.info.table(profile.tableIds[0] ?? 0);
    if (!table) return fail(CODE.INVALID_ARGUMENT, 'profile without a table');
    const act = this.action(table, (m.action as Msg | undefined) ?? {});
    if (!act.ok) return act;
    if (type === 'INSERT' && ms.has(id)) return fail(CODE.ALREADY_EXISTS, `member ${id} exists`);
    if (type === 'MODIFY' && !ms.has(id)) return fail(CODE.NOT_FOUND, `member ${id} missing`);
    if (type === 'INSERT' && ms.size >= profile.size) return fail(CODE.RESOURCE_EXHAUSTED, 'profile full');
    ms.set(id, `M ${profile.id}/${id} ${act.value}`);
    return ok(type === 'INSERT' ? 'inserted' : 'modified');
  }

  private group(type: Update['type'], g: Msg): Check<string> {
    const profile = this.info.actionProfile(Number(g.action_profile_id ?? 0));
    if (!profile) return fail(CODE.INVALID_ARGUMENT, `unknown action profile ${String(g.action_profile_id)}`);
    const id = Number(g.group_id ?? 0);
    const gs = this.groups.get(profile.id)!;
    const old = gs.get(id);
    const setRefs = (members: readonly number[], by: number): void => {
      for (const mid of members) this.refs.set(`${profile.id}/m${mid}`, this.refCount(profile.id, 'm', mid) + by);
    };
    if (type === 'DELETE') {
      if (!old) return fail(CODE.NOT_FOUND, `group ${id} missing`);
      if (this.refCount(profile.id, 'g', id) > 0) return fail(CODE.FAILED_PRECONDITION, `group ${id} in use`);
      gs.delete(id);
      setRefs(old.members, -1);
      return ok('deleted');
    }
    const members: number[] = [];
    const parts: string[] = [];
    let total = 0;
    for (const x of (g.members as Msg[] | undefined) ?? []) {
      const mid = Number(x.member_id ?? 0);
      const w = Number(x.weight ?? 0);
      if (members.includes(mid)) return fail(CODE.INVALID_ARGUMENT, `member ${mid} twice`);
      if (!this.hasMember(profile.id, mid)) return fail(CODE.INVALID_ARGUMENT, `member ${mid} does not exist`);
      if (w <= 0) return fail(CODE.INVALID_ARGUMENT, `weight ${w}`);
      members.push(mid);
      parts.push(`${mid}*${w}`);
      total += w;
    }
    const maxSize = Number(g.max_size ?? 0);
    if (maxSize < 0 || maxSize > profile.maxGroupSize) return fail(CODE.INVALID_ARGUMENT, `max_size ${maxSize}`);
    if (total > (maxSize || profile.maxGroupSize)) return fail(CODE.RESOURCE_EXHAUSTED, `weights ${total} over max_size`);
    if (type === 'INSERT' && old) return fail(CODE.ALREADY_EXISTS, `group ${id} exists`);
    if (type === 'MODIFY' && !old) return fail(CODE.NOT_FOUND, `group ${id} missing`);
    if (type === 'INSERT' && gs.size >= profile.size) return fail(CODE.RESOURCE_EXHAUSTED, 'profile full');
    if (old) setRefs(old.members, -1);
    setRefs(members, +1);
    gs.set(id, { members, text: `G ${profile.id}/${id} [${parts.sort().join(',')}] max${maxSize}` });
    return ok(type === 'INSERT' ? 'inserted' : 'modified');
  }
}
