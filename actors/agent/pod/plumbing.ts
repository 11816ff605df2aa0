/**
 * Pod plumbing with iproute2: a pool TAP moves into the pod's network namespace, is renamed to
 * the CNI ifname and gets its MTU, addresses and routes; on DEL it goes home under its pool name.
 *
 * Addresses go on as /32 whatever the IPAM prefix length (Calico's choice): the pod has no
 * on-link subnet, so every packet, to a neighbour pod too, goes via the gateway 169.254.1.1,
 * reached through a `scope link` host route. The IPAM prefix length is still what the caller
 * reports in the CNI result; here it is only validated.
 *
 * Routes and NO-CARRIER (checked on Linux 6.x): a TAP with no process attached is NO-CARRIER.
 * The kernel still accepts routes on it as long as it is administratively UP (they carry the
 * `linkdown` flag and stay in use: ignore_routes_with_linkdown is 0 by default); on a link
 * that is DOWN it refuses them ("Nexthop device is not up"), and setting a link down drops its
 * routes. A gateway outside every on-link prefix needs either the `scope link` route to it
 * first or `onlink`; plumbing does both (scope-link route first, then `... via 169.254.1.1 dev
 * IF onlink`), so the routes survive the loss of the other. (`onlink` alone still fails in a
 * brand-new namespace with no address and `lo` down: the gateway check has no local table yet.)
 *
 * Every operation is idempotent: a retried ADD finds the TAP already in place and re-applies
 * (`addr replace`, `route replace`, stale /32s and stale gateway routes removed); a repeated DEL
 * finds it home. A failure after the move puts the TAP back home under its pool name.
 */
import { err, ok, type Result } from '../../../core/result.js';
import type { IpCommandError } from '../pool/errors.js';
import type { IpRunner, NetnsProbe } from '../pool/ip.js';
import { PlumbError, type PlumbStep } from './errors.js';
import { GATEWAY_IP } from './gateway.js';
import { checkCidr, checkForeignNetns, checkIfname, checkIpv4, checkMtu, checkNetns, checkPrefixLength, netnsExists, netnsPath, probeOf } from './inputs.js';
import { readAddrs, readLinks, readRoutes, runSteps, type PodLink, type Step } from './kernel.js';

/** One pod address from IPAM. */
export interface PodAddress {
  /** Dotted IPv4. */
  readonly address: string;
  /** The IPAM prefix length (validated, reported by the caller; the namespace gets a /32). */
  readonly prefixLength: number;
}

/** An extra route from IPAM, routed via GATEWAY_IP; 0.0.0.0/0 is the default route. */
export interface PodRoute {
  readonly dst: string;
  readonly prefixLength: number;
}

/** What to plumb. */
export interface PlumbSpec {
  /** The pool TAP now: its pool name and the pool namespace (the caller's when undefined). */
  readonly from: { readonly name: string; readonly netns?: string };
  /** The pod's namespace: a path (/var/run/netns/x, /proc/N/ns/net) or a name; must exist. */
  readonly netns: string;
  /** CNI_IFNAME. */
  readonly ifname: string;
  readonly mtu: number;
  /** IPv4 only, at least one. */
  readonly ips: readonly PodAddress[];
  /** Extra routes from IPAM (host bits are cleared); 0.0.0.0/0 may be among them. */
  readonly routes: readonly PodRoute[];
}

/** A plumbed interface. */
export interface Plumbed {
  readonly ifname: string;
  /** Lower case aa:bb:cc:dd:ee:ff. */
  readonly mac: string;
}

const DEFAULT = '0.0.0.0/0';
const GATEWAY_HOST = `${GATEWAY_IP}/32`;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** A spec reduced to what the kernel gets: unique /32 addresses and normalised route CIDRs. */
interface Wanted {
  readonly addresses: readonly string[];
  /** Every CIDR routed via the gateway, the default first. */
  readonly routes: readonly string[];
}

