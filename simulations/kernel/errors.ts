/**
 * The synthetic kernel's failures. A refused `ip` command reaches callers as the agent's own
 * `IpCommandError` (actors/agent/pool/errors.ts) carrying the stderr iproute2 would print, so the
 * agent cannot tell the two kernels apart; the classes here are for the rest: a kernel directory
 * that cannot be read or written, and the simulator's namespace helpers.
 *
 * @example
 * const r = await createNamespace(dir, 'pod-1');
 * if (!r.ok && r.error instanceof KernelNamespaceError) console.error(r.error.message);
 */

/**
 * Thrown inside one command by the model and caught at the runner's boundary (never escapes
 * it): iproute2's stderr text, and whether the process would have exited 255 (argument errors)
 * rather than 1 or 2. What the command changed before the failure stays changed, as in the kernel.
 */
export class IpFailure extends Error {
  override readonly name = 'IpFailure';
  constructor(
    readonly stderr: string,
    readonly exitCode: 1 | 2 | 255 = 2,
  ) {
    super(stderr);
  }
}

/** The kernel directory's state file is unreadable, corrupt, or cannot be written. */
export class KernelStateError extends Error {
  override readonly name = 'KernelStateError';
}

/** A namespace helper was refused: a bad name, a namespace that exists (create) or does not (delete). */
export class KernelNamespaceError extends Error {
  override readonly name = 'KernelNamespaceError';
  constructor(
    readonly reason: 'bad-name' | 'exists' | 'missing' | 'io',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
