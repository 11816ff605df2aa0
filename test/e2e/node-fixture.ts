/**
 * One booted node with real pods, shared by the end-to-end tests: the local node (nats-server,
 * the API stand-in, the target forwarding real frames, the manager, the agent with a TAP pool in
 * a host namespace of the test's own), and pods added through the real CNI plugin with host-local.
 * Pods and services go through the demo's cluster (simulations/demo/cluster.ts). Everything is in
 * namespaces named `ioff-<run>-…` and removed by `close()`.
 */
import { execFile as execFileCb, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execIp } from '../../actors/agent/pool/ip.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import { DemoCluster, POD_CIDR, type Pod } from '../../simulations/demo/cluster.js';
import { startLocalNode, type LocalNode } from '../../simulations/local-node.js';
import { TestNet } from '../agent-pool/netns.js';

const run = promisify(execFileCb);
export const POD_SUBNET = POD_CIDR;
export type { Pod };

export interface BootedNode {
  readonly node: LocalNode;
  readonly net: TestNet;
  readonly hostNs: string;
  /** Pods through the real plugin, services through the API stand-in (simulations/demo/cluster.ts). */
  readonly cluster: DemoCluster;
  addPod(name: string): Promise<Pod>;
  delPod(pod: Pod): Promise<void>;
  /** Runs a Node.js script inside a pod's namespace; resolves with its stdout. */
  inPod(pod: Pod, script: string, timeoutMs?: number): Promise<string>;
  /** Starts a long-running Node.js script in a pod (killed by close()). */
  spawnInPod(pod: Pod, script: string): ChildProcess;
  /** Starts a long-running command in a pod (killed by close()). */
  spawnCommandInPod(pod: Pod, argv: readonly string[]): ChildProcess;
  close(): Promise<void>;
}

export async function bootNode(options: { pool?: number; logLevel?: string; managers?: number; onLog?: (process: string, line: unknown) => void } = {}): Promise<BootedNode> {
  const net = new TestNet();
  const dir = await mkdtemp(join(tmpdir(), 'ioff-e2e-'));
  let node: LocalNode | undefined;
  let cluster: DemoCluster | undefined;
  const close = async () => {
    await cluster?.stop().catch(() => undefined);
    await node?.stop().catch(() => undefined);
    await run('ip', ['netns', 'del', net.ns('gw')]).catch(() => undefined);
    await net.cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const hostNs = await net.addNs('host');
    const made = await createPool(execIp, { prefix: net.prefix, count: options.pool ?? 16, netns: hostNs });
    if (!made.ok) throw made.error;
    node = await startLocalNode({
      tls: false,
      logLevel: options.logLevel ?? 'warn',
      heartbeatMs: 200,
      podCidr: POD_SUBNET,
      ...(options.managers ? { managers: options.managers } : {}),
      ...(options.onLog ? { onLog: options.onLog } : {}),
      pods: { prefix: net.prefix, poolNetns: hostNs, gatewayNetns: net.ns('gw') },
    });
    net.adopt(net.ns('gw'));
    const socket = node.cniSocket!;
    for (let i = 0; i < 200 && !(await access(socket).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));
    const pods = new DemoCluster({ node, dir, topo: { runId: net.id, podNs: (name) => net.adopt(net.ns(name)) } });
    cluster = pods;
    const booted: BootedNode = {
      node,
      net,
      hostNs,
      cluster: pods,
      addPod: (name) => pods.addPod(name),
      delPod: (pod) => pods.delPod(pod),
      inPod: (pod, script, timeoutMs = 10_000) => pods.inPod(pod, script, timeoutMs),
      spawnInPod: (pod, script) => pods.spawn(pod, [process.execPath, '-e', script]),
      spawnCommandInPod: (pod, argv) => pods.spawn(pod, argv),
      close,
    };
    return booted;
  } catch (e) {
    await close();
    throw e;
  }
}

/** The target's port counters, as the agent's port map names them (for failure messages). */
export async function portMapText(node: LocalNode): Promise<string> {
  return readFile(join(node.dir, 'agent-state', 'portmap.json'), 'utf8').catch(() => '(no port map)');
}