async function checkSpec(spec: PlumbSpec, podMustExist: boolean, probe: NetnsProbe): Promise<Result<Wanted, PlumbError>> {
  const name = checkIfname(spec.from.name, 'pool interface name');
  if (!name.ok) return name;
  if (spec.from.netns !== undefined) {
    const home = await checkNetns(spec.from.netns, 'pool namespace', true, probe);
    if (!home.ok) return home;
  }
  const pod = await checkNetns(spec.netns, 'pod namespace', podMustExist, probe);
  if (!pod.ok) return pod;
  if (podMustExist) {
    const foreign = await checkForeignNetns(spec.netns, spec.from.netns, probe);
    if (!foreign.ok) return foreign;
  }
  const ifname = checkIfname(spec.ifname, 'ifname');
  if (!ifname.ok) return ifname;
  const mtu = checkMtu(spec.mtu);
  if (!mtu.ok) return mtu;
  if (spec.ips.length === 0) return err(new PlumbError('validate', 'no IPv4 address to plumb'));
  const addresses: string[] = [];
  for (const a of spec.ips) {
    const address = checkIpv4(a.address, 'pod address');
    if (!address.ok) return address;
    const length = checkPrefixLength(a.prefixLength, `pod address ${a.address}`);
    if (!length.ok) return length;
    if (!addresses.includes(a.address)) addresses.push(a.address);
  }
  const routes = [DEFAULT];
  for (const r of spec.routes) {
    const cidr = checkCidr(r.dst, r.prefixLength, 'route');
    if (!cidr.ok) return cidr;
    // The gateway's own host route is the scope-link one; a route "via itself" would replace it.
    if (cidr.value !== GATEWAY_HOST && !routes.includes(cidr.value)) routes.push(cidr.value);
  }
  return ok({ addresses, routes });
}

const ipArg = (cidr: string): string => (cidr === DEFAULT ? 'default' : cidr);

/** What plumbing configures on `ifname`, in order (the link must be UP before any route). */
function configureSteps(ifname: string, mtu: number, wanted: Wanted): Step[] {
  return [
    ['mtu', ['link', 'set', 'dev', ifname, 'mtu', String(mtu)]],
    ['up', ['link', 'set', 'dev', ifname, 'up']],
    ['lo', ['link', 'set', 'dev', 'lo', 'up']],
    ...wanted.addresses.map((a): Step => ['address', ['addr', 'replace', `${a}/32`, 'dev', ifname]]),
    ['gateway-route', ['route', 'replace', GATEWAY_IP, 'dev', ifname, 'scope', 'link']],
    ...wanted.routes.map((cidr): Step => [cidr === DEFAULT ? 'default-route' : 'route', ['route', 'replace', ipArg(cidr), 'via', GATEWAY_IP, 'dev', ifname, 'onlink']]),
  ];
}

/**
 * Moves the TAP, now `current` in `pod`, back home under its pool name (best effort). Returns
 * undefined on success, else why not. Moving to another namespace drops addresses and routes.
 */
async function rollback(ip: IpRunner, pod: string, current: string, home: { name: string; netns?: string }): Promise<string | undefined> {
  await ip.run(['link', 'set', 'dev', current, 'down'], pod);
  if (current !== home.name) {
    const renamed = await ip.run(['link', 'set', 'dev', current, 'name', home.name], pod);
    // Never move it home under the pod's name: that name may be taken there (eth0 on a node).
    if (!renamed.ok) return renamed.error.message;
  }
  const moved = await ip.run(['link', 'set', 'dev', home.name, 'netns', netnsPath(home.netns)], pod);
  return moved.ok ? undefined : moved.error.message;
}

const nsLabel = (netns: string | undefined): string => netns ?? 'the current namespace';

/**
 * Where the TAP is: still home under its pool name, in the pod namespace under ifname (a retried
 * ADD), or in the pod namespace under its pool name (an ADD interrupted between move and rename).
 */
async function locate(ip: IpRunner, spec: PlumbSpec): Promise<Result<{ at: 'home' | 'renamed' | 'moved'; link: PodLink }, PlumbError>> {
  const home = await readLinks(ip, spec.from.netns, 'inspect');
  if (!home.ok) return home;
  const atHome = home.value.find((l) => l.name === spec.from.name);
  if (atHome) return ok({ at: 'home', link: atHome });
  const pod = await readLinks(ip, spec.netns, 'inspect');
  if (!pod.ok) return pod;
  // Our TAP under its pool name wins over an `ifname` TAP: that one may be someone else's.
  const moved = pod.value.find((l) => l.name === spec.from.name && l.tap);
  if (moved) return ok({ at: 'moved', link: moved });
  const renamed = pod.value.find((l) => l.name === spec.ifname && l.tap);
  if (renamed) return ok({ at: 'renamed', link: renamed });
  return err(new PlumbError('inspect', `no TAP ${spec.from.name} in ${nsLabel(spec.from.netns)}, and no TAP ${spec.ifname} or ${spec.from.name} in ${spec.netns}`));
}

