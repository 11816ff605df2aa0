/**
 * The sync half of "record changes, then sync": one rate-limited loop that drains the change
 * tracker and writes each changed service port twice — first to the agent's own intent store
 * (so agent.sync answers with it), then to the manager (service.upsert / service.delete).
 *
 * - A sync waits `delayMs` of quiet after the last recorded change, but never more than
 *   `maxDelayMs` after the first: a burst becomes one request per port, a change and its revert
 *   none at all.
 * - One round at a time; changes recorded meanwhile wait for the next round.
 * - A failed write leaves its service pending; the next round comes after a back-off that
 *   doubles with each failing round. Errors that retrying cannot fix (the manager refused the
 *   request as invalid) are logged and not retried.
 * - `held` until the owner releases it: the first round must see the initial lists of every
 *   resource, or a service would go out without its endpoints and then again with them.
 *
 * @example
 * const s = new ServiceSyncer({ clock, logger, targets, delayMs: 100, maxDelayMs: 1000, backoff });
 * s.record('default/web', ports);
 * s.release(); // the first round runs after the delay
 */
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { err, toError, type Result } from '../../core/result.js';
import { BusError, type ErrorCode } from '../../messages/errors.js';
import { serviceKeyText, type ChangeReply, type ServiceKey, type ServicePort } from '../../protocol/intent.js';
import { ServiceChangeTracker, type ServiceChange } from './kube-changes.js';
import { backoffMs, type BackoffConfig } from './kube-source.js';

/** Where the agent keeps its own intent (its intent store). */
export interface IntentPort {
  services(): Promise<Result<readonly ServicePort[], BusError>>;
  upsert(service: ServicePort): Promise<Result<ChangeReply, BusError>>;
  delete(key: ServiceKey): Promise<Result<ChangeReply, BusError>>;
}

/** The node's manager, over the bus. */
export interface ManagerPort {
  upsert(service: ServicePort): Promise<Result<ChangeReply, BusError>>;
  delete(key: ServiceKey): Promise<Result<ChangeReply, BusError>>;
}

export interface SyncerOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intent: IntentPort;
  readonly manager: ManagerPort;
  readonly delayMs: number;
  readonly maxDelayMs: number;
  readonly backoff: BackoffConfig;
  /** Writes in flight at once. Default 32. */
  readonly concurrency?: number;
  /** Called after every round. */
  readonly onRound?: (r: RoundResult) => void;
  /** A round threw (a bug, since writes return Results): the owner fails and is restarted. */
  readonly onFatal: (error: Error) => void;
}

export interface RoundResult {
  readonly services: number;
  readonly upserts: number;
  readonly deletes: number;
  /** Writes the intent store refused (it is restarting). */
  readonly intentFailures: number;
  /** Writes the manager did not take (it is away or busy); they are retried. */
  readonly managerFailures: number;
  /** Whether the manager was written to in this round. */
  readonly pushed: boolean;
}

/** Errors that the same request will meet again: retrying cannot help. */
const PERMANENT: readonly ErrorCode[] = ['INVALID_ARGUMENT', 'MALFORMED', 'TOO_LARGE', 'PERMISSION_DENIED', 'UNIMPLEMENTED', 'CONFLICT'];

type Op = { readonly service: string; readonly upsert: ServicePort } | { readonly service: string; readonly delete: ServiceKey };

export class ServiceSyncer {
  readonly tracker = new ServiceChangeTracker();
  /** Whether rounds also write to the manager (not during a fresh agent's rebuild: the manager pulls it). */
  pushToManager = true;
  private held = true;
  private stopped = false;
  private running = false;
  private timer: TimerHandle | undefined;
  private firstPendingAt: number | undefined;
  private failedRounds = 0;
  private lastRoundAt = 0;
  /** Totals since start, for logs and tests. */
  readonly totals = { rounds: 0, upserts: 0, deletes: 0, failures: 0 };

  constructor(private readonly options: SyncerOptions) {}

  /** Records the desired ports of a service and schedules a round. */
  record(service: string, ports: readonly ServicePort[]): void {
    this.tracker.record(service, ports);
    if (this.tracker.pendingCount > 0) this.firstPendingAt ??= this.options.clock.now();
    this.schedule();
  }

  /** Lets rounds run (the initial lists are in). */
  release(): void {
    this.held = false;
    this.firstPendingAt ??= this.options.clock.now();
    this.schedule();
  }

