#!/usr/bin/env node
/**
 * The manager's P4Runtime client facing a malicious target (issue 11): a real nats-server with
 * JetStream, the real manager (bin/manager, its own process, no TLS) pointed at an EvilTarget
 * (evil-target.ts, served from this process), and the agent stand-in (so the manager's intent is
 * complete and its session goes as far as Read and Write). The hostile phase runs until the
 * target has seen `attempts` connection attempts; then the target turns good and the manager
 * must converge (log "reconciled"). The oracle's inputs are in the report: the manager's PID and
 * exit, fatal lines in its output, session errors and reconnects it logged, ctl.state probes on
 * the bus (answered within `probeDeadlineMs`), its RSS.
 *
 * Run directly: `node --import tsx simulations/fuzz/evil-target-process.ts --seed 7 --attempts 44`
 * prints the report as JSON.
 *
 * @example
 * const report = await runEvilTarget({ seed: 7, attempts: 22 });
 * expect(report.alive && report.converged).to.equal(true);
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { ctlPrefix } from '../../messages/subjects.js';
import { ctlMethods } from '../../protocol/methods.js';
import { AgentStandin } from '../agent-standin.js';
import { startNatsServer } from '../nats-server.js';
import { ManagedProcess, type LogLine } from '../processes.js';
import { buildWorkload } from '../workload.js';
import { EvilTarget, type EvilStats, type Scenario } from './evil-target.js';
import { rssKb } from './http2-fuzz.js';

export interface EvilTargetRunOptions {
  readonly seed: number;
  /** Connection attempts in the hostile phase (default: every scenario twice). */
  readonly attempts?: number;
  readonly scenarios?: readonly Scenario[];
  /** Each hostile stream ends after this long (default 800 ms). */
  readonly lifeMs?: number;
  /** Give up the hostile phase after this long even if fewer attempts were seen (default 60 s). */
  readonly maxMs?: number;
  readonly probeDeadlineMs?: number;
  /** Time allowed to converge against the good target (default 15 s). */
  readonly convergeMs?: number;
  readonly hugeBytes?: number;
  readonly onLog?: (line: LogLine | string) => void;
  /** Hostile connections seen so far. */
  readonly onProgress?: (attempts: number) => void;
}

export interface EvilTargetReport {
  readonly seed: number;
  readonly pid: number | undefined;
  /** The same manager process ran throughout (no exit, no restart). */
  alive: boolean;
  exit?: { code: number | null; signal: string | null };
  /** Output lines naming an uncaught exception, unhandled rejection or fatal error. */
  fatal: string[];
  stats: EvilStats;
  /** Log lines: session down / reconnecting, and arbitration streams ended. */
  reconnects: number;
  sessionErrors: number;
  /** Warnings of the manager's lease keeper (a step-down at TTL, a failed check). */
  leaseWarnings: number;
  probes: { ok: number; failed: number; maxMs: number; failures: string[] };
  rss: { startKb: number; peakKb: number; endKb: number; growthKb: number };
  hostileMs: number;
  converged: boolean;
  convergeMs: number;
}

const FATAL = /uncaught|unhandled|FATAL ERROR|out of memory|Segmentation fault|ERR_UNHANDLED/i;

/**
 * Runs the whole scenario and returns the report (it never throws for a finding; only for a
 * set-up failure).
 *
 * @example
 * const r = await runEvilTarget({ seed: 1, attempts: 10, scenarios: ['read-malformed'] });
 */
