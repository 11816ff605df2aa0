/**
 * A node for fault-injection tests: a real nats-server (JetStream), the software P4 target, the
 * manager (restarted 100 ms after it dies, as systemd would) and the agent stand-in, each a
 * separate process. The stand-in holds the truth and drives a seeded workload round by round;
 * the test kills the manager whenever it likes and checks the target.
 *
 * @example
 * const node = await startStandinNode({ seed: 7 });
 * const done = await node.standin.round(2, { mark: 30, onMark: () => node.manager.kill('SIGKILL') });
 * // … trace packets through node.targetAddress against done.truth …
 * await node.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { FullState } from '../protocol/sync.js';
import type { RunOutcome } from './agent-standin.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { ManagedProcess, stopChild, type LogLine } from './processes.js';

export interface StandinNodeOptions {
  readonly node?: string;
  readonly seed: number;
  readonly heartbeatMs?: number;
  readonly restartAfterMs?: number;
  readonly rounds?: number;
  readonly logLevel?: string;
  readonly onLog?: (process: string, line: LogLine | string) => void;
}

export interface RoundDone {
  readonly index: number;
  readonly outcome: RunOutcome;
  readonly truth: FullState;
}

export interface StandinClient {
  readonly pid: number;
  readonly rounds: number;
  /** Runs one round; `onMark` fires once `mark` of its requests were answered. */
  round(index: number, options?: { mark?: number; onMark?: () => void; timeoutMs?: number }): Promise<RoundDone>;
  stop(): Promise<number | null>;
}

export interface StandinNode {
  readonly node: string;
  readonly nats: NatsServer;
  readonly target: ManagedProcess;
  readonly targetAddress: string;
  readonly manager: ManagedProcess;
  readonly standin: StandinClient;
  stop(): Promise<{ manager: number | null; target: number | null; standin: number | null }>;
}

const here = dirname(fileURLToPath(import.meta.url));
const fromSources = fileURLToPath(import.meta.url).endsWith('.ts');

function standinCommand(): { command: string; args: string[] } {
  if (fromSources) return { command: process.execPath, args: ['--import', 'tsx', join(here, 'agent-standin-process.ts')] };
  const js = join(here, 'agent-standin-process.js');
  if (!existsSync(js)) throw new Error(`${js} is missing: run npm run build`);
  return { command: process.execPath, args: [js] };
}

/** Starts the stand-in process and waits for its ready line. */
export async function startStandinProcess(args: readonly string[]): Promise<StandinClient> {
  const { command, args: base } = standinCommand();
  const child: ChildProcess = spawn(command, [...base, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stderr! }).on('line', (l) => output.push(l));
  const waiters: ((msg: Record<string, unknown>) => void)[] = [];
  let ready: (value: { rounds: number }) => void = () => undefined;
  const readyP = new Promise<{ rounds: number }>((resolve) => (ready = resolve));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(l) as Record<string, unknown>;
    } catch {
      output.push(l);
      return;
    }
    if (msg.ready === true) ready(msg as { rounds: number });
    for (const w of [...waiters]) w(msg);
  });
  const started = await Promise.race([readyP, exited.then((code) => Promise.reject(new Error(`agent stand-in exited with ${code}:\n${output.join('\n')}`)))]);
  const send = (o: unknown): void => void child.stdin!.write(JSON.stringify(o) + '\n');
  return {
    pid: child.pid ?? -1,
    rounds: started.rounds,
    round(index, options = {}) {
      return new Promise<RoundDone>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`round ${index} not done in time:\n${output.slice(-20).join('\n')}`)), options.timeoutMs ?? 60_000);
        const waiter = (msg: Record<string, unknown>): void => {
          if (msg.index !== index) return;
          if (msg.event === 'mark') options.onMark?.();
          if (msg.event === 'round.done') done(undefined, msg as unknown as RoundDone);
        };
        const done = (e: Error | undefined, value?: RoundDone): void => {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(waiter), 1);
          if (e) reject(e);
          else resolve(value!);
        };
        waiters.push(waiter);
        send({ cmd: 'round', index, ...(options.mark !== undefined ? { mark: options.mark } : {}) });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) send({ cmd: 'stop' });
      return stopChild(child, exited, { signal: null });
    },
  };
}

export async function startStandinNode(options: StandinNodeOptions): Promise<StandinNode> {
  const node = options.node ?? 'node-1';
  const heartbeatMs = options.heartbeatMs ?? 100;
  const dir = await mkdtemp(join(tmpdir(), 'infra-standin-'));
  let nats: NatsServer | undefined;
  const started: ManagedProcess[] = [];
  try {
    await mkdir(join(dir, 'nats'));
    nats = await startNatsServer({ dir: join(dir, 'nats') });
    const targetAddress = `unix://${join(dir, 'p4rt.sock')}`;
    const config = {
      node: { name: node, ip: '192.0.2.10', podCidr: '10.244.0.0/16' },
      nats: { servers: [nats.url], insecure: true },
      heartbeat: { intervalMs: heartbeatMs, missedBeats: 3 },
      logging: { level: options.logLevel ?? 'info', modules: {} },
      p4: { target: targetAddress, resyncMs: 600_000, insecure: true },
    };
    await writeFile(join(dir, 'manager.yaml'), stringify(config), { mode: 0o600 });
    const log = options.onLog ? { onLog: options.onLog } : {};
    const target = new ManagedProcess({ name: 'target', bin: 'target', args: ['--listen', targetAddress, '--log-level', 'warn', '--insecure'], ...log });
    started.push(target);
    target.start();
    await target.waitReady(); // listening before the manager dials it
    const manager = new ManagedProcess({ name: 'manager', bin: 'manager', args: ['--config', join(dir, 'manager.yaml')], restartAfterMs: options.restartAfterMs ?? 100, ...log });
    started.push(manager);
    manager.start();
    const standin = await startStandinProcess(['--nats', nats.url, '--node', node, '--seed', String(options.seed), '--heartbeat-ms', String(heartbeatMs), '--rounds', String(options.rounds ?? 24)]);
    const server = nats;
    return {
      node,
      nats: server,
      target,
      targetAddress,
      manager,
      standin,
      async stop() {
        const standinCode = await standin.stop();
        const managerCode = await manager.stop();
        const targetCode = await target.stop();
        await server.stop();
        await rm(dir, { recursive: true, force: true });
        return { manager: managerCode, target: targetCode, standin: standinCode };
      },
    };
  } catch (e) {
    await Promise.all(started.map((p) => p.stop(500)));
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
