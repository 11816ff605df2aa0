/**
 * One incarnation of a child: the actor or supervisor that `start` returned, how it ended, and how
 * to shut it down. A restart makes a new ChildRun; exits from an old one are recognised as stale
 * by identity, which is what makes late exit notifications harmless.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { toError } from '../core/result.js';
import type { NormalizedChildSpec, Shutdown } from './child-spec.js';
import { InvalidStartableError, MaxRestartIntensityError, StartFailedError } from './errors.js';
import type { ExitKind, SupervisorEventListener } from './events.js';
import type { ChildInfo, Strategy } from './inspect.js';

/**
 * Sent to a child with `trapShutdown: true` before it is stopped. Handle it by cleaning up and
 * reaching a final state; the supervisor stops the actor by force when `shutdown` ms elapse.
 *
 * @example
 * createMachine({
 *   initial: 'serving',
 *   states: {
 *     serving: { on: { [SHUTDOWN_EVENT.type]: 'draining' } },
 *     draining: { invoke: { src: 'flushAndClose', onDone: 'closed', onError: 'closed' } },
 *     closed: { type: 'final' },
 *   },
 * });
 */
export const SHUTDOWN_EVENT = { type: 'supervisor.shutdown' } as const;
export type ShutdownEvent = typeof SHUTDOWN_EVENT;

export interface ChildExit {
  readonly kind: ExitKind;
  readonly error?: Error;
}

/** The parts of an xstate Actor the supervisor relies on. */
interface ActorLike {
  subscribe(observer: { error?: (error: unknown) => void; complete?: () => void }): { unsubscribe(): void };
  start(): unknown;
  stop(): unknown;
  send(event: { type: string }): void;
  getSnapshot(): unknown;
}

/** The parts of a Supervisor its parent relies on (declared here so this file needs no class import). */
export interface SupervisorLike {
  readonly id: string;
  start(): Promise<{ ok: true } | { ok: false; reason: string; childId?: string; error?: Error }>;
  stop(): Promise<unknown>;
  onEvent(listener: SupervisorEventListener): () => void;
  /** Tree observers (SupervisorOptions.observer): this supervisor's events and its descendants'. */
  observe?(listener: SupervisorEventListener): () => void;
  inspect(): { strategy: Strategy; children: ChildInfo[] };
}

/** Marks Supervisor instances without an import cycle or a fragile `instanceof`. */
export const SUPERVISOR_BRAND: unique symbol = Symbol.for('infra-offload.supervisor');

export function isSupervisor(value: unknown): value is SupervisorLike {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SUPERVISOR_BRAND] === true;
}

function isActorLike(value: unknown): value is ActorLike {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['subscribe', 'start', 'stop', 'send', 'getSnapshot'].every((m) => typeof v[m] === 'function');
}

type Target = { readonly kind: 'actor'; readonly actor: ActorLike } | { readonly kind: 'supervisor'; readonly sup: SupervisorLike };

export interface RunHooks {
  /** Called once, synchronously, from inside xstate's notification; must only record and schedule. */
  onExit(run: ChildRun, exit: ChildExit): void;
  /** A bug in onExit; reported instead of letting it reach xstate (which would rethrow it on a timer). */
  onInternalError(error: unknown): void;
}

export type RunStart = { readonly ok: true } | { readonly ok: false; readonly error: Error };
export interface RunShutdown {
  readonly exit: ChildExit;
  /** The graceful wait ran out and the child was stopped by force (or, for a supervisor, left stopping). */
  readonly timedOut: boolean;
}

export class ChildRun {
  private exitValue: ChildExit | undefined;
  private readonly exitWaiters = new Set<() => void>();
  private detachFn: () => void = () => undefined;
  /** Tree observers handed to a supervisor child, with their undos (see Supervisor.observe). */
  private readonly observations = new Map<SupervisorEventListener, () => void>();

  private constructor(
    private readonly target: Target,
    private readonly hooks: RunHooks,
  ) {}

