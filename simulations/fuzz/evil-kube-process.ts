#!/usr/bin/env node
/**
 * The agent's informers facing a malicious Kubernetes API (issue 11), as a run the fuzz CLI and
 * the tests share: a real nats-server, a manager stand-in on the bus (it answers hello and records
 * service upserts and deletes), the Kubernetes API stand-in (simulations/kube/) holding a known
 * set of Services and EndpointSlices, an EvilKube (evil-kube.ts) in front of it answering every
 * list and watch with hostile JSON, and the real agent (bin/agent, its own process) watching the
 * EvilKube. The hostile phase lasts until `requests` hostile answers were served (one case each);
 * then the API turns good and the agent must converge: agent.sync gives exactly the known services
 * with their endpoints. The oracle's inputs are in the report: the agent's PID and exit, fatal
 * lines in its output, ctl.state probes on the bus (answered within `probeDeadlineMs`), its RSS.
 *
 * Run directly: `node --import tsx simulations/fuzz/evil-kube-process.ts --seed 7 --requests 60`
 * prints the report as JSON.
 *
 * @example
 * const report = await runEvilKube({ seed: 7, requests: 60 });
 * expect(report.alive && report.converged).to.equal(true);
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { pullFullState } from '../../actors/sync-pages.js';
import { silentLogs } from '../../core/logger.js';
import { ok } from '../../core/result.js';
import { Bus, route } from '../../messages/bus.js';
import { ctlPrefix, prefix, subjects } from '../../messages/subjects.js';
import { formatIpv4 } from '../../messages/validate.js';
import { agentMethods, ctlMethods, managerMethods } from '../../protocol/methods.js';
import { KubeClient } from '../kube/client.js';
import { nodeObject, service, slice } from '../kube/objects.js';
import { KubeApiStandin } from '../kube/server.js';
import { startNatsServer } from '../nats-server.js';
import { ManagedProcess, type LogLine } from '../processes.js';
import { EvilKube, type EvilKubeStats, type KubeHostility } from './evil-kube.js';
import { rssKb } from './http2-fuzz.js';

const NODE = 'node-a';
const FATAL = /uncaught|unhandled|FATAL ERROR|out of memory|Segmentation fault|heap limit/i;
/** The known set the good API serves: ClusterIP:port/proto → endpoints. */
export const KNOWN_SERVICES: Readonly<Record<string, number>> = { '10.96.0.5:80/TCP': 2, '10.96.0.6:80/TCP': 3, '10.96.0.7:80/TCP': 1 };
/** Short watch timeouts and back-offs, so a run sees many requests. */
const KUBE = { watchTimeoutSeconds: 2, idleGraceMs: 500, requestTimeoutMs: 2000, backoff: { initialMs: 100, maxMs: 1000 }, syncDelayMs: 100, maxSyncDelayMs: 1000 };

export interface EvilKubeRunOptions {
  readonly seed: number;
  /** Hostile answers to serve before the API turns good (default 60). */
  readonly requests?: number;
  readonly hostilities?: readonly KubeHostility[];
  /** Give up the hostile phase after this long even if fewer were served (default 120 s). */
  readonly maxMs?: number;
  readonly probeDeadlineMs?: number;
  /** Time allowed to converge on the good API (default 15 s). */
  readonly convergeMs?: number;
  readonly hugeLineBytes?: number;
  readonly depth?: number;
  /** Hostile answers served so far. */
  readonly onProgress?: (served: number) => void;
  readonly onLog?: (line: LogLine | string) => void;
}

export interface EvilKubeReport {
  readonly seed: number;
  readonly pid: number | undefined;
  /** The same agent process ran throughout (no exit, no restart). */
  readonly alive: boolean;
  readonly exit?: { code: number | null; signal: string | null };
  /** Output lines naming an uncaught exception, unhandled rejection or fatal error. */
  readonly fatal: string[];
  readonly stats: EvilKubeStats;
  /** Hostile answers served (the run's cases). */
  readonly served: number;
  readonly probes: { ok: number; failed: number; maxMs: number; failures: string[] };
  readonly rss: { startKb: number; peakKb: number; endKb: number; growthKb: number };
  readonly hostileMs: number;
  readonly converged: boolean;
  readonly convergeMs: number;
  /** What agent.sync gave last (ClusterIP:port/proto → endpoints), or its error. */
  readonly last: string;
}

