/**
 * npm run simulate -- --seed S --nodes N --duration T --faults all|<comma list>|none
 *                     [--mode process|inproc] [--pods P] [--report out.html] [--events out.jsonl] [--broken <mode>]
 * npm run simulate:soak -- [--seeds 20] [--first-seed 1] [--nodes 5] [--duration 40] [--faults all]
 *
 * The fault-injection simulator (docs/simulator.md): a cluster of real processes (nats-server,
 * the Kubernetes API stand-in, per node the P4 target, one or two managers and the agent on a
 * synthetic kernel), a seeded workload and fault schedule, invariants checked during and after
 * the run. A progress bar while it runs (on a terminal), the violations and the replay command
 * when it fails, the HTML report with --report, and as the last line
 * {"simulate":"ok"|"fail","seed":S,"mode":"process"|"inproc","nodes":N,"faults":F,"violations":V,"converge_p99_s":…}.
 * `--mode inproc` runs the same plan in this process on an injected clock (simulations/inproc/):
 * up to 200 nodes, `--pods P` pods per node at the start (100 for the scale run), and the same
 * seed gives the same event log byte for byte.
 * Exit 0 when every invariant held, 1 when one did not, 2 for bad options or a run that could not
 * be carried out.
 *
 * `--soak` runs seeds one after the other (each a fresh cluster) and prints one line per seed and
 * {"simulate_soak":"ok"|"fail","seeds":…,"failed":[…],"minutes":…} last.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { progressBar } from './fuzz/harness.js';
import { renderReport } from './report/html.js';
import { parseBroken, type BrokenMode } from './cluster/broken.js';
import { parseFaultList, type FaultKind } from './cluster/fault-kinds.js';
import type { SimulateResult } from './cluster/simulate.js';
import { BROKEN_ENV } from './cluster/broken.js';

const USAGE =
  'usage: npm run simulate -- --seed S --nodes N --duration T --faults all|<kind,kind…>|none [--mode process|inproc] [--pods P] [--report out.html] [--events out.jsonl] [--broken ids-double-allocate]\n' +
  '       (in-process debugging: --trace-logs <process prefix, e.g. node-3/agent> --trace-bus <text in subject or connection>)\n' +
  '       npm run simulate -- --soak [--seeds 20] [--first-seed 1] [--nodes 5] [--duration 40] [--faults all]';

function fail(message: string): never {
  console.error(`simulate: ${message}\n${USAGE}`);
  process.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  values = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      nodes: { type: 'string', default: '3' },
      duration: { type: 'string', default: '40' },
      faults: { type: 'string', default: 'all' },
      mode: { type: 'string', default: 'process' },
      pods: { type: 'string' },
      'trace-logs': { type: 'string' },
      'trace-bus': { type: 'string' },
      report: { type: 'string' },
      events: { type: 'string' },
      broken: { type: 'string' },
      soak: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '20' },
      'first-seed': { type: 'string', default: '1' },
    },
  }).values;
} catch (e) {
  fail((e as Error).message);
}

const intOf = (name: string): number => {
  const v = Number(values[name]);
  if (!Number.isSafeInteger(v)) fail(`--${name}: an integer`);
  return v;
};
if (values.mode !== 'process' && values.mode !== 'inproc') fail(`--mode ${String(values.mode)}: process or inproc`);
const inproc = values.mode === 'inproc';
if (!inproc && values.pods !== undefined) fail('--pods: in-process mode only');
if (!inproc && (values['trace-logs'] !== undefined || values['trace-bus'] !== undefined)) fail('--trace-logs, --trace-bus: in-process mode only');
const trace =
  values['trace-logs'] !== undefined || values['trace-bus'] !== undefined
    ? {
        ...(values['trace-logs'] !== undefined ? { logs: String(values['trace-logs']) } : {}),
        ...(values['trace-bus'] !== undefined ? { bus: String(values['trace-bus']) } : {}),
        out: (line: string) => console.error(line),
      }
    : undefined;
const pods = values.pods === undefined ? undefined : intOf('pods');
const kinds = parseFaultList(String(values.faults));
if (!kinds.ok) fail(kinds.error.message);
let broken: BrokenMode | undefined;
if (values.broken !== undefined) {
  const b = parseBroken(String(values.broken));
  if (!b.ok) fail(b.error.message);
  broken = b.value;
}
const nodes = intOf('nodes');
// A planted bug is read from the environment when the code that has it loads: in-process, that is
// this process, so it is set before the simulator (and the trees) are imported.
if (inproc && broken) process.env[BROKEN_ENV] = broken;
const { simulate } = await import('./cluster/simulate.js');
const { simulateInproc } = await import('./inproc/inproc-simulate.js');
const durationS = Number(values.duration);

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nsimulate: ${signal}: stopping the cluster…`);
    controller.abort();
  });
}

/** One seed, printed as the brief asks; resolves with the result (undefined if it could not run). */
async function one(seed: number, options: { report?: string; events?: string; quiet?: boolean }): Promise<SimulateResult | undefined> {
  const bar = options.quiet ? undefined : progressBar(`seed ${seed}`, 100);
  const common = {
    seed,
    nodes,
    durationS,
    faults: kinds.ok ? kinds.value : ([] as FaultKind[]),
    faultsText: String(values.faults),
    onProgress: (f: number) => bar?.(Math.round(f * 100)),
    signal: controller.signal,
  };
  const r = inproc
    ? await simulateInproc({ ...common, ...(pods !== undefined ? { podsPerNode: pods } : {}), ...(trace ? { trace } : {}), ...(broken ? { broken } : {}) }).then(async (x) => {
        if (x.ok && options.events) await writeFile(options.events, x.value.eventLog);
        return x.ok ? { ok: true as const, value: { ...x.value, eventsFile: options.events } } : x;
      })
    : await simulate({
    seed,
    nodes,
    durationS,
    faults: kinds.ok ? kinds.value : ([] as FaultKind[]),
    faultsText: String(values.faults),
    ...(broken ? { broken } : {}),
    ...(options.events ? { eventsPath: options.events } : {}),
    onProgress: (f) => bar?.(Math.round(f * 100)),
    signal: controller.signal,
  });
  bar?.(100);
  if (!r.ok) {
    console.error(`simulate: seed ${seed}: ${r.error.message}`);
    return undefined;
  }
  const v = r.value;
  const plan = v.plan;
  if (plan.skipped.length > 0) for (const s of plan.skipped) console.log(`skipped fault kind ${s.kind}: ${s.reason}`);
  console.log(
    `seed ${seed}: ${plan.nodes.length} nodes, ${v.counts.ops} operations (${v.counts.retries} retries), ${v.report.faults.length} faults, ` +
      `${v.counts.checks} pipeline checks, ${v.report.programmingLatencyMs.length} latencies, ${v.counts.wallS} s`,
  );
  for (const i of v.report.invariants) {
    console.log(`  ${i.ok ? 'ok  ' : 'FAIL'} ${i.kind.padEnd(8)} ${i.name}${i.ok ? '' : `: ${i.violations.length} violation(s)`}`);
    for (const x of i.violations.slice(0, 5)) console.log(`         t=${x.atS}s ${x.node ?? ''} ${x.detail}`);
  }
  const restarts = v.report.restarts.filter((x) => x.restarts > 0 || x.escalations > 0);
  if (restarts.length > 0) console.log(`  restarts: ${restarts.map((x) => `${x.actorKind} ${x.restarts}${x.escalations ? `/${x.escalations} esc` : ''}`).join(', ')}`);
  if (options.report) {
    try {
      await mkdir(dirname(options.report), { recursive: true });
      await writeFile(options.report, await renderReport(v.report));
      console.log(`  report: ${options.report}`);
    } catch (e) {
      console.error(`simulate: the report could not be written: ${(e as Error).message}`);
    }
  }
  if (v.eventsFile) console.log(`  event log: ${v.eventsFile}`);
  if (v.summary.simulate === 'fail') console.log(`  replay: ${v.replayCommand}`);
  return v;
}

