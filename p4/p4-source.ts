/**
 * A small, honest reader of the declarations in OUR P4-16 program (p4/k8s_dp.p4): tables, actions,
 * action profiles/selectors and the order of `.apply()` calls. It is not a P4 compiler: it does
 * not type-check, evaluate expressions or follow `#include`; it reads declarations written the
 * way k8s_dp.p4 writes them, so the program and its P4Info can be checked against each other
 * without p4c (`compareWithP4Info`).
 *
 * Supported: `//` and `/* *\/` comments and preprocessor lines (blanked first); `typedef`/`type`
 * of `bit<N>`, `int<N>`, `bool` and chains of those, plus PNA's own types (PNA_TYPE_WIDTHS);
 * header/struct fields for key widths (`hdr.ipv4.dst_addr`, slices `x[7:0]`); integer constants
 * (`const bit<32> N = 65536;`, `32w0x10`, `65_536`) as sizes; table properties `key`, `actions`
 * (with @tableonly/@defaultonly), `[const] default_action`, `size`, `[pna_|psa_]implementation`,
 * `add_on_miss`, `pna_idle_timeout`/`idle_timeout`; `@name("...")` on key fields;
 * `add_entry(...)` calls in actions (named or positional arguments).
 * Not supported: nested controls' local instances, parameters with annotations, `@name` on
 * tables or actions, `entries`, action profiles declared in-place inside a table property,
 * anything that needs expression evaluation beyond integer literals and constants.
 *
 * @example
 * const src = readFileSync('p4/k8s_dp.p4', 'utf8');
 * const program = parseP4Source(src);
 * program.tables.find((t) => t.name === 'MainControlImpl.ct_forward')?.addOnMiss;  // true
 * applyOrder(src, 'MainControlImpl');      // ['MainControlImpl.arp_to_port', ...]
 * compareWithP4Info(program, loadP4Info()); // [] when program and P4Info agree
 */
import type { MatchType, P4ActionRef, P4Info, P4Table } from './p4info.js';

export type ActionScope = P4ActionRef['scope'];

/** A key field: its P4Info name (the expression as written, or its @name), the match kind as
 * written (exact, lpm, ternary, range, optional, selector) and its width, undefined when the
 * header/struct declarations do not tell. */
export interface SourceKeyField { readonly name: string; readonly matchKind: string; readonly bitwidth: number | undefined }

export interface SourceTable {
  /** Fully qualified, as in the P4Info: `MainControlImpl.ct_forward`. */
  readonly name: string;
  readonly control: string;
  readonly keys: readonly SourceKeyField[];
  /** Fully qualified action names with the scope their @tableonly/@defaultonly give. */
  readonly actions: readonly { readonly name: string; readonly scope: ActionScope }[];
  readonly defaultAction: { readonly name: string; readonly isConst: boolean; readonly args: readonly string[] } | undefined;
  readonly size: number | undefined;
  /** Fully qualified name of the action profile/selector instance. */
  readonly implementation: string | undefined;
  readonly addOnMiss: boolean;
  /** `NOTIFY_CONTROL` / `AUTO_DELETE` / `NO_TIMEOUT` as written; undefined when absent. */
  readonly idleTimeout: string | undefined;
}

/** An action parameter; `direction` is '' for a directionless (control-plane) parameter. */
export interface SourceParam { readonly name: string; readonly direction: string; readonly type: string; readonly bitwidth: number | undefined }

/** One `add_entry(action_name, action_params, expire_time_profile_id)` call in an action body;
 * `params` maps field to expression of a struct-valued action_params (undefined otherwise). */
export interface SourceLearn { readonly action: string; readonly params: Readonly<Record<string, string>> | undefined; readonly profile: string }

export interface SourceAction {
  readonly name: string;
  readonly control: string | undefined;
  readonly params: readonly SourceParam[];
  readonly learns: readonly SourceLearn[];
  /** True for core.p4's NoAction, which the program uses without declaring. */
  readonly builtin: boolean;
}

/** An ActionSelector (algorithm: the PNA_HashAlgorithm_t member, e.g. CRC32) or ActionProfile. */
export interface SourceActionProfile {
  readonly name: string; readonly withSelector: boolean; readonly algorithm: string | undefined;
  readonly size: number | undefined; readonly outputWidth: number | undefined; readonly maxGroupSize: number | undefined;
}