  /** Wraps what `start` returned, or explains why it cannot be run. */
  static of(childId: string, value: unknown, hooks: RunHooks): ChildRun | InvalidStartableError {
    if (isSupervisor(value)) return new ChildRun({ kind: 'supervisor', sup: value }, hooks);
    if (isActorLike(value)) return new ChildRun({ kind: 'actor', actor: value }, hooks);
    return new InvalidStartableError(childId);
  }

  get exit(): ChildExit | undefined {
    return this.exitValue;
  }

  get isSupervisor(): boolean {
    return this.target.kind === 'supervisor';
  }

  /** Passes a tree observer on to a supervisor child (a no-op for an actor) until detached. */
  observe(listener: SupervisorEventListener): void {
    if (this.target.kind !== 'supervisor' || typeof this.target.sup.observe !== 'function' || this.observations.has(listener)) return;
    this.observations.set(listener, this.target.sup.observe(listener));
  }

  unobserve(listener: SupervisorEventListener): void {
    this.observations.get(listener)?.();
    this.observations.delete(listener);
  }

  async start(): Promise<RunStart> {
    return this.target.kind === 'actor' ? this.startActor(this.target.actor) : this.startSupervisor(this.target.sup);
  }

  /** Stops the child per its spec; always ends with an exit recorded and the run detached. */
  async shutdown(spec: NormalizedChildSpec, clock: Clock): Promise<RunShutdown> {
    const timedOut =
      this.target.kind === 'actor'
        ? await this.shutdownActor(this.target.actor, spec, clock)
        : await this.shutdownSupervisor(this.target.sup, spec.shutdown, clock);
    // Logic that never completes (or a supervisor left stopping) still counts as gone.
    if (!this.exitValue) this.exited({ kind: 'shutdown' });
    this.detach();
    return { exit: this.exitValue ?? { kind: 'shutdown' }, timedOut };
  }

  detach(): void {
    this.detachFn();
    this.detachFn = () => undefined;
    for (const undo of this.observations.values()) undo();
    this.observations.clear();
  }

  /** `snapshot.value` of a machine (undefined for other logic and for supervisors). */
  stateValue(): unknown {
    if (this.target.kind !== 'actor') return undefined;
    const snapshot = this.target.actor.getSnapshot() as { value?: unknown } | undefined;
    return snapshot?.value;
  }

  /** A supervisor child's own strategy and children (undefined for an actor). */
  nested(): { strategy: Strategy; children: ChildInfo[] } | undefined {
    if (this.target.kind !== 'supervisor') return undefined;
    const tree = this.target.sup.inspect();
    return { strategy: tree.strategy, children: tree.children };
  }

  private startActor(actor: ActorLike): RunStart {
    // Subscribe first: xstate reports an entry-action error synchronously inside start(), and an
    // error that finds no `error` observer is rethrown on a timer, which kills the process.
    try {
      const subscription = actor.subscribe({
        error: (error) => {
          stopOrphans(actor);
          this.exited({ kind: 'error', error: toError(error) });
        },
        complete: () => this.exited({ kind: statusOf(actor) === 'done' ? 'normal' : 'shutdown' }),
      });
      this.detachFn = () => subscription.unsubscribe();
      actor.start();
    } catch (error) {
      this.forceStop(actor);
      return { ok: false, error: toError(error) };
    }
    if (this.exitValue?.kind === 'error') return { ok: false, error: this.exitValue.error ?? new Error('error') };
    if (statusOf(actor) === 'error') {
      return { ok: false, error: toError((actor.getSnapshot() as { error?: unknown }).error) };
    }
    return { ok: true };
  }

  private async startSupervisor(sup: SupervisorLike): Promise<RunStart> {
    this.detachFn = sup.onEvent((event) => {
      if (event.supervisor !== sup.id) return;
      if (event.type === 'escalated') {
        this.exited({ kind: 'error', error: new MaxRestartIntensityError(event.report) });
      } else if (event.type === 'stopped') {
        this.exited({ kind: 'shutdown' });
      }
    });
    let outcome: Awaited<ReturnType<SupervisorLike['start']>>;
    try {
      outcome = await sup.start();
    } catch (error) {
      return { ok: false, error: toError(error) };
    }
    if (!outcome.ok) {
      const cause = outcome.error ?? new Error(outcome.reason);
      return { ok: false, error: new StartFailedError(sup.id, outcome.childId ?? '', { cause }) };
    }
    if (this.exitValue?.kind === 'error') return { ok: false, error: this.exitValue.error ?? new Error('error') };
    return { ok: true };
  }

