/**
 * One node of the simulated cluster, every part a real process of ours started by PID: the
 * software P4 target (synthetic packets: no --port-map, packets are traced through its model),
 * one or two managers contending for the node's lease, and the agent with a synthetic kernel
 * (bin/sim-agent: the real agent, its iproute2 emulated in `kernelDir`). The agent reaches NATS
 * and the managers reach the target through fault proxies of the simulator's own
 * (simulations/faults/), so a partition or a message fault is one call. Processes that die are
 * started again after `restartAfterMs`, as systemd would.
 *
 *   agent ──nats-proxy──▶ nats-server ◀── managers ──tcp-proxy──▶ target
 *
 * @example
 * const node = await startSimNode({ spec, dir, natsUrl, natsPort, kubeUrl, logs, random });
 * node.busProxy.setMessageFaults({ dropP: 0.3, duplicateP: 0, reorderP: 0, delayMs: 0, delayJitterMs: 0 });
 * await node.stop();
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Random } from '../../core/random.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { startNatsProxy, type NatsProxy } from '../faults/nats-proxy.js';
import { startTcpProxy, type TcpProxy } from '../faults/tcp-proxy.js';
import { ManagedProcess } from '../processes.js';
import type { NodeSpec } from './plan-types.js';
import type { ProcessLogs } from './process-logs.js';
import { mountTmpfs, type Tmpfs } from './tmpfs.js';

/** Timings of the simulated processes: short, so that recovery fits the run. */
export const HEARTBEAT_MS = 300;
export const LEASE_TTL_MS = 1500;
export const RESTART_AFTER_MS = 300;
export const POOL_PREFIX = 'P4TAP_';

