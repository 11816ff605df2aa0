/**
 * Delta debugging for fuzz findings: the smallest input that still produces the same finding.
 *
 * - `ddmin` (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input", 2002) over
 *   a list: try each of n chunks alone, then each complement; keep the first that still fails,
 *   else split finer, until single elements. The result is 1-minimal (removing any one element
 *   makes it pass) unless the budget ran out first.
 * - `ddminBytes`: ddmin over the bytes of a payload.
 * - `minimiseJson`: for a payload that parses as JSON, the structure first (hoist a child in place
 *   of its parent, ddmin over object members and array elements, simpler leaves), then the bytes
 *   of the compact text. Skipped when the compact re-serialisation no longer fails (duplicate
 *   keys, invalid UTF-8 or huge numbers the parse would lose) or nesting is too deep to walk.
 *
 * Every candidate is judged by `fails`, which re-runs it against the target; results are cached by
 * content, and a budget (attempts and wall time) bounds the whole reduction: when it runs out the
 * best candidate so far is returned, marked `minimal: false`.
 *
 * @example
 * const r = await ddminBytes(bytes, async (b) => (await replay(b)) === 'crash', { maxAttempts: 300, maxMs: 30_000 });
 * r.value; // the smallest crashing bytes found
 */

/** How much effort a reduction may take. */
export interface MinimiseBudget {
  /** Candidates run against the target at most (cache hits are free). Default 400. */
  readonly maxAttempts?: number;
  /** Wall time at most, ms. Default 60 s. */
  readonly maxMs?: number;
}

export interface MinimiseResult<T> {
  readonly value: T;
  /** Candidates run against the target. */
  readonly attempts: number;
  readonly ms: number;
  /** False when the budget ran out before the reduction finished. */
  readonly minimal: boolean;
}

/** A judge with a budget and a cache: `undefined` once the budget is spent. */
class Judge<T> {
  attempts = 0;
  private readonly cache = new Map<string, boolean>();
  private readonly started = performance.now();
  private readonly maxAttempts: number;
  private readonly maxMs: number;

  constructor(
    private readonly fails: (candidate: T) => Promise<boolean>,
    private readonly key: (candidate: T) => string,
    budget: MinimiseBudget,
  ) {
    this.maxAttempts = budget.maxAttempts ?? 400;
    this.maxMs = budget.maxMs ?? 60_000;
  }

  get spent(): boolean {
    return this.attempts >= this.maxAttempts || performance.now() - this.started >= this.maxMs;
  }

  get ms(): number {
    return Math.round(performance.now() - this.started);
  }

  async test(candidate: T): Promise<boolean | undefined> {
    const k = this.key(candidate);
    const known = this.cache.get(k);
    if (known !== undefined) return known;
    if (this.spent) return undefined;
    this.attempts++;
    const failed = await this.fails(candidate);
    this.cache.set(k, failed);
    return failed;
  }
}

function chunks<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  const size = items.length / n;
  for (let i = 0; i < n; i++) out.push(items.slice(Math.round(i * size), Math.round((i + 1) * size)));
  return out.filter((c) => c.length > 0);
}

