import { err, ok, type Result } from '../../../core/result.js';
import { PoolSizeError } from './errors.js';

/**
 * The original's rule: the count is a power of two and more than 4.
 *
 * @example
 * checkPoolSize(8).ok; // true
 * checkPoolSize(6).ok; // false: "must be a power of two and more than 4"
 */
export function checkPoolSize(count: number): Result<number, PoolSizeError> {
  const power = Number.isSafeInteger(count) && count > 0 && (count & (count - 1)) === 0;
  if (!power || count <= 4) return err(new PoolSizeError(count));
  return ok(count);
}
