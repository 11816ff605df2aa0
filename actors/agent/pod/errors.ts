/**
 * Pod plumbing's failures. Every expected failure is a `PlumbError` returned inside a Result; its
 * `step` names what failed (`validate` = the inputs were refused and nothing was touched), its
 * `cause` holds the underlying `IpCommandError` when a command failed.
 *
 * @example
 * const r = await plumbPod(execIp, spec);
 * if (!r.ok && r.error instanceof PlumbError) console.error(r.error.step, r.error.message);
 */

/** The steps of plumbing, unplumbing, checking and gateway/host set-up, in rough order. */
export type PlumbStep =
  | 'validate'
  | 'inspect'
  | 'netns'
  | 'move'
  | 'down'
  | 'flush'
  | 'rename'
  | 'mtu'
  | 'up'
  | 'lo'
  | 'address'
  | 'gateway-route'
  | 'default-route'
  | 'route'
  | 'mac'
  | 'check';

export interface PlumbErrorOptions extends ErrorOptions {
  /**
   * After a failure past the move: true when the TAP went back home under its pool name, false
   * when that failed too (the message says why). Undefined when there was nothing to undo.
   */
  readonly rolledBack?: boolean;
  /** checkPod: each difference found, one sentence each (the message joins them). */
  readonly problems?: readonly string[];
}

/** A plumbing step failed or its inputs were refused. */
export class PlumbError extends Error {
  override readonly name = 'PlumbError';
  readonly rolledBack: boolean | undefined;
  readonly problems: readonly string[];
  constructor(
    readonly step: PlumbStep,
    message: string,
    options: PlumbErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.rolledBack = options.rolledBack;
    this.problems = options.problems ?? [];
  }
}
