/**
 * bench:cni — pod interface set-up latency through the whole CNI path, as root, on real
 * namespaces: the bundled plugin exec'd as a runtime does → host-local IPAM (Debian's
 * containernetworking-plugins) → the agent (bin/agent, a process) on its Unix socket → the pool
 * TAP moved into the pod's namespace and plumbed → the real manager (bin/manager, JetStream
 * durable store) acknowledging the pod. NATS with mutual TLS, as `npm start` runs it.
 *
 *  1. 30 sequential ADDs, each followed by the floor: a bare `node -e 0` exec (interleaved, so
 *     both see the same machine load).
 *  2. The agent-side time of every ADD (request decoded → reply encoded), from the agent's own
 *     debug log line.
 *  3. 30 sequential DELs.
 *  4. A burst: 30 ADDs started at once; each one's latency from the burst start. Then 30 DELs.
 *
 * Everything (namespaces `ioff-<run>-…`, TAPs `ioc<run>_N` inside them) is removed on exit,
 * also after a failure or Ctrl-C. Nothing is added to the root namespace.
 *
 * Last line: {"bench":"cni","add_p50_ms":…,"exec_floor_p50_ms":…,"agent_p99_ms":…,"burst_pods":30,"burst_p99_ms":…,"del_p99_ms":…}
 */
import { execFile as execFileCb } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';
import { cniEnv, execPlugin, type PluginRun } from '../../cni/runtime-exec.js';
import { execIp } from '../../actors/agent/pool/ip.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import { startLocalNode, type LocalNode } from '../local-node.js';
import type { LogLine } from '../processes.js';

const run = promisify(execFileCb);
const PODS = 30;
const POOL = 64; // 62 pod slots: the sequential 30 are deleted before the burst of 30

