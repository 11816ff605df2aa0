import { RpcCode } from '../rpc-code.js';

/**
 * P4Runtime (google.rpc) status codes for the results of control-plane writes and reads. A write
 * never throws for a bad request: it returns a Status, as a P4Runtime server puts one
 * `p4.v1.Error` per update into its reply.
 *
 * @example
 * const s = pipeline.insert({ tableEntry });
 * if (s.code === Code.ALREADY_EXISTS) console.log(s.message);
 */
export const Code = RpcCode;

export type StatusCode = (typeof Code)[keyof typeof Code];

/** The name of a code, e.g. codeName(6) === 'ALREADY_EXISTS'. */
export function codeName(code: number): string {
  for (const [name, value] of Object.entries(Code)) if (value === code) return name;
  return `CODE_${code}`;
}

/**
 * Where our team's reference (shared/reference/p4runtime.md) and the P4Runtime specification
 * disagree, the model follows the reference and names the choice here, so that switching to the
 * specification's code is a one-line change:
 * - a group or table entry naming a member/group that does not exist: the spec (§9.1.2, §9.2.3)
 *   says NOT_FOUND, the reference says INVALID_ARGUMENT;
 * - a valid action of the table used outside its scope (a DEFAULT_ONLY action in a match entry):
 *   the spec (§9.1.2) says PERMISSION_DENIED, the reference says INVALID_ARGUMENT.
 */
export const UNKNOWN_REFERENCE_CODE: StatusCode = Code.INVALID_ARGUMENT;
export const ACTION_SCOPE_CODE: StatusCode = Code.INVALID_ARGUMENT;

export interface Status {
  readonly code: StatusCode;
  readonly message: string;
}

/** The one OK status (shared: a successful write allocates nothing). */
export const OK_STATUS: Status = Object.freeze({ code: Code.OK, message: '' });

export function status(code: StatusCode, message: string): Status {
  return { code, message };
}
