/**
 * What bin/create-interfaces does before a real agent starts, done once in a synthetic kernel:
 * the pool namespace and the pool's TAPs. "Once" is recorded in the kernel itself, because after
 * the first start some of those TAPs live in pods under other names and must not be made again
 * at home (the agent re-creates the ones destroyed with a pod's namespace itself).
 *
 * @example
 * const made = await bootstrapPool(kernel, { prefix: 'P4TAP_', count: 16, netns: 'host' });
 * if (made.ok && made.value) console.log(`created ${made.value.created.length} TAPs`);
 */
import { err, ok, type Result } from '../../core/result.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import type { IpCommandError, PoolNameError, PoolSizeError } from '../../actors/agent/pool/errors.js';
import type { KernelStateError } from './errors.js';
import { INIT_NS } from './state.js';
import type { SyntheticKernel } from './synthetic-ip.js';

export interface BootstrapOptions {
  readonly prefix: string;
  /** A power of two, more than 4. */
  readonly count: number;
  /** The pool namespace (made when missing); the kernel user's own when undefined. */
  readonly netns?: string;
}

/** The TAPs made, or undefined when this kernel already had its pool. */
export async function bootstrapPool(
  kernel: SyntheticKernel,
  opts: BootstrapOptions,
): Promise<Result<{ created: string[] } | undefined, IpCommandError | PoolNameError | PoolSizeError | KernelStateError>> {
  const key = `pool:${opts.netns ?? INIT_NS}:${opts.prefix}`;
  if (kernel.meta(key) !== undefined) return ok(undefined);
  if (opts.netns !== undefined) {
    const made = await kernel.run(['netns', 'add', opts.netns]);
    if (!made.ok && !made.error.stderr.includes('File exists')) return err(made.error);
  }
  const pool = await createPool(kernel, { prefix: opts.prefix, count: opts.count, ...(opts.netns !== undefined ? { netns: opts.netns } : {}) });
  if (!pool.ok) return pool;
  const noted = await kernel.setMeta(key, { count: opts.count });
  return noted.ok ? ok({ created: pool.value.created }) : noted;
}
