/**
 * The fuzz targets the unified runner drives, each behind the harness's FuzzAdapter: it starts
 * the processes it fuzzes (so "no crash" means a process that stayed up), runs its own generator
 * and oracle, folds the report into rows of target × category, and with `saveFindings` turns its
 * findings into minimised regression cases (save-findings.ts).
 *
 * casesPerSecond is each target's speed measured alone on this project's two-core machine (a
 * single `npm run fuzz -- --target T` at fuzz:all's sizes); the runner splits a budget in
 * proportion to it, so every target gets about the same wall time.
 *
 * @example
 * const rows = await busAdapter.run({ seed: 4242, cases: 20_000, progress: () => undefined });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIp } from '../../actors/agent/pool/ip.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import { runPlugin } from '../../cni/plugin.js';
import { startLocalNode } from '../local-node.js';
import { startTarget } from '../target-process.js';
import { startFuzzAgent, type FuzzAgent } from './agent-process.js';
import { startCniServerProcess } from './cni-server-process.js';
import { pluginCases, runExecFuzz, runGrpcFuzz, runPluginFuzz, label, type ExecFuzzReport, type GrpcFuzzReport, type PluginFuzzReport, type PluginRunner } from './cni-fuzz.js';
import { cniJsonCases, type CniCase } from './cni-json.js';
import { runEvilKube } from './evil-kube-process.js';
import { runEvilTarget } from './evil-target-process.js';
import { canMakeNamespaces, FuzzNet } from './fuzz-net.js';
import { row, type AdapterRunOptions, type FuzzAdapter, type FuzzRow } from './harness.js';
import { ATTACK_KINDS } from './http2-anomalies.js';
import { cniFuzzTarget, p4rtFuzzTarget, rssKb, runHttp2Fuzz, type Http2FuzzReport } from './http2-fuzz.js';
import { fuzzNode } from './node-fuzz.js';
import { runP4rtFuzz } from './p4rt-fuzz.js';
import { BusReplayer } from './replay-bus.js';
import { AgentGrpcReplayer } from './replay-grpc.js';
import { P4rtRawReplayer } from './replay-p4rt.js';
import { PluginReplayer } from './replay-plugin.js';
import { saveBusFindings, saveGrpcFindings, saveP4rtFindings, savePluginFindings, saveReplayFindings } from './save-findings.js';
import { seededRandom } from '../../core/random.js';

const mb = (kb: number | undefined) => (kb ?? 0) / 1024;
const budgetOf = (o: AdapterRunOptions) => o.minimise ?? { maxAttempts: 400, maxMs: 60_000 };

/** Every NATS subject the manager and the agent serve (simulations/fuzz/node-fuzz.ts). */
export const busAdapter: FuzzAdapter = {
  name: 'bus',
  casesPerSecond: 4500,
  minCases: 2_000,
  maxCasesPerRun: 100_000,
  async run(o) {
    const { seed, cases, progress } = o;
    const fatal: string[] = [];
    const local = await startLocalNode({
      tls: false,
      heartbeatMs: 500,
      restartAfterMs: null,
      onLog: (name, line) => {
        if (typeof line !== 'string' && line.level >= 60) fatal.push(`${name}: ${line.msg}`);
      },
    });
    try {
      // ~16 subjects, random + malformed each.
      const perSubject = Math.max(1, Math.floor(cases / 32));
      const rssBefore = mb(rssKb(local.manager.pid ?? 0)) + mb(rssKb(local.agent.pid ?? 0));
      let done = 0;
      const outcome = await fuzzNode(local, {
        seed,
        randomCases: perSubject,
        malformedCases: perSubject,
        onProgress: (_label, n, total) => {
          if (n === total) progress((done += total));
        },
      });
      const rssAfter = mb(rssKb(local.manager.pid ?? 0)) + mb(rssKb(local.agent.pid ?? 0));
      const rows = new Map<string, FuzzRow>();
      const at = (kind: string) => rows.get(kind) ?? rows.set(kind, row('bus', kind)).get(kind)!;
      for (const t of Object.values(outcome.report.targets)) {
        for (const [kind, n] of Object.entries(t.byKind)) at(kind).cases += n ?? 0;
      }
      const first = at('random');
      first.rssGrowthMb = Math.max(0, rssAfter - rssBefore);
      const { before, after, starts } = outcome;
      const crashed = starts.manager !== 1 || starts.agent !== 1 || before.pids[0] !== after.pids[0] || before.pids[1] !== after.pids[1] || fatal.length > 0;
      if (crashed) {
        first.crashes++;
        first.findings.push(`process restarted or fatal: ${JSON.stringify(starts)} ${fatal.slice(0, 3).join('; ')}`);
      }
      for (const role of ['manager', 'agent'] as const) {
        if (before[role].digest !== after[role].digest || before[role].revision !== after[role].revision) {
          first.stateChanges++;
          first.findings.push(`${role} state changed: revision ${before[role].revision} → ${after[role].revision}`);
        }
      }
      for (const f of outcome.report.failures) {
        const hang = /DEADLINE|TIMEOUT|no answer/i.test(f.got);
        const target = at(/malformed:(\w+)/.exec(f.input)?.[1] ?? f.kind ?? 'random');
        if (hang) target.hangs++;
        else target.mismatches++;
        if (target.findings.length < 5) target.findings.push(`${f.target} ${f.input}: expected ${f.expected}, got ${f.got}`);
      }
      const counted = outcome.report.failures.length;
      if (outcome.report.failureCount > counted) first.mismatches += outcome.report.failureCount - counted;
      if (o.saveFindings && outcome.report.failures.some((f) => f.bytes)) {
        // Replayed against this run's node while it is up (a fresh one after a crash).
        const replayer = await BusReplayer.over(local).catch(() => BusReplayer.start());
        try {
          first.findings.push(...(await saveBusFindings(o.saveFindings, seed, outcome.report.failures, replayer, budgetOf(o))));
        } finally {
          await replayer.close();
        }
      }
      return [...rows.values()];
    } finally {
      await local.stop();
    }
  },
};

