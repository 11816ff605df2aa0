/**
 * The gateway and the host interface. Every pod routes through 169.254.1.1 (Calico's link-local
 * gateway). Nothing owns that address on a wire: pool TAP 0 is moved into a dedicated *gateway
 * namespace* holding 169.254.1.1/32, so that namespace's kernel answers ARP for it on frames the
 * P4 target forwards to TAP 0 (no route is needed there: ARP replies go out of the receiving
 * link, and rp_filter is off in a fresh namespace). Pool TAP 1 is the node's host interface:
 * the node's address as a /32 on it, and each pod CIDR routed via 169.254.1.1 through it.
 *
 * Both set-ups are idempotent (`addr replace`, `route replace`, a move only when still needed)
 * so the agent runs them on every start.
 */
import { err, ok, type Result } from '../../../core/result.js';
import type { IpCommandError } from '../pool/errors.js';
import { checkName, type IpRunner } from '../pool/ip.js';
import { PlumbError } from './errors.js';
import { checkCidrText, checkIfname, checkIpv4, checkNetns, netnsExists, netnsPath, probeOf } from './inputs.js';
import { readLinks, runSteps, type Step } from './kernel.js';

/** The pods' default gateway; a /32 on the gateway TAP in the gateway namespace. */
export const GATEWAY_IP = '169.254.1.1';

export interface GatewayOptions {
  /** The gateway TAP's pool name (pool index 0). */
  readonly tap: string;
  /** The pool namespace (a name or a path); the caller's when undefined. */
  readonly poolNetns?: string;
  /** The gateway namespace, a name: created with `ip netns add` when missing. */
  readonly gatewayNetns: string;
}

export interface HostOptions {
  /** The host TAP's pool name (pool index 1). */
  readonly tap: string;
  /** Where the TAP lives, the node's host side (a name or a path); the caller's when undefined. */
  readonly netns?: string;
  /** The node's address, put on the TAP as a /32. */
  readonly address: string;
  /** Pod CIDRs (a.b.c.d/len) routed via GATEWAY_IP through the TAP. */
  readonly podCidrs: readonly string[];
}

/** Reads back `tap`'s MAC in a namespace. */
async function macOf(ip: IpRunner, netns: string | undefined, tap: string): Promise<Result<string, PlumbError>> {
  const links = await readLinks(ip, netns, 'mac');
  if (!links.ok) return links;
  const link = links.value.find((l) => l.name === tap);
  if (!link) return err(new PlumbError('mac', `${tap} vanished from ${netns ?? 'the current namespace'}`));
  return ok(link.mac);
}

function stepError(what: string, failed: { step: Step[0]; error: IpCommandError }): PlumbError {
  return new PlumbError(failed.step, `${what} failed at step ${failed.step}: ${failed.error.message}`, { cause: failed.error });
}

/**
 * Creates the gateway namespace if missing, moves the gateway TAP there if it is still in the
 * pool namespace, and puts 169.254.1.1/32 on it, up, with `lo` up. Returns the TAP's MAC.
 *
 * @example
 * const gw = await setupGateway(execIp, { tap: 'P4TAP_0', gatewayNetns: 'ioff-gateway' });
 * if (gw.ok) console.log(gw.value.mac);
 */
export async function setupGateway(ip: IpRunner, opts: GatewayOptions): Promise<Result<{ mac: string }, PlumbError | IpCommandError>> {
  const tap = checkIfname(opts.tap, 'gateway TAP');
  if (!tap.ok) return tap;
  if (opts.poolNetns !== undefined) {
    const pool = await checkNetns(opts.poolNetns, 'pool namespace', true, probeOf(ip));
    if (!pool.ok) return pool;
  }
  const gwName = checkName(opts.gatewayNetns, 'gateway namespace');
  if (!gwName.ok) return err(new PlumbError('validate', gwName.error.message));
  const gw = opts.gatewayNetns;
  const what = `setting up the gateway ${opts.tap} in ${gw}`;

  if (!(await netnsExists(gw, probeOf(ip)))) {
    const made = await ip.run(['netns', 'add', gw]);
    // Another agent may have raced us to it: only a namespace still missing is a failure.
    if (!made.ok && !(await netnsExists(gw, probeOf(ip)))) return err(new PlumbError('netns', `${what}: ${made.error.message}`, { cause: made.error }));
  }
  const there = await readLinks(ip, gw, 'inspect');
  if (!there.ok) return there;
  if (!there.value.some((l) => l.name === opts.tap)) {
    const home = await readLinks(ip, opts.poolNetns, 'inspect');
    if (!home.ok) return home;
    if (!home.value.some((l) => l.name === opts.tap && l.tap)) {
      return err(new PlumbError('inspect', `${what}: no TAP ${opts.tap} in ${opts.poolNetns ?? 'the current namespace'} nor in ${gw}`));
    }
    const moved = await ip.run(['link', 'set', 'dev', opts.tap, 'netns', netnsPath(gw)], opts.poolNetns);
    if (!moved.ok) return err(new PlumbError('move', `${what}: ${moved.error.message}`, { cause: moved.error }));
  }
  const failed = await runSteps(ip, gw, [
    ['up', ['link', 'set', 'dev', opts.tap, 'up']],
    ['address', ['addr', 'replace', `${GATEWAY_IP}/32`, 'dev', opts.tap]],
    ['lo', ['link', 'set', 'dev', 'lo', 'up']],
  ]);
  if (failed) return err(stepError(what, failed));
  const mac = await macOf(ip, gw, opts.tap);
  return mac.ok ? ok({ mac: mac.value }) : mac;
}

/**
 * In the host side's namespace: the host TAP up, `address/32` on it, `169.254.1.1 dev TAP scope
 * link`, and each pod CIDR via 169.254.1.1 through it (`onlink`, so the order does not matter).
 * Returns the TAP's MAC.
 *
 * @example
 * const host = await setupHost(execIp, { tap: 'P4TAP_1', address: '10.0.0.10', podCidrs: ['10.244.1.0/24'] });
 */
export async function setupHost(ip: IpRunner, opts: HostOptions): Promise<Result<{ mac: string }, PlumbError | IpCommandError>> {
  const tap = checkIfname(opts.tap, 'host TAP');
  if (!tap.ok) return tap;
  if (opts.netns !== undefined) {
    const ns = await checkNetns(opts.netns, 'host namespace', true, probeOf(ip));
    if (!ns.ok) return ns;
  }
  const address = checkIpv4(opts.address, 'host address');
  if (!address.ok) return address;
  const cidrs: string[] = [];
  for (const text of opts.podCidrs) {
    const cidr = checkCidrText(text, 'pod CIDR');
    if (!cidr.ok) return cidr;
    if (!cidrs.includes(cidr.value)) cidrs.push(cidr.value);
  }
  const dev = opts.tap;
  const failed = await runSteps(ip, opts.netns, [
    ['up', ['link', 'set', 'dev', dev, 'up']],
    ['address', ['addr', 'replace', `${opts.address}/32`, 'dev', dev]],
    ['gateway-route', ['route', 'replace', GATEWAY_IP, 'dev', dev, 'scope', 'link']],
    ...cidrs.map((cidr): Step => ['route', ['route', 'replace', cidr, 'via', GATEWAY_IP, 'dev', dev, 'onlink']]),
  ]);
  if (failed) return err(stepError(`setting up the host interface ${dev} in ${opts.netns ?? 'the current namespace'}`, failed));
  const mac = await macOf(ip, opts.netns, dev);
  return mac.ok ? ok({ mac: mac.value }) : mac;
}
