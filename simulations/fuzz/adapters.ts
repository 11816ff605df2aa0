/**
 * The fuzz targets the unified runner drives, each behind the harness's FuzzAdapter: it starts
 * the processes it fuzzes (so "no crash" means a process that stayed up), runs its own generator
 * and oracle, and folds the report into rows of target × category.
 *
 * @example
 * const rows = await busAdapter.run({ seed: 4242, cases: 20_000, progress: () => undefined });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalNode } from '../local-node.js';
import { startTarget } from '../target-process.js';
import { startCniServerProcess } from './cni-server-process.js';
import { row, type FuzzAdapter, type FuzzRow } from './harness.js';
import { ATTACK_KINDS } from './http2-anomalies.js';
import { cniFuzzTarget, p4rtFuzzTarget, rssKb, runHttp2Fuzz, type Http2FuzzReport } from './http2-fuzz.js';
import { fuzzNode } from './node-fuzz.js';
import { pluginCases, runExecFuzz, runPluginFuzz, worldIn, type ExecFuzzReport, type PluginFuzzReport } from './cni-fuzz.js';
import { predictPlugin } from './cni-json.js';
import { saveCorpus, toCorpus, type CorpusCase } from './corpus.js';
import { runP4rtFuzz } from './p4rt-fuzz.js';
import { runEvilTarget } from './evil-target-process.js';

const mb = (kb: number | undefined) => (kb ?? 0) / 1024;

/** Every NATS subject the manager and the agent serve (simulations/fuzz/node-fuzz.ts). */
export const busAdapter: FuzzAdapter = {
  name: 'bus',
  costWeight: 1,
  minCases: 2_000,
  maxCasesPerRun: 100_000,
  async run({ seed, cases, progress }) {
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
        const target = at(/malformed:(\w+)/.exec(f.input)?.[1] ?? 'random');
        if (hang) target.hangs++;
        else target.mismatches++;
        if (target.findings.length < 5) target.findings.push(`${f.target} ${f.input}: expected ${f.expected}, got ${f.got}`);
      }
      const counted = outcome.report.failures.length;
      if (outcome.report.failureCount > counted) first.mismatches += outcome.report.failureCount - counted;
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

/** HTTP/2 anomalies against the software target's gRPC listener (bin/target, its own process). */
export const http2TargetAdapter: FuzzAdapter = {
  name: 'http2-target',
  costWeight: 400,
  minCases: ATTACK_KINDS.length,
  maxCasesPerRun: 300,
  async run({ seed, cases, progress }) {
    const target = await startTarget();
    try {
      let done = 0;
      const report = await runHttp2Fuzz({ target: p4rtFuzzTarget(target), seed, rounds: Math.max(1, Math.ceil(cases / ATTACK_KINDS.length)), onAttack: () => progress(++done) });
      return http2Rows('target', report);
    } finally {
      await target.stop();
    }
  },
};

/** HTTP/2 anomalies against the agent's CNI gRPC listener (its server in a process of its own). */
export const http2CniAdapter: FuzzAdapter = {
  name: 'http2-cni',
  costWeight: 400,
  minCases: ATTACK_KINDS.length,
  maxCasesPerRun: 300,
  async run({ seed, cases, progress }) {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-fuzz-cni-'));
    const server = await startCniServerProcess({ socketPath: join(dir, 'cni.sock') });
    try {
      let done = 0;
      const report = await runHttp2Fuzz({ target: cniFuzzTarget(server), seed, rounds: Math.max(1, Math.ceil(cases / ATTACK_KINDS.length)), onAttack: () => progress(++done) });
      return http2Rows('cni-grpc', report);
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
    const r = rows.get((f as { kind?: string }).kind ?? '') ?? first;
    r.mismatches++;
    if (r.findings.length < 5) r.findings.push(JSON.stringify(f).slice(0, 300));
  }
  if (report.mismatches > report.failures.length) first.mismatches += report.mismatches - report.failures.length;
  return [...rows.values()];
}

/**
 * The failing cases of a plugin run, as corpus entries expecting what the oracle predicts (so
 * that, saved under test/fuzz/corpus/, npm test fails until the plugin is fixed, then guards it).
 */
export function pluginFindings(dir: string, seed: number, count: number, failures: readonly { input: string }[]): CorpusCase[] {
  if (failures.length === 0) return [];
  const world = worldIn(dir);
  const wanted = new Set(failures.map((f) => f.input));
  const out: CorpusCase[] = [];
  for (const c of pluginCases(world, seed, count)) {
    if (wanted.has(`#${c.index} ${c.kind} ${c.command}: ${c.note}`)) out.push({ ...toCorpus(c, predictPlugin(c, world), world, seed), category: `finding-${c.kind}` });
  }
  return out;
}

/** The CNI plugin's entry, in process, against malformed netconf and environments (cni-fuzz.ts). */
export const cniPluginAdapter: FuzzAdapter = {
  name: 'cni-plugin',
  costWeight: 4,
  minCases: 300,
  maxCasesPerRun: 20_000,
  async run({ seed, cases, progress, saveFindings }) {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-fuzz-plugin-'));
    try {
      const report = await runPluginFuzz({ dir, seed, count: cases });
      progress(cases);
      const rows = cniRows('cni-plugin', report, report.rssGrowthBytes / 2 ** 20);
      if (saveFindings) {
        const saved = await saveCorpus(join(saveFindings, 'cni-plugin'), pluginFindings(dir, seed, cases, report.failures));
        if (saved.length > 0 && rows[0]) rows[0].findings.push(`saved as regression cases: ${saved.join(', ')}`);
      }
      return rows;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** A sample through the real exec of the bundled plugin. */
export const cniExecAdapter: FuzzAdapter = {
  name: 'cni-exec',
  costWeight: 100,
  minCases: 30,
  maxCasesPerRun: 2_000,
  async run({ seed, cases, progress }) {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-fuzz-exec-'));
    try {
      const report = await runExecFuzz({ dir, seed, count: cases });
      progress(cases);
      return cniRows('cni-exec', report, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** The software target's P4Runtime service: semantic writes against a model of the switch, and malformed requests. */
export const p4rtAdapter: FuzzAdapter = {
  name: 'p4rt',
  costWeight: 1,
  minCases: 200,
  maxCasesPerRun: 20_000, // a run plans its updates and malformed requests up front
  async run({ seed, cases, progress }) {
    const updates = Math.ceil(cases * 0.6);
    const report = await runP4rtFuzz({ seed, updates, malformed: cases - updates });
    progress(cases);
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
    for (const d of report.stateDiffs.slice(0, 5)) first.findings.push(JSON.stringify(d).slice(0, 300));
    return [...rows.values()];
  },
};

/** The manager's P4Runtime client facing a malicious target: one case is one hostile connection. */
export const evilTargetAdapter: FuzzAdapter = {
  name: 'evil-target',
  costWeight: 2000,
  minCases: 11,
  maxCasesPerRun: 50,
  async run({ seed, cases, progress }) {
    const report = await runEvilTarget({ seed, attempts: cases, lifeMs: 600, maxMs: Math.max(60_000, cases * 3000) });
    progress(cases);
    const rows = new Map<string, FuzzRow>();
    for (const [scenario, n] of Object.entries(report.stats.byScenario)) {
      const r = row('manager', `evil-target-${scenario}`);
      r.cases = n;
      rows.set(scenario, r);
    }
    const first = [...rows.values()][0] ?? row('manager', 'evil-target');
    first.rssGrowthMb = Math.max(0, report.rss.growthKb / 1024);
    if (!report.alive || report.fatal.length > 0) {
      first.crashes++;
      first.findings.push(`manager exited or printed fatal: ${JSON.stringify(report.exit)} ${report.fatal.slice(0, 3).join('; ')}`);
    }
    first.hangs += report.probes.failed + (report.converged ? 0 : 1);
    for (const f of report.probes.failures.slice(0, 5)) first.findings.push(f);
    if (!report.converged) first.findings.push('did not reconcile against the good target afterwards');
    return [...rows.values()];
  },
};

export const ADAPTERS: readonly FuzzAdapter[] = [busAdapter, p4rtAdapter, cniPluginAdapter, cniExecAdapter, http2TargetAdapter, http2CniAdapter, evilTargetAdapter];