/** Removes /32s and gateway routes on `ifname` that the spec no longer wants (a retried ADD with new IPAM data). */
async function pruneStale(ip: IpRunner, pod: string, ifname: string, wanted: Wanted): Promise<{ step: PlumbStep; message: string; cause?: unknown } | undefined> {
  const addrs = await readAddrs(ip, pod, ifname, 'address');
  if (!addrs.ok) return { step: 'address', message: addrs.error.message, cause: addrs.error };
  const routes = await readRoutes(ip, pod, ifname, 'route');
  if (!routes.ok) return { step: 'route', message: routes.error.message, cause: routes.error };
  const steps: Step[] = [
    ...addrs.value
      .filter((a) => !(a.prefixLength === 32 && wanted.addresses.includes(a.local)))
      .map((a): Step => ['address', ['addr', 'del', `${a.local}/${a.prefixLength}`, 'dev', ifname]]),
    ...routes.value
      .filter((r) => r.gateway === GATEWAY_IP && !wanted.routes.includes(r.dst))
      .map((r): Step => ['route', ['route', 'del', ipArg(r.dst), 'via', GATEWAY_IP, 'dev', ifname]]),
  ];
  const failed = await runSteps(ip, pod, steps);
  return failed ? { step: failed.step, message: failed.error.message, cause: failed.error } : undefined;
}

/**
 * Moves the pool TAP into the pod's namespace as `ifname` and configures it: MTU, up, `lo` up,
 * each address as a /32, `169.254.1.1 dev IFNAME scope link`, the default route and every IPAM
 * route via 169.254.1.1. Idempotent; on a failure after the move, the TAP goes back home under
 * its pool name and the PlumbError names the step (`rolledBack` says whether that worked).
 *
 * @example
 * const r = await plumbPod(execIp, {
 *   from: { name: 'P4TAP_2' }, netns: '/var/run/netns/cni-1234', ifname: 'eth0', mtu: 1450,
 *   ips: [{ address: '10.244.1.5', prefixLength: 24 }], routes: [{ dst: '0.0.0.0', prefixLength: 0 }],
 * });
 * if (r.ok) console.log(r.value.mac);
 */