export interface P4Source { readonly tables: readonly SourceTable[]; readonly actions: readonly SourceAction[]; readonly actionProfiles: readonly SourceActionProfile[] }

export class P4SourceError extends Error {
  override readonly name = 'P4SourceError';
}

/** Widths of the PNA types a program may use without declaring (pna.p4, P4Runtime widths). */
export const PNA_TYPE_WIDTHS: Readonly<Record<string, number>> = {
  PortId_t: 32, InterfaceId_t: 32, MulticastGroup_t: 32, MirrorSessionId_t: 16, MirrorSlotId_t: 8,
  ClassOfService_t: 8, PacketLength_t: 16, Timestamp_t: 64, FlowId_t: 32, ExpireTimeProfileId_t: 8,
};

const MATCH_TYPES: Readonly<Record<string, MatchType>> = { exact: 'EXACT', lpm: 'LPM', ternary: 'TERNARY', range: 'RANGE', optional: 'OPTIONAL' };

const CORE_ACTIONS = ['NoAction'];

interface Scope { readonly name: string; readonly start: number; readonly end: number; readonly params: ReadonlyMap<string, string> }

/** The comment-free text and what the declarations say about names, types and controls. */
interface Context {
  readonly text: string;
  readonly consts: ReadonlyMap<string, number>;
  readonly widths: ReadonlyMap<string, number>;
  readonly fields: ReadonlyMap<string, ReadonlyMap<string, string>>;   // aggregate -> field -> type
  readonly controls: readonly Scope[];
}

/** Parses the declarations of a P4-16 program. Throws P4SourceError on a table it cannot read. */
export function parseP4Source(source: string): P4Source {
  const text = stripComments(source);
  const ctx: Context = { text, consts: constants(text), widths: typeWidths(text), fields: aggregates(text), controls: controls(text) };
  const declared = actions(ctx);
  const tables = [...text.matchAll(/\btable\s+(\w+)\s*\{/g)].map((m) => {
    const open = m.index + m[0].length - 1;
    return parseTable(ctx, m[1]!, text.slice(open + 1, closing(text, open)), scopeAt(ctx, m.index));
  });
  const used = new Set(tables.flatMap((t) => t.actions.map((a) => a.name)));
  const builtins = CORE_ACTIONS.filter((n) => used.has(n) && !declared.some((a) => a.name === n))
    .map((name): SourceAction => ({ name, control: undefined, params: [], learns: [], builtin: true }));
  return { tables, actions: [...declared, ...builtins], actionProfiles: profiles(ctx) };
}

/**
 * The tables of `controlName` in the order their `.apply()` calls appear in its apply block
 * (textual order, whatever the branches around them), fully qualified.
 */
export function applyOrder(source: string, controlName: string): string[] {
  const text = stripComments(source);
  const scope = controls(text).find((c) => c.name === controlName);
  if (!scope) throw new P4SourceError(`no control named ${controlName}`);
  const body = text.slice(scope.start, scope.end);
  const tables = new Set([...body.matchAll(/\btable\s+(\w+)\s*\{/g)].map((m) => m[1]!));
  const atTop = (index: number): boolean => walk(body, 0, (i, _c, depth) => i === index && depth === 0) === index;
  const apply = [...body.matchAll(/\bapply\s*\{/g)].find((m) => atTop(m.index));
  if (!apply) throw new P4SourceError(`control ${controlName} has no apply block`);
  const open = apply.index + apply[0].length - 1;
  const block = body.slice(open, closing(body, open));
  return [...block.matchAll(/\b(\w+)\s*\.\s*apply\s*\(\s*\)/g)].map((m) => m[1]!).filter((n) => tables.has(n)).map((n) => `${controlName}.${n}`);
}

/** Blanks comments and preprocessor lines, keeping every newline (and so line numbers). */
export function stripComments(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const two = source.slice(i, i + 2);
    let end = i + 1;
    if (c === '"') end = stringEnd(source, i);
    else if (two === '//' || (c === '#' && /(^|\n)[ \t]*$/.test(source.slice(0, i)))) end = lineEnd(source, i);
    else if (two === '/*') end = source.indexOf('*/', i + 2) < 0 ? source.length : source.indexOf('*/', i + 2) + 2;
    const piece = source.slice(i, end);
    out += c === '"' || end === i + 1 ? piece : piece.replace(/[^\n]/g, ' ');
    i = end;
  }
  return out;
}

function stringEnd(s: string, i: number): number {
  let j = i + 1;
  while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, s.length);
}

const lineEnd = (s: string, i: number): number => (s.indexOf('\n', i) < 0 ? s.length : s.indexOf('\n', i));

/**
 * Visits each character outside strings with the bracket depth before it (a closing bracket
 * already counted out), from `from`; returns the index where `visit` returned true, or -1.
 */
function walk(text: string, from: number, visit: (i: number, c: string, depth: number) => boolean): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') i = stringEnd(text, i) - 1;
    else {
      if ('})]'.includes(c)) depth--;
      if (visit(i, c, depth)) return i;
      if ('{(['.includes(c)) depth++;
    }
  }
  return -1;
}

