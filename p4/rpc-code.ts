/**
 * google.rpc.Code: the status codes of P4Runtime (the same numbers as gRPC status codes), shared
 * by the behavioural model's results and the target's replies.
 *
 * @example
 * if (status.code === RpcCode.ALREADY_EXISTS) repair();
 */
export const RpcCode = {
  OK: 0,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