export async function plumbPod(ip: IpRunner, spec: PlumbSpec, options: { moved?: boolean } = {}): Promise<Result<Plumbed, PlumbError | IpCommandError>> {
  const wanted = await checkSpec(spec, true, probeOf(ip));
  if (!wanted.ok) return wanted;
  const { ifname, from, netns: pod } = spec;
  if (ip.runBatch) {
    // The fast path, two execs in all: move, rename and MTU in one netlink request (the kernel
    // moves first, then renames in the pod's namespace), then the rest and a read-back of the
    // MAC in one `ip -batch`. A fresh move carries no addresses or routes, so nothing is stale.
    // `moved`: movePod did the first exec already (while IPAM ran), freshly too. If the TAP is
    // not at home (a retried ADD) the move fails and nothing has changed; any failure falls
    // through to the careful path below, which converges from wherever the TAP now is and rolls
    // back.
    const moved = options.moved ? ok('') : await ip.run(['link', 'set', 'dev', from.name, 'netns', netnsPath(pod), 'name', ifname, 'mtu', String(spec.mtu)], from.netns);
    if (moved.ok) {
      const configured = await ip.runBatch([...configureSteps(ifname, spec.mtu, wanted.value).map(([, args]) => args), ['link', 'show', 'dev', ifname]], pod);
      const mac = configured.ok ? /link\/ether ([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(configured.value)?.[1] : undefined;
      if (mac) return ok({ ifname, mac });
    }
  }
  return plumbCarefully(ip, spec, wanted.value);
}

/**
 * The first half of plumbing, done while IPAM runs (a CNI Prepare): the pool TAP into the pod's
 * namespace as `ifname` with its MTU, in one request; nothing else. plumbPod with `moved`
 * finishes it. A failure changes nothing (the caller records the move only once it happened).
 *
 * @example
 * const r = await movePod(execIp, { from: { name: 'P4TAP_2' }, netns: '/var/run/netns/cni-1', ifname: 'eth0', mtu: 1500 });
 */
export async function movePod(
  ip: IpRunner,
  spec: { readonly from: { readonly name: string; readonly netns?: string }; readonly netns: string; readonly ifname: string; readonly mtu: number },
): Promise<Result<void, PlumbError | IpCommandError>> {
  const checked = await checkSpec({ ...spec, ips: [{ address: '10.0.0.1', prefixLength: 32 }], routes: [] }, true, probeOf(ip));
  if (!checked.ok) return checked;
  const moved = await ip.run(['link', 'set', 'dev', spec.from.name, 'netns', netnsPath(spec.netns), 'name', spec.ifname, 'mtu', String(spec.mtu)], spec.from.netns);
  if (moved.ok) return ok(undefined);
  return err(new PlumbError('move', `moving ${spec.from.name} into ${spec.netns} as ${spec.ifname} failed: ${moved.error.message}`, { cause: moved.error }));
}

/** Step by step from where the TAP is (`at`, looked up again when absent), with rollback. */
async function plumbCarefully(ip: IpRunner, spec: PlumbSpec, wanted: Wanted, known?: 'home' | 'renamed' | 'moved'): Promise<Result<Plumbed, PlumbError | IpCommandError>> {
  const { ifname, from, netns: pod } = spec;
  const what = `plumbing ${from.name} into ${pod} as ${ifname}`;
  let where = known;
  if (where === undefined) {
    const found = await locate(ip, spec);
    if (!found.ok) return found;
    where = found.value.at;
  }
  const at = { value: where };

  if (at.value === 'home') {
    const moved = await ip.run(['link', 'set', 'dev', from.name, 'netns', netnsPath(pod)], from.netns);
    if (!moved.ok) return err(new PlumbError('move', `${what} failed at step move: ${moved.error.message}`, { cause: moved.error }));
  }
  let current = at.value === 'renamed' ? ifname : from.name;
  const fail = async (step: PlumbStep, message: string, cause: unknown): Promise<{ ok: false; error: PlumbError }> => {
    const undo = await rollback(ip, pod, current, from);
    const tail = undo === undefined ? `; ${from.name} is back in ${nsLabel(from.netns)}` : `; putting it back failed too: ${undo}`;
    return err(new PlumbError(step, `${what} failed at step ${step}: ${message}${tail}`, { cause, rolledBack: undo === undefined }));
  };

  if (current !== ifname) {
    // A link must be down to be renamed (a moved link arrives down; an interrupted one may not).
    const failed = await runSteps(ip, pod, [
      ['down', ['link', 'set', 'dev', current, 'down']],
      ['rename', ['link', 'set', 'dev', current, 'name', ifname]],
    ]);
    if (failed) return fail(failed.step, failed.error.message, failed.error);
    current = ifname;
  }
  const failed = await runSteps(ip, pod, configureSteps(ifname, spec.mtu, wanted));
  if (failed) return fail(failed.step, failed.error.message, failed.error);
  const stale = await pruneStale(ip, pod, ifname, wanted);
  if (stale) return fail(stale.step, stale.message, stale.cause);

  const links = await readLinks(ip, pod, 'mac');
  if (!links.ok) return fail('mac', links.error.message, links.error);
  const link = links.value.find((l) => l.name === ifname);
  if (!link) return fail('mac', `${ifname} is not in ${pod} after plumbing`, undefined);
  return ok({ ifname, mac: link.mac });
}

/**
 * Sends a pod's TAP home: down, addresses flushed, renamed to its pool name, moved to the pool
 * namespace → 'returned'. When it is already home (a repeated DEL, or an ADD that rolled back)
 * → 'returned' too. When it is neither home nor in the pod namespace (the namespace was deleted
 * and the kernel destroyed the TAP with it) → 'gone': the caller re-creates it in the pool.
 *
 * @example
 * const r = await unplumbPod(execIp, { netns: '/var/run/netns/cni-1234', ifname: 'eth0' }, { name: 'P4TAP_2' });
 * if (r.ok && r.value === 'gone') await createPool(execIp, { prefix: 'P4TAP_', count: 8, indices: [2] });
 */
export async function unplumbPod(
  ip: IpRunner,
  at: { netns: string; ifname: string },
  home: { name: string; netns?: string },
): Promise<Result<'returned' | 'gone', PlumbError | IpCommandError>> {
  const probe = probeOf(ip);
  const pod = await checkNetns(at.netns, 'pod namespace', false, probe);
  if (!pod.ok) return pod;
  const ifname = checkIfname(at.ifname, 'ifname');
  if (!ifname.ok) return ifname;
  const name = checkIfname(home.name, 'pool interface name');
  if (!name.ok) return name;
  if (home.netns !== undefined) {
    const ns = await checkNetns(home.netns, 'pool namespace', true, probe);
    if (!ns.ok) return ns;
  }
  const foreign = await checkForeignNetns(at.netns, home.netns, probe);
  if (!foreign.ok) return foreign;

  if (await netnsExists(at.netns, probe)) {
    // The fast path, two execs: our TAP is in the pod under ifname → one request moves it home
    // and renames it there (the move brings it down and drops its addresses and routes).
    const inPod = await readLinks(ip, at.netns, 'inspect');
    if (inPod.ok && inPod.value.some((l) => l.name === at.ifname && l.tap)) {
      const moved = await ip.run(['link', 'set', 'dev', at.ifname, 'netns', netnsPath(home.netns), 'name', home.name], at.netns);
      if (moved.ok) return ok('returned');
    }
  }
  const atHome = await readLinks(ip, home.netns, 'inspect');
  if (!atHome.ok) return atHome;
  if (atHome.value.some((l) => l.name === home.name)) return ok('returned');
  if (!(await netnsExists(at.netns, probe))) return ok('gone');
  const links = await readLinks(ip, at.netns, 'inspect');
  if (!links.ok) return (await netnsExists(at.netns, probe)) ? links : ok('gone');
  const find = (n: string): PodLink | undefined => links.value.find((l) => l.name === n && l.tap);
  const current = find(at.ifname)?.name ?? find(home.name)?.name;
  if (current === undefined) return ok('gone');

  const steps: Step[] = [
    ['down', ['link', 'set', 'dev', current, 'down']],
    ['flush', ['addr', 'flush', 'dev', current]],
    ...(current === home.name ? [] : [['rename', ['link', 'set', 'dev', current, 'name', home.name]] as Step]),
    ['move', ['link', 'set', 'dev', home.name, 'netns', netnsPath(home.netns)]],
  ];
  const failed = await runSteps(ip, at.netns, steps);
  if (failed) {
    return err(new PlumbError(failed.step, `returning ${current} from ${at.netns} as ${home.name} failed at step ${failed.step}: ${failed.error.message}`, { cause: failed.error }));
  }
  return ok('returned');
}

/**
 * Verifies a plumbed pod interface: present under ifname with that MAC and MTU, UP, each address
 * as a /32, the scope-link route to 169.254.1.1, the default route and every IPAM route via it.
 * The PlumbError (step `check`) lists every difference in `problems` and its message.
 *
 * @example
 * const c = await checkPod(execIp, { ...spec, mac: plumbed.mac });
 * if (!c.ok) console.error(c.error.message); // "eth0 in /var/run/netns/x: MTU is 1400, expected 1450"
 */
export async function checkPod(ip: IpRunner, spec: PlumbSpec & { mac: string }): Promise<Result<void, PlumbError>> {
  const wanted = await checkSpec(spec, false, probeOf(ip));
  if (!wanted.ok) return wanted;
  const mac = spec.mac.toLowerCase();
  if (!MAC.test(mac)) return err(new PlumbError('validate', `MAC "${spec.mac}" is not aa:bb:cc:dd:ee:ff`));
  const { ifname, netns: pod } = spec;
  const fail = (problems: string[], cause?: unknown): { ok: false; error: PlumbError } =>
    err(new PlumbError('check', `${ifname} in ${pod}: ${problems.join('; ')}`, { problems, cause }));

  if (!(await netnsExists(pod, probeOf(ip)))) return fail([`the namespace ${netnsPath(pod)} does not exist`]);
  const links = await readLinks(ip, pod, 'check');
  if (!links.ok) return fail([links.error.message], links.error);
  const link = links.value.find((l) => l.name === ifname);
  if (!link) return fail([`no interface ${ifname}`]);
  const problems: string[] = [];
  if (link.mac !== mac) problems.push(`MAC is ${link.mac}, expected ${mac}`);
  if (link.mtu !== spec.mtu) problems.push(`MTU is ${link.mtu}, expected ${spec.mtu}`);
  if (!link.up) problems.push('the link is down');

  const addrs = await readAddrs(ip, pod, ifname, 'check');
  if (!addrs.ok) return fail([...problems, addrs.error.message], addrs.error);
  for (const a of wanted.value.addresses) {
    const found = addrs.value.filter((x) => x.local === a);
    if (found.length === 0) problems.push(`address ${a}/32 is missing`);
    else if (!found.some((x) => x.prefixLength === 32)) problems.push(`address ${a} is /${found[0]!.prefixLength}, expected /32`);
  }

  const routes = await readRoutes(ip, pod, ifname, 'check');
  if (!routes.ok) return fail([...problems, routes.error.message], routes.error);
  if (!routes.value.some((r) => r.dst === GATEWAY_HOST && r.gateway === undefined && r.scope === 'link')) {
    problems.push(`the scope-link route to ${GATEWAY_IP} is missing`);
  }
  for (const cidr of wanted.value.routes) {
    if (!routes.value.some((r) => r.dst === cidr && r.gateway === GATEWAY_IP)) {
      problems.push(cidr === DEFAULT ? `the default route via ${GATEWAY_IP} is missing` : `the route ${cidr} via ${GATEWAY_IP} is missing`);
    }
  }
  return problems.length > 0 ? fail(problems) : ok(undefined);
}
