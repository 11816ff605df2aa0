/**
 * The simulated cluster in process mode: one nats-server (JetStream, plaintext so the bus proxies
 * can see messages — TLS is tested in test/security/), one Kubernetes API stand-in (a Node object
 * per node; the simulator changes Services and EndpointSlices through its admin port, which no
 * outage knob touches), and N nodes (sim-node.ts). Everything lives in one run directory of the
 * simulator's own (`$TMPDIR/ioff-sim-<run>/`), removed by `stop()`; every process is stopped by
 * its PID. A run that dies still stops them: our processes exit when their launcher is gone
 * (INFRA_EXIT_WITH_PARENT), and nats-server is killed on exit.
 *
 * `ready()` waits until every node has a leader that reconciled its target and an agent serving
 * CNI.
 *
 * @example
 * const cluster = await startCluster({ plan, runId: 's7-1234', root: true });
 * await cluster.ready(60_000);
 * // … workload, faults, checks …
 * await cluster.stop();
 */
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { Bus } from '../../messages/bus.js';
import { KubeClient } from '../kube/client.js';
import { startStandin, type StandinProcess } from '../kube/standin-process.js';
import { SimError } from './errors.js';
import type { SimPlan } from './plan-types.js';
import { nodeOfProcess, ProcessLogs } from './process-logs.js';
import { RestartableNats } from './nats-restartable.js';
import { startSimNode, type SimNode } from './sim-node.js';

