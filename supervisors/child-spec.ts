/**
 * Child specifications as plain data, after OTP's supervisor.erl: `id`, `start`, `restart`,
 * `shutdown`, `type`. Defaults are merged first, then every field is validated, and a bad spec
 * comes back as a typed error naming the field instead of an exception thrown somewhere inside a
 * restart, long after the wiring mistake was made.
 *
 * @example
 * const spec = validateChildSpec({ id: 'bus', start: (ctx) => createActor(busMachine, { clock: ctx.clock }) });
 * if (!spec.ok) throw spec.error; // ChildSpecError: field 'restart' …
 */
import type { AnyActor } from 'xstate';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import { err, ok, type Result } from '../core/result.js';
import type { Supervisor } from './supervisor.js';

export const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const;
/** permanent: always restarted; transient: only after an abnormal exit; temporary: never. */
export type RestartType = (typeof RESTART_TYPES)[number];

export const CHILD_TYPES = ['worker', 'supervisor'] as const;
export type ChildType = (typeof CHILD_TYPES)[number];

/** Milliseconds to wait for a graceful stop, `'brutal_kill'` to stop at once, `'infinity'` to wait forever. */
export type Shutdown = number | 'brutal_kill' | 'infinity';

/** What a child's `start` receives: the supervisor's injected dependencies, scoped to the child. */
export interface StartContext {
  /** The child's id (for dynamic children, the generated or given id). */
  readonly id: string;
  readonly clock: Clock;
  readonly random: Random;
  /** The supervisor's logger bound to `{ child: id }`. */
  readonly logger: Logger;
}

/**
 * What `start` returns: an xstate actor made with `createActor` and NOT yet started (the
 * supervisor subscribes first, so an error in an entry action is seen, then calls `start()`),
 * or a Supervisor (the parent calls its `start()`).
 */
export type Startable = AnyActor | Supervisor;

export type StartFunction = (ctx: StartContext, args?: unknown) => Startable | Promise<Startable>;

export interface ChildSpec {
  readonly id: string;
  readonly start: StartFunction;
  /** Default 'permanent'. */
  readonly restart?: RestartType;
  /** Default 5000 for workers, 'infinity' for supervisors. */
  readonly shutdown?: Shutdown;
  /** Default 'worker'. */
  readonly type?: ChildType;
  /**
   * Default false. When true, shutting the child down first sends it SHUTDOWN_EVENT and waits
   * (up to `shutdown`) for it to reach a final state before stopping it by force.
   */
  readonly trapShutdown?: boolean;
}

/** A spec with every default filled in; what the supervisor works with. */
export interface NormalizedChildSpec {
  readonly id: string;
  readonly start: StartFunction;
  readonly restart: RestartType;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
  readonly trapShutdown: boolean;
}

export type ChildSpecField = keyof ChildSpec | 'spec';

/** A child spec that cannot be used, naming the offending field. */
export class ChildSpecError extends Error {
  override readonly name = 'ChildSpecError';
  constructor(
    readonly field: ChildSpecField,
    message: string,
    /** Position in the supervisor's `children`, when validated as part of a list. */
    readonly index?: number,
  ) {
    super(message);
  }
}

export const DEFAULT_WORKER_SHUTDOWN_MS = 5000;

/**
 * Merges defaults into `input` and validates every field.
 *
 * @example
 * const r = validateChildSpec({ id: 'x', start, restart: 'sometimes' });
 * // r.ok === false, r.error.field === 'restart'
 */
export function validateChildSpec(input: unknown): Result<NormalizedChildSpec, ChildSpecError> {
  if (typeof input !== 'object' || input === null) {
    return err(new ChildSpecError('spec', 'child spec must be an object'));
  }
  const raw = input as Partial<Record<keyof ChildSpec, unknown>>;
  const type = raw.type ?? 'worker';
  const merged = {
    id: raw.id,
    start: raw.start,
    restart: raw.restart ?? 'permanent',
    type,
    shutdown: raw.shutdown ?? (type === 'supervisor' ? 'infinity' : DEFAULT_WORKER_SHUTDOWN_MS),
    trapShutdown: raw.trapShutdown ?? false,
  };
  const problem = firstProblem(merged);
  if (problem) return err(problem);
  return ok(merged as NormalizedChildSpec);
}

function firstProblem(spec: Record<keyof ChildSpec, unknown>): ChildSpecError | undefined {
  const { id, start, restart, type, shutdown, trapShutdown } = spec;
  if (typeof id !== 'string' || id.length === 0) {
    return new ChildSpecError('id', 'id must be a non-empty string');
  }
  const named = (field: ChildSpecField, what: string): ChildSpecError =>
    new ChildSpecError(field, `child '${id}': ${what}`);
  if (typeof start !== 'function') return named('start', 'start must be a function');
  if (!isOneOf(RESTART_TYPES, restart)) {
    return named('restart', `restart must be one of ${RESTART_TYPES.join(', ')}, got ${String(restart)}`);
  }
  if (!isOneOf(CHILD_TYPES, type)) return named('type', `type must be one of ${CHILD_TYPES.join(', ')}, got ${String(type)}`);
  const shutdownOk =
    shutdown === 'brutal_kill' ||
    shutdown === 'infinity' ||
    (typeof shutdown === 'number' && Number.isFinite(shutdown) && shutdown >= 0);
  if (!shutdownOk) {
    return named('shutdown', `shutdown must be a non-negative number of ms, 'brutal_kill' or 'infinity', got ${String(shutdown)}`);
  }
  if (typeof trapShutdown !== 'boolean') return named('trapShutdown', 'trapShutdown must be a boolean');
  return undefined;
}

/**
 * Validates a list of specs and rejects duplicate ids; the error carries the index.
 *
 * @example
 * const r = validateChildSpecs([{ id: 'a', start }, { id: 'a', start }]);
 * // r.ok === false, r.error.field === 'id', r.error.index === 1
 */
export function validateChildSpecs(inputs: readonly unknown[]): Result<NormalizedChildSpec[], ChildSpecError> {
  const seen = new Set<string>();
  const out: NormalizedChildSpec[] = [];
  for (const [index, input] of inputs.entries()) {
    const r = validateChildSpec(input);
    if (!r.ok) return err(new ChildSpecError(r.error.field, r.error.message, index));
    if (seen.has(r.value.id)) {
      return err(new ChildSpecError('id', `duplicate child id '${r.value.id}'`, index));
    }
    seen.add(r.value.id);
    out.push(r.value);
  }
  return ok(out);
}

function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value);
}
