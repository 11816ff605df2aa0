/**
 * single-leader and single-primary, watched while the run goes:
 *
 * - every lease record written to KV (kv-state.ts LeaseWatch): an epoch names one holder, and a
 *   new holder's epoch is higher than every epoch seen before for the node;
 * - every leadership claim in the managers' logs: no two manager processes claim the same epoch;
 * - every arbitration notice an observer stream gets from each node's target (a stream with no
 *   election id: it never becomes primary, it is only told): the primary's election id must be an
 *   epoch some manager of the node held (by the lease or its own claim). Checked at the end, when
 *   every record and claim is in.
 *
 * A "KV state lost" fault that purges a node's lease key starts that node's epoch history over:
 * the managers may legitimately count again from where they stand.
 *
 * @example
 * const leadership = new LeadershipCheck({ cluster, book, log });
 * leadership.start();
 * // … the run …
 * await leadership.finish();
 */
import type { LeaseRecord } from '../../actors/manager/lease.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import type { P4RuntimeLink, P4RuntimeLinkStream } from '../../p4/runtime-link.js';
import type { SimCluster } from './cluster.js';
import type { EventLog } from './event-log.js';
import type { InvariantBook } from './invariants.js';
import { LeaseWatch } from './kv-state.js';
import type { LeaderClaim, ProcessLogs } from './process-logs.js';

const ALREADY_EXISTS = 6;

interface NodeHistory {
  /** epoch → holder, since the last loss of the lease key. */
  holders: Map<number, string>;
  maxEpoch: number;
  lastHolder: string | undefined;
  /** Every epoch ever held (by record or claim), across losses: a primary must have one of these. */
  readonly everHeld: Set<number>;
  /** epoch → the manager process that claimed it. */
  claimed: Map<number, string>;
  readonly primaries: { readonly atS: number; readonly electionId: number }[];
}

/** Something watched until stopped. */
export interface Watching {
  stop(): void | Promise<void>;
}

/** Where the check hears leadership from: lease records, the managers' claims, the targets' arbitration. */
export interface LeadershipSources {
  readonly nodes: readonly { readonly name: string }[];
  /** The processes' parsed log lines (the managers' "leader:"/"standby:" claims). */
  readonly logs: ProcessLogs;
  /** Every lease record written, per node (undefined: the key was deleted or unreadable). */
  watchLeases(onRecord: (node: string, record: LeaseRecord | undefined) => void): Watching;
  /** Every change of the node's primary (its election id), heard by a stream that never bids. */
  observePrimary(node: string, onPrimary: (electionId: number) => void): Watching;
}

export interface LeadershipDeps {
  readonly sources: LeadershipSources;
  readonly book: InvariantBook;
  readonly log: EventLog;
}

/** Process mode: a KV watch over NATS, and an observer stream over P4Runtime on each target. */
export function processLeadershipSources(cluster: SimCluster): LeadershipSources {
  return {
    nodes: cluster.nodes,
    logs: cluster.logs,
    watchLeases: (onRecord) => new LeaseWatch(cluster.bus, cluster.nodes.map((n) => n.name), onRecord),
    observePrimary: (node, onPrimary) => {
      const client = new P4RuntimeClient(cluster.node(node)!.targetAddress, undefined, { callMs: 3000 });
      return new PrimaryObserver(() => client, onPrimary, systemClock, () => client.close());
    },
  };
}

export class LeadershipCheck {
  private readonly history = new Map<string, NodeHistory>();
  private watch: Watching | undefined;
  private readonly observers: Watching[] = [];
  private unlisten: (() => void) | undefined;
  private claimsSeen = 0;

  constructor(private readonly d: LeadershipDeps) {
    for (const n of d.sources.nodes) {
      this.history.set(n.name, { holders: new Map(), maxEpoch: 0, lastHolder: undefined, everHeld: new Set(), claimed: new Map(), primaries: [] });
    }
  }

  start(): void {
    const src = this.d.sources;
    this.watch = src.watchLeases((node, record) => this.onRecord(node, record));
    this.unlisten = src.logs.listen(() => this.readClaims());
    for (const n of src.nodes) this.observers.push(src.observePrimary(n.name, (electionId) => this.onPrimary(n.name, electionId)));
  }