  /** Returns whether the graceful wait timed out. */
  private async shutdownActor(actor: ActorLike, spec: NormalizedChildSpec, clock: Clock): Promise<boolean> {
    let timedOut = false;
    if (!this.exitValue && spec.trapShutdown && spec.shutdown !== 'brutal_kill') {
      try {
        actor.send(SHUTDOWN_EVENT);
      } catch {
        // Nothing to wait for if the event cannot even be delivered; fall through to the forced stop.
      }
      timedOut = !(await this.waitForExit(spec.shutdown, clock).done);
    }
    // Always stop: after a final state it is a no-op; otherwise it forces the actor down, which
    // stops its invoked children and runs fromCallback cleanups, releasing what they hold.
    this.forceStop(actor);
    return timedOut;
  }

  private async shutdownSupervisor(sup: SupervisorLike, shutdown: Shutdown, clock: Clock): Promise<boolean> {
    const stopped = sup.stop().then(
      () => true,
      () => true,
    );
    // A supervisor cannot be killed faster than its own stop: brutal_kill only means "don't wait".
    if (shutdown === 'brutal_kill' || this.exitValue) return false;
    const wait = this.waitForExit(shutdown, clock);
    const done = await Promise.race([stopped, wait.done]);
    wait.cancel();
    return !done;
  }

  private forceStop(actor: ActorLike): void {
    try {
      actor.stop();
    } catch (error) {
      // e.g. an actor that has a parent cannot be stopped directly; record it as a failed exit.
      if (!this.exitValue) this.exited({ kind: 'error', error: toError(error) });
    }
  }

  /** Resolves true on exit, false when `limit` ms pass first ('infinity' never times out). */
  private waitForExit(limit: Shutdown, clock: Clock): { done: Promise<boolean>; cancel: () => void } {
    if (this.exitValue) return { done: Promise.resolve(true), cancel: () => undefined };
    let timer: TimerHandle | undefined;
    let finish: (exited: boolean) => void = () => undefined;
    const done = new Promise<boolean>((resolve) => {
      const onExit = (): void => finish(true);
      finish = (exited) => {
        this.exitWaiters.delete(onExit);
        if (timer !== undefined) clock.clearTimeout(timer);
        resolve(exited);
      };
      this.exitWaiters.add(onExit);
      if (typeof limit === 'number') timer = clock.setTimeout(() => finish(false), limit);
    });
    return { done, cancel: () => finish(true) };
  }

  private exited(exit: ChildExit): void {
    if (this.exitValue) return;
    this.exitValue = exit;
    for (const waiter of [...this.exitWaiters]) waiter();
    try {
      this.hooks.onExit(this, exit);
    } catch (error) {
      this.hooks.onInternalError(error);
    }
  }
}

/**
 * xstate 5.33 leaves the invoked and spawned children of a machine that errored running (see the
 * TODO in its Actor._stopProcedure), so their cleanups (closing sockets, releasing TAPs) would
 * never run. Stop them through the internal `_stop`, since the public `stop()` refuses non-root
 * actors; each child's own stop transition then stops its children in turn.
 */
function stopOrphans(actor: ActorLike): void {
  const children = (actor.getSnapshot() as { children?: Record<string, unknown> } | undefined)?.children;
  for (const child of Object.values(children ?? {})) {
    const stop = (child as { _stop?: unknown } | null)?._stop;
    if (typeof stop !== 'function') continue;
    try {
      stop.call(child);
    } catch {
      // Best effort: a child that cannot be stopped must not turn one crash into two.
    }
  }
}

function statusOf(actor: ActorLike): string | undefined {
  return (actor.getSnapshot() as { status?: string } | undefined)?.status;
}