export interface SimNodeOptions {
  readonly spec: NodeSpec;
  /** The node's directory (created here, removed by the cluster). */
  readonly dir: string;
  readonly runId: string;
  readonly natsUrl: string;
  readonly natsPort: number;
  readonly kubeUrl: string;
  readonly logs: ProcessLogs;
  /** The NATS proxy's own random (message faults are seeded). */
  readonly random: Random;
  /** Put the agent's state on a small tmpfs (for disk-full faults; root only). */
  readonly tmpfsState: boolean;
  readonly onExit?: (process: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface SimNode {
  readonly spec: NodeSpec;
  readonly name: string;
  readonly dir: string;
  /** The synthetic kernel's directory (namespaces are marker files under `netns/`). */
  readonly kernelDir: string;
  /** The agent's pool.json and portmap.json. */
  readonly stateDir: string;
  readonly cniSocket: string;
  /** The target's own address (not through the proxy): for traces and counters. */
  readonly targetAddress: string;
  readonly target: ManagedProcess;
  readonly managers: readonly ManagedProcess[];
  readonly agent: ManagedProcess;
  readonly p4Proxy: TcpProxy;
  readonly busProxy: NatsProxy;
  readonly admin: TargetAdminClient;
  readonly tmpfs: Tmpfs | undefined;
  /** Every process of the node. */
  readonly processes: readonly ManagedProcess[];
  /** Stops agent, managers and target (SIGCONT first, then SIGTERM by PID), the proxies, the tmpfs. */
  stop(): Promise<void>;
}

export async function startSimNode(o: SimNodeOptions): Promise<SimNode> {
  const { spec, dir } = o;
  const name = spec.name;
  const kernelDir = join(dir, 'kernel');
  const stateDir = join(dir, 'state');
  const cniSocket = join(dir, 'cni', 'cni.sock');
  const targetSocket = join(dir, 'p4rt.sock');
  await mkdir(kernelDir, { recursive: true });
  await mkdir(join(dir, 'cni'), { recursive: true, mode: 0o700 });
  const started: ManagedProcess[] = [];
  let tmpfs: Tmpfs | undefined;
  let p4Proxy: TcpProxy | undefined;
  let busProxy: NatsProxy | undefined;
  try {
    tmpfs = o.tmpfsState ? await mountTmpfs(stateDir, 2 << 20) : undefined;
    if (!tmpfs) await mkdir(stateDir, { recursive: true });
    p4Proxy = await startTcpProxy({ listen: { path: join(dir, 'p4rt-proxy.sock') }, upstream: { path: targetSocket } });
    busProxy = await startNatsProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: o.natsPort }, random: o.random });
    const common = {
      node: { name, ip: spec.nodeIp, podCidr: spec.podCidr },
      heartbeat: { intervalMs: HEARTBEAT_MS, missedBeats: 3 },
    };
    // warn everywhere, but the lines the simulator reads: instance ids, leadership, supervisor reports.
    const logging = (extra: Record<string, string>) => ({ level: 'warn', modules: { process: 'info', supervisor: 'info', ...extra } });
    const managerConfig = {
      ...common,
      nats: { servers: [o.natsUrl], insecure: true, timeoutMs: 1000 },
      logging: logging({ lease: 'info', session: 'info' }),
      p4: { target: `unix://${p4Proxy.address}`, resyncMs: 5000, insecure: true, callTimeoutMs: 3000, readIdleMs: 3000 },
      leadership: { ttlMs: LEASE_TTL_MS },
    };
    const agentConfig = {
      ...common,
      nats: { servers: [`nats://${busProxy.address}`], insecure: true, timeoutMs: 1000 },
      logging: logging({}),
      kube: {
        server: o.kubeUrl,
        watchTimeoutSeconds: 60,
        idleGraceMs: 3000,
        requestTimeoutMs: 3000,
        backoff: { initialMs: 100, maxMs: 1000 },
        syncDelayMs: 30,
        maxSyncDelayMs: 200,
      },
      pods: {
        prefix: POOL_PREFIX,
        poolNetns: `ioff-${o.runId}-${name}-pool`,
        gatewayNetns: `ioff-${o.runId}-${name}-gw`,
        stateDir,
        socket: cniSocket,
        addTimeoutMs: 5000,
        retryMs: 100,
      },
    };
    await writeFile(join(dir, 'manager.yaml'), stringify(managerConfig), { mode: 0o600 });
    await writeFile(join(dir, 'agent.yaml'), stringify(agentConfig), { mode: 0o600 });
    const proc = (procName: string, bin: string, args: string[]): ManagedProcess => {
      const p = new ManagedProcess({
        name: `${name}/${procName}`,
        bin,
        args,
        restartAfterMs: RESTART_AFTER_MS,
        onLog: (process, line) => o.logs.onLine(process, line),
        ...(o.onExit ? { onExit: o.onExit } : {}),
      });
      started.push(p);
      return p;
    };
    const target = proc('target', 'target', ['--listen', `unix://${targetSocket}`, '--insecure', '--log-level', 'warn']);
    target.start();
    const managers = Array.from({ length: spec.managers }, (_, i) => proc(i === 0 ? 'manager' : `manager-${i + 1}`, 'manager', ['--config', join(dir, 'manager.yaml')]));
    const agent = proc('agent', 'sim-agent', ['--config', join(dir, 'agent.yaml'), '--kernel-dir', kernelDir, '--kernel-seed', String(spec.kernelSeed), '--pool', String(spec.pool)]);
    for (const m of managers) m.start();
    agent.start();
    const admin = new TargetAdminClient(`unix://${targetSocket}`);
    const proxies = { p4: p4Proxy, bus: busProxy };
    const fs = tmpfs;
    return {
      spec,
      name,
      dir,
      kernelDir,
      stateDir,
      cniSocket,
      targetAddress: `unix://${targetSocket}`,
      target,
      managers,
      agent,
      p4Proxy,
      busProxy,
      admin,
      tmpfs,
      processes: started,
      async stop() {
        admin.close();
        for (const p of started) p.kill('SIGCONT');
        await agent.stop(3000);
        await Promise.all(managers.map((m) => m.stop(3000)));
        await target.stop(3000);
        await proxies.bus.close();
        await proxies.p4.close();
        await fs?.unfill().catch(() => undefined);
        await fs?.unmount().catch(() => undefined);
      },
    };
  } catch (e) {
    await Promise.all(started.map((p) => p.stop(500)));
    await busProxy?.close().catch(() => undefined);
    await p4Proxy?.close().catch(() => undefined);
    await tmpfs?.unmount().catch(() => undefined);
    throw e;
  }
}