if (values.soak) {
  const seeds = intOf('seeds');
  const first = intOf('first-seed');
  if (seeds < 1 || seeds > 1000) fail('--seeds: 1–1000');
  const t0 = Date.now();
  const failed: number[] = [];
  for (let s = first; s < first + seeds && !controller.signal.aborted; s++) {
    const v = await one(s, { quiet: true });
    if (!v || v.summary.simulate !== 'ok') failed.push(s);
    console.log(JSON.stringify(v?.summary ?? { simulate: 'fail', seed: s, mode: values.mode, nodes, error: 'the run could not be carried out' }));
  }
  const minutes = Math.round((Date.now() - t0) / 600) / 100;
  console.log(JSON.stringify({ simulate_soak: failed.length === 0 ? 'ok' : 'fail', seeds, failed, minutes }));
  process.exit(failed.length === 0 ? 0 : 1);
} else {
  const seed = intOf('seed');
  const v = await one(seed, { ...(values.report ? { report: String(values.report) } : {}), ...(values.events ? { events: String(values.events) } : {}) });
  if (!v) {
    console.log(JSON.stringify({ simulate: 'fail', seed, mode: values.mode, nodes, faults: 0, violations: 0, converge_p99_s: null, error: 'the run could not be carried out' }));
    process.exit(2);
  }
  console.log(JSON.stringify(v.summary));
  process.exit(v.summary.simulate === 'ok' ? 0 : 1);
}
