/**
 * The P4Info of the pipeline (p4.config.v1.P4Info as proto3 JSON), loaded into plain indexed
 * structures: tables, actions and action profiles by id and by fully-qualified name. The
 * behavioural model and the P4Runtime target look everything up here, never by literal id.
 *
 * @example
 * const info = loadP4Info();                         // p4/k8s_dp.p4info.json
 * const t = info.tableByName('MainControlImpl.ct_forward');
 * t.matchFields.map((f) => f.bitwidth);              // [32, 32, 8, 16, 16]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type MatchType = 'EXACT' | 'LPM' | 'TERNARY' | 'RANGE' | 'OPTIONAL';

export interface P4MatchField {
  readonly id: number;
  readonly name: string;
  readonly bitwidth: number;
  readonly matchType: MatchType;
}

export interface P4ActionRef {
  readonly id: number;
  readonly scope: 'TABLE_AND_DEFAULT' | 'TABLE_ONLY' | 'DEFAULT_ONLY';
}

export interface P4Table {
  readonly id: number;
  readonly name: string;
  readonly alias: string;
  readonly annotations: readonly string[];
  readonly matchFields: readonly P4MatchField[];
  readonly actionRefs: readonly P4ActionRef[];
  readonly constDefaultActionId: number;
  /** Action profile / selector id, 0 for direct tables. */
  readonly implementationId: number;
  readonly size: number;
  readonly idleTimeout: boolean;
  /** PNA add-on-miss: the data plane learns entries (annotation "@add_on_miss"). */
  readonly addOnMiss: boolean;
}

export interface P4Param {
  readonly id: number;
  readonly name: string;
  readonly bitwidth: number;
}

export interface P4Action {
  readonly id: number;
  readonly name: string;
  readonly alias: string;
  readonly params: readonly P4Param[];
}

export interface P4ActionProfile {
  readonly id: number;
  readonly name: string;
  readonly alias: string;
  readonly tableIds: readonly number[];
  readonly withSelector: boolean;
  readonly size: number;
  readonly maxGroupSize: number;
}

export class P4InfoError extends Error {
  override readonly name = 'P4InfoError';
}

export interface P4Info {
  readonly raw: unknown;
  readonly tables: readonly P4Table[];
  readonly actions: readonly P4Action[];
  readonly actionProfiles: readonly P4ActionProfile[];
  table(id: number): P4Table | undefined;
  action(id: number): P4Action | undefined;
  actionProfile(id: number): P4ActionProfile | undefined;
  /** Throws P4InfoError when absent: a name the code relies on must exist. */
  tableByName(name: string): P4Table;
  actionByName(name: string): P4Action;
  actionProfileByName(name: string): P4ActionProfile;
}

export const DEFAULT_P4INFO_PATH = join(dirname(fileURLToPath(import.meta.url)), ...(import.meta.url.includes('/dist/') ? ['..', '..', 'p4'] : []), 'k8s_dp.p4info.json');

export function loadP4Info(path = DEFAULT_P4INFO_PATH): P4Info {
  return parseP4Info(JSON.parse(readFileSync(path, 'utf8')) as unknown);
}

type Json = Record<string, unknown>;

/** Builds the indexed P4Info from its proto3 JSON form (lowerCamelCase or snake_case keys). */
export function parseP4Info(raw: unknown): P4Info {
  const root = obj(raw, 'p4info');
  const tables = list(root, 'tables').map((t, i) => parseTable(obj(t, `tables[${i}]`)));
  const actions = list(root, 'actions').map((a, i) => {
    const p = preamble(obj(a, `actions[${i}]`));
    const params = list(obj(a, ''), 'params').map((x) => {
      const q = obj(x, `${p.name}.params`);
      return { id: num(q, 'id'), name: str(q, 'name'), bitwidth: num(q, 'bitwidth') };
    });
    return { ...p, params };
  });
  const actionProfiles = list(root, 'actionProfiles', 'action_profiles').map((a, i) => {
    const o = obj(a, `actionProfiles[${i}]`);
    return {
      ...preamble(o),
      tableIds: list(o, 'tableIds', 'table_ids').map((x) => Number(x)),
      withSelector: get(o, 'withSelector', 'with_selector') === true,
      size: Number(get(o, 'size') ?? 0),
      maxGroupSize: Number(get(o, 'maxGroupSize', 'max_group_size') ?? 0),
    };
  });
  return indexed(raw, tables, actions, actionProfiles);
}