export async function runEvilTarget(options: EvilTargetRunOptions): Promise<EvilTargetReport> {
  const node = 'node-1';
  const dir = await mkdtemp(join(tmpdir(), 'infra-evil-target-'));
  const nats = await startNatsServer();
  const evil = new EvilTarget({ seed: options.seed, lifeMs: options.lifeMs ?? 800, ...(options.scenarios ? { scenarios: options.scenarios } : {}), ...(options.hugeBytes ? { hugeBytes: options.hugeBytes } : {}) });
  let manager: ManagedProcess | undefined;
  let standin: AgentStandin | undefined;
  let bus: Bus | undefined;
  const fatal: string[] = [];
  let reconnects = 0;
  let sessionErrors = 0;
  /** The lease keeper's warnings: how many, and the last one's message. */
  const leaseWarnings = { count: 0, last: '' };
  let reconciledAt = 0;
  let exit: EvilTargetReport['exit'];
  try {
    const port = await evil.listen('127.0.0.1:0');
    const config = {
      node: { name: node, ip: '192.0.2.10', podCidr: '10.244.0.0/24' },
      heartbeat: { intervalMs: 200, missedBeats: 3 },
      // The lease is not what this run fuzzes: a TTL of three 200 ms beats is lost to one stall of
      // a loaded machine's event loop (CI ran a loss once: the leader subtree stepped down and
      // ctl.state answered UNAVAILABLE), so it gets a TTL no stall of the run reaches.
      leadership: { ttlMs: 10_000 },
      logging: { level: 'info', modules: {} },
      nats: { servers: [nats.url], insecure: true },
      // Short deadlines: a stalled call must end in a reconnect within the run.
      p4: { target: `127.0.0.1:${port}`, insecure: true, resyncMs: 60_000, callTimeoutMs: 2000, readIdleMs: 2000 },
    };
    await writeFile(join(dir, 'manager.yaml'), stringify(config), { mode: 0o600 });
    manager = new ManagedProcess({
      name: 'manager',
      bin: 'manager',
      args: ['--config', join(dir, 'manager.yaml')],
      onLog: (_name, line) => {
        options.onLog?.(line);
        const text = typeof line === 'string' ? line : `${line.msg} ${JSON.stringify(line.err ?? line.error ?? '')}`;
        if (FATAL.test(text)) fatal.push(text.slice(0, 500));
        if (typeof line === 'string') return;
        if (line.msg === 'P4Runtime session down: reconnecting') reconnects++;
        if (line.module === 'session' && line.level >= 40) sessionErrors++;
        if (line.msg === 'reconciled') reconciledAt = performance.now();
        if (line.module === 'lease' && line.level >= 40) {
          leaseWarnings.count++;
          leaseWarnings.last = line.msg;
        }
      },
      onExit: (_name, code, signal) => (exit = { code, signal }),
    });
    manager.start();
    const pid = manager.pid;
    standin = await AgentStandin.start({ servers: nats.url, node, seed: options.seed, heartbeatMs: 200 });
    bus = await Bus.connect({ servers: nats.url, name: 'evil-target-probe', logger: silentLogs().root, timeoutMs: 2000 });
    // A small intent, so the session has entities to read back and write.
    const [setup] = buildWorkload({ node, seed: options.seed, pods: 6, services: 3, maxEndpoints: 3, rounds: 1 });
    void standin.run(setup!);

    let rssStart = 0;
    let rssPeak = 0;
    const probes = { ok: 0, failed: 0, maxMs: 0, failures: [] as string[] };
    const deadline = options.probeDeadlineMs ?? 2000;
    let everAnswered = false;
    const probe = async (): Promise<void> => {
      const t0 = performance.now();
      const r = await bus!.request(`${ctlPrefix(node, 'manager')}.state`, ctlMethods.state, { node }, { timeoutMs: deadline });
      const ms = performance.now() - t0;
      if (r.ok) {
        // RSS is measured from the first answer: before it the process is still loading.
        if (!everAnswered) rssStart = rssKb(pid ?? -1) ?? 0;
        everAnswered = true;
        probes.ok++;
        probes.maxMs = Math.max(probes.maxMs, ms);
      } else if (everAnswered) {
        // Before the first answer the manager is still starting (electing itself).
        probes.failed++;
        const lease = leaseWarnings.count > 0 ? ` (lease warnings so far: ${leaseWarnings.count}, last "${leaseWarnings.last}")` : '';
        if (probes.failures.length < 20) probes.failures.push(`${Math.round(ms)} ms: ${r.error.code} ${r.error.message}${lease}`);
      }
    };
    const attempts = options.attempts ?? 44;
    const start = performance.now();
    const maxMs = options.maxMs ?? 60_000;
    while (evil.stats.attempts < attempts && performance.now() - start < maxMs && exit === undefined) {
      await probe();
      rssPeak = Math.max(rssPeak, rssKb(pid ?? -1) ?? 0);
      options.onProgress?.(Math.min(evil.stats.attempts, attempts));
      await new Promise((res) => setTimeout(res, 250));
    }
    const hostileMs = Math.round(performance.now() - start);
    // The good target: the manager must reconnect (the last hostile stream ends within lifeMs) and reconcile.
    evil.setGood(true);
    const goodAt = performance.now();
    const convergeMs = options.convergeMs ?? 15_000;
    while (reconciledAt < goodAt && performance.now() - goodAt < convergeMs && exit === undefined) {
      await probe();
      await new Promise((res) => setTimeout(res, 200));
    }
    const converged = reconciledAt >= goodAt;
    await probe();
    const rssEnd = rssKb(pid ?? -1) ?? 0;
    rssPeak = Math.max(rssPeak, rssEnd);
    return {
      seed: options.seed,
      pid,
      alive: exit === undefined && manager.running && manager.pid === pid && manager.starts === 1,
      ...(exit ? { exit } : {}),
      fatal,
      stats: evil.stats,
      reconnects,
      sessionErrors,
      leaseWarnings: leaseWarnings.count,
      probes,
      rss: { startKb: rssStart, peakKb: rssPeak, endKb: rssEnd, growthKb: rssEnd - rssStart },
      hostileMs,
      converged,
      convergeMs: converged ? Math.round(reconciledAt - goodAt) : -1,
    };
  } finally {
    await bus?.close();
    await standin?.stop();
    await manager?.stop(3000);
    await evil.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, attempts: { type: 'string', default: '44' }, verbose: { type: 'boolean', default: false } } });
  const report = await runEvilTarget({
    seed: Number(values.seed),
    attempts: Number(values.attempts),
    ...(values.verbose ? { onLog: (l: LogLine | string) => console.error(typeof l === 'string' ? l : JSON.stringify(l)) } : {}),
  });
  console.log(JSON.stringify(report, null, 2));
  process.exit(report.alive && report.fatal.length === 0 && report.converged ? 0 : 1);
}
