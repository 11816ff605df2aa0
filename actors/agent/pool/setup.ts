/**
 * Pool set-up (the seed's create_interfaces.sh): persistent TAPs named prefix + index in a
 * namespace, created before the agent starts. Idempotent: TAPs already there are kept, so the
 * same call also re-creates TAPs destroyed with their pod's namespace.
 */
import { err, ok, type Result } from '../../../core/result.js';
import { IpCommandError, PoolNameError, type PoolSizeError } from './errors.js';
import { checkName, type IpRunner } from './ip.js';
import { listLinks, poolMembers, poolName } from './discover.js';
import { checkPoolSize } from './size.js';

/** Linux's IFNAMSIZ - 1. */
export const MAX_IFNAME = 15;

export interface CreatePoolOptions {
  readonly prefix: string;
  readonly count: number;
  /** A named namespace (`ip netns list`); the caller's when undefined. */
  readonly netns?: string;
  /**
   * Only these indices (default: all). The agent passes the indices reconciliation reported
   * missing: a TAP moved into a pod's namespace is absent at home but must not be re-created.
   */
  readonly indices?: readonly number[];
}

export interface CreatePoolReport {
  readonly created: string[];
  readonly kept: string[];
}

/** Checks prefix, count and namespace before anything touches the kernel. */
export function checkPoolOptions(opts: CreatePoolOptions): Result<CreatePoolOptions, PoolSizeError | PoolNameError> {
  const size = checkPoolSize(opts.count);
  if (!size.ok) return size;
  const prefix = checkName(opts.prefix, 'prefix');
  if (!prefix.ok) return prefix;
  if (opts.netns !== undefined) {
    const ns = checkName(opts.netns, 'namespace');
    if (!ns.ok) return ns;
  }
  const longest = poolName(opts.prefix, opts.count - 1);
  if (longest.length > MAX_IFNAME) {
    return err(new PoolNameError(`interface name ${longest} is longer than ${MAX_IFNAME} characters: shorten the prefix`));
  }
  return ok(opts);
}

/**
 * Creates the TAPs prefix0..prefix(count-1) that are missing; keeps those already there.
 *
 * @example
 * const r = await createPool(execIp, { prefix: 'P4TAP_', count: 8 });
 * if (!r.ok) console.error(r.error.message); // e.g. "…must be a power of two and more than 4…"
 */
export async function createPool(
  ip: IpRunner,
  opts: CreatePoolOptions,
): Promise<Result<CreatePoolReport, PoolSizeError | PoolNameError | IpCommandError>> {
  const checked = checkPoolOptions(opts);
  if (!checked.ok) return checked;
  const links = await listLinks(ip, opts.netns);
  if (!links.ok) return links;
  const { byIndex } = poolMembers(links.value, opts.prefix);
  const report: CreatePoolReport = { created: [], kept: [] };
  for (let i = 0; i < opts.count; i++) {
    if (opts.indices && !opts.indices.includes(i)) continue;
    const name = poolName(opts.prefix, i);
    const existing = byIndex.get(i);
    if (existing) {
      if (existing.kind !== 'tun' || existing.tunType !== 'tap') {
        return err(new IpCommandError(['link', 'show', name], `${name} exists but is not a TAP`));
      }
      report.kept.push(name);
      continue;
    }
    const made = await ip.run(['tuntap', 'add', 'dev', name, 'mode', 'tap'], opts.netns);
    if (!made.ok) return made;
    report.created.push(name);
  }
  return ok(report);
}
