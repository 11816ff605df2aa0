/**
 * Runs the simulator's command line from dist/ (as `npm run simulate` does: the cluster's
 * processes then run compiled too) and collects what it printed. `npm run build` first.
 *
 * @example
 * const run = await runSimulateCli(['--seed', '1', '--nodes', '2', '--duration', '20', '--faults', 'none']);
 * run.last; // { simulate: 'ok', seed: 1, … }
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SIMULATE_CLI = join(root, 'dist', 'simulations', 'simulate-cli.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The last line, parsed (undefined when it is not JSON). */
  readonly last: Record<string, unknown> | undefined;
  readonly seconds: number;
}

export async function runSimulateCli(args: readonly string[], timeoutMs = 240_000): Promise<CliRun> {
  if (!existsSync(SIMULATE_CLI)) throw new Error(`${SIMULATE_CLI} is missing: run npm run build`);
  const t0 = Date.now();
  const child = spawn(process.execPath, [SIMULATE_CLI, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const lines = stdout.trim().split('\n');
  let last: Record<string, unknown> | undefined;
  try {
    last = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
  } catch {
    last = undefined;
  }
  return { code, stdout, stderr, last, seconds: Math.round((Date.now() - t0) / 100) / 10 };
}
