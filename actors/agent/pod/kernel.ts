/**
 * What pod plumbing reads back from the kernel (`ip -j` links, IPv4 addresses and main-table
 * routes of one namespace) and how it runs a list of steps, stopping at the first failure.
 */
import { err, ok, type Result } from '../../../core/result.js';
import type { IpCommandError } from '../pool/errors.js';
import type { IpRunner } from '../pool/ip.js';
import { PlumbError, type PlumbStep } from './errors.js';
import { routeDst } from './inputs.js';

/** One link, reduced to what plumbing checks. */
export interface PodLink {
  readonly name: string;
  /** Lower case aa:bb:cc:dd:ee:ff. */
  readonly mac: string;
  readonly mtu: number;
  /** Administratively up (the UP flag; a TAP without a process still shows NO-CARRIER). */
  readonly up: boolean;
  /** A tun-kind link of type tap. */
  readonly tap: boolean;
}

/** One IPv4 address of a link. */
export interface PodAddr {
  readonly local: string;
  readonly prefixLength: number;
}

/** One main-table route of a link; dst normalised to a.b.c.d/len ("default" = 0.0.0.0/0). */
export interface PodRouteInfo {
  readonly dst: string;
  readonly gateway: string | undefined;
  readonly scope: string | undefined;
}

const where = (netns: string | undefined): string => (netns === undefined ? 'the current namespace' : netns);

function parseJson(text: string, args: readonly string[], netns: string | undefined, step: PlumbStep): Result<unknown[], PlumbError> {
  try {
    const raw: unknown = JSON.parse(text.trim() || '[]');
    return ok(Array.isArray(raw) ? (raw as unknown[]) : []);
  } catch (e) {
    return err(new PlumbError(step, `ip ${args.join(' ')} in ${where(netns)} printed unparsable JSON`, { cause: e }));
  }
}

async function readJson(ip: IpRunner, args: readonly string[], netns: string | undefined, step: PlumbStep): Promise<Result<unknown[], PlumbError>> {
  const out = await ip.run(args, netns);
  if (!out.ok) return err(new PlumbError(step, `reading ${where(netns)}: ${out.error.message}`, { cause: out.error }));
  return parseJson(out.value, args, netns, step);
}

interface RawLink {
  ifname?: unknown;
  address?: unknown;
  mtu?: unknown;
  flags?: unknown;
  linkinfo?: { info_kind?: unknown; info_data?: { type?: unknown } };
}

/**
 * Every link of a namespace (a name, a path, or the caller's when undefined).
 *
 * @example
 * const links = await readLinks(execIp, '/var/run/netns/cni-1', 'inspect');
 */
export async function readLinks(ip: IpRunner, netns: string | undefined, step: PlumbStep): Promise<Result<PodLink[], PlumbError>> {
  const raw = await readJson(ip, ['-d', '-j', 'link', 'show'], netns, step);
  if (!raw.ok) return raw;
  return ok(
    (raw.value as RawLink[])
      .filter((l) => typeof l.ifname === 'string')
      .map((l) => ({
        name: l.ifname as string,
        mac: typeof l.address === 'string' ? l.address.toLowerCase() : '',
        mtu: typeof l.mtu === 'number' ? l.mtu : 0,
        up: Array.isArray(l.flags) && l.flags.includes('UP'),
        tap: l.linkinfo?.info_kind === 'tun' && l.linkinfo.info_data?.type === 'tap',
      })),
  );
}

interface RawAddrInfo {
  family?: unknown;
  local?: unknown;
  prefixlen?: unknown;
}

/** The IPv4 addresses of `dev` in a namespace. */
export async function readAddrs(ip: IpRunner, netns: string | undefined, dev: string, step: PlumbStep): Promise<Result<PodAddr[], PlumbError>> {
  const raw = await readJson(ip, ['-j', '-4', 'addr', 'show', 'dev', dev], netns, step);
  if (!raw.ok) return raw;
  const infos = (raw.value as { addr_info?: unknown }[]).flatMap((l) => (Array.isArray(l.addr_info) ? (l.addr_info as RawAddrInfo[]) : []));
  return ok(
    infos
      .filter((a) => a.family === 'inet' && typeof a.local === 'string' && typeof a.prefixlen === 'number')
      .map((a) => ({ local: a.local as string, prefixLength: a.prefixlen as number })),
  );
}

interface RawRoute {
  dst?: unknown;
  gateway?: unknown;
  scope?: unknown;
}

/** The main-table IPv4 routes through `dev` in a namespace. */
export async function readRoutes(ip: IpRunner, netns: string | undefined, dev: string, step: PlumbStep): Promise<Result<PodRouteInfo[], PlumbError>> {
  const raw = await readJson(ip, ['-j', '-4', 'route', 'show', 'dev', dev], netns, step);
  if (!raw.ok) return raw;
  return ok(
    (raw.value as RawRoute[])
      .filter((r) => typeof r.dst === 'string')
      .map((r) => ({
        dst: routeDst(r.dst as string),
        gateway: typeof r.gateway === 'string' ? r.gateway : undefined,
        scope: typeof r.scope === 'string' ? r.scope : undefined,
      })),
  );
}

/** One step: its name and the `ip` arguments that perform it. */
export type Step = readonly [PlumbStep, readonly string[]];

/** The step that failed, with the command's error. */
export interface StepFailure {
  readonly step: PlumbStep;
  readonly error: IpCommandError;
}

/**
 * Runs steps in order inside one namespace; returns the first failure, or undefined when all passed.
 *
 * @example
 * const failed = await runSteps(execIp, pod, [['up', ['link', 'set', 'dev', 'eth0', 'up']]]);
 */
export async function runSteps(ip: IpRunner, netns: string | undefined, steps: readonly Step[]): Promise<StepFailure | undefined> {
  for (const [step, args] of steps) {
    const r = await ip.run(args, netns);
    if (!r.ok) return { step, error: r.error };
  }
  return undefined;
}
