/**
 * The demo inside the node's host namespace (bin/local-node.ts starts it there with
 * `ip netns exec`): NATS (mutual TLS, certificates from the state folder), the API stand-in, the
 * target forwarding real frames, the agent and — in the ACC namespace, over the veth — the
 * manager; then the cluster and the proofs; then, unless `--check`, the node stays up with its
 * heartbeats on screen until Ctrl-C. Everything it started is stopped before it returns.
 *
 * @example
 * const code = await runInside({ topo, node: 'node-1', check: true, stateDir, heartbeatMs: 1000, logLevel: 'warn' });
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { subjects } from '../../messages/subjects.js';
import { heartbeatCodec } from '../../protocol/node.js';
import { startLocalNode, type LocalNode } from '../local-node.js';
import { formatHeartbeat, formatLog, paint } from '../node-display.js';
import { DemoCluster, POD_CIDR } from './cluster.js';
import { buildCluster, runProofs, type ProofOutcome } from './proofs.js';
import type { Topology } from './topology.js';

export type TopologyInfo = Omit<Topology, 'podNs' | 'remove'>;

export interface InsideOptions {
  readonly topo: TopologyInfo;
  readonly node: string;
  readonly check: boolean;
  /** Certificates are kept here across runs. */
  readonly stateDir: string;
  readonly heartbeatMs: number;
  readonly logLevel: string;
  /** Stop by itself after this many seconds (without --check). */
  readonly durationS?: number;
  /** Where the `--check` summary goes (the outer process prints it last, after its clean-up). */
  readonly summary: (line: string) => void;
}

/** The last line of `--check`. */
export function summaryLine(outcome: ProofOutcome | undefined, mode: 'tap' | 'synthetic'): string {
  const ok = outcome !== undefined && outcome.checks > 0 && outcome.passed === outcome.checks;
  return JSON.stringify({
    demo: ok ? 'ok' : 'fail',
    mode,
    checks: outcome?.checks ?? 0,
    passed: outcome?.passed ?? 0,
    iperf_mbps: outcome?.iperfMbps ?? null,
    vip_conn_per_s: outcome?.vipConnPerS ?? null,
  });
}

