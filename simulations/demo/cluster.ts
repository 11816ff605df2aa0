/**
 * The demo's small cluster, made the way Kubernetes would make it: pods are network namespaces
 * given their interface by the real CNI plugin (host-local IPAM, the agent's socket), services
 * and EndpointSlices are objects in the API stand-in that the agent watches. Runs inside the
 * node's host namespace (the API stand-in and the CNI socket are reachable from there).
 *
 * @example
 * const cluster = new DemoCluster({ node, topo, dir });
 * const web1 = await cluster.addPod('web-1');
 * await cluster.apply(service('web', '10.96.0.10', [{ name: 'web', port: 80, targetPort: 8080 }]));
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cniEnv, execPlugin } from '../../cni/runtime-exec.js';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';
import { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/store.js';
import type { LocalNode } from '../local-node.js';
import type { Topology } from './topology.js';

const run = promisify(execFile);

export const POD_CIDR = '10.244.0.0/24';

export interface Pod {
  readonly name: string;
  readonly id: string;
  readonly ns: string;
  readonly path: string;
  readonly ip: string;
  readonly mac: string;
  readonly port: number;
}

export interface ClusterOptions {
  readonly node: LocalNode;
  /** Pod namespaces are named `topo.podNs(name)`; container ids carry the run id. */
  readonly topo: Pick<Topology, 'podNs' | 'runId'>;
  /** Where the plugin bundle and host-local's leases go (the run directory). */
  readonly dir: string;
}

export class DemoCluster {
  private plugin: string | undefined;
  private readonly kube: KubeClient;
  private readonly children: ChildProcess[] = [];
  readonly pods: Pod[] = [];

  constructor(private readonly opts: ClusterOptions) {
    if (!opts.node.kube || !opts.node.cniSocket) throw new Error('the demo needs the API stand-in and the agent\'s CNI socket');
    this.kube = new KubeClient(opts.node.kube.adminUrl);
  }

  /** The node's name (EndpointSlices name it for local endpoints). */
  get nodeName(): string {
    return this.opts.node.node;
  }

  private conf(): string {
    return JSON.stringify({
      cniVersion: '1.0.0',
      name: 'infra-offload',
      type: 'infra-cni',
      agentSocket: this.opts.node.cniSocket,
      agentTimeoutMs: 10_000,
      mtu: 1500,
      ipam: { type: 'host-local', dataDir: join(this.opts.dir, 'ipam'), ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }] },
    });
  }

  private async cni(command: 'ADD' | 'DEL', name: string, id: string, path: string): Promise<{ code: number; out: string }> {
    this.plugin ??= await bundleCniPlugin(join(this.opts.dir, 'infra-cni.cjs'));
    const env = cniEnv({ command, containerId: id, ifname: 'eth0', netns: path, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}` });
    const r = await execPlugin(this.plugin, env, this.conf());
    return { code: r.code, out: r.stdout + r.stderr };
  }

  /** A namespace, then CNI ADD (retried while the manager elects itself on a fresh node). */
  async addPod(name: string): Promise<Pod> {
    const ns = this.opts.topo.podNs(name);
    await run('ip', ['netns', 'add', ns]);
    const path = `/var/run/netns/${ns}`;
    const id = `demo${this.opts.topo.runId}${name.replace(/[^a-z0-9]/g, '')}`;
    for (let attempt = 0; ; attempt++) {
      const r = await this.cni('ADD', name, id, path);
      if (r.code === 0) {
        const result = JSON.parse(r.out) as { ips: { address: string }[]; interfaces: { mac: string }[] };
        const portMap = await this.portOf(path);
        const pod = { name, id, ns, path, ip: result.ips[0]!.address.split('/')[0]!, mac: result.interfaces[0]!.mac, port: portMap };
        this.pods.push(pod);
        return pod;
      }
      if (attempt >= 60) throw new Error(`CNI ADD for ${name} failed: ${r.out.slice(0, 400)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  async delPod(pod: Pod): Promise<void> {
    const r = await this.cni('DEL', pod.name, pod.id, pod.path);
    if (r.code !== 0) throw new Error(`CNI DEL for ${pod.name} failed: ${r.out.slice(0, 400)}`);
    const i = this.pods.indexOf(pod);
    if (i >= 0) this.pods.splice(i, 1);
    await run('ip', ['netns', 'del', pod.ns]).catch(() => undefined);
  }

  /** The pool port (P4 port id) the agent gave the pod, from its port map. */
  private async portOf(path: string): Promise<number> {
    const map = JSON.parse(await readFile(join(this.opts.node.dir, 'agent-state', 'portmap.json'), 'utf8')) as { ports: { port: number; netns: string | null }[] };
    return map.ports.find((p) => p.netns === path)?.port ?? -1;
  }

  async apply(object: KubeObject): Promise<void> {
    const r = await this.kube.apply(object);
    if (!r.ok) throw new Error(`apply ${object.kind} ${String((object.metadata as { name?: string }).name)}: ${JSON.stringify(r.error)}`);
  }

  /** Runs a Node.js program in a pod; resolves with its stdout. */
  async inPod(pod: Pod, script: string, timeoutMs = 30_000): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', pod.ns, process.execPath, '-e', script], { timeout: timeoutMs });
    return stdout;
  }

  /** Runs a command in a pod; resolves with its stdout whatever its exit code. */
  async commandInPod(pod: Pod, argv: readonly string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string }> {
    return run('ip', ['netns', 'exec', pod.ns, ...argv], { timeout: timeoutMs }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '' }),
    );
  }

  /** Starts a long-running command in a pod (killed by stop()). */
  spawn(pod: Pod, argv: readonly string[]): ChildProcess {
    // `ip netns exec` execs in place: the PID is the command's own, so stop() can kill it.
    const child = spawn('ip', ['netns', 'exec', pod.ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    return child;
  }

  /** Starts a long-running command in a pod; resolves once it printed `readyText` (if given). */
  async serve(pod: Pod, argv: readonly string[], readyText?: string): Promise<ChildProcess> {
    const child = this.spawn(pod, argv);
    if (readyText) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${argv[0]} in ${pod.name} did not start`)), 10_000);
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes(readyText)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    }
    return child;
  }

  /** Kills what `serve` started and deletes every pod (CNI DEL, then its namespace). */
  async stop(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    for (const pod of [...this.pods]) await this.delPod(pod).catch(() => run('ip', ['netns', 'del', pod.ns]).catch(() => undefined));
  }
}
