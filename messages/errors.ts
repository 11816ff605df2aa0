/**
 * Typed errors of the bus. Every failure a caller can see is one of these, with a stable `code`
 * that also travels on the wire (infra.v1.ErrorCode), so a remote error arrives as the same
 * class it was raised as.
 *
 * @example
 * const r = await bus.request(subject, method, req);
 * if (!r.ok && r.error.code === 'DEADLINE_EXCEEDED') retry();
 */
export const ERROR_CODES = [
  'UNSPECIFIED',
  'MALFORMED',
  'INVALID_ARGUMENT',
  'TOO_LARGE',
  'UNIMPLEMENTED',
  'NOT_FOUND',
  'CONFLICT',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** infra.v1.ErrorCode number ↔ name: the index in ERROR_CODES is the enum value. */
export function errorCodeToWire(code: ErrorCode): number {
  return ERROR_CODES.indexOf(code);
}
export function errorCodeFromWire(n: number): ErrorCode {
  return ERROR_CODES[n] ?? 'UNSPECIFIED';
}

/** Base of every bus error. `field` names the offending field when one is to blame. */
export class BusError extends Error {
  override name = 'BusError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Bytes that do not decode as the expected message. */
export class MalformedError extends BusError {
  override name = 'MalformedError';
  constructor(
    message: string,
    readonly offset = -1,
    options?: ErrorOptions,
  ) {
    super('MALFORMED', offset >= 0 ? `${message} at byte ${offset}` : message, '', options);
  }
}

/** A decoded message with a missing or out-of-range field. */
export class ValidationError extends BusError {
  override name = 'ValidationError';
  constructor(field: string, message: string) {
    super('INVALID_ARGUMENT', `${field}: ${message}`, field);
  }
}

/** A payload over the size, depth or field-count limits of its codec. */
export class TooLargeError extends BusError {
  override name = 'TooLargeError';
  constructor(message: string) {
    super('TOO_LARGE', message);
  }
}

/** No reply within the deadline. */
export class TimeoutError extends BusError {
  override name = 'TimeoutError';
  constructor(subject: string, ms: number, options?: ErrorOptions) {
    super('DEADLINE_EXCEEDED', `no reply on ${subject} within ${ms} ms`, '', options);
  }
}

/** Nobody serves the subject (the peer is down or not yet subscribed). */
export class NoRespondersError extends BusError {
  override name = 'NoRespondersError';
  constructor(subject: string, options?: ErrorOptions) {
    super('UNAVAILABLE', `no responders on ${subject}`, '', options);
  }
}

/** The connection is closed or draining. */
export class ConnectionClosedError extends BusError {
  override name = 'ConnectionClosedError';
  constructor(message = 'bus connection closed', options?: ErrorOptions) {
    super('UNAVAILABLE', message, '', options);
  }
}

/** An error reply sent by the remote handler. */
export class RemoteError extends BusError {
  override name = 'RemoteError';
  constructor(code: ErrorCode, message: string, field = '') {
    super(code, message, field);
  }
}

/** Shorthand for handlers: an application error to send back as a typed reply. */
export function replyError(code: ErrorCode, message: string, field = ''): BusError {
  return new BusError(code, message, field);
}
