/**
 * One booted node with real pods, shared by the end-to-end tests: the local node (nats-server,
 * the API stand-in, the target forwarding real frames, the manager, the agent with a TAP pool in
 * a host namespace of the test's own), and pods added through the real CNI plugin with host-local.
 * Everything is in namespaces named `ioff-<run>-…` and removed by `close()`.
 */
import { execFile as execFileCb, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execIp } from '../../actors/agent/pool/ip.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';
import { startLocalNode, type LocalNode } from '../../simulations/local-node.js';
import { TestNet } from '../agent-pool/netns.js';
import { cniEnv, execFile } from '../cni/support.js';

const run = promisify(execFileCb);
export const POD_SUBNET = '10.244.0.0/24';

export interface Pod {
  readonly id: string;
  readonly ns: string;
  readonly path: string;
  readonly ip: string;
  readonly mac: string;
}

export interface BootedNode {
  readonly node: LocalNode;
  readonly net: TestNet;
  readonly hostNs: string;
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
  const children: ChildProcess[] = [];
  let node: LocalNode | undefined;
  const close = async () => {
    for (const c of children) c.kill('SIGKILL');
    await node?.stop().catch(() => undefined);
    await run('ip', ['netns', 'del', net.ns('gw')]).catch(() => undefined);
    await net.cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const hostNs = await net.addNs('host');
    const made = await createPool(execIp, { prefix: net.prefix, count: options.pool ?? 16, netns: hostNs });
    if (!made.ok) throw made.error;
    const plugin = await bundleCniPlugin(join(dir, 'infra-cni.cjs'));
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
    const conf = (_name: string) =>
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'e2e',
        type: 'infra-cni',
        agentSocket: socket,
        agentTimeoutMs: 10_000,
        mtu: 1500,
        ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: POD_SUBNET }]], routes: [{ dst: '0.0.0.0/0' }] },
      });
    const booted: BootedNode = {
      node,
      net,
      hostNs,
      async addPod(name) {
        const ns = await net.addNs(name);
        const id = `e2e${net.id}${name}`;
        const path = `/var/run/netns/${ns}`;
        for (let attempt = 0; ; attempt++) {
          const r = await execFile(plugin, [], cniEnv({ command: 'ADD', containerId: id, ifname: 'eth0', netns: path, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}` }), conf(name));
          if (r.code === 0) {
            const result = JSON.parse(r.stdout) as { ips: { address: string }[]; interfaces: { mac: string }[] };
            return { id, ns, path, ip: result.ips[0]!.address.split('/')[0]!, mac: result.interfaces[0]!.mac };
          }
          // The manager may still be electing itself on a fresh node: the runtime retries too.
          if (attempt > 40) throw new Error(`ADD ${name} failed: ${r.stdout}${r.stderr}`);
          await new Promise((res) => setTimeout(res, 250));
        }
      },
      async delPod(pod) {
        const r = await execFile(plugin, [], cniEnv({ command: 'DEL', containerId: pod.id, ifname: 'eth0', netns: pod.path }), conf(pod.ns));
        if (r.code !== 0) throw new Error(`DEL ${pod.ns} failed: ${r.stdout}${r.stderr}`);
      },
      async inPod(pod, script, timeoutMs = 10_000) {
        const { stdout } = await run('ip', ['netns', 'exec', pod.ns, process.execPath, '-e', script], { timeout: timeoutMs });
        return stdout;
      },
      spawnInPod(pod, script) {
        return booted.spawnCommandInPod(pod, [process.execPath, '-e', script]);
      },
      spawnCommandInPod(pod, argv) {
        // `ip netns exec` execs in place: the PID is the command's own, so close() kills it.
        const child = spawn('ip', ['netns', 'exec', pod.ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        return child;
      },
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
