/**
 * Runs a supervision tree as a process: start it, stop it on SIGTERM/SIGINT and exit 0, exit 1
 * when it escalates or fails to start, and as a last resort turn an uncaught exception or an
 * unhandled rejection into a fatal report and exit 1. Everything that ends the process goes
 * through the injectable `exit`, so tests check the code without ending the test run.
 *
 * @example
 * // bin/node.ts
 * const logs = createLogs(config.logging, 'node');
 * await runRoot(buildTree(logs), { logger: logs.for('supervisor') });
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { toError } from '../core/result.js';
import { errorInfo } from './errors.js';
import type { SupervisorEvent } from './events.js';
import type { StartOutcome } from './outcomes.js';
import type { Supervisor } from './supervisor.js';

export interface RootOptions {
  readonly logger: Logger;
  /** Default `process.exit`. Called at most once. */
  readonly exit?: (code: number) => void;
  /** Install SIGTERM/SIGINT handlers. Default true. */
  readonly signals?: boolean;
  /** Install uncaughtException/unhandledRejection handlers. Default true. */
  readonly catchUncaught?: boolean;
  /** Give up on a graceful stop after this long and exit 1. Default 30 000; 'infinity' waits. */
  readonly stopTimeoutMs?: number | 'infinity';
  /** Clock for the stop timeout. Default the system clock. */
  readonly clock?: Clock;
}

export type FatalKind = 'uncaughtException' | 'unhandledRejection';

export interface RootHandle {
  /** What `supervisor.start()` returned; on failure exit(1) has already been called. */
  readonly started: StartOutcome;
  /** What a SIGTERM/SIGINT does: stop the tree, then exit(0). A second signal exits 1 at once. */
  handleSignal(signal: NodeJS.Signals): Promise<void>;
  /** What an uncaught exception / unhandled rejection does: fatal report, exit(1). */
  handleFatal(kind: FatalKind, thrown: unknown): void;
  /** Removes the process listeners (for tests and embedders). */
  dispose(): void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Starts `supervisor` and wires process-level handling around it.
 *
 * @example
 * const codes: number[] = [];
 * const root = await runRoot(sup, { logger, exit: (c) => codes.push(c), signals: false });
 * await root.handleSignal('SIGTERM'); // codes → [0]
 */
export async function runRoot(supervisor: Supervisor, options: RootOptions): Promise<RootHandle> {
  const root = new RootRunner(supervisor, options);
  root.install(options);
  const started = await supervisor.start();
  if (!started.ok) root.startFailed(started);
  return {
    started,
    handleSignal: (signal) => root.handleSignal(signal),
    handleFatal: (kind, thrown) => root.handleFatal(kind, thrown),
    dispose: () => root.dispose(),
  };
}

/** The process-level state of one running tree: which handlers are installed, whether it is ending. */
class RootRunner {
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly stopTimeout: number | 'infinity';
  private readonly exitFn: (code: number) => void;
  private readonly disposers: (() => void)[] = [];
  private exited = false;
  private signalled = false;

  constructor(
    private readonly supervisor: Supervisor,
    options: RootOptions,
  ) {
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.stopTimeout = options.stopTimeoutMs ?? 30_000;
    this.exitFn = options.exit ?? ((code: number) => process.exit(code));
  }

  install(options: RootOptions): void {
    this.disposers.push(this.supervisor.onEvent((event) => this.onTreeEvent(event)));
    if (options.signals ?? true) {
      for (const signal of SIGNALS) this.disposers.push(listen(signal, () => void this.handleSignal(signal)));
    }
    if (options.catchUncaught ?? true) {
      this.disposers.push(listen('uncaughtException', (e) => this.handleFatal('uncaughtException', e)));
      this.disposers.push(listen('unhandledRejection', (e) => this.handleFatal('unhandledRejection', e)));
    }
  }

  dispose(): void {
    for (const d of this.disposers.splice(0)) d();
  }

  async handleSignal(signal: NodeJS.Signals): Promise<void> {
    if (this.exited) return;
    const id = this.supervisor.id;
    if (this.signalled) {
      this.logger.fatal({ supervisor: id, signal }, 'second signal during shutdown, exiting now');
      this.finish(1);
      return;
    }
    this.signalled = true;
    this.logger.info({ supervisor: id, signal }, 'stopping supervision tree');
    const stoppedInTime = await stopWithin(this.supervisor, this.stopTimeout, this.clock);
    if (!stoppedInTime) this.logger.fatal({ supervisor: id, stopTimeoutMs: this.stopTimeout }, 'stop timed out');
    this.finish(stoppedInTime ? 0 : 1);
  }

  handleFatal(kind: FatalKind, thrown: unknown): void {
    const error = toError(thrown);
    this.logger.fatal(
      { supervisor: this.supervisor.id, context: kind, reason: error.message, error: errorInfo(error), err: error },
      'uncaught failure outside the supervision tree',
    );
    this.finish(1);
  }

  startFailed(started: Exclude<StartOutcome, { ok: true }>): void {
    this.logger.fatal(
      {
        supervisor: this.supervisor.id,
        context: 'start_error',
        reason: started.error?.message ?? started.reason,
        ...(started.childId !== undefined ? { offender: { id: started.childId } } : {}),
        ...(started.error ? { error: errorInfo(started.error), err: started.error } : {}),
      },
      'supervision tree failed to start',
    );
    this.finish(1);
  }

  private onTreeEvent(event: SupervisorEvent): void {
    if (event.type === 'escalated') {
      this.logger.fatal({ ...event.report }, 'supervision tree gave up');
      this.finish(1);
    } else if (event.type === 'stopped' && !this.signalled) {
      // Someone stopped the tree from inside the process: nothing is left to run.
      this.logger.info({ supervisor: this.supervisor.id }, 'supervision tree stopped');
      this.finish(0);
    }
  }

  private finish(code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.dispose();
    this.exitFn(code);
  }
}

function listen(event: string, handler: (arg: unknown) => void): () => void {
  process.on(event, handler);
  return () => {
    process.off(event, handler);
  };
}

async function stopWithin(supervisor: Supervisor, limit: number | 'infinity', clock: Clock): Promise<boolean> {
  const stopped = supervisor.stop().then(() => true);
  if (limit === 'infinity') return stopped;
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), limit);
  });
  const result = await Promise.race([stopped, timedOut]);
  if (timer !== undefined) clock.clearTimeout(timer);
  return result;
}
