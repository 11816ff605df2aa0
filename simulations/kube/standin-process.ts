/**
 * Runs the API server stand-in (bin/kube-apiserver) as a separate process for tests and the
 * local node: on free loopback ports, with an admin port that no knob touches, ready when it
 * says so.
 *
 * @example
 * const api = await startStandin({ args: ['--history', '50'] });
 * const kube = new KubeClient(api.adminUrl);   // changes objects, even during an outage
 * // … the agent watches api.url …
 * await api.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { binCommand, stopChild } from '../processes.js';

export interface StandinProcess {
  /** Where API clients (the agent's informers) connect: knobs act on this one. */
  readonly url: string;
  /** The same API on a port no knob affects. */
  readonly adminUrl: string;
  readonly port: number;
  readonly adminPort: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** What the process printed (logs), for failure messages. */
  readonly output: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StandinProcessOptions {
  readonly args?: readonly string[];
  readonly logLevel?: string;
  readonly startTimeoutMs?: number;
}

export async function startStandin(options: StandinProcessOptions = {}): Promise<StandinProcess> {
  const { command, args } = binCommand('kube-apiserver');
  const child = spawn(
    command,
    [...args, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', options.logLevel ?? 'warn', ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true }, // its own process group: Ctrl-C goes to the launcher
  );
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stderr }).on('line', (l) => output.push(l));
  const ready = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kube-apiserver not ready:\n${output.join('\n')}`));
    }, options.startTimeoutMs ?? 15_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      output.push(l);
      if (l.startsWith('{"ready":true')) {
        clearTimeout(timer);
        resolve(JSON.parse(l) as { port: number; adminPort: number });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kube-apiserver exited with ${code}:\n${output.join('\n')}`));
    });
  });
  return {
    url: `http://127.0.0.1:${ready.port}`,
    adminUrl: `http://127.0.0.1:${ready.adminPort}`,
    port: ready.port,
    adminPort: ready.adminPort,
    pid: child.pid ?? -1,
    child,
    output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      return stopChild(child, exited, { signal });
    },
  };
}
