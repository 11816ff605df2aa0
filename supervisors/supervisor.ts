/**
 * An OTP-style supervisor for xstate v5 actors (and for other supervisors). It starts children in
 * order, watches every one for an exit, restarts per restart type and strategy with backoff, gives
 * up past the restart intensity (escalating to its parent or to `onEscalate`), and stops children
 * in reverse order.
 *
 * Every state change runs as one operation on an internal queue, like the single mailbox of an
 * OTP supervisor process; exit notifications from xstate only record and enqueue. That is what
 * keeps restarts, stops and public calls from interleaving halfway.
 *
 * @example
 * const sup = new Supervisor({
 *   id: 'node', strategy: 'rest_for_one', clock, random, logger,
 *   children: [
 *     { id: 'bus', start: (ctx) => createActor(busMachine, { clock: ctx.clock }) },
 *     { id: 'p4', start: (ctx) => createActor(p4Machine, { input: { clock: ctx.clock } }), trapShutdown: true },
 *   ],
 * });
 * const started = await sup.start();
 * if (!started.ok) console.error(started.reason, started.childId);
 */
import { err, ok, toError, type Result } from '../core/result.js';
import { backoffDelay, RestartWindow } from './backoff.js';
import type { ChildSpec, ChildSpecError, NormalizedChildSpec, StartContext } from './child-spec.js';
import { ChildRun, SUPERVISOR_BRAND, type ChildExit, type RunStart, type SupervisorLike } from './child-run.js';
import { ChildTable, type ChildRecord, type ChildSummary, type RestartPlan } from './child-table.js';
import { errorInfo } from './errors.js';
import { EventHub, type SupervisorEvent, type SupervisorEventListener } from './events.js';
import type { Strategy, SupervisorStatus, SupervisorTree } from './inspect.js';
import { normalizeOptions, type NormalizedOptions, type SupervisorOptions, type SupervisorOptionsError } from './options.js';
import type * as O from './outcomes.js';
import { buildReport, logReport, type ReportContext, type SupervisorReport } from './report.js';
import { restartScope, shouldRestart } from './strategy.js';

export type { ChildSummary } from './child-table.js';

/** An event as the supervisor emits it, before it stamps its id and the time. */
type Emitted = SupervisorEvent extends infer E ? (E extends SupervisorEvent ? Omit<E, 'supervisor' | 'at'> : never) : never;

export class Supervisor implements SupervisorLike {
  readonly [SUPERVISOR_BRAND] = true;
  readonly id: string;
  readonly strategy: Strategy;
  private readonly opts: NormalizedOptions;
  private readonly hub: EventHub;
  private readonly intensityWindow: RestartWindow;
  private readonly table: ChildTable;
  private statusValue: SupervisorStatus = 'idle';
  private restartCount = 0;
  private queueTail: Promise<unknown> = Promise.resolve();
  private stopping: Promise<O.StopOutcome> | undefined;
  private terminating: Promise<void> | undefined;
  /** Tree observers (SupervisorOptions.observer, observe()). */
  private readonly observers = new Set<SupervisorEventListener>();

  /**
   * Throws SupervisorOptionsError or ChildSpecError (naming the field) on invalid options: a
   * wiring mistake found at construction. Use `Supervisor.create` to get them as a Result.
   */
  constructor(options: SupervisorOptions) {
    const normalized = normalizeOptions(options);
    if (!normalized.ok) throw normalized.error;
    this.opts = normalized.value;
    this.id = this.opts.id;
    this.strategy = this.opts.strategy;
    this.intensityWindow = new RestartWindow(this.opts.period);
    this.table = new ChildTable(this.opts.period, this.opts.clock);
    this.hub = new EventHub((error) => this.internalError(error, 'supervisor event listener threw'));
    if (this.opts.observer) this.observe(this.opts.observer);
  }

  /**
   * @example
   * const made = Supervisor.create({ id: 'root', strategy: 'one_for_one', children: [] });
   * if (!made.ok) console.error(made.error.field, made.error.message);
   */
  static create(options: SupervisorOptions): Result<Supervisor, SupervisorOptionsError | ChildSpecError> {
    const normalized = normalizeOptions(options);
    return normalized.ok ? ok(new Supervisor(options)) : err(normalized.error);
  }

