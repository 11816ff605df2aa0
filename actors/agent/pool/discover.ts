/**
 * Discovery: which interfaces carry the pool prefix in a namespace, and whether they form a
 * valid pool (indices 0..N-1 without gaps, N a power of two and more than 4, all TAPs).
 */
import { err, ok, type Result } from '../../../core/result.js';
import { IpCommandError, PoolDiscoveryError } from './errors.js';
import type { IpRunner } from './ip.js';
import { checkPoolSize } from './size.js';

/** One link as `ip -d -j link show` reports it, reduced to what the pool needs. */
export interface LinkInfo {
  readonly name: string;
  readonly kind: string | undefined;
  /** "tap" or "tun" for tun-kind links. */
  readonly tunType: string | undefined;
}

interface RawLink {
  ifname?: unknown;
  linkinfo?: { info_kind?: unknown; info_data?: { type?: unknown } };
}

/**
 * Every link of a namespace (the caller's when `netns` is undefined).
 *
 * @example
 * const links = await listLinks(execIp, 'ioff-1-host');
 */
export async function listLinks(ip: IpRunner, netns?: string): Promise<Result<LinkInfo[], IpCommandError>> {
  const out = await ip.run(['-d', '-j', 'link', 'show'], netns);
  if (!out.ok) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(out.value || '[]');
  } catch (e) {
    return err(new IpCommandError(['-d', '-j', 'link', 'show'], 'unparsable JSON', { cause: e }));
  }
  if (!Array.isArray(raw)) return ok([]);
  return ok(
    (raw as RawLink[])
      .filter((l) => typeof l.ifname === 'string')
      .map((l) => ({
        name: l.ifname as string,
        kind: typeof l.linkinfo?.info_kind === 'string' ? l.linkinfo.info_kind : undefined,
        tunType: typeof l.linkinfo?.info_data?.type === 'string' ? l.linkinfo.info_data.type : undefined,
      })),
  );
}

/** The name of pool interface `index`. */
export function poolName(prefix: string, index: number): string {
  return `${prefix}${index}`;
}

/** Pool indices present among `links` (name = prefix + decimal index), with links that do not parse. */
export function poolMembers(links: readonly LinkInfo[], prefix: string): { byIndex: Map<number, LinkInfo>; bad: string[] } {
  const byIndex = new Map<number, LinkInfo>();
  const bad: string[] = [];
  for (const link of links) {
    if (!link.name.startsWith(prefix)) continue;
    const tail = link.name.slice(prefix.length);
    if (!/^(0|[1-9][0-9]*)$/.test(tail)) bad.push(link.name);
    else byIndex.set(Number(tail), link);
  }
  return { byIndex, bad };
}

/** A discovered, validated pool. */
export interface DiscoveredPool {
  readonly prefix: string;
  readonly netns: string | undefined;
  readonly size: number;
  /** names[i] is the interface of pool index i. */
  readonly names: readonly string[];
}

/** Validates pool members found in a namespace; pure, so tests can feed it any listing. */
export function validatePool(links: readonly LinkInfo[], prefix: string, netns?: string): Result<DiscoveredPool, PoolDiscoveryError> {
  const { byIndex, bad } = poolMembers(links, prefix);
  const where = netns ? `namespace ${netns}` : 'the current namespace';
  if (bad.length > 0) return err(new PoolDiscoveryError('bad-name', `interfaces ${bad.join(', ')} carry the prefix ${prefix} but no index`));
  if (byIndex.size === 0) return err(new PoolDiscoveryError('none-found', `no interface with the prefix ${prefix} in ${where}`));
  const size = byIndex.size;
  for (let i = 0; i < size; i++) {
    if (!byIndex.has(i)) {
      return err(new PoolDiscoveryError('gap', `the pool in ${where} has ${size} interfaces but ${poolName(prefix, i)} is missing (indices must be 0..${size - 1})`));
    }
  }
  const sized = checkPoolSize(size);
  if (!sized.ok) return err(new PoolDiscoveryError('bad-size', `found ${size} interfaces with the prefix ${prefix} in ${where}: ${sized.error.message}`));
  const notTap = [...byIndex.values()].filter((l) => l.kind !== 'tun' || l.tunType !== 'tap').map((l) => l.name);
  if (notTap.length > 0) return err(new PoolDiscoveryError('not-tap', `not TAP devices: ${notTap.join(', ')}`));
  const names = Array.from({ length: size }, (_, i) => poolName(prefix, i));
  return ok({ prefix, netns, size, names });
}

/**
 * Lists the namespace's links and validates the pool.
 *
 * @example
 * const pool = await discoverPool(execIp, { prefix: 'P4TAP_' });
 * if (pool.ok) console.log(pool.value.size);
 */
export async function discoverPool(
  ip: IpRunner,
  opts: { prefix: string; netns?: string },
): Promise<Result<DiscoveredPool, PoolDiscoveryError | IpCommandError>> {
  const links = await listLinks(ip, opts.netns);
  if (!links.ok) return links;
  return validatePool(links.value, opts.prefix, opts.netns);
}
