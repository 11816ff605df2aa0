/**
 * The failures a supervisor hands out, one small class each (name + cause), and the plain
 * `ErrorInfo` form used wherever an error must stay serialisable (reports, inspect trees, events).
 */
import type { SupervisorReport } from './report.js';

/** A plain, JSON-safe description of an error. */
export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
}

export function errorInfo(error: Error): ErrorInfo {
  return { name: error.name, message: error.message };
}

/**
 * The exit reason of a supervisor that gave up: more than `intensity` restarts within `period`.
 * A parent supervisor sees it as its child's abnormal exit.
 */
export class MaxRestartIntensityError extends Error {
  override readonly name = 'MaxRestartIntensityError';
  constructor(readonly report: SupervisorReport, options?: { cause?: unknown }) {
    super('reached_max_restart_intensity', options);
  }
}

/** A child Supervisor whose own start failed: carries which of its children failed, and why. */
export class StartFailedError extends Error {
  override readonly name = 'StartFailedError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
    options?: { cause?: unknown },
  ) {
    super(`supervisor '${supervisor}' failed to start child '${childId}'`, options);
  }
}

/** `start` returned something the supervisor cannot run. */
export class InvalidStartableError extends TypeError {
  override readonly name = 'InvalidStartableError';
  constructor(childId: string) {
    super(`start() of child '${childId}' returned neither an xstate actor nor a Supervisor`);
  }
}
