/**
 * The simulator's typed errors: a bad option (named by the option), a cluster that would not
 * start, or a step of the run that failed for a reason of the simulator's own (not a finding
 * about the system under test: those are invariant violations).
 *
 * @example
 * return err(new SimError('BAD_OPTION', 'nodes', '--nodes: 1–16'));
 */
export type SimErrorCode = 'BAD_OPTION' | 'START_FAILED' | 'RUN_FAILED';

export class SimError extends Error {
  override readonly name = 'SimError';
  constructor(
    readonly code: SimErrorCode,
    /** The option or part the error is about ('' when none). */
    readonly field: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