const percentile = (xs: readonly number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
};
const fmt = (x: number) => x.toFixed(1);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench:cni needs root: it creates network namespaces and TAP devices (all removed afterwards)');
    process.exit(2);
  }
  const id = randomBytes(3).toString('hex');
  const prefix = `ioc${id}_`;
  const ns = (role: string) => `ioff-${id}-${role}`;
  const made: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'ioff-bench-cni-'));
  let node: LocalNode | undefined;
  const cleanup = async () => {
    await node?.stop().catch(() => undefined);
    node = undefined;
    for (const name of [...made, ns('gw')]) await run('ip', ['netns', 'del', name]).catch(() => undefined);
    made.length = 0;
    await rm(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  const addNs = async (role: string) => {
    const name = ns(role);
    await run('ip', ['netns', 'add', name]);
    made.push(name);
    return name;
  };

  try {
    const plugin = await bundleCniPlugin(join(dir, 'infra-cni.cjs'));
    const hostNs = await addNs('host');
    const pool = await createPool(execIp, { prefix, count: POOL, netns: hostNs });
    if (!pool.ok) throw pool.error;

    const agentMs: number[] = [];
    const prepareMs: number[] = [];
    const steps: Record<string, number[]> = {};
    node = await startLocalNode({
      kube: false,
      logLevel: 'warn',
      moduleLevels: { cni: 'debug', pods: 'debug' },
      pods: { prefix, poolNetns: hostNs, gatewayNetns: ns('gw') },
      onLog: (_p, line) => {
        const l = line as LogLine;
        if (typeof line === 'object' && l.msg === 'cni request served' && l.method === 'Add' && typeof l.ms === 'number') agentMs.push(l.ms);
        else if (typeof line === 'object' && l.msg === 'cni request served' && l.method === 'Prepare' && typeof l.ms === 'number') prepareMs.push(l.ms);
        else if (typeof line === 'object' && l.msg === 'pod interface ready' && typeof l.steps === 'object' && l.steps) {
          for (const [k, v] of Object.entries(l.steps as Record<string, number>)) (steps[k] ??= []).push(v);
        }
        else if (typeof line === 'object' && l.level >= 50) console.error(`[${_p}] ${l.msg}`);
      },
    });
    const socket = node.cniSocket!;
    for (let i = 0; i < 300 && !(await access(socket).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));

    const dataDir = join(dir, 'ipam');
    const conf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'bench',
      type: 'infra-cni',
      agentSocket: socket,
      agentTimeoutMs: 10_000,
      mtu: 1500,
      ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.0.0/24', gateway: '10.244.0.1' }]], routes: [{ dst: '0.0.0.0/0' }] },
    });
    let n = 0;
    const newPod = async () => {
      const name = await addNs(`b${++n}`);
      return { id: `bench${id}${n}`, path: `/var/run/netns/${name}` };
    };
    const cni = (command: string, pod: { id: string; path: string }) =>
      execPlugin(plugin, cniEnv({ command, containerId: pod.id, ifname: 'eth0', netns: pod.path, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p${pod.id}` }), conf);
    const must = (r: PluginRun, what: string) => {
      if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${(r.stdout + r.stderr).slice(0, 400)}`);
      return r;
    };

    // Warm-up: the manager has elected itself and programmed the host interface; caches are hot.
    for (let i = 0; i < 3; i++) {
      const warm = await newPod();
      for (let attempt = 0; ; attempt++) {
        const r = await cni('ADD', warm);
        if (r.code === 0) break;
        if (attempt > 50) must(r, 'warm-up ADD');
        await new Promise((res) => setTimeout(res, 200));
      }
      must(await cni('DEL', warm), 'warm-up DEL');
    }
    agentMs.length = 0;
    prepareMs.length = 0;
    for (const k of Object.keys(steps)) delete steps[k];

    console.log(`sequential: ${PODS} ADDs, each followed by a bare \`node -e 0\` (the exec floor)`);
    const adds: number[] = [];
    const floors: number[] = [];
    const pods = [];
    for (let i = 0; i < PODS; i++) {
      const pod = await newPod();
      adds.push(must(await cni('ADD', pod), 'ADD').ms);
      floors.push((await execPlugin(process.execPath, {}, '', ['-e', '0'])).ms);
      pods.push(pod);
    }
    // The agent logs after replying; give the last lines a moment to arrive.
    for (let i = 0; i < 40 && agentMs.length < PODS; i++) await new Promise((r) => setTimeout(r, 50));
    const agentSeq = [...agentMs];
    console.log(`  ADD  p50 ${fmt(percentile(adds, 50))} ms  p99 ${fmt(percentile(adds, 99))} ms`);
    console.log(`  exec floor p50 ${fmt(percentile(floors, 50))} ms  (node -e 0)`);
    console.log(`  agent-side ADD p50 ${fmt(percentile(agentSeq, 50))} ms  p99 ${fmt(percentile(agentSeq, 99))} ms  (${agentSeq.length} samples)`);
    console.log(`  agent-side Prepare (sent while host-local runs; answered at once, the move runs on) p50 ${fmt(percentile(prepareMs, 50))} ms  p99 ${fmt(percentile(prepareMs, 99))} ms`);
    console.log(`  agent steps p50 (the move overlaps IPAM): ${Object.entries(steps).map(([k, v]) => `${k} ${fmt(percentile(v, 50))} ms`).join(', ')}`);
    const dels: number[] = [];
    for (const pod of pods) dels.push(must(await cni('DEL', pod), 'DEL').ms);
    console.log(`  DEL  p50 ${fmt(percentile(dels, 50))} ms  p99 ${fmt(percentile(dels, 99))} ms`);

    console.log(`burst: ${PODS} ADDs at once`);
    const burstPods = [];
    for (let i = 0; i < PODS; i++) burstPods.push(await newPod());
    const burstStart = performance.now();
    const burst = await Promise.all(burstPods.map(async (p) => (must(await cni('ADD', p), 'burst ADD'), performance.now() - burstStart)));
    console.log(`  burst ADD p50 ${fmt(percentile(burst, 50))} ms  p99 ${fmt(percentile(burst, 99))} ms  (all ${PODS} done in ${fmt(Math.max(...burst))} ms)`);
    const burstDel = performance.now();
    await Promise.all(burstPods.map(async (p) => must(await cni('DEL', p), 'burst DEL')));
    console.log(`  burst DEL all done in ${fmt(performance.now() - burstDel)} ms`);

    const summary = {
      bench: 'cni',
      add_p50_ms: +fmt(percentile(adds, 50)),
      exec_floor_p50_ms: +fmt(percentile(floors, 50)),
      agent_p99_ms: +percentile(agentSeq, 99).toFixed(2),
      burst_pods: PODS,
      burst_p99_ms: +fmt(percentile(burst, 99)),
      del_p99_ms: +fmt(percentile(dels, 99)),
    };
    const goals = [
      `add_p50 ${summary.add_p50_ms} <= floor ${summary.exec_floor_p50_ms} + 60: ${summary.add_p50_ms <= summary.exec_floor_p50_ms + 60 ? 'met' : 'NOT met'}`,
      `agent_p99 ${summary.agent_p99_ms} <= 50: ${summary.agent_p99_ms <= 50 ? 'met' : 'NOT met'}`,
      `burst_p99 ${summary.burst_p99_ms} <= 3000: ${summary.burst_p99_ms <= 3000 ? 'met' : 'NOT met'}`,
    ];
    console.log(`goals: ${goals.join('; ')}`);
    await cleanup();
    console.log(JSON.stringify(summary));
  } catch (e) {
    await cleanup();
    throw e;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