function http2Rows(target: string, report: Http2FuzzReport): FuzzRow[] {
  const rows: FuzzRow[] = [];
  for (const kind of ATTACK_KINDS) {
    const k = report.kinds[kind];
    if (!k) continue;
    const r = row(target, `http2-${kind}`);
    r.cases = k.attacks;
    r.rssGrowthMb = Math.max(0, k.rssGrowthKb / 1024);
    for (const f of report.failures.filter((x) => x.kind === kind)) {
      if (f.what === 'process-exited' || f.what === 'fatal-output') r.crashes++;
      else if (f.what === 'probe-failed' || f.what === 'no-answer') r.hangs++;
      else r.mismatches++;
      if (r.findings.length < 5) r.findings.push(`${f.variant} round ${f.round} seed ${f.attackSeed}: ${f.what} ${f.detail}`);
    }
    rows.push(r);
  }
  if (!report.alive && rows[0]) rows[0].crashes++;
  return rows;
}

/** An HTTP/2 run's failures as replay records: the run's seed, the attack's kind and round. */
async function saveHttp2(o: AdapterRunOptions, target: 'http2-target' | 'http2-cni', report: Http2FuzzReport, rows: FuzzRow[]): Promise<void> {
  if (!o.saveFindings || report.failures.length === 0 || !rows[0]) return;
  const found = report.failures.map((f) => ({
    category: `${f.kind}-${f.what}`,
    replay: { seed: o.seed, kind: f.kind, round: f.round, variant: f.variant },
    note: `${f.variant} round ${f.round}: ${f.what} ${f.detail}`,
    class: f.what === 'process-exited' || f.what === 'fatal-output' ? ('crash' as const) : f.what === 'probe-failed' || f.what === 'no-answer' ? ('hang' as const) : ('mismatch' as const),
  }));
  rows[0].findings.push(...(await saveReplayFindings(o.saveFindings, target, o.seed, found)));
}