export interface ClusterOptions {
  readonly plan: SimPlan;
  /** Names the run directory and the synthetic namespaces (`ioff-<runId>-…`). */
  readonly runId: string;
  /** Put each agent's state on a tmpfs (disk-full faults; root only). */
  readonly tmpfsState: boolean;
  /** Give the managers and agents a clock that clock-jump faults can move (INFRA_CLOCK_OFFSET_DIR). */
  readonly clockJumps?: boolean;
  /** Told of every unexpected process exit. */
  readonly onProcessExit?: (process: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface SimCluster {
  readonly runId: string;
  readonly dir: string;
  readonly nats: RestartableNats;
  readonly kube: StandinProcess;
  /** The API on the stand-in's admin port: objects change here even during an outage; knobs act on the main port. */
  readonly kubeAdmin: KubeClient;
  readonly nodes: readonly SimNode[];
  readonly logs: ProcessLogs;
  /** The simulator's own NATS connection (lease watch, KV faults). */
  readonly bus: Bus;
  /** Where a process's clock offset goes (`<dir>/<pid>.offset`), when clock jumps are on. */
  readonly clockDir: string | undefined;
  node(name: string): SimNode | undefined;
  /** Resolves when every node has a reconciled leader and a serving agent; rejects after `ms`. */
  ready(ms: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const CLOCK_ENV = 'INFRA_CLOCK_OFFSET_DIR';

function nodeObject(spec: SimPlan['nodes'][number]): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: spec.name, labels: { 'kubernetes.io/hostname': spec.name } },
    spec: { podCIDR: spec.podCidr, podCIDRs: [spec.podCidr] },
    status: { addresses: [{ type: 'InternalIP', address: spec.nodeIp }, { type: 'Hostname', address: spec.name }] },
  };
}

export async function startCluster(o: ClusterOptions): Promise<SimCluster> {
  const dir = await mkdtemp(join(tmpdir(), `ioff-sim-${o.runId}-`));
  // Read by every process we start from here on (actors/run-process.ts): a test-only clock offset.
  const clockDir = o.clockJumps ? join(dir, 'clock') : undefined;
  const previousClockDir = process.env[CLOCK_ENV];
  const restoreClockEnv = (): void => {
    if (previousClockDir === undefined) delete process.env[CLOCK_ENV];
    else process.env[CLOCK_ENV] = previousClockDir;
  };
  if (clockDir) {
    await mkdir(clockDir);
    process.env[CLOCK_ENV] = clockDir;
  } else {
    delete process.env[CLOCK_ENV];
  }
  const logs = new ProcessLogs(() => Date.now());
  const nodes: SimNode[] = [];
  let nats: RestartableNats | undefined;
  let kube: StandinProcess | undefined;
  let bus: Bus | undefined;
  let stopping = false;
  // Readiness is read from the logs from the very first line.
  const reconciled = new Set<string>();
  const running = new Set<string>();
  logs.listen((process, line) => {
    if (line.msg === 'reconciled') reconciled.add(nodeOfProcess(process));
    if (line.msg === 'agent running') running.add(nodeOfProcess(process));
  });
  const onExit = (process: string, code: number | null, signal: NodeJS.Signals | null): void => {
    if (stopping) return;
    logs.restarts.processRestart(process);
    o.onProcessExit?.(process, code, signal);
  };
  try {
    nats = await RestartableNats.start(join(dir, 'nats'));
    kube = await startStandin({ logLevel: 'warn', args: ['--bookmark-interval-ms', '1000'] });
    const kubeAdmin = new KubeClient(kube.adminUrl, 5000);
    for (const spec of o.plan.nodes) {
      const r = await kubeAdmin.apply(nodeObject(spec));
      if (!r.ok) throw new SimError('START_FAILED', 'kube', `cannot create Node ${spec.name}: ${r.error.message}`);
    }
    bus = await Bus.connect({ servers: nats.url, name: 'simulator', logger: silentLogs().root, timeoutMs: 2000 });
    const natsServer = nats;
    const kubeUrl = kube.url;
    const started = await Promise.allSettled(
      o.plan.nodes.map((spec, i) =>
        startSimNode({
          spec,
          dir: join(dir, spec.name),
          runId: o.runId,
          natsUrl: natsServer.url,
          natsPort: natsServer.port,
          kubeUrl,
          logs,
          random: seededRandom(o.plan.seed * 31 + i),
          tmpfsState: o.tmpfsState,
          onExit,
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw new SimError('START_FAILED', 'node', `a node did not start: ${(failed.reason as Error).message}`, { cause: failed.reason });
    const server = natsServer;
    const api = kube;
    const own = bus;
    return {
      runId: o.runId,
      dir,
      nats: server,
      kube: api,
      kubeAdmin,
      nodes,
      logs,
      bus: own,
      clockDir,
      node: (name) => nodes.find((n) => n.name === name),
      ready: (ms) => waitReady(nodes, logs, { reconciled, running }, ms),
      async stop() {
        stopping = true;
        await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
        await own.close().catch(() => undefined);
        await api.stop().catch(() => undefined);
        await server.stop().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
        restoreClockEnv();
      },
    };
  } catch (e) {
    stopping = true;
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await bus?.close().catch(() => undefined);
    await kube?.stop().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    restoreClockEnv();
    throw e instanceof SimError ? e : new SimError('START_FAILED', '', `the cluster did not start: ${(e as Error).message}`, { cause: e });
  }
}

async function waitReady(
  nodes: readonly SimNode[],
  logs: ProcessLogs,
  seen: { readonly reconciled: ReadonlySet<string>; readonly running: ReadonlySet<string> },
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  const { reconciled, running } = seen;
  {
    for (;;) {
      const waiting: string[] = [];
      for (const n of nodes) {
        const socket = await access(n.cniSocket).then(() => true, () => false);
        if (!reconciled.has(n.name)) waiting.push(`${n.name}: no leader has reconciled the target`);
        else if (!running.has(n.name) || !socket) waiting.push(`${n.name}: the agent does not serve CNI yet`);
      }
      if (waiting.length === 0) return;
      if (Date.now() > deadline) {
        const tails = nodes.flatMap((n) => logs.tail(`${n.name}/`, 8));
        throw new SimError('START_FAILED', 'ready', `the cluster was not ready within ${ms} ms:\n  ${waiting.join('\n  ')}\n${tails.join('\n')}`);
      }
      await sleep(100);
    }
  }
}
