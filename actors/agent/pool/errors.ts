/**
 * The pool's failures, one small class per kind, each with a `name` and an optional `cause`
 * (the nats.js habit). Public calls return them inside a Result instead of throwing.
 *
 * @example
 * const r = checkPoolSize(6);
 * if (!r.ok && r.error instanceof PoolSizeError) console.error(r.error.message);
 */

/** The pool size is not a power of two, or not more than 4. */
export class PoolSizeError extends Error {
  override readonly name = 'PoolSizeError';
  constructor(readonly count: number) {
    super(`the interface count must be a power of two and more than 4 (8, 16, 32…), not ${count}`);
  }
}

/** A prefix or namespace name that cannot make valid interface names or `ip` arguments. */
export class PoolNameError extends Error {
  override readonly name = 'PoolNameError';
}

/** An `ip` command failed (its stderr is in the message). */
export class IpCommandError extends Error {
  override readonly name = 'IpCommandError';
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`ip ${args.join(' ')} failed: ${stderr.trim() || 'no output'}`, options);
  }
}

/** What discovery found wrong with the interfaces carrying the prefix. */
export type DiscoveryProblem = 'none-found' | 'gap' | 'bad-size' | 'not-tap' | 'bad-name';

/** The interfaces with the prefix do not form a valid pool. */
export class PoolDiscoveryError extends Error {
  override readonly name = 'PoolDiscoveryError';
  constructor(
    readonly problem: DiscoveryProblem,
    message: string,
  ) {
    super(message);
  }
}

/** The state file exists but cannot be read or parsed, or cannot be written. */
export class PoolStateError extends Error {
  override readonly name = 'PoolStateError';
}

/** No pod index is free. */
export class PoolExhaustedError extends Error {
  override readonly name = 'PoolExhaustedError';
  constructor(readonly size: number) {
    super(`no free pod interface left in the pool of ${size}`);
  }
}
