/**
 * Public entry point of the supervision runtime: OTP supervisors for xstate v5 actors.
 *
 * @example
 * import { Supervisor, runRoot, SHUTDOWN_EVENT } from '../supervisors/index.js';
 */
export {
  CHILD_TYPES,
  ChildSpecError,
  DEFAULT_WORKER_SHUTDOWN_MS,
  RESTART_TYPES,
  validateChildSpec,
  validateChildSpecs,
  type ChildSpec,
  type ChildSpecField,
  type ChildType,
  type NormalizedChildSpec,
  type RestartType,
  type Shutdown,
  type Startable,
  type StartContext,
  type StartFunction,
} from './child-spec.js';
export { SHUTDOWN_EVENT, type ShutdownEvent } from './child-run.js';
export { backoffDelay, DEFAULT_BACKOFF, RestartWindow, type BackoffOptions, type NormalizedBackoff } from './backoff.js';
export { InvalidStartableError, MaxRestartIntensityError, StartFailedError, type ErrorInfo } from './errors.js';
export {
  waitForEvent,
  type EventOf,
  type EventSource,
  type ExitKind,
  type SupervisorEvent,
  type SupervisorEventListener,
  type SupervisorEventType,
} from './events.js';
export {
  STRATEGIES,
  type ChildInfo,
  type ChildStatus,
  type LastError,
  type Strategy,
  type SupervisorStatus,
  type SupervisorTree,
} from './inspect.js';
export { normalizeOptions, SupervisorOptionsError, type SupervisorOptions, type SupervisorOptionsField } from './options.js';
export type * from './outcomes.js';
export { logReport, REPORT_CONTEXTS, type ReportContext, type ReportOffender, type SupervisorReport } from './report.js';
export { runRoot, type FatalKind, type RootHandle, type RootOptions } from './root.js';
export { restartScope, shouldRestart } from './strategy.js';
export { Supervisor, type ChildSummary } from './supervisor.js';
