/**
 * A whole node on this machine, as `npm start` runs it: a real nats-server (with JetStream) on a
 * free loopback port, the Kubernetes API stand-in, the software P4 target on a Unix socket, one or more managers (one leads,
 * the others stand by) and one agent, each a separate process talking only over NATS (and the
 * managers to the target over P4Runtime), their configuration files in a run directory of their
 * own. Processes that die are restarted, as systemd would.
 *
 * @example
 * const node = await startLocalNode({ onLog: print });
 * // ... node.manager.kill('SIGKILL') ... a standby (or the restarted manager) takes over
 * await node.stop();
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { generateDeployment } from '../deploy/certs/deployment.js';
import { inboxPrefix, type Identity } from '../deploy/certs/identities.js';
import type { BusTls } from '../messages/bus.js';
import { startStandin, type StandinProcess } from './kube/standin-process.js';

export interface BusCredentials {
  readonly tls: BusTls;
  readonly inboxPrefix: string;
}
import { ManagedProcess, type LogLine } from './processes.js';

export interface LocalNodeOptions {
  readonly node?: string;
  /** The node's InternalIP as the processes are told it (no address is configured anywhere). */
  readonly nodeIp?: string;
  readonly podCidr?: string;
  readonly heartbeatMs?: number;
  readonly logLevel?: string;
  readonly moduleLevels?: Record<string, string>;
  /** Restart a process that dies, after this many ms (default 500; null keeps it down). */
  readonly restartAfterMs?: number | null;
  /** Managers competing for the node's lease (default 1). */
  readonly managers?: number;
  /** Run the software P4 target and point the managers at it (default true). */
  readonly target?: boolean;
  /**
   * Mutual TLS everywhere (default true): certificates generated into the run directory, NATS with
   * per-node authorisation, the target requiring the manager's client certificate.
   */
  readonly tls?: boolean;
  /** Run the Kubernetes API stand-in and point the agent's watches at it (default true). */
  readonly kube?: boolean;
  /** The session's full resync period (default 60 s). */
  readonly resyncMs?: number;
  /**
   * Give the agent a TAP pool and serve CNI (its socket at LocalNode.cniSocket): the pool's
   * prefix and namespace (made by the caller, e.g. with bin/create-interfaces) and the gateway
   * namespace (created by the agent). Namespaces of the caller's own: never the root one.
   */
  readonly pods?: { readonly prefix: string; readonly poolNetns: string; readonly gatewayNetns: string; readonly addTimeoutMs?: number };
  /**
   * Split mode on one machine (the demo): NATS listens on this address (default 127.0.0.1), the
   * target on TCP `targetListen` instead of a Unix socket, and the managers run inside the
   * named namespace `managerNetns`, reaching both only through a veth to this address.
   */
  readonly natsHost?: string;
  readonly targetListen?: string;
  readonly managerNetns?: string;
  /** Keep certificates here across runs (generated when missing, renewed when due); default the run dir. */
  readonly certsDir?: string;
  /**
   * Serve each manager's and the agent's health endpoints and metrics (/healthz, /readyz,
   * /metrics) on a free loopback port of its own (LocalNode.health has the addresses; a restarted
   * process keeps its port). Not with `managerNetns` (loopback there is the namespace's own).
   */
  readonly health?: boolean;
  readonly onLog?: (process: string, line: LogLine | string) => void;
  readonly onExit?: (process: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface LocalNode {
  readonly node: string;
  readonly nats: NatsServer;
  /** The first manager. */
  readonly manager: ManagedProcess;
  readonly managers: readonly ManagedProcess[];
  readonly agent: ManagedProcess;
  readonly target: ManagedProcess | undefined;
  /** P4Runtime address of the target (unix://…), if it runs. */
  readonly targetAddress: string | undefined;
  /** The Kubernetes API stand-in (change objects through its adminUrl, as kubectl would). */
  readonly kube: StandinProcess | undefined;
  /** The agent's CNI socket (with `pods`). */
  readonly cniSocket: string | undefined;
  /** Bus credentials of an identity (undefined without TLS): pass them to Bus.connect. */
  credentials(identity: Identity): BusCredentials | undefined;
  /** host:port of each process's health listener, with `health` (managers in the order of `managers`). */
  readonly health: { readonly managers: readonly string[]; readonly agent: string } | undefined;
  readonly dir: string;
  /** Stops agent, managers, target (SIGTERM, by PID), then NATS; removes the run directory. */
  stop(): Promise<{ manager: number | null; agent: number | null; managers: (number | null)[]; target: number | null }>;
}

export async function startLocalNode(options: LocalNodeOptions = {}): Promise<LocalNode> {
  const node = options.node ?? 'node-1';
  const dir = await mkdtemp(join(tmpdir(), 'infra-node-'));
  let nats: NatsServer | undefined;
  let kube: StandinProcess | undefined;
  const started: ManagedProcess[] = [];
  try {
    const natsDir = join(dir, 'nats');
    await mkdir(natsDir);
    const natsHost = options.natsHost ?? '127.0.0.1';
    const targetHost = options.targetListen?.replace(/:\d+$/, '');
    const certs =
      options.tls === false
        ? undefined
        : await generateDeployment({
            outDir: options.certsDir ?? join(dir, 'certs'),
            nodes: [node],
            days: options.certsDir ? 30 : 2,
            natsSans: ['localhost', '127.0.0.1', '::1', ...(natsHost !== '127.0.0.1' ? [natsHost] : [])],
            ...(targetHost ? { targetSans: ['localhost', '127.0.0.1', targetHost] } : {}),
          });
    nats = await startNatsServer({ dir: natsDir, host: natsHost, ...(certs ? { extraConfig: await readFile(certs.paths.natsConfig, 'utf8') } : {}) });
    const credentials = (identity: Identity): BusCredentials | undefined => {
      if (!certs) return undefined;
      const pair = certs.paths.identity(identity);
      return { tls: { caFile: certs.paths.busCa.cert, certFile: pair.cert, keyFile: pair.key }, inboxPrefix: inboxPrefix(identity) };
    };
    const natsFor = (identity: Identity): Record<string, unknown> => ({ servers: [nats!.url], ...(credentials(identity) ?? { insecure: true }) });
    const withTarget = options.target ?? true;
    const targetAddress = withTarget ? (options.targetListen ?? `unix://${join(dir, 'p4rt.sock')}`) : undefined;
    const common = {
      node: { name: node, ip: options.nodeIp ?? '192.0.2.10', podCidr: options.podCidr ?? '10.244.0.0/24' },
      heartbeat: { intervalMs: options.heartbeatMs ?? 1000, missedBeats: 3 },
      logging: { level: options.logLevel ?? 'info', modules: options.moduleLevels ?? {} },
    };
    const p4Tls = certs
      ? { caFile: certs.paths.p4Ca.cert, certFile: certs.paths.p4Manager(node).cert, keyFile: certs.paths.p4Manager(node).key, serverName: `target.${node}` }
      : undefined;
    const managerConfig = {
      ...common,
      nats: natsFor({ kind: 'manager', node }),
      ...(targetAddress ? { p4: { target: targetAddress, resyncMs: options.resyncMs ?? 60_000, ...(p4Tls ? { tls: p4Tls } : { insecure: true }) } } : {}),
    };
    await writeFile(join(dir, 'manager.yaml'), stringify(managerConfig), { mode: 0o600 });
    const managerCount = options.managers ?? 1;
    const health = options.health
      ? { managers: await Promise.all(Array.from({ length: managerCount }, () => freeLoopback())), agent: await freeLoopback() }
      : undefined;
    // With health endpoints each manager needs its own listener, hence its own file.
    const managerFile = (i: number): string => (health ? join(dir, `manager-${i + 1}.yaml`) : join(dir, 'manager.yaml'));
    if (health) {
      for (const [i, listen] of health.managers.entries()) {
        await writeFile(managerFile(i), stringify({ ...managerConfig, health: { listen } }), { mode: 0o600 });
      }
    }
    kube = options.kube === false ? undefined : await startStandin({ logLevel: 'warn' });
    const cniSocket = options.pods ? join(dir, 'cni', 'cni.sock') : undefined;
    const pods = options.pods ? { ...options.pods, stateDir: join(dir, 'agent-state'), socket: cniSocket } : undefined;
    const agentConfig = {
      ...common,
      nats: natsFor({ kind: 'agent', node }),
      ...(kube ? { kube: { server: kube.url } } : {}),
      ...(pods ? { pods } : {}),
      ...(health ? { health: { listen: health.agent } } : {}),
    };
    await writeFile(join(dir, 'agent.yaml'), stringify(agentConfig), { mode: 0o600 });
    const restartAfterMs = options.restartAfterMs === null ? undefined : (options.restartAfterMs ?? 500);
    const proc = (name: string, bin: string, args: string[], netns?: string): ManagedProcess => {
      const p = new ManagedProcess({
        name,
        bin,
        args,
        ...(netns ? { netns } : {}),
        ...(options.onLog ? { onLog: options.onLog } : {}),
        ...(options.onExit ? { onExit: options.onExit } : {}),
        ...(restartAfterMs !== undefined ? { restartAfterMs } : {}),
      });
      started.push(p);
      return p;
    };
    const targetTls = certs ? ['--tls-cert', certs.paths.target(node).cert, '--tls-key', certs.paths.target(node).key, '--tls-ca', certs.paths.p4Ca.cert] : ['--insecure'];
    // With a pool, the target forwards real frames between the TAPs of the agent's port map.
    const portMap = pods ? ['--port-map', join(pods.stateDir, 'portmap.json')] : [];
    const target = targetAddress ? proc('target', 'target', ['--listen', targetAddress, '--log-level', options.logLevel ?? 'info', ...targetTls, ...portMap]) : undefined;
    target?.start();
    const managers = Array.from({ length: managerCount }, (_, i) =>
      proc(i === 0 ? 'manager' : `manager-${i + 1}`, 'manager', ['--config', managerFile(i)], options.managerNetns),
    );
    const agent = proc('agent', 'agent', ['--config', join(dir, 'agent.yaml')]);
    for (const m of managers) m.start();
    agent.start();
    const server = nats;
    const api = kube;
    return {
      node,
      nats: server,
      manager: managers[0]!,
      managers,
      agent,
      target,
      targetAddress,
      kube: api,
      cniSocket,
      credentials,
      health,
      dir,
      async stop() {
        const agentCode = await agent.stop();
        const managerCodes = await Promise.all(managers.map((m) => m.stop()));
        const targetCode = target ? await target.stop() : null;
        await api?.stop();
        await server.stop();
        await rm(dir, { recursive: true, force: true });
        return { manager: managerCodes[0] ?? null, agent: agentCode, managers: managerCodes, target: targetCode };
      },
    };
  } catch (e) {
    await Promise.all(started.map((p) => p.stop(500)));
    await kube?.stop();
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A loopback host:port free right now (the kernel's pick; the process binds it moments later). */
async function freeLoopback(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
