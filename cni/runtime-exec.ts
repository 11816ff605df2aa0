/**
 * Running a CNI plugin the way a container runtime does: the plugin (a Node.js script when its
 * name ends in .js/.cjs/.mjs, else an executable) with only the CNI_* variables and PATH in its
 * environment and the network configuration on stdin. The tests, the CNI benchmark and the demo
 * cluster all call the plugin through this one helper.
 *
 * @example
 * const r = await execPlugin('/opt/cni/bin/infra-cni', cniEnv({ command: 'ADD', containerId: 'c1', ifname: 'eth0', netns: '/var/run/netns/p1' }), conf);
 * if (r.code === 0) console.log(JSON.parse(r.stdout).ips);
 */
import { spawn } from 'node:child_process';

export const CNI_BIN_DIR = '/usr/lib/cni';

export interface PluginRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, ms. */
  readonly ms: number;
}

export interface CallEnv {
  readonly command: string;
  readonly containerId?: string;
  readonly ifname?: string;
  readonly netns?: string;
  readonly args?: string;
  /** Where IPAM and chained plugins are looked up (default Debian's /usr/lib/cni). */
  readonly path?: string;
}

/** The CNI_* environment a runtime sets; undefined fields are left out. */
export function cniEnv(c: CallEnv): Record<string, string> {
  const env: Record<string, string> = { CNI_COMMAND: c.command, CNI_PATH: c.path ?? CNI_BIN_DIR };
  if (c.containerId !== undefined) env.CNI_CONTAINERID = c.containerId;
  if (c.ifname !== undefined) env.CNI_IFNAME = c.ifname;
  if (c.netns !== undefined) env.CNI_NETNS = c.netns;
  if (c.args !== undefined) env.CNI_ARGS = c.args;
  return env;
}

/** Runs `file` with `args`, only `env` (plus PATH) and `stdin`; resolves with its exit code and output. */
export function execPlugin(file: string, env: Record<string, string>, stdin: string, args: readonly string[] = []): Promise<PluginRun> {
  const started = performance.now();
  const [cmd, argv] = /\.[cm]?js$/.test(file) ? [process.execPath, [file, ...args]] : [file, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - started }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}
