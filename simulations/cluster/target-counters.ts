/**
 * no-duplicate-writes, from the targets' own counters (TargetAdmin.Stats): an update refused as
 * ALREADY_EXISTS (6) or NOT_FOUND (5) means the manager wrote something twice or deleted
 * something that was not there — its shadow of the device was wrong. Injected write failures
 * (RESOURCE_EXHAUSTED, UNAVAILABLE from SetFaults) are counted by the target apart and are not
 * looked at. Counters start at zero with every target process, so they are read often (and
 * right before a planned kill) and a violation is recorded as soon as one moves.
 *
 * @example
 * const counters = new TargetCounterCheck({ nodes: cluster.nodes, book, log });
 * await counters.sample();
 */
import type { EventLog } from './event-log.js';
import type { InvariantBook } from './invariants.js';
import type { SimNode } from './sim-node.js';

const WATCHED: Readonly<Record<string, string>> = { '5': 'NOT_FOUND', '6': 'ALREADY_EXISTS' };

export interface CounterDeps {
  readonly nodes: readonly SimNode[];
  readonly book: InvariantBook;
  readonly log: EventLog;
}

export class TargetCounterCheck {
  /** Highest count seen per node and code in the current target process (by pid). */
  private readonly seen = new Map<string, { pid: number | undefined; counts: Record<string, number> }>();

  constructor(private readonly d: CounterDeps) {}

  async sample(): Promise<void> {
    await Promise.all(this.d.nodes.map((n) => this.sampleNode(n)));
  }

  private async sampleNode(n: SimNode): Promise<void> {
    if (!n.target.running) return;
    const pid = n.target.pid;
    let stats: Record<string, unknown>;
    try {
      stats = await withTimeout(n.admin.stats(), 2000);
    } catch {
      return; // restarting or stalled: read next time
    }
    const failed = (stats.failedByCode ?? {}) as Record<string, number>;
    const last = this.seen.get(n.name);
    const before = last && last.pid === pid ? last.counts : {};
    for (const [code, name] of Object.entries(WATCHED)) {
      const now = Number(failed[code] ?? 0);
      const was = Number(before[code] ?? 0);
      if (now > was) this.d.book.violate('no-duplicate-writes', this.d.log.seconds(), n.name, `${now - was} update(s) refused with ${name} at the target (pid ${pid ?? '?'})`);
    }
    this.seen.set(n.name, { pid, counts: Object.fromEntries(Object.keys(WATCHED).map((c) => [c, Number(failed[c] ?? 0)])) });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
