/**
 * The outcome of an operation that can fail in an expected way (bad input, a timeout, a remote
 * error). Expected failures are values, not exceptions, so they cannot escape a handler and crash
 * the process.
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error };
}

/** Turns anything thrown into an Error, keeping the original as its cause. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : 'non-error thrown', { cause: thrown });
}