  /** Sends every written port to the manager again on the next round (periodic full sync). */
  resync(): void {
    this.tracker.markAllForResync();
    this.firstPendingAt ??= this.options.clock.now();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.held || this.stopped || this.running) return;
    if (this.tracker.pendingCount === 0) {
      this.firstPendingAt = undefined;
      return;
    }
    const { clock, delayMs, maxDelayMs, backoff } = this.options;
    const now = clock.now();
    let due = Math.min(now + delayMs, (this.firstPendingAt ?? now) + maxDelayMs);
    if (this.failedRounds > 0) due = Math.max(due, this.lastRoundAt + backoffMs(backoff, this.failedRounds));
    if (this.timer) clock.clearTimeout(this.timer);
    this.timer = clock.setTimeout(() => void this.run(), Math.max(0, due - now));
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    this.running = true;
    this.firstPendingAt = undefined;
    let result: RoundResult;
    try {
      result = await this.round();
    } catch (e) {
      this.running = false;
      this.stop();
      this.options.onFatal(toError(e));
      return;
    }
    this.running = false;
    this.lastRoundAt = this.options.clock.now();
    const failed = result.intentFailures + result.managerFailures;
    this.failedRounds = failed > 0 ? this.failedRounds + 1 : 0;
    this.options.onRound?.(result);
    if (this.tracker.pendingCount > 0) this.firstPendingAt ??= this.lastRoundAt;
    this.schedule();
  }

  private async round(): Promise<RoundResult> {
    const started = this.options.clock.now();
    const changes = this.tracker.changes();
    const pushed = this.pushToManager;
    const failed = new Set<string>();
    let intentFailures = 0;
    let managerFailures = 0;
    const apply = async (op: Op): Promise<void> => {
      const outcome = await this.write(op, pushed);
      if (outcome === 'ok') return;
      failed.add(op.service);
      if (outcome === 'intent') intentFailures++;
      else managerFailures++;
    };
    // Deletes first: a ClusterIP:port freed by one service may be taken by another in this round.
    const deletes: Op[] = changes.flatMap((c) => c.deletes.map((k) => ({ service: c.service, delete: k })));
    const upserts: Op[] = changes.flatMap((c) => c.upserts.map((p) => ({ service: c.service, upsert: p })));
    await inParallel(deletes, this.options.concurrency ?? 32, apply);
    await inParallel(upserts, this.options.concurrency ?? 32, apply);
    for (const c of changes) {
      if (failed.has(c.service)) this.tracker.failed(c);
      else this.tracker.commit(c);
    }
    const result = { services: changes.length, upserts: upserts.length, deletes: deletes.length, intentFailures, managerFailures, pushed };
    this.account(result, changes, started);
    return result;
  }

  private account(r: RoundResult, changes: readonly ServiceChange[], started: number): void {
    this.totals.rounds++;
    this.totals.upserts += r.upserts;
    this.totals.deletes += r.deletes;
    this.totals.failures += r.intentFailures + r.managerFailures;
    if (changes.length === 0) return;
    const fields = { ...r, ms: this.options.clock.now() - started };
    if (r.intentFailures + r.managerFailures > 0) this.options.logger.warn(fields, 'service sync incomplete; retrying');
    else this.options.logger.info(fields, 'services synced');
  }

  /** One port, intent first then the manager: 'ok', or which side failed. */
  private async write(op: Op, pushed: boolean): Promise<'ok' | 'intent' | 'manager'> {
    const { intent, manager, logger } = this.options;
    const local = await settle('upsert' in op ? intent.upsert(op.upsert) : intent.delete(op.delete));
    if (!local.ok) {
      logger.debug({ service: op.service, err: local.error.message }, 'intent store refused a service change');
      return 'intent';
    }
    if (!pushed) return 'ok';
    const remote = await settle('upsert' in op ? manager.upsert(op.upsert) : manager.delete(op.delete));
    if (remote.ok) return 'ok';
    const key = serviceKeyText('upsert' in op ? op.upsert : op.delete);
    if (PERMANENT.includes(remote.error.code)) {
      logger.error({ service: op.service, port: key, code: remote.error.code, err: remote.error.message }, 'the manager refused a service change');
      return 'ok';
    }
    logger.debug({ service: op.service, port: key, code: remote.error.code, err: remote.error.message }, 'manager did not take a service change');
    return 'manager';
  }
}

/** A port call that rejects (it should not) counts as UNAVAILABLE rather than escaping the loop. */
async function settle<T>(p: Promise<Result<T, BusError>>): Promise<Result<T, BusError>> {
  try {
    return await p;
  } catch (e) {
    return err(new BusError('UNAVAILABLE', toError(e).message));
  }
}

/** Runs `f` over `items`, at most `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