  /** The node's lease key was purged (a KV-loss fault): its epochs may start over. */
  leaseLost(node: string): void {
    const h = this.history.get(node);
    if (!h) return;
    h.holders = new Map();
    h.claimed = new Map();
    h.maxEpoch = 0;
    h.lastHolder = undefined;
  }

  private onRecord(node: string, record: LeaseRecord | undefined): void {
    const h = this.history.get(node);
    if (!h || !record) return;
    const at = this.d.log.seconds();
    h.everHeld.add(record.epoch);
    const owner = h.holders.get(record.epoch);
    if (owner !== undefined && owner !== record.holder) {
      this.d.book.violate('single-leader', at, node, `lease epoch ${record.epoch} held by two managers (${owner.slice(0, 8)}…, ${record.holder.slice(0, 8)}…)`);
    }
    if (record.holder !== h.lastHolder && h.lastHolder !== undefined && record.epoch <= h.maxEpoch) {
      this.d.book.violate('single-leader', at, node, `new lease holder ${record.holder.slice(0, 8)}… with epoch ${record.epoch}, not above ${h.maxEpoch}`);
    }
    h.holders.set(record.epoch, record.holder);
    h.maxEpoch = Math.max(h.maxEpoch, record.epoch);
    h.lastHolder = record.holder;
  }

  private readClaims(): void {
    const claims = this.d.sources.logs.claims;
    for (; this.claimsSeen < claims.length; this.claimsSeen++) this.onClaim(claims[this.claimsSeen]!);
  }

  private onClaim(c: LeaderClaim): void {
    const h = this.history.get(c.node);
    if (!h) return;
    this.d.log.write('claim', { process: c.process, leading: c.leading, epoch: c.epoch });
    if (!c.leading) return;
    h.everHeld.add(c.epoch);
    const other = h.claimed.get(c.epoch);
    if (other !== undefined && other !== c.process) {
      this.d.book.violate('single-leader', this.d.log.seconds(c.atMs), c.node, `${other} and ${c.process} both claimed leadership with epoch ${c.epoch}`);
    }
    h.claimed.set(c.epoch, c.process);
  }

  private onPrimary(node: string, electionId: number): void {
    const h = this.history.get(node);
    if (!h) return;
    const last = h.primaries[h.primaries.length - 1];
    if (last?.electionId === electionId) return;
    h.primaries.push({ atS: this.d.log.seconds(), electionId });
    this.d.log.write('primary', { node, electionId });
  }

  /** Stops watching and judges the primaries seen. */
  async finish(): Promise<void> {
    this.readClaims();
    this.unlisten?.();
    await this.watch?.stop();
    for (const o of this.observers) await o.stop();
    for (const [node, h] of this.history) {
      for (const p of h.primaries) {
        if (!h.everHeld.has(p.electionId)) this.d.book.violate('single-primary', p.atS, node, `the device's primary has election id ${p.electionId}, which no manager of the node held as its lease epoch`);
      }
    }
  }

  /** Epochs seen per node (for the event log). */
  summary(): Record<string, { epochs: number; primaries: number }> {
    return Object.fromEntries([...this.history].map(([n, h]) => [n, { epochs: h.everHeld.size, primaries: h.primaries.length }]));
  }
}

/**
 * A read-only arbitration stream on a node's target (no election id: it never bids), opened again
 * on `link()` whenever it ends (target restarts).
 */
export class PrimaryObserver {
  private stopped = false;
  private stream: P4RuntimeLinkStream | undefined;

  constructor(
    private readonly link: () => P4RuntimeLink,
    private readonly onPrimary: (electionId: number) => void,
    private readonly clock: Clock = systemClock,
    private readonly onStop?: () => void,
  ) {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const s = this.link().openStream();
        this.stream = s;
        s.send({ arbitration: { device_id: 1 } });
        while (!this.stopped && s.ended === undefined) {
          const m = await s.next(1000);
          const arb = m?.arbitration as { status?: { code?: number }; election_id?: { high?: unknown; low?: unknown } } | undefined;
          if (arb?.status?.code === ALREADY_EXISTS && arb.election_id) this.onPrimary(Number(arb.election_id.low ?? 0) + Number(arb.election_id.high ?? 0) * 2 ** 64);
        }
        s.close();
      } catch {
        // the target is restarting
      }
      if (!this.stopped) await this.clock.sleep(200);
    }
  }

  stop(): void {
    this.stopped = true;
    this.stream?.close();
    this.onStop?.();
  }
}
