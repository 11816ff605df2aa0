/**
 * CNI errors (spec 1.0.0, "Error"): what the plugin prints on stdout, with a non-zero exit,
 * when a command fails. Codes 1–99 are the spec's well-known codes; 100 + infra.v1.ErrorCode is
 * a typed refusal from the agent.
 *
 * @example
 * throw new CniError(CNI_CODES.INVALID_ENV, 'CNI_CONTAINERID is required');
 */
export const CNI_CODES = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO: 5,
  DECODE: 6,
  INVALID_NETCONF: 7,
  TRY_AGAIN_LATER: 11,
  /** Plugin-specific range: 100 + infra.v1.ErrorCode of the agent's refusal. */
  BACKEND_BASE: 100,
} as const;

export class CniError extends Error {
  override name = 'CniError';
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
  }

  /** The spec's error object. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Any thrown value as a CniError; unexpected ones become I/O errors, never a stack trace. */
export function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CniError(CNI_CODES.IO, 'internal plugin failure', message);
}