/** Serves the manager's side of the agent's link: hello, service upserts and deletes (recorded). */
function managerStandin(bus: Bus) {
  const served = bus.serve(prefix(NODE, 'manager'), [
    route(managerMethods.hello, () => ok({ node: NODE, instanceId: 'evilkube-manager', stateRevision: 0, resyncRequested: false, heartbeatIntervalMs: 1000 })),
    route(managerMethods.serviceUpsert, () => ok({ revision: 1, changed: true })),
    route(managerMethods.serviceDelete, () => ok({ revision: 1, changed: true })),
  ]);
  return {
    pull: () => pullFullState((req) => bus.request(subjects.agent(NODE, agentMethods.sync.op), agentMethods.sync, req), { node: NODE, from: 'manager', instanceId: 'evilkube-manager' }),
    stop: () => served.stop(),
  };
}

/**
 * Runs the whole scenario and returns the report (it never throws for a finding; only for a
 * set-up failure).
 *
 * @example
 * const r = await runEvilKube({ seed: 1, requests: 24, hostilities: ['deep-nesting'] });
 */
export async function runEvilKube(options: EvilKubeRunOptions): Promise<EvilKubeReport> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-evil-kube-'));
  const nats = await startNatsServer();
  const api = new KubeApiStandin({ bookmarkIntervalMs: 500 });
  let evil: EvilKube | undefined;
  let bus: Bus | undefined;
  let manager: ReturnType<typeof managerStandin> | undefined;
  let agent: ManagedProcess | undefined;
  const fatal: string[] = [];
  let exit: EvilKubeReport['exit'];
  try {
    const apiPort = await api.listen('127.0.0.1', 0);
    const kube = new KubeClient(`http://127.0.0.1:${apiPort}`);
    const http = [{ name: 'http', port: 8080 }];
    const ips = (n: number, third: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.244.${third}.${i + 1}` }));
    for (const o of [
      nodeObject(NODE, '192.0.2.10', '10.244.0.0/24'),
      service('a', '10.96.0.5', [{ name: 'http', port: 80 }]),
      slice('a-1', 'a', ips(2, 5), http),
      service('b', '10.96.0.6', [{ name: 'http', port: 80 }]),
      slice('b-1', 'b', ips(3, 6), http),
      service('c', '10.96.0.7', [{ name: 'http', port: 80 }]),
      slice('c-1', 'c', ips(1, 7), http),
    ]) {
      const r = await kube.apply(o);
      if (!r.ok) throw new Error(r.error.message);
    }
    evil = new EvilKube({
      seed: options.seed,
      upstream: `http://127.0.0.1:${apiPort}`,
      upstreamVersion: () => api.stats().resourceVersion,
      ...(options.hostilities ? { hostilities: options.hostilities } : {}),
      ...(options.hugeLineBytes ? { hugeLineBytes: options.hugeLineBytes } : {}),
      ...(options.depth ? { depth: options.depth } : {}),
    });
    const evilPort = await evil.listen('127.0.0.1', 0);
    bus = await Bus.connect({ servers: nats.url, name: 'evil-kube-probe', logger: silentLogs().root, timeoutMs: 2000 });
    manager = managerStandin(bus);
    const config = {
      node: { name: NODE, ip: '192.0.2.10', podCidr: '10.244.0.0/24' },
      nats: { servers: [nats.url], timeoutMs: 1000, insecure: true },
      heartbeat: { intervalMs: 200, missedBeats: 3 },
      logging: { level: 'info', modules: {} },
      kube: { server: `http://127.0.0.1:${evilPort}`, ...KUBE },
    };
    await writeFile(join(dir, 'agent.yaml'), stringify(config), { mode: 0o600 });
    agent = new ManagedProcess({
      name: 'agent',
      bin: 'agent',
      args: ['--config', join(dir, 'agent.yaml')],
      onLog: (_n, line) => {
        options.onLog?.(line);
        const text = typeof line === 'string' ? line : `${line.msg} ${JSON.stringify(line.err ?? '')}`;
        if (FATAL.test(text)) fatal.push(text.slice(0, 400));
      },
      onExit: (_n, code, signal) => (exit = { code, signal }),
    });
    agent.start();
    const pid = agent.pid;
    const probes = { ok: 0, failed: 0, maxMs: 0, failures: [] as string[] };
    const deadline = options.probeDeadlineMs ?? 2000;
    let everAnswered = false;
    let rssStart = 0;
    let rssPeak = 0;
    const probe = async (): Promise<void> => {
      const t0 = performance.now();
      const r = await bus!.request(`${ctlPrefix(NODE, 'agent')}.state`, ctlMethods.state, { node: NODE }, { timeoutMs: deadline });
      const ms = performance.now() - t0;
      if (r.ok) {
        // RSS from the first answer: before it the process is still loading.
        if (!everAnswered) rssStart = rssKb(pid ?? -1) ?? 0;
        everAnswered = true;
        probes.ok++;
        probes.maxMs = Math.max(probes.maxMs, ms);
      } else if (everAnswered) {
        probes.failed++;
        if (probes.failures.length < 20) probes.failures.push(`${Math.round(ms)} ms: ${r.error.code} ${r.error.message}`);
      }
    };
    const served = (): number => Object.values(evil!.stats.byHostility).reduce((a, b) => a + b, 0);
    const wanted = options.requests ?? 60;
    const start = performance.now();
    const maxMs = options.maxMs ?? 120_000;
    while (served() < wanted && performance.now() - start < maxMs && exit === undefined) {
      await probe();
      rssPeak = Math.max(rssPeak, rssKb(pid ?? -1) ?? 0);
      options.onProgress?.(Math.min(served(), wanted));
      await new Promise((res) => setTimeout(res, 200));
    }
    if (!everAnswered) await probe();
    const hostileMs = Math.round(performance.now() - start);
    evil.setGood(true);
    const goodAt = performance.now();
    const convergeMs = options.convergeMs ?? 15_000;
    let last = '';
    let converged = false;
    while (!converged && performance.now() - goodAt < convergeMs && exit === undefined) {
      const r = await manager.pull();
      if (r.ok) {
        last = JSON.stringify(Object.fromEntries(r.value.services.map((s) => [`${formatIpv4(s.clusterIp)}:${s.port}/${s.protocol}`, s.endpoints.length])));
        converged = last === JSON.stringify(KNOWN_SERVICES);
      } else last = r.error.message;
      if (!converged) await new Promise((res) => setTimeout(res, 200));
    }
    const convergedMs = Math.round(performance.now() - goodAt);
    await probe();
    const rssEnd = rssKb(pid ?? -1) ?? 0;
    rssPeak = Math.max(rssPeak, rssEnd);
    return {
      seed: options.seed,
      pid,
      alive: exit === undefined && agent.running && agent.pid === pid && agent.starts === 1,
      ...(exit ? { exit } : {}),
      fatal,
      stats: evil.stats,
      served: served(),
      probes,
      rss: { startKb: rssStart, peakKb: rssPeak, endKb: rssEnd, growthKb: rssEnd - rssStart },
      hostileMs,
      converged,
      convergeMs: converged ? convergedMs : -1,
      last,
    };
  } finally {
    await agent?.stop(3000);
    await manager?.stop();
    await bus?.close();
    await evil?.close();
    await api.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, requests: { type: 'string', default: '60' }, verbose: { type: 'boolean', default: false } } });
  const report = await runEvilKube({
    seed: Number(values.seed),
    requests: Number(values.requests),
    ...(values.verbose ? { onLog: (l: LogLine | string) => console.error(typeof l === 'string' ? l : JSON.stringify(l)) } : {}),
  });
  console.log(JSON.stringify(report, null, 2));
  process.exit(report.alive && report.fatal.length === 0 && report.converged ? 0 : 1);
}
