/**
 * Label and field selectors as the API server reads them from `labelSelector` and
 * `fieldSelector`: comma-separated requirements that must all hold.
 *
 *   labels:  key=value  key==value  key!=value  key  !key  key in (a,b)  key notin (a,b)
 *   fields:  metadata.name=x  metadata.namespace!=y  (any dotted path to a string field)
 *
 * @example
 * const s = parseLabelSelector('kubernetes.io/service-name=web');
 * if (s.ok) s.value({ 'kubernetes.io/service-name': 'web' }); // true
 */
import { err, ok, type Result } from '../../core/result.js';

export type Matcher = (values: Readonly<Record<string, string>>) => boolean;

type Requirement = (get: (key: string) => string | undefined) => boolean;

/** Splits on commas that are not inside parentheses (set-based requirements list values). */
function splitRequirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

const SET_REQ = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/;
const EQ_REQ = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=()]*)$/;
const EXISTS_REQ = /^(!?)([^\s!=()]+)$/;

function parseRequirement(text: string, allowSets: boolean): Requirement | undefined {
  const set = allowSets ? SET_REQ.exec(text) : null;
  if (set) {
    const key = set[1]!;
    const values = new Set(set[3]!.split(',').map((v) => v.trim()));
    const wantIn = set[2] === 'in';
    return (get) => {
      const v = get(key);
      return wantIn ? v !== undefined && values.has(v) : v === undefined || !values.has(v);
    };
  }
  const eq = EQ_REQ.exec(text);
  if (eq) {
    const [, key, op, value] = eq as unknown as [string, string, string, string];
    return op === '!=' ? (get) => get(key) !== value : (get) => get(key) === value;
  }
  const exists = allowSets ? EXISTS_REQ.exec(text) : null;
  if (exists) {
    const negate = exists[1] === '!';
    const key = exists[2]!;
    return (get) => (get(key) !== undefined) !== negate;
  }
  return undefined;
}

function parseSelector(text: string | null | undefined, allowSets: boolean, what: string): Result<Matcher, string> {
  const requirements: Requirement[] = [];
  for (const part of splitRequirements(text ?? '')) {
    const r = parseRequirement(part, allowSets);
    if (!r) return err(`unable to parse requirement "${part}" of the ${what}`);
    requirements.push(r);
  }
  return ok((values) => requirements.every((r) => r((k) => (Object.hasOwn(values, k) ? values[k] : undefined))));
}

/** Parses a labelSelector; an empty or absent selector matches everything. */
export function parseLabelSelector(text: string | null | undefined): Result<Matcher, string> {
  return parseSelector(text, true, 'label selector');
}

/** Parses a fieldSelector (equality and inequality only, as the API server supports). */
export function parseFieldSelector(text: string | null | undefined): Result<Matcher, string> {
  return parseSelector(text, false, 'field selector');
}

/** The field values a field selector sees: every string leaf under metadata, spec and status. */
export function fieldsOf(object: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (value: unknown, path: string, depth: number): void => {
    if (depth > 4 || value === null || typeof value !== 'object' || Array.isArray(value)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[path] = String(value);
      return;
    }
    for (const [k, v] of Object.entries(value)) walk(v, path === '' ? k : `${path}.${k}`, depth + 1);
  };
  for (const top of ['metadata', 'spec', 'status'] as const) walk(object[top], top, 0);
  // The server always lets one select by namespace, even for objects that do not set it.
  out['metadata.namespace'] ??= '';
  return out;
}
