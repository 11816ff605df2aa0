/**
 * Runs the software P4 target (bin/target) as a separate process for tests, benchmarks and the
 * local node: on a Unix socket in a temporary directory by default, ready when it says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { binCommand, stopChild } from './processes.js';

export interface TargetProcess {
  /** The gRPC address clients dial, e.g. unix:///tmp/…/p4rt.sock or 127.0.0.1:port. */
  readonly address: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Lines the target printed (logs), for failure messages. */
  readonly output: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface TargetProcessOptions {
  /** 'unix' (default) or 'tcp' (127.0.0.1, a free port). */
  readonly transport?: 'unix' | 'tcp';
  readonly args?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Listen on this Unix socket path (e.g. to restart a target where clients expect it). */
  readonly socketPath?: string;
}

export async function startTarget(options: TargetProcessOptions = {}): Promise<TargetProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'infra-target-'));
  const listen = options.transport === 'tcp' ? '127.0.0.1:0' : `unix://${options.socketPath ?? join(dir, 'p4rt.sock')}`;
  const { command, args } = binCommand('target');
  const extra = options.args ?? [];
  // The target requires mutual TLS unless told otherwise: tests without certificates say so.
  const security = extra.includes('--tls-cert') || extra.includes('--insecure') ? [] : ['--insecure'];
  const child = spawn(command, [...args, '--listen', listen, '--log-level', 'warn', ...security, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stderr }).on('line', (l) => output.push(l));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`target not ready:\n${output.join('\n')}`)), options.startTimeoutMs ?? 15_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      output.push(l);
      if (l.startsWith('{"ready":true')) {
        clearTimeout(timer);
        resolve((JSON.parse(l) as { port: number }).port);
      }
    });
    void exited.then((code) => reject(new Error(`target exited with ${code}:\n${output.join('\n')}`)));
  });
  const address = options.transport === 'tcp' ? `127.0.0.1:${port}` : listen;
  return {
    address,
    pid: child.pid ?? -1,
    child,
    output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const code = await stopChild(child, exited, { signal });
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
