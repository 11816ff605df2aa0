/**
 * Supervisor flags (`strategy`, `intensity`, `period`, backoff) as plain data: defaults merged,
 * every field validated, errors naming the field.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { createLogs } from '../core/logger.js';
import { systemRandom, type Random } from '../core/random.js';
import { err, ok, type Result } from '../core/result.js';
import { DEFAULT_BACKOFF, type BackoffOptions, type NormalizedBackoff } from './backoff.js';
import { ChildSpecError, validateChildSpecs, type ChildSpec, type NormalizedChildSpec } from './child-spec.js';
import type { SupervisorEventListener } from './events.js';
import type { SupervisorReport } from './report.js';
import { STRATEGIES, type Strategy } from './inspect.js';

export interface SupervisorOptions {
  readonly id: string;
  readonly strategy: Strategy;
  /** Restarts allowed within `period` before giving up. Default 3. */
  readonly intensity?: number;
  /** Milliseconds, on the injected clock. Default 5000. */
  readonly period?: number;
  readonly backoff?: BackoffOptions;
  /** Static children, started in order; exactly one template for simple_one_for_one. */
  readonly children: readonly ChildSpec[];
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  /** Called when this supervisor gives up (reached_max_restart_intensity); meant for the root. */
  readonly onEscalate?: (report: SupervisorReport) => void;
  /**
   * Told of every event of this supervisor and of every supervisor below it (a child supervisor
   * is observed before it starts, through `Supervisor.observe`), each event naming the supervisor
   * that emitted it: one hook on the root sees the whole tree (metrics, tracing). Give it to the
   * root only; a nested supervisor given the same function sees each event once all the same.
   */
  readonly observer?: SupervisorEventListener;
}

export interface NormalizedOptions {
  readonly id: string;
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  readonly backoff: NormalizedBackoff;
  readonly children: readonly NormalizedChildSpec[];
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly onEscalate: ((report: SupervisorReport) => void) | undefined;
  readonly observer: SupervisorEventListener | undefined;
}

export type SupervisorOptionsField =
  | 'id'
  | 'strategy'
  | 'intensity'
  | 'period'
  | 'backoff.initialMs'
  | 'backoff.maxMs'
  | 'backoff.jitter'
  | 'children'
  | 'observer';

export class SupervisorOptionsError extends Error {
  override readonly name = 'SupervisorOptionsError';
  constructor(
    readonly field: SupervisorOptionsField,
    message: string,
  ) {
    super(message);
  }
}

let fallbackLogger: Logger | undefined;
/** Reports must go somewhere even when the caller wired no logger. */
function defaultLogger(): Logger {
  fallbackLogger ??= createLogs({ level: 'info' }, 'supervisor').for('supervisor');
  return fallbackLogger;
}

const nonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * @example
 * const r = normalizeOptions({ id: 'root', strategy: 'one_for_one', children: [], intensity: -1 });
 * // r.ok === false, r.error.field === 'intensity'
 */
export function normalizeOptions(
  options: SupervisorOptions,
): Result<NormalizedOptions, SupervisorOptionsError | ChildSpecError> {
  const { id, strategy } = options;
  const fail = (field: SupervisorOptionsField, message: string) => err(new SupervisorOptionsError(field, message));
  if (typeof id !== 'string' || id.length === 0) return fail('id', 'id must be a non-empty string');
  if (!(STRATEGIES as readonly string[]).includes(strategy)) {
    return fail('strategy', `strategy must be one of ${STRATEGIES.join(', ')}, got ${String(strategy)}`);
  }
  const intensity = options.intensity ?? 3;
  if (!Number.isInteger(intensity) || intensity < 0) return fail('intensity', 'intensity must be an integer ≥ 0');
  const period = options.period ?? 5000;
  if (!nonNegative(period) || period === 0) return fail('period', 'period must be a positive number of ms');
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  if (!nonNegative(backoff.initialMs)) return fail('backoff.initialMs', 'backoff.initialMs must be ≥ 0');
  if (!nonNegative(backoff.maxMs)) return fail('backoff.maxMs', 'backoff.maxMs must be ≥ 0');
  if (!nonNegative(backoff.jitter) || backoff.jitter > 1) return fail('backoff.jitter', 'backoff.jitter must be in [0, 1]');
  if (!Array.isArray(options.children)) return fail('children', 'children must be an array');
  if (options.observer !== undefined && typeof options.observer !== 'function') return fail('observer', 'observer must be a function');
  if (strategy === 'simple_one_for_one' && options.children.length !== 1) {
    return fail('children', 'simple_one_for_one needs exactly one template child spec');
  }
  const children = validateChildSpecs(options.children);
  if (!children.ok) return children;
  return ok({
    id,
    strategy,
    intensity,
    period,
    backoff,
    children: children.value,
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    logger: options.logger ?? defaultLogger(),
    onEscalate: options.onEscalate,
    observer: options.observer,
  });
}
