#!/usr/bin/env node
/**
 * `npm start`: a whole split-mode node on this machine, proved with real traffic, then kept up
 * (heartbeats on screen) until Ctrl-C, which removes everything it created.
 *
 * As root: the namespaces (host side, ACC, veth, TAP pool) are made here, in the root namespace
 * where nothing else is touched, and the demo itself runs inside the host side
 * (simulations/demo/inside.ts); when it ends — or dies — this process deletes the run's
 * namespaces and with them every link and TAP. Without root it says why and runs the model's
 * synthetic packets instead (simulations/demo/synthetic.ts).
 *
 * Options: --check (run the proofs, print a JSON summary last, exit 0 only if all pass)
 *          --node NAME  --heartbeat-ms N  --duration SECONDS  --log-level LEVEL  --state-dir DIR
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runInside, summaryLine, type TopologyInfo } from '../simulations/demo/inside.js';
import { runSynthetic } from '../simulations/demo/synthetic.js';
import { createTopology, namespacesOf } from '../simulations/demo/topology.js';

const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    node: { type: 'string', default: 'node-1' },
    'heartbeat-ms': { type: 'string', default: '1000' },
    duration: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'state-dir': { type: 'string' },
    /** Internal: run the demo in this process (started by the outer one inside the host namespace). */
    inside: { type: 'string' },
  },
});
const heartbeatMs = Number(values['heartbeat-ms']);
const durationS = values.duration === undefined ? undefined : Number(values.duration);
if (!Number.isInteger(heartbeatMs) || heartbeatMs < 10 || (durationS !== undefined && !(durationS > 0))) {
  console.error('--heartbeat-ms must be an integer ≥ 10 and --duration a positive number of seconds');
  process.exit(2);
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
const stateDir = resolve(values['state-dir'] ?? join(repoRoot(), '.run', 'state'));

if (values.inside) {
  const topo = JSON.parse(values.inside) as TopologyInfo;
  const code = await runInside({
    topo,
    node: values.node,
    check: values.check,
    stateDir,
    heartbeatMs,
    logLevel: values.check ? 'warn' : values['log-level'],
    ...(durationS !== undefined ? { durationS } : {}),
    // fd 3 is a pipe to the outer process, which prints the summary last.
    summary: (line) => writeSync(3, `${line}\n`),
  });
  process.exit(code);
}

if (process.getuid?.() !== 0) {
  console.log('Not root: network namespaces and TAP devices need CAP_NET_ADMIN, so this run uses no real interfaces.');
  console.log('Falling back to the model\'s synthetic packets: the same manager, target and pipeline, with packets traced through TargetAdmin.Process.\n');
  const outcome = await runSynthetic({ say: (l) => console.log(l) }).catch((e: unknown) => {
    console.error(`demo failed: ${(e as Error).message}`);
    return undefined;
  });
  if (values.check) console.log(summaryLine(outcome, 'synthetic'));
  process.exit(outcome && outcome.passed === outcome.checks ? 0 : 1);
}

const runId = randomBytes(3).toString('hex');
const topo = await createTopology(runId);
const info: TopologyInfo = {
  runId,
  hostNs: topo.hostNs,
  accNs: topo.accNs,
  gatewayNs: topo.gatewayNs,
  hostAddress: topo.hostAddress,
  accAddress: topo.accAddress,
  prefix: topo.prefix,
  poolSize: topo.poolSize,
};
const forwarded = process.argv.slice(2);
const child = spawn('ip', ['netns', 'exec', topo.hostNs, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...forwarded, '--inside', JSON.stringify(info)], {
  stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
});
let summary = '';
child.stdio[3]!.on('data', (d: Buffer) => (summary += d.toString()));
// Ctrl-C reaches the child too (same process group): it stops what it started; this process
// waits for it, then removes the namespaces. A SIGTERM to this process is passed on.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => child.kill('SIGTERM'));
const code = await new Promise<number>((done) => child.on('close', (c, signal) => done(c ?? (signal ? 1 : 0))));
await topo.remove();
const left = await namespacesOf(runId);
console.log(left.length === 0 ? `removed the run's namespaces (ioff-${runId}-*), their links and TAPs` : `could not remove: ${left.join(', ')}`);
if (values.check) {
  // The last line: what the proofs said, failed if this clean-up left anything.
  const last = summary.trim().split('\n').at(-1) || summaryLine(undefined, 'tap');
  const parsed = JSON.parse(last) as Record<string, unknown>;
  console.log(JSON.stringify(left.length === 0 ? parsed : { ...parsed, demo: 'fail' }));
}
process.exit(left.length === 0 ? code : 1);