/** Index of the bracket closing the one at `open` ({, ( or [). */
function closing(text: string, open: number): number {
  const end = walk(text, open, (i, c, depth) => i > open && depth === 0 && '})]'.includes(c));
  if (end < 0) throw new P4SourceError(`unbalanced '${text[open]}' at line ${text.slice(0, open).split('\n').length}`);
  return end;
}

/** Splits at `sep` outside brackets and strings; trims and drops empty pieces. */
function splitTop(text: string, sep: string): string[] {
  const cuts = [-1];
  walk(text, 0, (i, c, depth) => {
    if (c === sep && depth === 0) cuts.push(i);
    return false;
  });
  return [...cuts, text.length].slice(1).map((end, k) => text.slice(cuts[k]! + 1, end).trim()).filter((p) => p !== '');
}

/** Leading annotations (`@name`, `@name(args)`) and the text after them. */
function annotations(text: string): { readonly notes: ReadonlyMap<string, string>; readonly rest: string } {
  const notes = new Map<string, string>();
  let rest = text.trim();
  for (let m = /^@(\w+)\s*/.exec(rest); m; m = /^@(\w+)\s*/.exec(rest)) {
    rest = rest.slice(m[0].length);
    let arg = '';
    if (rest.startsWith('(')) {
      const end = closing(rest, 0);
      arg = rest.slice(1, end).trim();
      rest = rest.slice(end + 1).trim();
    }
    notes.set(m[1]!, arg);
  }
  return { notes, rest };
}

const unquote = (s: string): string => s.trim().replace(/^"(.*)"$/s, '$1');

/** An integer literal (decimal, 0x/0o/0b, width prefix `32w`, `_` separators) or a constant. */
function intValue(expr: string, consts: ReadonlyMap<string, number>): number | undefined {
  const e = expr.trim().replace(/^\((?:bit|int)\s*<\s*\d+\s*>\)\s*/, '');
  const lit = /^(?:\d+[ws])?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|\d[\d_]*)$/.exec(e);
  if (lit) return Number(lit[1]!.replace(/_/g, '').replace(/^0[oO]/, '0o'));
  return /^\w+$/.test(e) ? consts.get(e) : undefined;
}

function constants(text: string): Map<string, number> {
  const consts = new Map<string, number>();
  for (const m of text.matchAll(/\bconst\s+[^=;{}]+?\s(\w+)\s*=\s*([^;{}]+);/g)) {
    const v = intValue(m[2]!, consts);
    if (v !== undefined) consts.set(m[1]!, v);
  }
  return consts;
}

/** typedef / type names to widths, with PNA's types as the fallback. */
function typeWidths(text: string): Map<string, number> {
  const aliases = new Map<string, string>();
  for (const m of text.matchAll(/\b(?:typedef|type)\s+([A-Za-z_][\w]*(?:\s*<\s*\d+\s*>)?)\s+(\w+)\s*;/g)) aliases.set(m[2]!, m[1]!);
  const widths = new Map<string, number>(Object.entries(PNA_TYPE_WIDTHS));
  for (const name of aliases.keys()) {
    let type = name;
    for (let hops = 0; aliases.has(type) && hops <= aliases.size; hops++) type = aliases.get(type)!;   // bounded: a cycle ends
    const w = baseWidth(type) ?? widths.get(type);
    if (w !== undefined) widths.set(name, w);
  }
  return widths;
}

