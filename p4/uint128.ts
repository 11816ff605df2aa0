/**
 * P4Runtime's 64- and 128-bit integers (p4.v1.Uint128: election ids) as bigints, for the client
 * (the hardware session) and the target alike.
 *
 * @example
 * toUint128(5n);               // { high: '0', low: '5' }
 * uint128({ high: 0, low: 5 }); // 5n
 */
/** A protobufjs uint64 (number or Long) as a bigint. */
export function u64(v: unknown): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  const long = v as { high: number; low: number };
  return (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
}

/** A p4.v1.Uint128 as a bigint; undefined when the message is absent. */
export function uint128(v: unknown): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  const x = v as { high?: unknown; low?: unknown };
  return (u64(x.high) << 64n) | u64(x.low);
}

/** A bigint as a p4.v1.Uint128 (decimal strings, as protobufjs takes 64-bit values). */
export function toUint128(v: bigint): { high: string; low: string } {
  return { high: (v >> 64n).toString(), low: (v & 0xffffffffffffffffn).toString() };
}
