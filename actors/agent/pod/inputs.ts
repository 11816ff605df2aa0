/**
 * Input checks for pod plumbing, all before anything touches the kernel: interface names (safe
 * for `ip`, at most IFNAMSIZ - 1 characters), namespaces (a name for `ip -n`, or an absolute
 * path such as CNI_NETNS), dotted IPv4 addresses, prefix lengths and MTUs. Each refusal is a
 * PlumbError with step `validate`.
 */
import { stat } from 'node:fs/promises';
import { err, ok, type Result } from '../../../core/result.js';
import { checkName, type IpRunner, type NetnsProbe } from '../pool/ip.js';
import { MAX_IFNAME } from '../pool/setup.js';
import { PlumbError } from './errors.js';
import { formatIpv4, parseIpv4 } from '../../../messages/validate.js';
import { MAX_MTU, MIN_MTU } from '../../../protocol/cni.js';

/** Where `ip netns add NAME` mounts a named namespace (what `ip -n NAME` opens). */
export const NETNS_RUN_DIR = '/var/run/netns';


const refuse = (message: string): { ok: false; error: PlumbError } => err(new PlumbError('validate', message));

/**
 * An interface name `ip` takes as is and the kernel accepts (1–15 characters, no slash).
 *
 * @example
 * checkIfname('eth0', 'ifname'); // ok
 */
export function checkIfname(name: string, what: string): Result<string, PlumbError> {
  const checked = checkName(name, what);
  if (!checked.ok) return refuse(checked.error.message);
  if (name.length > MAX_IFNAME) return refuse(`${what} "${name}" is longer than ${MAX_IFNAME} characters`);
  return ok(name);
}

/** True for a namespace given as a path rather than a name. */
export const isNetnsPath = (netns: string): boolean => netns.startsWith('/');

/**
 * The file that identifies a namespace: a path as given, a name under /var/run/netns, and the
 * caller's own namespace (/proc/PID/ns/net, PID = this process) when undefined. `ip link set
 * ... netns` gets this path, never a bare name: iproute2 would read a missing numeric name as a PID.
 *
 * @example
 * netnsPath('ioff-1-pod'); // '/var/run/netns/ioff-1-pod'
 */
export function netnsPath(netns: string | undefined): string {
  if (netns === undefined) return `/proc/${process.pid}/ns/net`;
  return isNetnsPath(netns) ? netns : `${NETNS_RUN_DIR}/${netns}`;
}

/** The real kernel's namespaces, seen through their files. */
export const fsNetns: NetnsProbe = {
  /** The namespace's file exists (a deleted named namespace, or an exited process's, does not). */
  async exists(netns) {
    try {
      await stat(netnsPath(netns));
      return true;
    } catch {
      return false;
    }
  },
  /** The same nsfs inode. */
  async same(a, b) {
    try {
      const [x, y] = await Promise.all([stat(netnsPath(a)), stat(netnsPath(b))]);
      return x.dev === y.dev && x.ino === y.ino;
    } catch {
      return false;
    }
  },
};

/** The probe of a kernel: its own, or the namespace files. */
export const probeOf = (ip: IpRunner | undefined): NetnsProbe => ip?.netns ?? fsNetns;

/** Whether the namespace exists (names, paths, or undefined = the caller's). */
export function netnsExists(netns: string | undefined, probe: NetnsProbe = fsNetns): Promise<boolean> {
  return probe.exists(netns);
}

/** Whether two namespaces (names, paths, or undefined = the caller's) are the same one. */
export function sameNetns(a: string | undefined, b: string | undefined, probe: NetnsProbe = fsNetns): Promise<boolean> {
  return probe.same(a, b);
}

/**
 * Refuses a pod namespace that is the agent's own or the pool's: plumbing there would put the
 * pod's default route on the node itself (CNI_NETNS racing a process start, or a typo).
 *
 * @example
 * await checkForeignNetns('/proc/4242/ns/net', 'ioff-pool'); // refused while 4242 is still in ours
 */
export async function checkForeignNetns(pod: string, pool: string | undefined, probe: NetnsProbe = fsNetns): Promise<Result<string, PlumbError>> {
  if (await sameNetns(pod, undefined, probe)) return refuse(`pod namespace ${pod} is this agent's own network namespace`);
  if (pool !== undefined && (await sameNetns(pod, pool, probe))) return refuse(`pod namespace ${pod} is the pool namespace ${pool}`);
  return ok(pod);
}

/**
 * A namespace given as a name (checkName's rules) or an absolute path; `mustExist` also requires
 * its file to exist.
 *
 * @example
 * await checkNetns('/var/run/netns/cni-1234', 'pod namespace', true);
 */
export async function checkNetns(netns: string, what: string, mustExist: boolean, probe: NetnsProbe = fsNetns): Promise<Result<string, PlumbError>> {
  if (isNetnsPath(netns)) {
    if (netns.includes('\0') || netns.length < 2) return refuse(`${what} "${netns}" is not a usable path`);
  } else {
    const checked = checkName(netns, what);
    if (!checked.ok) return refuse(`${checked.error.message}, or be an absolute path`);
  }
  if (mustExist && !(await netnsExists(netns, probe))) return refuse(`${what} ${netnsPath(netns)} does not exist`);
  return ok(netns);
}

/** Checks a dotted IPv4 address. */
export function checkIpv4(text: string, what: string): Result<string, PlumbError> {
  return parseIpv4(text) === undefined ? refuse(`${what} "${text}" is not a dotted IPv4 address`) : ok(text);
}

/** Checks an IPv4 prefix length (an integer 0–32). */
export function checkPrefixLength(length: number, what: string): Result<number, PlumbError> {
  return Number.isInteger(length) && length >= 0 && length <= 32 ? ok(length) : refuse(`${what} prefix length ${length} is not an integer 0–32`);
}

/** Checks an MTU (an integer 68–65535). */
export function checkMtu(mtu: number): Result<number, PlumbError> {
  return Number.isInteger(mtu) && mtu >= MIN_MTU && mtu <= MAX_MTU ? ok(mtu) : refuse(`MTU ${mtu} is not an integer ${MIN_MTU}–${MAX_MTU}`);
}

/**
 * `dst/prefixLength` with host bits cleared ("10.96.0.1", 12 → "10.96.0.0/12"): the kernel
 * refuses routes whose destination has host bits set.
 *
 * @example
 * checkCidr('10.96.0.1', 12, 'route'); // ok('10.96.0.0/12')
 */
export function checkCidr(dst: string, prefixLength: number, what: string): Result<string, PlumbError> {
  const n = parseIpv4(dst);
  if (n === undefined) return refuse(`${what} destination "${dst}" is not a dotted IPv4 address`);
  const length = checkPrefixLength(prefixLength, what);
  if (!length.ok) return length;
  const size = 2 ** (32 - prefixLength);
  return ok(`${formatIpv4(Math.floor(n / size) * size)}/${prefixLength}`);
}

/** Parses "a.b.c.d/len" (a pod CIDR) into its normalised form. */
export function checkCidrText(text: string, what: string): Result<string, PlumbError> {
  const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!match) return refuse(`${what} "${text}" is not an IPv4 CIDR (a.b.c.d/len)`);
  return checkCidr(match[1]!, Number(match[2]), what);
}

/** The normalised CIDR of a route as `ip -j route show` prints its dst ("default", "a.b.c.d", "a.b.c.d/len"). */
export function routeDst(dst: string): string {
  if (dst === 'default') return '0.0.0.0/0';
  return dst.includes('/') ? dst : `${dst}/32`;
}
