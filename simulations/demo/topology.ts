/**
 * The demo's network, all in namespaces of its own (never an address or route in the root
 * namespace): `ioff-<run>-host` is the node's host side (the TAP pool, NATS, the target, the
 * agent, the API stand-in; no default route), `ioff-<run>-acc` stands for the IPU's Arm cores
 * (the manager), joined to the host side by one veth pair — the only way the manager reaches
 * NATS and the target, as over the E2100's comms channel. The agent makes `ioff-<run>-gw` (the
 * gateway) and the demo `ioff-<run>-<pod>` for pods.
 *
 * @example
 * const topo = await createTopology('a1b2c3');
 * // … ip netns exec topo.hostNs …
 * await topo.remove();
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { execIp } from '../../actors/agent/pool/ip.js';
import { createPool } from '../../actors/agent/pool/setup.js';

const run = promisify(execFile);

export interface Topology {
  readonly runId: string;
  readonly hostNs: string;
  readonly accNs: string;
  readonly gatewayNs: string;
  /** The host end of the veth: NATS and the target listen here. */
  readonly hostAddress: string;
  readonly accAddress: string;
  /** The TAP pool's prefix (pool index i is `${prefix}${i}`), in hostNs. */
  readonly prefix: string;
  readonly poolSize: number;
  /** A pod namespace's name. */
  podNs(name: string): string;
  /** Deletes every namespace of this run (and with them their links and TAPs). */
  remove(): Promise<void>;
}

/** The comms channel's /30 (in our namespaces only). */
const HOST_ADDRESS = '192.168.100.1';
const ACC_ADDRESS = '192.168.100.2';

const ip = (...args: string[]) => run('ip', args, { timeout: 10_000 });

/** Namespaces of one run: everything named `ioff-<run>-…`. */
export async function namespacesOf(runId: string): Promise<string[]> {
  const { stdout } = await ip('netns', 'list');
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`ioff-${runId}-`));
}

export async function removeRun(runId: string): Promise<void> {
  for (const ns of await namespacesOf(runId)) await ip('netns', 'del', ns).catch(() => undefined);
}

export async function createTopology(runId: string, poolSize = 16): Promise<Topology> {
  if (!/^[0-9a-f]{6}$/.test(runId)) throw new Error(`run id ${runId}: six hex digits expected`);
  const ns = (role: string) => `ioff-${runId}-${role}`;
  const topo: Topology = {
    runId,
    hostNs: ns('host'),
    accNs: ns('acc'),
    gatewayNs: ns('gw'),
    hostAddress: HOST_ADDRESS,
    accAddress: ACC_ADDRESS,
    prefix: `iod${runId}_`,
    poolSize,
    podNs: (name) => ns(name),
    remove: () => removeRun(runId),
  };
  try {
    await ip('netns', 'add', topo.hostNs);
    await ip('netns', 'add', topo.accNs);
    // The veth is made inside the host namespace and one end moved: it never exists in root.
    const hostEnd = `ioh${runId}`;
    const accEnd = `ioa${runId}`;
    await ip('-n', topo.hostNs, 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', accEnd);
    await ip('-n', topo.hostNs, 'link', 'set', accEnd, 'netns', topo.accNs);
    for (const [where, dev, address] of [
      [topo.hostNs, hostEnd, HOST_ADDRESS],
      [topo.accNs, accEnd, ACC_ADDRESS],
    ] as const) {
      await ip('-n', where, 'addr', 'add', `${address}/30`, 'dev', dev);
      await ip('-n', where, 'link', 'set', dev, 'up');
      await ip('-n', where, 'link', 'set', 'lo', 'up');
    }
    const pool = await createPool(execIp, { prefix: topo.prefix, count: poolSize, netns: topo.hostNs });
    if (!pool.ok) throw pool.error;
    return topo;
  } catch (e) {
    await topo.remove();
    throw e;
  }
}