/** ddmin over `items` with a judge; returns the reduced list and whether it finished. */
async function ddminWith<T>(items: readonly T[], judge: (xs: T[]) => Promise<boolean | undefined>): Promise<{ value: T[]; finished: boolean }> {
  let current = [...items];
  let n = 2;
  while (current.length >= 2) {
    const parts = chunks(current, Math.min(n, current.length));
    let reduced = false;
    // Subsets first (a small failing part is the big win), then complements.
    for (const part of parts) {
      const r = await judge(part);
      if (r === undefined) return { value: current, finished: false };
      if (r) {
        current = part;
        n = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced && parts.length > 2) {
      for (let i = 0; i < parts.length; i++) {
        const complement = parts.filter((_, j) => j !== i).flat();
        const r = await judge(complement);
        if (r === undefined) return { value: current, finished: false };
        if (r) {
          current = complement;
          n = Math.max(n - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (reduced) continue;
    if (n >= current.length) break;
    n = Math.min(n * 2, current.length);
  }
  // A single element may still be removable entirely.
  if (current.length === 1) {
    const r = await judge([]);
    if (r === undefined) return { value: current, finished: false };
    if (r) current = [];
  }
  return { value: current, finished: true };
}

/**
 * ddmin over a list: a 1-minimal sublist (order kept) for which `fails` still holds.
 * `fails(items)` itself is assumed (not re-run); `key` identifies candidates for the cache.
 *
 * @example
 * const r = await ddmin([1, 2, 3, 4, 5, 6, 7, 8], async (xs) => xs.includes(3) && xs.includes(6));
 * r.value; // [3, 6]
 */
export async function ddmin<T>(
  items: readonly T[],
  fails: (candidate: T[]) => Promise<boolean>,
  budget: MinimiseBudget = {},
  key: (candidate: T[]) => string = (xs) => JSON.stringify(xs),
): Promise<MinimiseResult<T[]>> {
  const judge = new Judge(fails, key, budget);
  const r = await ddminWith(items, (xs) => judge.test(xs));
  return { value: r.value, attempts: judge.attempts, ms: judge.ms, minimal: r.finished };
}

/**
 * ddmin over the bytes of a payload.
 *
 * @example
 * const r = await ddminBytes(Buffer.from('xxxxBOOMyyyy'), async (b) => Buffer.from(b).includes('BOOM'));
 * Buffer.from(r.value).toString(); // 'BOOM'
 */
export async function ddminBytes(input: Uint8Array, fails: (candidate: Uint8Array) => Promise<boolean>, budget: MinimiseBudget = {}): Promise<MinimiseResult<Uint8Array>> {
  const judge = new Judge<number[]>((xs) => fails(Uint8Array.from(xs)), (xs) => Buffer.from(xs).toString('latin1'), budget);
  const r = await ddminWith([...input], (xs) => judge.test(xs));
  return { value: Uint8Array.from(r.value), attempts: judge.attempts, ms: judge.ms, minimal: r.finished };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Deeper than this, the structure is not walked (the walk recurses; bytes only). */
export const MAX_JSON_WALK_DEPTH = 200;

/** Nesting depth of a JSON value, counted without recursion (stops past `limit`). */
function depthOf(value: Json, limit: number): number {
  let max = 0;
  const stack: [Json, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d);
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Simpler stand-ins for a value, smallest first. */
function simpler(v: Json): Json[] {
  if (v === null) return [];
  if (Array.isArray(v)) return v.length > 0 ? [[], null] : [null];
  if (typeof v === 'object') return Object.keys(v).length > 0 ? [{}, null] : [null];
  if (typeof v === 'string') return v.length > 0 ? ['', null] : [null];
  if (typeof v === 'number') return v !== 0 ? [0, null] : [null];
  return [null];
}

/**
 * Reduces a JSON value's structure: `fails` sees whole candidate documents (the root with one
 * part changed), so every reduction is checked against the target as a whole.
 */
async function reduceStructure(root: Json, judge: Judge<string>): Promise<{ value: Json; finished: boolean }> {
  let current = root;
  const text = (v: Json): string => JSON.stringify(v);
  const tryValue = async (candidate: Json): Promise<boolean | undefined> => judge.test(text(candidate));

  /** Replaces the value at `path` in `current` (a copy). */
  const replaced = (path: readonly (string | number)[], value: Json): Json => {
    if (path.length === 0) return value;
    const copy = structuredClone<Json>(current);
    let at = copy as Record<string | number, Json>;
    for (const p of path.slice(0, -1)) at = at[p] as Record<string | number, Json>;
    at[path.at(-1)!] = value;
    return copy;
  };
  const get = (path: readonly (string | number)[]): Json => path.reduce<Json>((v, p) => (v as Record<string | number, Json>)[p]!, current);

  const children = (v: Json): Json[] => (v === null || typeof v !== 'object' ? [] : Array.isArray(v) ? v : Object.values(v));

  // Breadth-first over paths; each node: hoist a child into its place, drop members or
  // elements, try a simpler value; then its children.
  const queue: (string | number)[][] = [[]];
  while (queue.length > 0) {
    const path = queue.shift()!;
    for (let hoisted = true; hoisted; ) {
      hoisted = false;
      for (const child of children(get(path))) {
        const r = await tryValue(replaced(path, child));
        if (r === undefined) return { value: current, finished: false };
        if (r) {
          current = replaced(path, child);
          hoisted = true;
          break;
        }
      }
    }
    const node = get(path);
    if (Array.isArray(node) && node.length > 0) {
      const r = await ddminWith(node.map((_, i) => i), async (keep) => tryValue(replaced(path, keep.map((i) => node[i]!))));
      current = replaced(path, r.value.map((i) => node[i]!));
      if (!r.finished) return { value: current, finished: false };
    } else if (node !== null && typeof node === 'object' && Object.keys(node).length > 0) {
      const obj = node as { [key: string]: Json };
      const r = await ddminWith(Object.keys(obj), async (keep) => tryValue(replaced(path, Object.fromEntries(keep.map((k) => [k, obj[k]!])))));
      current = replaced(path, Object.fromEntries(r.value.map((k) => [k, obj[k]!])));
      if (!r.finished) return { value: current, finished: false };
    }
    for (const s of simpler(get(path))) {
      const r = await tryValue(replaced(path, s));
      if (r === undefined) return { value: current, finished: false };
      if (r) {
        current = replaced(path, s);
        break;
      }
    }
    const now = get(path);
    if (Array.isArray(now)) now.forEach((_, i) => queue.push([...path, i]));
    else if (now !== null && typeof now === 'object') for (const k of Object.keys(now)) queue.push([...path, k]);
  }
  return { value: current, finished: true };
}

/**
 * Minimises a JSON (or not-quite-JSON) payload: its structure when it parses, is not too deep,
 * and its compact form still fails; then its bytes. Returns the bytes of the result.
 *
 * @example
 * const r = await minimiseJson(Buffer.from('{"a":[1,2,{"boom":true}],"b":"x"}'), async (b) => Buffer.from(b).includes('"boom"'));
 * Buffer.from(r.value).toString(); // '"boom"'  (the bytes pass goes below the structure)
 */
export async function minimiseJson(input: Uint8Array, fails: (candidate: Uint8Array) => Promise<boolean>, budget: MinimiseBudget = {}): Promise<MinimiseResult<Uint8Array>> {
  const started = performance.now();
  const maxMs = budget.maxMs ?? 60_000;
  const maxAttempts = budget.maxAttempts ?? 400;
  const judge = new Judge<string>((t) => fails(Buffer.from(t, 'utf8')), (t) => t, { maxAttempts, maxMs });
  let start = input;
  let finished = true;
  let parsed: Json | undefined;
  try {
    parsed = JSON.parse(Buffer.from(input).toString('utf8')) as Json;
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined && depthOf(parsed, MAX_JSON_WALK_DEPTH) <= MAX_JSON_WALK_DEPTH) {
    const compact = JSON.stringify(parsed);
    // The compact form must fail too, and be honest UTF-8 of what was parsed.
    if (compact !== undefined && (await judge.test(compact))) {
      const r = await reduceStructure(parsed, judge);
      start = Buffer.from(JSON.stringify(r.value), 'utf8');
      finished = r.finished;
    }
  }
  const left = { maxAttempts: Math.max(0, maxAttempts - judge.attempts), maxMs: Math.max(0, maxMs - (performance.now() - started)) };
  if (left.maxAttempts === 0 || left.maxMs === 0) return { value: start, attempts: judge.attempts, ms: judge.ms, minimal: false };
  const bytes = await ddminBytes(start, fails, left);
  return { value: bytes.value, attempts: judge.attempts + bytes.attempts, ms: Math.round(performance.now() - started), minimal: finished && bytes.minimal };
}
