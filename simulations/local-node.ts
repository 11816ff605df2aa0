/**
 * A whole node on this machine, as `npm start` runs it: a real nats-server on a free loopback
 * port, one manager and one agent process talking only over it, their configuration files in a
 * run directory of their own. For now the node registers and exchanges heartbeats; later issues
 * add the software target, the API stand-in, TAPs and pods.
 *
 * @example
 * const node = await startLocalNode({ onLog: print });
 * // ... node.manager.kill('SIGKILL') ... the manager restarts and pulls the agent's state
 * await node.stop();
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { ManagedProcess, type LogLine } from './processes.js';

export interface LocalNodeOptions {
  readonly node?: string;
  /** The node's InternalIP as the processes are told it (no address is configured anywhere). */
  readonly nodeIp?: string;
  readonly podCidr?: string;
  readonly heartbeatMs?: number;
  readonly logLevel?: string;
  readonly moduleLevels?: Record<string, string>;
  /** Restart a process that dies, after this many ms (default 500; undefined keeps it down). */
  readonly restartAfterMs?: number | null;
  readonly onLog?: (process: string, line: LogLine | string) => void;
  readonly onExit?: (process: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface LocalNode {
  readonly node: string;
  readonly nats: NatsServer;
  readonly manager: ManagedProcess;
  readonly agent: ManagedProcess;
  readonly dir: string;
  /** Stops agent, then manager (SIGTERM, by PID), then NATS; removes the run directory. */
  stop(): Promise<{ manager: number | null; agent: number | null }>;
}

export async function startLocalNode(options: LocalNodeOptions = {}): Promise<LocalNode> {
  const node = options.node ?? 'node-1';
  const dir = await mkdtemp(join(tmpdir(), 'infra-node-'));
  let nats: NatsServer | undefined;
  try {
    const natsDir = join(dir, 'nats');
    await mkdir(natsDir);
    nats = await startNatsServer({ dir: natsDir });
    const common = {
      node: { name: node, ip: options.nodeIp ?? '192.0.2.10', podCidr: options.podCidr ?? '10.244.0.0/24' },
      nats: { servers: [nats.url] },
      heartbeat: { intervalMs: options.heartbeatMs ?? 1000, missedBeats: 3 },
      logging: { level: options.logLevel ?? 'info', modules: options.moduleLevels ?? {} },
    };
    await writeFile(join(dir, 'manager.yaml'), stringify(common), { mode: 0o600 });
    await writeFile(join(dir, 'agent.yaml'), stringify(common), { mode: 0o600 });
    const restartAfterMs = options.restartAfterMs === null ? undefined : (options.restartAfterMs ?? 500);
    const proc = (name: 'manager' | 'agent'): ManagedProcess =>
      new ManagedProcess({
        name,
        bin: name,
        args: ['--config', join(dir, `${name}.yaml`)],
        ...(options.onLog ? { onLog: options.onLog } : {}),
        ...(options.onExit ? { onExit: options.onExit } : {}),
        ...(restartAfterMs !== undefined ? { restartAfterMs } : {}),
      });
    const manager = proc('manager');
    const agent = proc('agent');
    manager.start();
    agent.start();
    const server = nats;
    return {
      node,
      nats: server,
      manager,
      agent,
      dir,
      async stop() {
        const agentCode = await agent.stop();
        const managerCode = await manager.stop();
        await server.stop();
        await rm(dir, { recursive: true, force: true });
        return { manager: managerCode, agent: agentCode };
      },
    };
  } catch (e) {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
