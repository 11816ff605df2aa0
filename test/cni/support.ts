/** Test helpers for the CNI plugin: bundle it once, exec it as a runtime does, read host-local leases. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';
import { execPlugin, type PluginRun } from '../../cni/runtime-exec.js';

export { CNI_BIN_DIR, cniEnv, type CallEnv } from '../../cni/runtime-exec.js';
export type Exec = PluginRun;

/** Runs the plugin (or any executable) as a runtime does: see cni/runtime-exec.ts. */
export function execFile(file: string, args: string[], env: Record<string, string>, stdin: string): Promise<Exec> {
  return execPlugin(file, env, stdin, args);
}

export const SUBNET = '10.244.77.0/24';
export const GATEWAY = '10.244.77.1';

/** Bundles bin/cni-plugin.ts the way `npm run build:cni` does, into `dir`. */
export function bundlePlugin(dir: string): Promise<string> {
  return bundleCniPlugin(join(dir, 'infra-cni.cjs'));
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