  get status(): SupervisorStatus {
    return this.statusValue;
  }

  /** Subscribes to child_started / child_exited / child_restarted / child_stopped / escalated / stopped. */
  onEvent(listener: SupervisorEventListener): () => void {
    return this.hub.onEvent(listener);
  }

  /**
   * Adds a tree observer: told of this supervisor's events and, from now on, of those of every
   * supervisor below it (running ones at once, later ones before they start). Events of one
   * supervisor reach it in order; a throwing observer is reported, never propagated. The same
   * function added twice is one observer, and only the call that added it undoes it.
   *
   * @example
   * const off = root.observe((e) => { if (e.type === 'child_restarted') restarts.inc({ child: e.childId }); });
   */
  observe(listener: SupervisorEventListener): () => void {
    // Already observing (its own option, or an earlier call): this call adds nothing, undoes nothing.
    if (this.observers.has(listener)) return () => undefined;
    this.observers.add(listener);
    for (const record of this.table.records) record.run?.observe(listener);
    return () => {
      if (!this.observers.delete(listener)) return;
      for (const record of this.table.records) record.run?.unobserve(listener);
    };
  }

  /**
   * Starts the static children in order, awaiting async starts. If one fails (throws, rejects,
   * or is in 'error' right after start), those already started are stopped in reverse order.
   * Can be called again after stop() or a failure: the static children start afresh.
   */
  start(): Promise<O.StartOutcome> {
    if (this.statusValue === 'starting' || this.statusValue === 'running') return done({ ok: false, reason: 'running' });
    if (this.statusValue === 'stopping') return done({ ok: false, reason: 'shutting_down' });
    this.reset();
    this.statusValue = 'starting';
    return this.serialize(() => this.startAll());
  }

