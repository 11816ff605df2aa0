/**
 * What the public calls of a Supervisor return. Expected failures are values with a specific
 * reason (OTP's already_present, not_found, running…), so a caller switches on `reason` instead
 * of catching.
 */
export type FailureReason =
  | 'not_found'
  | 'already_present'
  | 'running'
  | 'start_failed'
  | 'shutting_down'
  | 'not_running'
  | 'invalid_spec';

export interface Failure<R extends FailureReason> {
  readonly ok: false;
  readonly reason: R;
  readonly childId?: string;
  readonly error?: Error;
}

export interface ChildOk {
  readonly ok: true;
  readonly childId: string;
}

/** A failed start names the child that failed and why; the others were rolled back. */
export interface StartFailed extends Failure<'start_failed'> {
  readonly childId: string;
  readonly error: Error;
}

/** `running`: start() called twice; `shutting_down`: stop() was called while starting. */
export type StartOutcome = { readonly ok: true } | Failure<'running' | 'shutting_down'> | StartFailed;
export type StopOutcome = { readonly ok: true };
export type StartChildOutcome =
  | ChildOk
  | Failure<'already_present' | 'shutting_down' | 'not_running' | 'invalid_spec'>
  | StartFailed;
export type TerminateChildOutcome = ChildOk | Failure<'not_found' | 'shutting_down' | 'not_running'>;
/** `running`: the child is not stopped (running, starting, restarting or stopping). */
export type RestartChildOutcome = ChildOk | Failure<'not_found' | 'running' | 'shutting_down' | 'not_running'> | StartFailed;
export type DeleteChildOutcome = ChildOk | Failure<'not_found' | 'running' | 'shutting_down' | 'not_running'>;
