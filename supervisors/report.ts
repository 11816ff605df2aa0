/**
 * Structured supervisor reports, after OTP's supervisor_report: which supervisor, in which
 * context, for what reason, and which child was the offender. The same plain object is logged
 * and handed to `onEscalate`, so a log reader and a caller see identical facts.
 */
import type { Logger } from 'pino';
import type { ChildType, RestartType } from './child-spec.js';
import { errorInfo, type ErrorInfo } from './errors.js';

export const REPORT_CONTEXTS = ['child_terminated', 'start_error', 'shutdown_error', 'reached_max_restart_intensity'] as const;
export type ReportContext = (typeof REPORT_CONTEXTS)[number];

export interface ReportOffender {
  readonly id: string;
  readonly restart: RestartType;
  readonly type: ChildType;
}

export interface SupervisorReport {
  readonly supervisor: string;
  readonly context: ReportContext;
  /** 'normal', 'shutdown', 'killed', 'reached_max_restart_intensity' or the error's message. */
  readonly reason: string;
  readonly offender: ReportOffender;
  readonly error?: ErrorInfo;
}

const MESSAGES: Record<ReportContext, string> = {
  child_terminated: 'supervisor child terminated',
  start_error: 'supervisor child failed to start',
  shutdown_error: 'supervisor child did not shut down cleanly',
  reached_max_restart_intensity: 'supervisor reached max restart intensity',
};

/**
 * Logs `report` at `level`, with the original error (and its stack) when there is one.
 *
 * @example
 * logReport(logger, 'error', { supervisor: 'root', context: 'child_terminated', reason: 'boom',
 *   offender: { id: 'bus', restart: 'permanent', type: 'worker' } });
 */
export function logReport(logger: Logger, level: 'fatal' | 'error' | 'warn', report: SupervisorReport, cause?: Error): void {
  // Top-level fields, so log queries can filter on context/offender without unwrapping; the
  // Error itself goes under pino's `err` so the log keeps the stack the report leaves out.
  logger[level]({ ...report, ...(cause ? { err: cause } : {}) }, MESSAGES[report.context]);
}

/**
 * @example
 * buildReport('root', 'start_error', { id: 'bus', restart: 'permanent', type: 'worker' }, new Error('no server'));
 * // { supervisor: 'root', context: 'start_error', reason: 'no server', offender: {…}, error: { name: 'Error', … } }
 */
export function buildReport(
  supervisor: string,
  context: ReportContext,
  offender: ReportOffender,
  error?: Error,
  reason?: string,
): SupervisorReport {
  return {
    supervisor,
    context,
    reason: reason ?? error?.message ?? 'normal',
    offender: { id: offender.id, restart: offender.restart, type: offender.type },
    ...(error ? { error: errorInfo(error) } : {}),
  };
}
