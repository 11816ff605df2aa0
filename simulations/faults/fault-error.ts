/**
 * The typed error of the fault proxies: bad options, a listener that cannot bind, a proxy used
 * after close. A refused call changes nothing (the proxy keeps the mode and faults it had).
 *
 * @example
 * const r = proxy.partition('sideways' as PartitionMode);
 * if (!r.ok) console.log(r.error.code, r.error.field); // INVALID_ARGUMENT mode
 */
export type FaultErrorCode = 'INVALID_ARGUMENT' | 'LISTEN_FAILED' | 'CLOSED';

export class FaultError extends Error {
  override readonly name = 'FaultError';
  constructor(
    readonly code: FaultErrorCode,
    message: string,
    /** The option to blame (`upstream.port`, `dropP`…), when one is. */
    readonly field = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
