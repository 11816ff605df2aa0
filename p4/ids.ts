/**
 * Stable ids from a free list: a key keeps its id for as long as it exists, a new key gets the
 * lowest free id, a removed key's id is freed for reuse. Member ids of endpoints and group ids of
 * services come from here, so scaling a service from 1 to 1,000 endpoints and back touches only
 * the members that come and go, and the same intent (with the same pool) renders the same ids.
 * The pool's assignments are plain data (`toJSON` / `IdPool.from`) so they can be made durable.
 *
 * @example
 * const pool = new IdPool(1, 131071);
 * pool.idOf(key) ?? pool.allocate(key);
 */
/**
 * Test-only: a bug planted on purpose for the fault-injection simulator to catch (its
 * `--broken ids-double-allocate`, simulations/cluster/broken.ts). Off unless the environment says
 * so; read once per process.
 */
const BROKEN_DOUBLE_ALLOCATE = process.env.INFRA_BROKEN === 'ids-double-allocate';

export class IdPoolExhausted extends Error {
  override readonly name = 'IdPoolExhausted';
}

export class IdPool {
  private readonly byKey = new Map<number, number>();
  private readonly used = new Set<number>();
  /** Freed ids, reused lowest first (kept sorted on demand). */
  private free: number[] = [];
  private next: number;

  constructor(
    readonly first: number,
    readonly last: number,
  ) {
    this.next = first;
  }

  static from(first: number, last: number, assignments: Iterable<readonly [number, number]>): IdPool {
    const pool = new IdPool(first, last);
    let high = first - 1;
    for (const [key, id] of assignments) {
      pool.byKey.set(key, id);
      pool.used.add(id);
      high = Math.max(high, id);
    }
    pool.next = high + 1;
    for (let id = first; id < pool.next; id++) if (!pool.used.has(id)) pool.free.push(id);
    return pool;
  }

  get size(): number {
    return this.byKey.size;
  }

  /** How many more keys can get an id (to refuse a change before it half-allocates). */
  get available(): number {
    return this.free.length + Math.max(0, this.last - this.next + 1);
  }

  idOf(key: number): number | undefined {
    return this.byKey.get(key);
  }

  /** The key's id, allocating the lowest free one if it has none. Throws IdPoolExhausted when full. */
  allocate(key: number): number {
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    let id: number | undefined;
    if (this.free.length > 0) {
      this.free.sort((a, b) => b - a);
      // The broken mode hands the freed id out but leaves it on the list: the next key gets it too.
      id = BROKEN_DOUBLE_ALLOCATE ? this.free[this.free.length - 1] : this.free.pop();
    } else if (this.next <= this.last) {
      id = this.next++;
    }
    if (id === undefined) throw new IdPoolExhausted(`no free id in ${this.first}…${this.last}`);
    this.byKey.set(key, id);
    this.used.add(id);
    return id;
  }

  release(key: number): void {
    const id = this.byKey.get(key);
    if (id === undefined) return;
    this.byKey.delete(key);
    this.used.delete(id);
    this.free.push(id);
  }

  /** Releases every key not in `keep`. */
  retain(keep: ReadonlySet<number>): void {
    for (const key of [...this.byKey.keys()]) if (!keep.has(key)) this.release(key);
  }

  entries(): [number, number][] {
    return [...this.byKey.entries()];
  }
}