  /** Stops every child in reverse start order, cancelling pending restarts. Idempotent. */
  stop(): Promise<O.StopOutcome> {
    if (this.stopping) return this.stopping;
    if (this.terminating) return this.terminating.then(() => ({ ok: true }));
    if (this.statusValue === 'idle' || this.statusValue === 'stopped' || this.statusValue === 'failed') {
      return done({ ok: true });
    }
    this.statusValue = 'stopping';
    this.table.cancelPlans();
    this.stopping = this.serialize(async () => {
      await this.shutdownAll();
      this.statusValue = 'stopped';
      this.emit({ type: 'stopped' });
      return { ok: true } as const;
    }).finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  /**
   * simple_one_for_one: starts a child from the template with `args` (id defaults to
   * `${template.id}-${n}`). Other strategies: validates `spec` and appends it as a dynamic child.
   *
   * @example
   * await pods.startChild({ podId: 'p1' }, 'pod-p1'); // { ok: true, childId: 'pod-p1' }
   * await pods.startChild({ podId: 'p1' }, 'pod-p1'); // { ok: false, reason: 'already_present', … }
   */
  startChild(spec: ChildSpec): Promise<O.StartChildOutcome>;
  startChild(args: unknown, id?: string): Promise<O.StartChildOutcome>;
  startChild(specOrArgs: unknown, id?: string): Promise<O.StartChildOutcome> {
    if (this.statusValue === 'stopping') return done({ ok: false, reason: 'shutting_down' });
    return this.serialize(async (): Promise<O.StartChildOutcome> => {
      const refused = this.refusal();
      if (refused) return refused;
      const made =
        this.strategy === 'simple_one_for_one'
          ? this.table.fromTemplate(this.opts.children[0] as NormalizedChildSpec, specOrArgs, id)
          : this.table.fromSpec(specOrArgs);
      if (!made.ok) return made.error;
      const record = made.value;
      this.table.append(record);
      const started = await this.startRecord(record);
      if (started.ok) return { ok: true, childId: record.spec.id };
      this.table.remove(record);
      this.report('error', 'start_error', record, started.error);
      return { ok: false, reason: 'start_failed', childId: record.spec.id, error: started.error };
    });
  }

  /** Stops a child; its spec is kept (a dynamic simple_one_for_one or temporary child is removed). */
  terminateChild(id: string): Promise<O.TerminateChildOutcome> {
    return this.childOp(id, async (record) => {
      await this.shutdownRecord(record);
      if (this.strategy === 'simple_one_for_one' || record.spec.restart === 'temporary') this.table.remove(record);
      return { ok: true, childId: id };
    });
  }

  /** Starts a stopped child again (not counted as a restart). */
  restartChild(id: string): Promise<O.RestartChildOutcome> {
    return this.childOp(id, async (record): Promise<O.RestartChildOutcome> => {
      if (record.status !== 'stopped') return { ok: false, reason: 'running', childId: id };
      const started = await this.startRecord(record);
      if (started.ok) return { ok: true, childId: id };
      this.report('error', 'start_error', record, started.error);
      return { ok: false, reason: 'start_failed', childId: id, error: started.error };
    });
  }

  /** Removes the spec of a stopped child. */
  deleteChild(id: string): Promise<O.DeleteChildOutcome> {
    return this.childOp(id, async (record): Promise<O.DeleteChildOutcome> => {
      if (record.status !== 'stopped') return { ok: false, reason: 'running', childId: id };
      this.table.remove(record);
      return { ok: true, childId: id };
    });
  }

  /** id, type, restart, status and dynamic flag of every child, in start order. */
  whichChildren(): ChildSummary[] {
    return this.table.summaries();
  }

  /** A plain, serialisable snapshot of this supervisor and, recursively, its child supervisors. */
  inspect(): SupervisorTree {
    return {
      id: this.id,
      kind: 'supervisor',
      strategy: this.strategy,
      status: this.statusValue,
      restarts: this.restartCount,
      children: this.table.infos(),
    };
  }

  // ---- starting ----

  private reset(): void {
    this.intensityWindow.clear();
    this.restartCount = 0;
    this.table.reset(this.strategy === 'simple_one_for_one' ? [] : this.opts.children);
  }

  private async startAll(): Promise<O.StartOutcome> {
    const started: ChildRecord[] = [];
    for (const record of this.table.records) {
      if (this.statusValue !== 'starting') break;
      const result = await this.startRecord(record);
      if (!result.ok) {
        this.report('error', 'start_error', record, result.error);
        await this.stopEach([...started].reverse());
        if (this.statusValue === 'starting') this.statusValue = 'failed';
        return { ok: false, reason: 'start_failed', childId: record.spec.id, error: result.error };
      }
      started.push(record);
    }
    if (this.statusValue !== 'starting') {
      // stop() arrived mid-start: undo what started; the queued stop finds nothing running.
      await this.stopEach([...started].reverse());
      return { ok: false, reason: 'shutting_down' };
    }
    this.statusValue = 'running';
    return { ok: true };
  }

  private async startRecord(record: ChildRecord): Promise<RunStart> {
    const id = record.spec.id;
    record.status = 'starting';
    const ctx: StartContext = {
      id,
      clock: this.opts.clock,
      random: this.opts.random,
      logger: this.opts.logger.child({ supervisor: this.id, child: id }),
    };
    const result = await this.launch(record, ctx);
    if (!result.ok) {
      record.run?.detach();
      record.run = undefined;
      record.status = 'stopped';
      record.lastError = { ...errorInfo(result.error), at: this.opts.clock.now() };
      return result;
    }
    record.status = 'running';
    this.emit({ type: 'child_started', childId: id });
    // A child can finish during its own start (a machine whose initial state is final): handle
    // that exit after this operation, like any other.
    const run = record.run;
    if (run?.exit) this.enqueueExit(record, run, run.exit);
    return result;
  }

  private async launch(record: ChildRecord, ctx: StartContext): Promise<RunStart> {
    let value: unknown;
    try {
      value = await record.spec.start(ctx, record.args);
    } catch (error) {
      return { ok: false, error: toError(error) };
    }
    const run = ChildRun.of(record.spec.id, value, {
      onExit: (r, exit) => this.onRunExit(record, r, exit),
      onInternalError: (error) => this.internalError(error, 'exit handler threw'),
    });
    if (run instanceof Error) return { ok: false, error: run };
    record.run = run;
    // Observed before it starts, so its start-up events are seen too.
    for (const listener of this.observers) run.observe(listener);
    return run.start();
  }

  // ---- exits and restarts ----

  /** Called synchronously from xstate: only decide whether the exit is ours to handle, then enqueue. */
  private onRunExit(record: ChildRecord, run: ChildRun, exit: ChildExit): void {
    // 'starting': the start path reads run.exit itself; 'stopping': we caused it.
    if (record.run !== run || record.status !== 'running') return;
    this.enqueueExit(record, run, exit);
  }

  private enqueueExit(record: ChildRecord, run: ChildRun, exit: ChildExit): void {
    this.serialize(async () => {
      if (this.statusValue !== 'running' || record.run !== run) return;
      record.run = undefined;
      run.detach();
      await this.afterExit(record, exit, 'child_terminated');
    }).catch((error: unknown) => this.internalError(error, 'exit handling failed'));
  }

  private async afterExit(record: ChildRecord, exit: ChildExit, context: 'child_terminated' | 'start_error'): Promise<void> {
    const now = this.opts.clock.now();
    if (exit.error) record.lastError = { ...errorInfo(exit.error), at: now };
    const willRestart = shouldRestart(record.spec.restart, exit.kind);
    if (context === 'child_terminated' && exit.kind === 'error') {
      this.report('error', 'child_terminated', record, exit.error);
    } else if (context === 'child_terminated') {
      this.opts.logger.info({ supervisor: this.id, child: record.spec.id, exit: exit.kind, willRestart }, 'child exited');
    }
    this.emit({
      type: 'child_exited',
      childId: record.spec.id,
      exit: exit.kind,
      ...(exit.error ? { error: errorInfo(exit.error) } : {}),
      willRestart,
    });
    if (!willRestart) {
      this.retire(record);
      return;
    }
    if (this.intensityWindow.record(now) > this.opts.intensity) {
      await this.escalate(record, exit);
      return;
    }
    this.restartCount++;
    await this.planRestart(record, record.recent.record(now));
  }

  /** A child that is not coming back: temporary and simple_one_for_one children are forgotten. */
  private retire(record: ChildRecord): void {
    if (record.spec.restart === 'temporary' || this.strategy === 'simple_one_for_one') this.table.remove(record);
    else record.status = 'stopped';
  }

  private async planRestart(failed: ChildRecord, k: number): Promise<void> {
    failed.status = 'restarting';
    const scope = restartScope(this.strategy, this.table.records, failed);
    const siblings = scope.filter((r) => r !== failed && (r.run !== undefined || r.plan !== undefined));
    // Exits we cause here are not failures: shutdownRecord marks them 'stopping' first.
    await this.stopEach([...siblings].reverse());
    if (this.statusValue !== 'running') return;
    for (const sibling of siblings) if (sibling.spec.restart === 'temporary') this.table.remove(sibling);
    const plan = this.table.plan(scope.filter((r) => (r === failed || siblings.includes(r)) && this.table.has(r)));
    const delay = backoffDelay(this.opts.backoff, k, this.opts.random);
    if (delay === 0) {
      await this.runPlan(plan);
      return;
    }
    this.table.arm(plan, delay, () => {
      this.serialize(() => this.runPlan(plan)).catch((error: unknown) => this.internalError(error, 'restart failed'));
    });
  }

  private async runPlan(plan: RestartPlan): Promise<void> {
    for (const record of [...plan.records]) {
      if (this.statusValue !== 'running') return;
      if (record.plan !== plan) continue;
      record.plan = undefined;
      const started = await this.startRecord(record);
      if (started.ok) {
        record.restarts++;
        this.emit({ type: 'child_restarted', childId: record.spec.id, restarts: record.restarts });
        continue;
      }
      // A failed restart is another failure of that child: it counts toward the intensity, and
      // the new plan (per strategy) takes over the rest of this one.
      this.report('error', 'start_error', record, started.error);
      await this.afterExit(record, { kind: 'error', error: started.error }, 'start_error');
      return;
    }
  }

  private async escalate(offender: ChildRecord, exit: ChildExit): Promise<void> {
    const report = this.report('error', 'reached_max_restart_intensity', offender, exit.error, 'reached_max_restart_intensity');
    this.statusValue = 'stopping';
    this.table.cancelPlans();
    this.terminating = this.shutdownAll().then(() => {
      this.statusValue = 'failed';
    });
    await this.terminating;
    this.terminating = undefined;
    this.emit({ type: 'escalated', report });
    try {
      this.opts.onEscalate?.(report);
    } catch (error) {
      this.internalError(error, 'onEscalate threw');
    }
  }

  // ---- stopping ----

  private async shutdownAll(): Promise<void> {
    const reversed = [...this.table.records].reverse();
    if (this.strategy === 'simple_one_for_one') {
      // Dynamic children are independent of each other: stop them together, as OTP does.
      await Promise.all(reversed.map((r) => this.shutdownRecord(r)));
    } else {
      await this.stopEach(reversed);
    }
    for (const record of this.table.records) record.status = 'stopped';
  }

  private async stopEach(records: readonly ChildRecord[]): Promise<void> {
    for (const record of records) await this.shutdownRecord(record);
  }

  private async shutdownRecord(record: ChildRecord): Promise<void> {
    this.table.leavePlan(record);
    const run = record.run;
    if (!run) {
      record.status = 'stopped';
      return;
    }
    record.status = 'stopping';
    const { exit, timedOut } = await run.shutdown(record.spec, this.opts.clock);
    record.run = undefined;
    record.status = 'stopped';
    if (timedOut) {
      this.report('warn', 'shutdown_error', record, undefined, 'killed');
    } else if (exit.kind === 'error' && exit.error) {
      record.lastError = { ...errorInfo(exit.error), at: this.opts.clock.now() };
      this.report('warn', 'shutdown_error', record, exit.error);
    }
    this.emit({ type: 'child_stopped', childId: record.spec.id });
  }

  // ---- bookkeeping ----

  private refusal(): O.Failure<'shutting_down' | 'not_running'> | undefined {
    if (this.statusValue === 'stopping') return { ok: false, reason: 'shutting_down' };
    if (this.statusValue !== 'running') return { ok: false, reason: 'not_running' };
    return undefined;
  }

  /** Queue an operation on one existing child, with the usual refusals. */
  private childOp<T>(
    id: string,
    op: (record: ChildRecord) => Promise<T>,
  ): Promise<T | O.Failure<'not_found' | 'shutting_down' | 'not_running'>> {
    if (this.statusValue === 'stopping') return done({ ok: false, reason: 'shutting_down', childId: id });
    return this.serialize(async () => {
      const refused = this.refusal();
      if (refused) return { ...refused, childId: id };
      const record = this.table.find(id);
      if (!record) return { ok: false, reason: 'not_found', childId: id } as const;
      return op(record);
    });
  }

  /** Runs `op` after every operation queued before it; a failed op does not block the next. */
  private serialize<T>(op: () => Promise<T>): Promise<T> {
    const result = this.queueTail.then(op);
    this.queueTail = result.catch(() => undefined);
    return result;
  }

  private emit(event: Emitted): void {
    const stamped = { ...event, supervisor: this.id, at: this.opts.clock.now() } as SupervisorEvent;
    this.hub.emit(stamped);
    for (const listener of this.observers) {
      try {
        listener(stamped);
      } catch (error) {
        this.internalError(error, 'supervisor observer threw');
      }
    }
  }

  private report(level: 'error' | 'warn', context: ReportContext, record: ChildRecord, error?: Error, reason?: string): SupervisorReport {
    const report = buildReport(this.id, context, record.spec, error, reason);
    logReport(this.opts.logger, level, report, error);
    return report;
  }

  private internalError(error: unknown, message: string): void {
    this.opts.logger.error({ supervisor: this.id, err: toError(error) }, message);
  }
}

function done<T>(value: T): Promise<T> {
  return Promise.resolve(value);
}
