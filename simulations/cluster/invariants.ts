/**
 * The invariants a run is judged by, and the book their violations are written in. Each check
 * lives in its own file and writes here; the report lists every invariant, violated or not.
 *
 * Safety (must hold at every instant):
 * - single-leader: a lease epoch names one holder; a new holder always has a higher epoch; no two
 *   managers of a node claim leadership with the same epoch.
 * - single-primary: the device's primary (as its arbitration tells an observer stream) always has
 *   the election id of a lease epoch some manager of the node held.
 * - no-duplicate-writes: no target ever refuses an update as ALREADY_EXISTS (6) or NOT_FOUND (5)
 *   — injected write failures are counted apart and are not duplicates.
 * - entries-from-intent: every pod address, VIP and endpoint the target holds belongs to the
 *   current intent (checked once the run is quiet).
 * - no-double-interface: no pool interface is held by two pods at once (the ADD replies, the
 *   agents' pool.json, the synthetic kernels' namespaces).
 * - no-lost-change: every acknowledged pod and every accepted service (with its endpoints) is in
 *   the leader's intent at the end, and nothing deleted is.
 *
 * Liveness:
 * - convergence: within 30 s after the faults stop, every node's pipeline passes the packet
 *   trace of its truth (every pod reaches every pod, every VIP exactly its endpoints).
 * - flows-survive: long-lived connections keep their endpoint unless it died (or the target
 *   restarted, which wipes them by definition).
 *
 * @example
 * const book = new InvariantBook();
 * book.violate('no-duplicate-writes', 12.3, 'node-1', 'ALREADY_EXISTS ×2');
 * book.results(); // [{ name: 'single-leader', kind: 'safety', ok: true, violations: [] }, …]
 */
export const INVARIANTS = [
  { name: 'single-leader', kind: 'safety' },
  { name: 'single-primary', kind: 'safety' },
  { name: 'no-duplicate-writes', kind: 'safety' },
  { name: 'entries-from-intent', kind: 'safety' },
  { name: 'no-double-interface', kind: 'safety' },
  { name: 'no-lost-change', kind: 'safety' },
  { name: 'convergence', kind: 'liveness' },
  { name: 'flows-survive', kind: 'liveness' },
] as const;

export type InvariantName = (typeof INVARIANTS)[number]['name'];

export interface Violation {
  readonly atS: number;
  readonly node?: string;
  readonly detail: string;
}

export interface InvariantResult {
  readonly name: string;
  readonly kind: 'safety' | 'liveness';
  readonly ok: boolean;
  readonly violations: readonly Violation[];
}

/** Violations kept per invariant (the count goes on). */
const KEEP = 50;

export class InvariantBook {
  private readonly violations = new Map<InvariantName, Violation[]>();
  private readonly counts = new Map<InvariantName, number>();
  private readonly seen = new Set<string>();

  /** Records a violation; the same (invariant, node, detail) is recorded once. */
  violate(name: InvariantName, atS: number, node: string | undefined, detail: string): void {
    const key = `${name}\u0000${node ?? ''}\u0000${detail}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    const list = this.violations.get(name) ?? [];
    if (list.length < KEEP) list.push({ atS, ...(node !== undefined ? { node } : {}), detail: detail.slice(0, 500) });
    this.violations.set(name, list);
  }

  /** Violations in all (every invariant). */
  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  count(name: InvariantName): number {
    return this.counts.get(name) ?? 0;
  }

  results(): InvariantResult[] {
    return INVARIANTS.map((i) => {
      const v = this.violations.get(i.name) ?? [];
      return { name: i.name, kind: i.kind, ok: v.length === 0, violations: v };
    });
  }
}