function parseTable(o: Json): P4Table {
  const p = preamble(o);
  const annotations = list(obj(get(o, 'preamble'), 'preamble'), 'annotations').map(String);
  return {
    ...p,
    annotations,
    matchFields: list(o, 'matchFields', 'match_fields').map((m) => {
      const f = obj(m, `${p.name}.matchFields`);
      return { id: num(f, 'id'), name: str(f, 'name'), bitwidth: num(f, 'bitwidth'), matchType: str(f, 'matchType', 'match_type') as MatchType };
    }),
    actionRefs: list(o, 'actionRefs', 'action_refs').map((r) => {
      const a = obj(r, `${p.name}.actionRefs`);
      return { id: num(a, 'id'), scope: (get(a, 'scope') as P4ActionRef['scope'] | undefined) ?? 'TABLE_AND_DEFAULT' };
    }),
    constDefaultActionId: Number(get(o, 'constDefaultActionId', 'const_default_action_id') ?? 0),
    implementationId: Number(get(o, 'implementationId', 'implementation_id') ?? 0),
    size: Number(get(o, 'size') ?? 0),
    idleTimeout: get(o, 'idleTimeoutBehavior', 'idle_timeout_behavior') === 'NOTIFY_CONTROL',
    addOnMiss: annotations.includes('@add_on_miss'),
  };
}

function indexed(raw: unknown, tables: P4Table[], actions: P4Action[], actionProfiles: P4ActionProfile[]): P4Info {
  const byId = <T extends { id: number }>(xs: T[]): Map<number, T> => new Map(xs.map((x) => [x.id, x]));
  const byName = <T extends { name: string }>(xs: T[]): Map<string, T> => new Map(xs.map((x) => [x.name, x]));
  const [t, a, p] = [byId(tables), byId(actions), byId(actionProfiles)];
  const [tn, an, pn] = [byName(tables), byName(actions), byName(actionProfiles)];
  const need = <T>(m: Map<string, T>, name: string, what: string): T => {
    const x = m.get(name);
    if (!x) throw new P4InfoError(`the P4Info has no ${what} named ${name}`);
    return x;
  };
  return {
    raw,
    tables,
    actions,
    actionProfiles,
    table: (id) => t.get(id),
    action: (id) => a.get(id),
    actionProfile: (id) => p.get(id),
    tableByName: (name) => need(tn, name, 'table'),
    actionByName: (name) => need(an, name, 'action'),
    actionProfileByName: (name) => need(pn, name, 'action profile'),
  };
}

function preamble(o: Json): { id: number; name: string; alias: string } {
  const p = obj(get(o, 'preamble'), 'preamble');
  const alias = get(p, 'alias');
  return { id: num(p, 'id'), name: str(p, 'name'), alias: typeof alias === 'string' ? alias : '' };
}

function get(o: Json, ...keys: string[]): unknown {
  for (const k of keys) if (k in o) return o[k];
  return undefined;
}

function obj(v: unknown, at: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new P4InfoError(`${at}: expected an object`);
  return v as Json;
}

function list(o: Json, ...keys: string[]): unknown[] {
  const v = get(o, ...keys);
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new P4InfoError(`${keys[0]}: expected a list`);
  return v as unknown[];
}

function num(o: Json, ...keys: string[]): number {
  const n = Number(get(o, ...keys));
  if (!Number.isInteger(n) || n < 0) throw new P4InfoError(`${keys[0]}: expected a non-negative integer`);
  return n;
}

function str(o: Json, ...keys: string[]): string {
  const v = get(o, ...keys);
  if (typeof v !== 'string' || v === '') throw new P4InfoError(`${keys[0]}: expected a string`);
  return v;
}
