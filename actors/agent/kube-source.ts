/**
 * One watched resource (Nodes, Services or EndpointSlices) kept alive: an informer that lists,
 * then watches, and — because @kubernetes/client-node's informer gives up on any error other
 * than 410 — is started again after a back-off on the injected clock. The informer object is
 * kept across restarts, so its cache (the last known state) and its resourceVersion survive an
 * outage: after one it re-watches from where it was, and relists only if the server says 410.
 *
 *   starting ──listed──▶ watching ──error──▶ backoff ──delay──▶ starting
 *                          ▲                                    (delay doubles, up to maxMs;
 *                          └──────── a watch that opened resets it)
 *
 * @example
 * const src = new KubeSource({ name: 'services', clock, logger, backoff, open: servicesInformer, handlers });
 * src.start();
 * await src.synced; // the initial list has been applied
 */
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { toError } from '../../core/result.js';

/** What the informer's transport reports to its source. */
export interface InformerHooks {
  /** The informer applied a list (or still holds one) and is about to watch. */
  listed(): void;
  /** A watch request was answered with 200: the API server is reachable again. */
  watching(): void;
}

/** The part of @kubernetes/client-node's Informer that a source uses. */
export interface InformerLike<T> {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export type OpenInformer<T> = (hooks: InformerHooks) => InformerLike<T>;

export interface SourceHandlers<T> {
  add(obj: T): void;
  update(obj: T): void;
  delete(obj: T): void;
}

export interface BackoffConfig {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface KubeSourceOptions<T> {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffConfig;
  readonly open: OpenInformer<T>;
  readonly handlers: SourceHandlers<T>;
  /** A handler threw (a bug): the owner fails, and its supervisor starts it afresh. */
  readonly onHandlerError: (error: Error) => void;
}

export type SourceState = 'idle' | 'starting' | 'watching' | 'backoff' | 'stopped';

/** The delay before restart number `attempt` (1-based): initialMs doubling, capped at maxMs. */
export function backoffMs(b: BackoffConfig, attempt: number): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
}

export class KubeSource<T> {
  private informer: InformerLike<T> | undefined;
  private timer: TimerHandle | undefined;
  private attempts = 0;
  private resolveSynced!: () => void;
  private stateValue: SourceState = 'idle';
  /** Resolves once the first list has been applied. */
  readonly synced: Promise<void>;
  isSynced = false;
  /** Informer restarts after errors, since start. */
  restarts = 0;
  lastError: Error | undefined;

  constructor(private readonly options: KubeSourceOptions<T>) {
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  get state(): SourceState {
    return this.stateValue;
  }

  start(): void {
    if (this.informer) return;
    const { handlers } = this.options;
    const informer = this.options.open({ listed: () => this.onListed(), watching: () => this.onWatching() });
    informer.on('add', (o) => this.guard(() => handlers.add(o)));
    informer.on('update', (o) => this.guard(() => handlers.update(o)));
    informer.on('delete', (o) => this.guard(() => handlers.delete(o)));
    informer.on('error', (e) => this.onError(e));
    this.informer = informer;
    this.run();
  }

  async stop(): Promise<void> {
    this.stateValue = 'stopped';
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.informer?.stop().catch(() => undefined);
  }

  private run(): void {
    if (this.stateValue === 'stopped' || !this.informer) return;
    this.stateValue = 'starting';
    this.informer.start().catch((e: unknown) => this.onError(e));
  }

  private onListed(): void {
    if (this.isSynced) return;
    this.isSynced = true;
    this.options.logger.debug({ source: this.options.name }, 'initial list applied');
    this.resolveSynced();
  }

  private onWatching(): void {
    if (this.stateValue === 'stopped') return;
    if (this.attempts > 0) this.options.logger.info({ source: this.options.name, after: this.attempts }, 'watching again');
    this.attempts = 0;
    this.stateValue = 'watching';
  }

  private onError(e: unknown): void {
    // One failure can surface twice (a rejected start and an error callback): one restart.
    if (this.stateValue === 'stopped' || this.timer !== undefined) return;
    const error = toError(e ?? new Error('informer error'));
    this.lastError = error;
    this.attempts++;
    const delay = backoffMs(this.options.backoff, this.attempts);
    const level = this.attempts === 1 ? 'warn' : 'debug';
    this.options.logger[level]({ source: this.options.name, err: error.message, attempt: this.attempts, delayMs: delay }, 'watch failed; restarting the informer');
    this.stateValue = 'backoff';
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.restarts++;
      this.run();
    }, delay);
  }

  /** A throwing handler must not break the informer's stream from inside; its owner decides. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.options.onHandlerError(toError(e));
    }
  }
}
