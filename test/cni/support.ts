/** Test helpers for the CNI plugin: bundle it once, exec it as a runtime does, read host-local leases. */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';

export const CNI_BIN_DIR = '/usr/lib/cni';
export const SUBNET = '10.244.77.0/24';
export const GATEWAY = '10.244.77.1';

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}


/** Bundles bin/cni-plugin.ts the way `npm run build:cni` does, into `dir`. */
export function bundlePlugin(dir: string): Promise<string> {
  return bundleCniPlugin(join(dir, 'infra-cni.cjs'));
}

/** Runs `file` (node script when it ends in .mjs) with only `env` (plus PATH) and `stdin`. */
export function execFile(file: string, args: string[], env: Record<string, string>, stdin: string): Promise<Exec> {
  const started = process.hrtime.bigint();
  const [cmd, argv] = /\.[cm]?js$/.test(file) ? [process.execPath, [file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

export interface CallEnv {
  command: string;
  containerId?: string;
  ifname?: string;
  netns?: string;
  args?: string;
}

/** The CNI_* environment a runtime sets; undefined fields are left out. */
export function cniEnv(c: CallEnv): Record<string, string> {
  const env: Record<string, string> = { CNI_COMMAND: c.command, CNI_PATH: CNI_BIN_DIR };
  if (c.containerId !== undefined) env.CNI_CONTAINERID = c.containerId;
  if (c.ifname !== undefined) env.CNI_IFNAME = c.ifname;
  if (c.netns !== undefined) env.CNI_NETNS = c.netns;
  if (c.args !== undefined) env.CNI_ARGS = c.args;
  return env;
}

/** Our plugin's netconf with host-local IPAM recording leases under `dataDir`. */
export function netconf(agentSocket: string, dataDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'infra-test',
    type: 'infra-cni',
    agentSocket,
    agentTimeoutMs: 2000,
    mtu: 1400,
    ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: SUBNET, gateway: GATEWAY }]], routes: [{ dst: '0.0.0.0/0' }] },
    ...extra,
  };
}

/** The addresses host-local holds in `dataDir` for network `name` (one file per lease). */
export async function leases(dataDir: string, name = 'infra-test'): Promise<string[]> {
  try {
    const files = await readdir(join(dataDir, name));
    return files.filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();
  } catch {
    return [];
  }
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