export async function runInside(o: InsideOptions): Promise<number> {
  const { topo } = o;
  const say = (line: string) => console.log(line);
  const podNs = (name: string) => `ioff-${topo.runId}-${name}`;
  let stopping = false;
  let node: LocalNode | undefined;
  let cluster: DemoCluster | undefined;
  let watcher: Bus | undefined;
  let stopped: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopped ??= (async () => {
      stopping = true;
      await watcher?.close().catch(() => undefined);
      await cluster?.stop().catch(() => undefined);
      const codes = await node?.stop();
      if (codes) say(`stopped (manager exit ${codes.manager}, agent exit ${codes.agent}, target exit ${codes.target}); run dir removed`);
    })());
  let interrupted: ((reason: string) => void) | undefined;
  const interruption = new Promise<string>((resolve) => (interrupted = resolve));
  const onSignal = (reason: string) => () => interrupted?.(reason);
  process.once('SIGINT', onSignal('Ctrl-C'));
  process.once('SIGTERM', onSignal('SIGTERM'));

  try {
    say(`Infra Offload — a split-mode node "${o.node}" on this machine (run ${topo.runId})`);
    say(`  host side   netns ${topo.hostNs} (TAP pool ${topo.prefix}0…${topo.poolSize - 1}, no default route)`);
    say(`  ACC         netns ${topo.accNs} (the manager; reaches NATS and the target only over the veth ${topo.accAddress} → ${topo.hostAddress})`);
    node = await startLocalNode({
      node: o.node,
      heartbeatMs: o.heartbeatMs,
      logLevel: o.logLevel,
      certsDir: join(o.stateDir, 'certs'),
      natsHost: topo.hostAddress,
      targetListen: `${topo.hostAddress}:9559`,
      managerNetns: topo.accNs,
      podCidr: POD_CIDR,
      pods: { prefix: topo.prefix, poolNetns: topo.hostNs, gatewayNetns: topo.gatewayNs },
      onLog: (name, line) => {
        const level = typeof line === 'string' ? 30 : line.level;
        if (!o.check || level >= 40) say(formatLog(name, line));
      },
      onExit: (name, code, signal) => {
        if (!stopping) say(paint(`${name} exited (code ${code}, signal ${signal}); restarting`, 'warn'));
      },
    });
    say(`  nats-server  pid ${node.nats.pid}  ${node.nats.url} (mutual TLS; certificates in ${join(o.stateDir, 'certs')})`);
    for (const m of node.managers) say(`  manager      pid ${m.pid}  in ${topo.accNs}`);
    if (node.target) say(`  p4 target    pid ${node.target.pid}  ${node.targetAddress} (mutual TLS; frames through the TAPs of the port map)`);
    if (node.kube) say(`  kube API     pid ${node.kube.pid}  ${node.kube.url}`);
    say(`  agent        pid ${node.agent.pid}  CNI socket ${node.cniSocket}`);
    say(`  run dir      ${node.dir}`);
    for (let i = 0; i < 400 && !(await access(node.cniSocket!).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));

    say('\nThe cluster (pods through the real CNI plugin, objects through the API stand-in):');
    cluster = new DemoCluster({ node, topo: { runId: topo.runId, podNs }, dir: node.dir });
    const setup = await Promise.race([buildCluster(cluster, say), interruption.then((r) => Promise.reject(new Error(r)))]);
    say('\nProofs:');
    const outcome = await Promise.race([
      runProofs(cluster, setup, (r) => say(`  ${r.ok ? paint('✔', '32') : paint('✘', 'error')} ${r.name}: ${r.detail}`)),
      interruption.then((r) => Promise.reject(new Error(r))),
    ]);
    say(`\n${outcome.passed}/${outcome.checks} checks passed${outcome.iperfMbps !== null ? `; iperf3 ${outcome.iperfMbps} Mbit/s` : ''}${outcome.vipConnPerS !== null ? `; ${outcome.vipConnPerS} VIP connections/s` : ''}`);

    if (o.check) {
      await stopAll();
      o.summary(summaryLine(outcome, 'tap'));
      return outcome.passed === outcome.checks ? 0 : 1;
    }

    say(`\nThe node stays up. As an operator (from the host side):`);
    say(`  ip netns exec ${topo.hostNs} npm run -s offloadctl -- --server ${node.nats.url} --node ${o.node} --tls-ca ${join(o.stateDir, 'certs/bus/ca.crt')} --tls-cert ${join(o.stateDir, 'certs/bus/offloadctl.crt')} --tls-key ${join(o.stateDir, 'certs/bus/offloadctl.key')} tables`);
    say(`  ip netns exec ${setup.client.ns} ping ${setup.peer.ip}`);
    say('Ctrl-C stops everything.\n');
    // The display is an operator: it may read every node's events, nothing more.
    watcher = await Bus.connect({ servers: node.nats.url, name: 'local-node-display', logger: silentLogs().root, ...node.credentials({ kind: 'operator', name: 'offloadctl' }) });
    watcher.subscribe(subjects.events(node.node, 'heartbeat'), heartbeatCodec, (r) => {
      if (r.ok) say(formatHeartbeat(r.value));
    });
    const timer = o.durationS ? new Promise<string>((r) => setTimeout(() => r(`${o.durationS} s elapsed`), o.durationS! * 1000)) : new Promise<string>(() => undefined);
    const reason = await Promise.race([interruption, timer]);
    say(`\n${reason}: stopping the pods, agent, manager, target and nats-server…`);
    await stopAll();
    return 0;
  } catch (e) {
    say(paint(`demo failed: ${(e as Error).message}`, 'error'));
    await stopAll();
    if (o.check) o.summary(summaryLine(undefined, 'tap'));
    return 1;
  }
}