/** HTTP/2 anomalies against the software target's gRPC listener (bin/target, its own process). */
export const http2TargetAdapter: FuzzAdapter = {
  name: 'http2-target',
  casesPerSecond: 2.4,
  minCases: ATTACK_KINDS.length,
  maxCasesPerRun: 300,
  async run(o) {
    const target = await startTarget();
    try {
      let done = 0;
      const report = await runHttp2Fuzz({ target: p4rtFuzzTarget(target), seed: o.seed, rounds: Math.max(1, Math.ceil(o.cases / ATTACK_KINDS.length)), onAttack: () => o.progress(++done) });
      const rows = http2Rows('target', report);
      await saveHttp2(o, 'http2-target', report, rows);
      return rows;
    } finally {
      await target.stop();
    }
  },
};

/** HTTP/2 anomalies against the agent's CNI gRPC listener (its server in a process of its own). */
export const http2CniAdapter: FuzzAdapter = {
  name: 'http2-cni',
  casesPerSecond: 2.4,
  minCases: ATTACK_KINDS.length,
  maxCasesPerRun: 300,
  async run(o) {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-fuzz-cni-'));
    const server = await startCniServerProcess({ socketPath: join(dir, 'cni.sock') });
    try {
      let done = 0;
      const report = await runHttp2Fuzz({ target: cniFuzzTarget(server), seed: o.seed, rounds: Math.max(1, Math.ceil(o.cases / ATTACK_KINDS.length)), onAttack: () => o.progress(++done) });
      const rows = http2Rows('cni-grpc', report);
      await saveHttp2(o, 'http2-cni', report, rows);
      return rows;
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

function cniRows(target: string, report: PluginFuzzReport | ExecFuzzReport, rssGrowthMb: number): FuzzRow[] {
  const rows = new Map<string, FuzzRow>();
  for (const [kind, n] of Object.entries(report.byKind)) {
    const r = row(target, `cni-${kind}`);
    r.cases = n ?? 0;
    rows.set(kind, r);
  }
  const first = [...rows.values()][0] ?? row(target, 'cni');
  first.rssGrowthMb = rssGrowthMb;
  first.crashes += report.crashes;
  for (const f of report.failures) {
    const r = rows.get(/^#\d+ (\S+) /.exec(f.input)?.[1] ?? '') ?? first;
    if (/threw|signal|stderr|exec failed/.test(f.got)) {
      // Counted in `crashes` already.
    } else r.mismatches++;
    if (r.findings.length < 5) r.findings.push(JSON.stringify(f).slice(0, 300));
  }
  const listed = report.failures.filter((f) => !/threw|signal|stderr|exec failed/.test(f.got)).length;
  if (report.mismatches - report.crashes > listed) first.mismatches += report.mismatches - report.crashes - listed;
  if (report.agentCalls.observed !== report.agentCalls.predicted || JSON.stringify(report.ipamCalls.observed) !== JSON.stringify(report.ipamCalls.predicted)) {
    first.stateChanges++;
    first.findings.push(`side effects: agent calls ${report.agentCalls.observed} (predicted ${report.agentCalls.predicted}), IPAM ${JSON.stringify(report.ipamCalls.observed)} (predicted ${JSON.stringify(report.ipamCalls.predicted)})`);
  }
  return [...rows.values()];
}

/**
 * The generated cases behind a run's failures (found again by their labels), with what the run
 * saw: what a plugin finding is minimised from.
 *
 * @example
 * const found = failingCases(pluginCases(world, seed, count), report.failures);
 */
export function failingCases(cases: Iterable<CniCase>, failures: readonly { input: string; got: string }[]): { c: CniCase; got: string }[] {
  const wanted = new Map(failures.map((f) => [f.input, f.got]));
  const out: { c: CniCase; got: string }[] = [];
  for (const c of cases) {
    const got = wanted.get(label(c));
    if (got !== undefined) out.push({ c, got });
  }
  return out;
}

/**
 * The plugin's entry in this process against malformed netconf and environments, with its
 * findings minimised against the same entry; `runner` replaces the entry (tests plant bugs).
 */
export async function runPluginTarget(o: AdapterRunOptions, name = 'cni-plugin', runner: PluginRunner = runPlugin): Promise<FuzzRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ioff-fuzz-plugin-'));
  try {
    const report = await runPluginFuzz({ dir, seed: o.seed, count: o.cases, runner, onProgress: o.progress });
    o.progress(o.cases);
    const rows = cniRows(name, report, report.rssGrowthBytes / 2 ** 20);
    if (o.saveFindings && report.failures.length > 0 && rows[0]) {
      const replayer = await PluginReplayer.start(dir, { runner });
      try {
        const found = failingCases(pluginCases(replayer.world, o.seed, o.cases), report.failures);
        rows[0].findings.push(...(await savePluginFindings(o.saveFindings, 'cni-plugin', o.seed, found, replayer.world, (c) => replayer.verdict(c), budgetOf(o))));
      } finally {
        await replayer.close();
      }
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The CNI plugin's entry, in process, against malformed netconf and environments (cni-fuzz.ts). */
export const cniPluginAdapter: FuzzAdapter = {
  name: 'cni-plugin',
  casesPerSecond: 320,
  minCases: 300,
  maxCasesPerRun: 20_000,
  run: (o) => runPluginTarget(o),
};

/** A sample through the real exec of the bundled plugin. */
export const cniExecAdapter: FuzzAdapter = {
  name: 'cni-exec',
  casesPerSecond: 50,
  minCases: 30,
  maxCasesPerRun: 2_000,
  async run(o) {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-fuzz-exec-'));
    try {
      const report = await runExecFuzz({ dir, seed: o.seed, count: o.cases });
      o.progress(o.cases);
      const rows = cniRows('cni-exec', report, 0);
      if (o.saveFindings && report.failures.length > 0 && rows[0]) {
        const replayer = await PluginReplayer.start(dir, { bundle: join(dir, 'infra-cni.cjs') });
        try {
          const found = failingCases(cniJsonCases({ world: replayer.world, random: seededRandom(o.seed), count: o.cases }), report.failures);
          rows[0].findings.push(...(await savePluginFindings(o.saveFindings, 'cni-exec', o.seed, found, replayer.world, (c) => replayer.verdict(c), budgetOf(o))));
        } finally {
          await replayer.close();
        }
      }
      return rows;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

function grpcRows(report: GrpcFuzzReport, agent: FuzzAgent): FuzzRow[] {
  const rows = new Map<string, FuzzRow>();
  for (const [kind, n] of Object.entries(report.byKind)) {
    const r = row('cni-grpc', `grpc-${kind}`);
    r.cases = n ?? 0;
    rows.set(kind, r);
  }
  const first = [...rows.values()][0] ?? row('cni-grpc', 'grpc');
  first.rssGrowthMb = Math.max(0, report.rss.growthBytes / 2 ** 20);
  if (!report.alive || agent.starts() !== 1 || agent.errors.length > 0) {
    first.crashes++;
    first.findings.push(`the agent exited, restarted or logged errors: starts ${agent.starts()}; ${agent.errors.slice(0, 3).join('; ')}`);
  }
  first.stateChanges += report.stateChanges;
  for (const f of report.failures) {
    const r = rows.get(/#\d+ (\S+):/.exec(f.input)?.[1] ?? '') ?? first;
    if (f.input.startsWith('state ')) {
      // Counted in stateChanges.
    } else if (/deadline|timed? ?out/i.test(f.got)) r.hangs++;
    else r.mismatches++;
    if (r.findings.length < 5) r.findings.push(`${f.input}: expected ${f.expected}, got ${f.got}`.slice(0, 300));
  }
  return [...rows.values()];
}

/**
 * The agent's CniBackend with its TAP pool (the real agent, its own process, with NATS and a
 * manager), in namespaces of this run (`ioff-<id>-…`, removed afterwards); needs root.
 */
export const cniGrpcAdapter: FuzzAdapter = {
  name: 'cni-grpc',
  casesPerSecond: 600,
  minCases: 400,
  maxCasesPerRun: 20_000,
  async run(o) {
    if (!canMakeNamespaces()) {
      console.error('cni-grpc: skipped (the agent’s TAP pool needs root: namespaces and TAPs)');
      return [];
    }
    const net = new FuzzNet();
    let agent: FuzzAgent | undefined;
    try {
      const host = await net.add('host');
      const pod = { containerId: `fuzz${net.id}`, netns: `/var/run/netns/${await net.add('pod')}` };
      net.adopt('gw');
      const made = await createPool(execIp, { prefix: net.prefix, count: 8, netns: host });
      if (!made.ok) throw made.error;
      const boot = () => startFuzzAgent({ prefix: net.prefix, poolNetns: host, gatewayNetns: net.ns('gw') });
      agent = await boot();
      const report = await runGrpcFuzz({ target: { socket: agent.socket, stateFiles: agent.stateFiles, pid: agent.pid, pod }, seed: o.seed, cases: o.cases, onProgress: o.progress });
      const rows = grpcRows(report, agent);
      if (o.saveFindings && report.failures.some((f) => f.bytes) && rows[0]) {
        const replayer = new AgentGrpcReplayer(agent, async () => {
          await agent?.stop();
          agent = await boot();
          return agent;
        });
        rows[0].findings.push(...(await saveGrpcFindings(o.saveFindings, o.seed, report.failures, (m, b) => replayer.verdict(m, b), budgetOf(o))));
      }
      return rows;
    } finally {
      await agent?.stop();
      await net.cleanup();
    }
  },
};

/** The software target's P4Runtime service: semantic writes against a model of the switch, and malformed requests. */
export const p4rtAdapter: FuzzAdapter = {
  name: 'p4rt',
  casesPerSecond: 1900,
  minCases: 200,
  maxCasesPerRun: 20_000, // a run plans its updates and malformed requests up front
  async run(o) {
    const updates = Math.ceil(o.cases * 0.6);
    const report = await runP4rtFuzz({ seed: o.seed, updates, malformed: o.cases - updates, onProgress: o.progress });
    o.progress(o.cases);
    const rows = new Map<string, FuzzRow>();
    const at = (category: string) => rows.get(category) ?? rows.set(category, row('p4rt', category)).get(category)!;
    for (const [fault, n] of Object.entries(report.byFault)) at(`write-${fault}`).cases += n;
    at('malformed-request').cases += report.malformed;
    const first = at('malformed-request');
    first.rssGrowthMb = Math.max(0, (report.rssEndKiB - report.rssStartKiB) / 1024);
    if (!report.alive) first.crashes++;
    first.hangs += report.probeFailures.length + report.malformedFailures.length;
    first.stateChanges += report.stateDiffs.length;
    first.mismatches += report.mismatches.length;
    for (const f of [...report.probeFailures, ...report.malformedFailures].slice(0, 5)) first.findings.push(f);
    for (const m of report.mismatches.slice(0, 5)) first.findings.push(JSON.stringify(m).slice(0, 300));
    for (const d of report.stateDiffs.slice(0, 5)) first.findings.push(`tables differ after ${d.after}; bisected to ${d.culprits.join('; ')} (${JSON.stringify(d.bisection)})`.slice(0, 800));
    if (o.saveFindings && report.findings.length > 0) first.findings.push(...(await saveP4rtFindings(o.saveFindings, o.seed, report.findings, () => P4rtRawReplayer.start(), budgetOf(o))));
    return [...rows.values()];
  },
};

/** The manager's P4Runtime client facing a malicious target: one case is one hostile connection. */
export const evilTargetAdapter: FuzzAdapter = {
  name: 'evil-target',
  casesPerSecond: 0.57,
  minCases: 11,
  maxCasesPerRun: 50,
  async run(o) {
    const report = await runEvilTarget({ seed: o.seed, attempts: o.cases, lifeMs: 600, maxMs: Math.max(60_000, o.cases * 3000), onProgress: o.progress });
    o.progress(o.cases);
    const rows = new Map<string, FuzzRow>();
    for (const [scenario, n] of Object.entries(report.stats.byScenario)) {
      const r = row('manager', `evil-target-${scenario}`);
      r.cases = n;
      rows.set(scenario, r);
    }
    const first = [...rows.values()][0] ?? row('manager', 'evil-target');
    first.rssGrowthMb = Math.max(0, report.rss.growthKb / 1024);
    const found: { category: string; replay: Record<string, string | number>; note: string; class: 'crash' | 'hang' }[] = [];
    if (!report.alive || report.fatal.length > 0) {
      first.crashes++;
      const note = `manager exited or printed fatal: ${JSON.stringify(report.exit)} ${report.fatal.slice(0, 3).join('; ')}`;
      first.findings.push(note);
      found.push({ category: 'crash', replay: { seed: o.seed, attempts: o.cases }, note, class: 'crash' });
    }
    first.hangs += report.probes.failed + (report.converged ? 0 : 1);
    for (const f of report.probes.failures.slice(0, 5)) first.findings.push(f);
    if (report.probes.failed > 0) found.push({ category: 'probe', replay: { seed: o.seed, attempts: o.cases }, note: report.probes.failures.slice(0, 3).join('; '), class: 'hang' });
    if (!report.converged) {
      first.findings.push('did not reconcile against the good target afterwards');
      found.push({ category: 'converge', replay: { seed: o.seed, attempts: o.cases }, note: 'did not reconcile against the good target afterwards', class: 'hang' });
    }
    if (o.saveFindings && found.length > 0) first.findings.push(...(await saveReplayFindings(o.saveFindings, 'evil-target', o.seed, found)));
    return [...rows.values()];
  },
};

/** The agent's informers facing a malicious Kubernetes API: one case is one hostile answer. */
export const evilKubeAdapter: FuzzAdapter = {
  name: 'evil-kube',
  casesPerSecond: 18,
  minCases: 24,
  maxCasesPerRun: 2_000,
  async run(o) {
    const report = await runEvilKube({ seed: o.seed, requests: o.cases, maxMs: Math.max(60_000, o.cases * 1000), hugeLineBytes: 4 << 20, onProgress: o.progress });
    o.progress(o.cases);
    const rows = new Map<string, FuzzRow>();
    for (const [hostility, n] of Object.entries(report.stats.byHostility)) {
      const r = row('agent', `kube-${hostility}`);
      r.cases = n;
      rows.set(hostility, r);
    }
    const first = [...rows.values()][0] ?? row('agent', 'kube');
    first.rssGrowthMb = Math.max(0, report.rss.growthKb / 1024);
    const found: { category: string; replay: Record<string, string | number>; note: string; class: 'crash' | 'hang' }[] = [];
    if (!report.alive || report.fatal.length > 0) {
      first.crashes++;
      const note = `agent exited or printed fatal: ${JSON.stringify(report.exit)} ${report.fatal.slice(0, 3).join('; ')}`;
      first.findings.push(note);
      found.push({ category: 'crash', replay: { seed: o.seed, requests: o.cases }, note, class: 'crash' });
    }
    first.hangs += report.probes.failed + (report.converged ? 0 : 1);
    for (const f of report.probes.failures.slice(0, 5)) first.findings.push(f);
    if (report.probes.failed > 0) found.push({ category: 'probe', replay: { seed: o.seed, requests: o.cases }, note: report.probes.failures.slice(0, 3).join('; '), class: 'hang' });
    if (!report.converged) {
      first.findings.push(`did not converge on the good API: ${report.last}`);
      found.push({ category: 'converge', replay: { seed: o.seed, requests: o.cases }, note: `did not converge on the good API: ${report.last}`, class: 'hang' });
    }
    if (report.served < o.cases) first.findings.push(`served ${report.served} hostile answers of ${o.cases} before the time limit`);
    if (o.saveFindings && found.length > 0) first.findings.push(...(await saveReplayFindings(o.saveFindings, 'evil-kube', o.seed, found)));
    return [...rows.values()];
  },
};

export const ADAPTERS: readonly FuzzAdapter[] = [busAdapter, p4rtAdapter, cniPluginAdapter, cniExecAdapter, cniGrpcAdapter, http2TargetAdapter, http2CniAdapter, evilTargetAdapter, evilKubeAdapter];
