/**
 * The manager's own metrics beside the session's: leadership (whether this manager leads, and
 * the lease epoch — the P4Runtime election id) and the network programming latency histogram,
 * whose tracker lives with each leader subtree.
 *
 * @example
 * const metrics = new ManagerMetrics(registry, loadP4Info());
 * metrics.lease({ leading: true, epoch: 7 });
 * const tracker = metrics.tracker(); // one per leader subtree
 */
import { Gauge, type Histogram, type Registry } from 'prom-client';
import type { P4Info } from '../../p4/p4info.js';
import { programmingHistogram, ProgrammingTracker } from './programming.js';
import { monotonicMs, PREFIX, type Stopwatch } from './registry.js';
import { SessionMetrics } from './session-metrics.js';

export class ManagerMetrics {
  readonly session: SessionMetrics;
  private readonly programming: Histogram<'object'>;
  private readonly leader: Gauge;
  private readonly epoch: Gauge;

  constructor(
    registry: Registry,
    info: P4Info,
    readonly now: Stopwatch = monotonicMs,
  ) {
    this.session = new SessionMetrics(registry, info);
    this.programming = programmingHistogram(registry);
    this.leader = new Gauge({
      name: `${PREFIX}leader`,
      help: '1 while this manager holds its node\'s leadership lease (programs the device and serves the node\'s subjects), 0 while it stands by.',
      registers: [registry],
    });
    this.epoch = new Gauge({
      name: `${PREFIX}leader_epoch`,
      help: 'The leadership lease\'s epoch as this manager last saw it: on the leader its own (the P4Runtime election id it arbitrates with), on a standby the current holder\'s. It grows with every new holder.',
      registers: [registry],
    });
    this.leader.set(0);
    this.epoch.set(0);
  }

  /** What the lease keeper saw on its last check. */
  lease(status: { readonly leading: boolean; readonly epoch: number; readonly highestEpoch?: number }): void {
    this.leader.set(status.leading ? 1 : 0);
    this.epoch.set(status.leading ? status.epoch : Math.max(status.epoch, status.highestEpoch ?? 0));
  }

  /** A fresh programming tracker (one per leader subtree: its revisions start with it). */
  tracker(): ProgrammingTracker {
    return new ProgrammingTracker(this.programming, this.now);
  }
}