function baseWidth(type: string): number | undefined {
  const m = /^(?:bit|int)\s*<\s*(\d+)\s*>$/.exec(type.trim());
  return m ? Number(m[1]) : type.trim() === 'bool' ? 1 : undefined;
}

const widthOf = (type: string, ctx: Pick<Context, 'widths'>): number | undefined => baseWidth(type) ?? ctx.widths.get(type.trim());

/** header / struct / header_union name -> field -> type. */
function aggregates(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const m of text.matchAll(/\b(?:header|struct|header_union)\s+(\w+)\s*\{([^{}]*)\}/g)) {
    const fields = new Map<string, string>();
    for (const decl of splitTop(m[2]!, ';')) {
      const f = /^([\s\S]+?)\s+(\w+)$/.exec(annotations(decl).rest);
      if (f) fields.set(f[2]!, f[1]!.replace(/\s+/g, ''));
    }
    out.set(m[1]!, fields);
  }
  return out;
}

function controls(text: string): Scope[] {
  return [...text.matchAll(/\bcontrol\s+(\w+)\s*(?:<[^>]*>)?\s*\(/g)].flatMap((m) => {
    const open = m.index + m[0].length - 1;
    const close = closing(text, open);
    const brace = /^\s*\{/.exec(text.slice(close + 1));
    if (!brace) return [];   // a control type declaration, not a control
    const start = close + 1 + brace[0].length;
    const params = new Map<string, string>();
    for (const p of splitTop(text.slice(open + 1, close), ',')) {
      const f = /(\w+(?:\s*<[^>]*>)?)\s+(\w+)$/.exec(p);
      if (f) params.set(f[2]!, f[1]!);
    }
    return [{ name: m[1]!, start, end: closing(text, start - 1), params }];
  });
}

const scopeAt = (ctx: Context, index: number): Scope | undefined => ctx.controls.find((c) => index >= c.start && index < c.end);
const qualify = (name: string, scope: Scope | undefined): string => (scope ? `${scope.name}.${name}` : name);

function actions(ctx: Context): SourceAction[] {
  return [...ctx.text.matchAll(/\baction\s+(\w+)\s*\(([^)]*)\)\s*\{/g)].map((m) => {
    const scope = scopeAt(ctx, m.index);
    const open = m.index + m[0].length - 1;
    const params = splitTop(m[2]!, ',').map((p): SourceParam => {
      const f = /^(?:(in|out|inout)\s+)?([\s\S]+?)\s+(\w+)$/.exec(p.trim());
      if (!f) throw new P4SourceError(`action ${m[1]}: cannot read parameter '${p}'`);
      return { name: f[3]!, direction: f[1] ?? '', type: f[2]!.replace(/\s+/g, ''), bitwidth: widthOf(f[2]!, ctx) };
    });
    const learns = learnCalls(ctx.text.slice(open, closing(ctx.text, open)), scope);
    return { name: qualify(m[1]!, scope), control: scope?.name, params, learns, builtin: false };
  });
}

function learnCalls(body: string, scope: Scope | undefined): SourceLearn[] {
  return [...body.matchAll(/\badd_entry\s*\(/g)].map((m) => {
    const open = m.index + m[0].length - 1;
    const args = splitTop(body.slice(open + 1, closing(body, open)), ',');
    const named = new Map(args.map((a) => /^(\w+)\s*=(?!=)\s*([\s\S]*)$/.exec(a)).filter((x) => x !== null).map((x) => [x[1]!, x[2]!]));
    const arg = (key: string, i: number): string => (named.size > 0 ? named.get(key) : args[i]) ?? '';
    const struct = /^(?:\(\s*\w+\s*\)\s*)?\{([\s\S]*)\}$/.exec(arg('action_params', 1).trim());
    const params = struct ? Object.fromEntries(splitTop(struct[1]!, ',').map((f) => f.split('=').map((s) => s.trim()) as [string, string])) : undefined;
    return { action: qualify(unquote(arg('action_name', 0)), scope), params, profile: arg('expire_time_profile_id', 2).trim() };
  });
}

/** `[const] name = value;` properties of a table body, value without braces. */
function properties(body: string, table: string): Map<string, { readonly value: string; readonly isConst: boolean }> {
  const props = new Map<string, { value: string; isConst: boolean }>();
  let rest = body;
  while (rest.trim() !== '') {
    rest = annotations(rest).rest;
    const m = /^(const\s+)?(\w+)\s*=\s*/.exec(rest);
    if (!m) throw new P4SourceError(`table ${table}: cannot read '${rest.trim().slice(0, 40)}'`);
    rest = rest.slice(m[0].length);
    let value: string;
    if (rest.startsWith('{')) {
      const end = closing(rest, 0);
      value = rest.slice(1, end);
      rest = rest.slice(end + 1).replace(/^\s*;/, '');
    } else {
      const end = rest.indexOf(';');
      if (end < 0) throw new P4SourceError(`table ${table}: property ${m[2]} has no ';'`);
      value = rest.slice(0, end).trim();
      rest = rest.slice(end + 1);
    }
    props.set(m[2]!, { value, isConst: m[1] !== undefined });
  }
  return props;
}

function parseTable(ctx: Context, name: string, body: string, scope: Scope | undefined): SourceTable {
  const fq = qualify(name, scope);
  const props = properties(body, fq);
  const value = (...keys: string[]): string | undefined => keys.map((k) => props.get(k)?.value).find((v) => v !== undefined);
  const declared = new Set([...ctx.text.matchAll(/\baction\s+(\w+)\s*\(/g)].filter((m) => scopeAt(ctx, m.index) === scope).map((m) => m[1]!));
  const ref = (n: string): string => (declared.has(n) ? qualify(n, scope) : n);
  const def = props.get('default_action');
  const call = def ? /^(\w+)\s*(?:\(([\s\S]*)\))?$/.exec(def.value) : null;
  if (def && !call) throw new P4SourceError(`table ${fq}: cannot read default_action '${def.value}'`);
  const impl = value('pna_implementation', 'psa_implementation', 'implementation');
  const idle = value('pna_idle_timeout', 'idle_timeout');
  return {
    name: fq,
    control: scope?.name ?? '',
    keys: splitTop(value('key') ?? '', ';').map((k) => keyField(ctx, k, scope, fq)),
    actions: splitTop(value('actions') ?? '', ';').map((a) => {
      const { notes, rest } = annotations(a);
      const scopeOf: ActionScope = notes.has('defaultonly') ? 'DEFAULT_ONLY' : notes.has('tableonly') ? 'TABLE_ONLY' : 'TABLE_AND_DEFAULT';
      return { name: ref(rest.replace(/\(.*$/s, '').trim()), scope: scopeOf };
    }),
    defaultAction: call ? { name: ref(call[1]!), isConst: def!.isConst, args: splitTop(call[2] ?? '', ',') } : undefined,
    size: value('size') === undefined ? undefined : intValue(value('size')!, ctx.consts),
    implementation: impl === undefined ? undefined : qualify(impl, scope),
    addOnMiss: value('add_on_miss') === 'true',
    idleTimeout: idle === undefined ? undefined : idle === 'true' ? 'NOTIFY_CONTROL' : idle === 'false' ? 'NO_TIMEOUT' : idle.replace(/^.*\./, ''),
  };
}

function keyField(ctx: Context, entry: string, scope: Scope | undefined, table: string): SourceKeyField {
  const m = /^([\s\S]*\S)\s*:\s*(\w+)\s*((?:@[\s\S]*)?)$/.exec(entry);
  if (!m) throw new P4SourceError(`table ${table}: cannot read key '${entry}'`);
  const expr = m[1]!.replace(/\s+/g, '');
  const alias = annotations(m[3]!).notes.get('name');
  return { name: alias === undefined ? expr : unquote(alias), matchKind: m[2]!, bitwidth: pathWidth(ctx, expr, scope) };
}

/** Width of `param.field.field` (or a slice of it) through the control's parameter types. */
function pathWidth(ctx: Context, expr: string, scope: Scope | undefined): number | undefined {
  const slice = /\[(\d+):(\d+)\]$/.exec(expr);
  if (slice) return Number(slice[1]) - Number(slice[2]) + 1;
  const [root, ...path] = expr.split('.');
  let type = scope?.params.get(root ?? '');
  for (const field of path) type = type === undefined ? undefined : ctx.fields.get(type)?.get(field);
  return type === undefined ? undefined : widthOf(type, ctx);
}

function profiles(ctx: Context): SourceActionProfile[] {
  const re = /((?:@\w+\s*(?:\([^()]*\))?\s*)*)\b(ActionSelector|ActionProfile)\s*\(([^;]*?)\)\s*(\w+)\s*;/g;
  return [...ctx.text.matchAll(re)].map((m) => {
    const args = splitTop(m[3]!, ',');
    const selector = m[2] === 'ActionSelector';
    const maxGroup = annotations(m[1]!).notes.get('max_group_size');
    return {
      name: qualify(m[4]!, scopeAt(ctx, m.index)),
      withSelector: selector,
      algorithm: selector ? args[0]?.replace(/^.*\./, '') : undefined,
      size: intValue((selector ? args[1] : args[0]) ?? '', ctx.consts),
      outputWidth: selector ? intValue(args[2] ?? '', ctx.consts) : undefined,
      maxGroupSize: maxGroup === undefined ? undefined : intValue(maxGroup, ctx.consts),
    };
  });
}

/* ---------------------------------------------------------------------------------------------
 * Comparison with the P4Info
 * ------------------------------------------------------------------------------------------- */

/**
 * Every difference between the program's declarations and the P4Info, both ways, one sentence
 * each, prefixed by the table / action / action profile it concerns; [] when they agree.
 * Compared: tables (key names, P4Info match types, widths; `selector` fields must be absent),
 * action refs with scopes, size, const default action, implementation, add_on_miss (P4Info
 * annotation "@add_on_miss", and the default action must learn a table action), idle timeout
 * (NOTIFY_CONTROL); actions used by tables (parameter names, order, widths); action profiles
 * (size, with_selector, max_group_size, tables). Helper actions no table lists are ignored,
 * as p4c leaves them out of the P4Info.
 */
export function compareWithP4Info(program: P4Source, info: P4Info): string[] {
  return [...compareTables(program, info), ...compareActions(program, info), ...compareProfiles(program, info)];
}

function compareTables(program: P4Source, info: P4Info): string[] {
  const out = info.tables.filter((t) => !program.tables.some((s) => s.name === t.name)).map((t) => `table ${t.name}: in the P4Info but not in the P4 program`);
  for (const table of program.tables) {
    const p4info = info.tables.find((t) => t.name === table.name);
    if (!p4info) out.push(`table ${table.name}: in the P4 program but not in the P4Info`);
    else out.push(...compareTable(program, table, p4info, info).map((d) => `table ${table.name}: ${d}`));
  }
  return out;
}

function compareTable(program: P4Source, table: SourceTable, t: P4Table, info: P4Info): string[] {
  const out: string[] = [];
  const ours = table.keys.filter((k) => k.matchKind !== 'selector').map((k) => `${k.name}:${MATCH_TYPES[k.matchKind] ?? k.matchKind}:${k.bitwidth ?? '?'}`);
  const theirs = t.matchFields.map((f) => `${f.name}:${f.matchType}:${f.bitwidth}`);
  if (ours.join() !== theirs.join()) out.push(`match fields differ: P4 [${ours.join(', ')}], P4Info [${theirs.join(', ')}]`);
  const name = (id: number): string => info.action(id)?.name ?? `#${id}`;
  const refs = (xs: readonly { name: string; scope: ActionScope }[]): string => xs.map((a) => `${a.name}(${a.scope})`).sort().join(', ');
  const [ourRefs, theirRefs] = [refs(table.actions), refs(t.actionRefs.map((r) => ({ name: name(r.id), scope: r.scope })))];
  if (ourRefs !== theirRefs) out.push(`actions differ: P4 [${ourRefs}], P4Info [${theirRefs}]`);
  if (table.size !== t.size) out.push(`size ${table.size ?? 'unset'} in P4, ${t.size} in the P4Info`);
  const constDefault = table.defaultAction?.isConst ? table.defaultAction.name : '(none)';
  const p4infoDefault = t.constDefaultActionId === 0 ? '(none)' : name(t.constDefaultActionId);
  if (constDefault !== p4infoDefault) out.push(`const default action ${constDefault} in P4, ${p4infoDefault} in the P4Info`);
  const impl = t.implementationId === 0 ? '(none)' : (info.actionProfile(t.implementationId)?.name ?? `#${t.implementationId}`);
  if ((table.implementation ?? '(none)') !== impl) out.push(`implementation ${table.implementation ?? '(none)'} in P4, ${impl} in the P4Info`);
  const selectorKeys = table.keys.some((k) => k.matchKind === 'selector');
  const selector = program.actionProfiles.find((p) => p.name === table.implementation)?.withSelector === true;
  if (selectorKeys !== selector) out.push(selectorKeys ? 'has selector key fields but no ActionSelector implementation' : 'an ActionSelector implementation needs selector key fields');
  if (table.addOnMiss !== t.addOnMiss) out.push(`add_on_miss ${table.addOnMiss} in P4, ${t.addOnMiss} in the P4Info (annotation "@add_on_miss")`);
  if (table.addOnMiss) out.push(...learning(program, table));
  const idle = table.idleTimeout === 'NOTIFY_CONTROL';
  if (idle !== t.idleTimeout) out.push(`idle timeout ${table.idleTimeout ?? 'unset'} in P4, ${t.idleTimeout ? 'NOTIFY_CONTROL' : 'NO_TIMEOUT'} in the P4Info`);
  return out;
}

/** PNA's rules for learning: the miss action is the default and adds a hit action of this table. */
function learning(program: P4Source, table: SourceTable): string[] {
  const miss = program.actions.find((a) => a.name === table.defaultAction?.name);
  const learned = miss?.learns ?? [];
  if (learned.length === 0) return [`add_on_miss, but its default action ${table.defaultAction?.name ?? '(none)'} calls no add_entry`];
  return learned.filter((l) => !table.actions.some((a) => a.name === l.action && a.scope !== 'DEFAULT_ONLY'))
    .map((l) => `default action learns ${l.action}, which is not a hit action of the table`);
}

function compareActions(program: P4Source, info: P4Info): string[] {
  const used = new Set(program.tables.flatMap((t) => t.actions.map((a) => a.name)));
  const out: string[] = [];
  for (const a of info.actions) if (!used.has(a.name)) out.push(`action ${a.name}: in the P4Info but no table of the P4 program uses it`);
  for (const name of used) {
    const ours = program.actions.find((a) => a.name === name);
    const theirs = info.actions.find((a) => a.name === name);
    if (!ours) out.push(`action ${name}: listed by a table but not declared`);
    if (!theirs) out.push(`action ${name}: in the P4 program but not in the P4Info`);
    if (!ours || !theirs) continue;
    const p4 = ours.params.filter((p) => p.direction === '').map((p) => `${p.name}:${p.bitwidth ?? '?'}`).join(', ');
    const p4info = theirs.params.map((p) => `${p.name}:${p.bitwidth}`).join(', ');
    if (p4 !== p4info) out.push(`action ${name}: parameters differ: P4 (${p4}), P4Info (${p4info})`);
  }
  return out;
}

function compareProfiles(program: P4Source, info: P4Info): string[] {
  const out: string[] = [];
  const used = new Set(program.tables.map((t) => t.implementation).filter((x) => x !== undefined));
  for (const p of info.actionProfiles) if (!used.has(p.name)) out.push(`action profile ${p.name}: in the P4Info but no table of the P4 program uses it`);
  for (const name of used) {
    const ours = program.actionProfiles.find((p) => p.name === name);
    const theirs = info.actionProfiles.find((p) => p.name === name);
    if (!ours) out.push(`action profile ${name}: a table's implementation, but not declared`);
    if (!theirs) out.push(`action profile ${name}: in the P4 program but not in the P4Info`);
    if (!ours || !theirs) continue;
    const d = (what: string, a: unknown, b: unknown): void => {
      if (a !== b) out.push(`action profile ${name}: ${what} ${String(a)} in P4, ${String(b)} in the P4Info`);
    };
    d('size', ours.size, theirs.size);
    d('with_selector', ours.withSelector, theirs.withSelector);
    d('max_group_size', ours.maxGroupSize ?? 0, theirs.maxGroupSize);
    const tables = program.tables.filter((t) => t.implementation === name).map((t) => t.name).sort().join(', ');
    const ids = theirs.tableIds.map((id) => info.table(id)?.name ?? `#${id}`).sort().join(', ');
    d('tables', `[${tables}]`, `[${ids}]`);
  }
  return out;
}
