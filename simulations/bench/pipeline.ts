/**
 * bench:pipeline — packets per second of the P4 behavioural model on one core, loaded like a
 * big node: 10,000 services × 10 endpoints (members, groups, service_lb entries), 5,000 pods
 * (arp_to_port, ipv4_to_port) and 100,000 connections learned by pushing SYNs through the model.
 * Measures (a) pod→pod frames spread evenly over all pods, (b) established ClusterIP flows
 * (ct_forward hit + DNAT) spread evenly over all 100,000 flows, and (c) a raw loop that only copies
 * the same frames, interleaved in rounds so all see the same machine noise. A sample of output
 * frames is verified (ports, rewritten addresses, MACs, checksums recomputed in full).
 *
 * Last line: {"bench":"pipeline","pod_pps":…,"vip_pps":…,"copy_pps":…,…}
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { checksumsOk, decode, tcp } from '../../p4/frames.js';
import { loadP4Info } from '../../p4/p4info.js';
import { ACTIONS, Code, EntityBuilder, LB_SELECTOR, Pipeline, TABLES, type Entity, type OutFrame } from '../../p4/model/index.js';

const PODS = Number(process.env.BENCH_PODS ?? 5_000);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000);
const ENDPOINTS = 10;
const FLOWS = Number(process.env.BENCH_FLOWS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BLOCK = Number(process.env.BENCH_BLOCK ?? 1_000_000);
const GATEWAY_MAC = 0xeeeeeeeeeeee;

const podIp = (i: number): number => 0x0af40000 + 2 + i;
const podPort = (i: number): number => 2 + i;
const podMac = (i: number): number => 0x020000000000 + i;
const vip = (s: number): number => 0x0a600000 + 1 + s;
const endpointPod = (s: number, j: number): number => (s * ENDPOINTS + j) % PODS;
const endpointPort = (s: number): number => 8000 + (s % 1000);

function must(p: Pipeline, e: Entity, what: string): void {
  const s = p.write({ type: 'INSERT', entity: e });
  if (s.code !== Code.OK) throw new Error(`${what}: ${s.message}`);
}

/** Pods, members, groups and service_lb entries through the P4Runtime-shaped API. Returns writes. */
function program(p: Pipeline, b: EntityBuilder): number {
  let writes = 0;
  for (let i = 0; i < PODS; i++) {
    must(p, b.entry(TABLES.arpToPort, { 'hdr.arp.tpa': podIp(i) }, ACTIONS.setPort, { port: podPort(i) }), 'arp');
    must(p, b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': podIp(i) }, ACTIONS.setDestMacPort, { port: podPort(i), dmac: podMac(i) }), 'ipv4');
    writes += 2;
  }
  for (let s = 0; s < SERVICES; s++) {
    const members: number[] = [];
    for (let j = 0; j < ENDPOINTS; j++) {
      const id = s * ENDPOINTS + j + 1;
      must(p, b.member(LB_SELECTOR, id, ACTIONS.lbSetEndpoint, { ep_ip: podIp(endpointPod(s, j)), ep_port: endpointPort(s) }), 'member');
      members.push(id);
    }
    must(p, b.group(LB_SELECTOR, s + 1, members, 16), 'group');
    must(p, b.indirect(TABLES.serviceLb, { 'hdr.ipv4.dst_addr': vip(s), 'hdr.ipv4.protocol': 6, 'meta.l4_dst_port': 80 }, { groupId: s + 1 }), 'service_lb');
    writes += ENDPOINTS + 2;
  }
  return writes;
}

interface Flow {
  readonly client: number;
  readonly sport: number;
  readonly service: number;
}

const flowOf = (i: number): Flow => ({ client: i % PODS, sport: 20000 + Math.floor(i / PODS), service: i % SERVICES });

function vipFrame(f: Flow, flags: string): Uint8Array {
  return tcp({ src: podMac(f.client), dst: GATEWAY_MAC, srcIp: podIp(f.client), dstIp: vip(f.service), sport: f.sport, dport: 80, flags, payload: new Uint8Array(6) });
}

function podFrame(i: number): Uint8Array {
  const from = (i + 1) % PODS;
  return tcp({ src: podMac(from), dst: GATEWAY_MAC, srcIp: podIp(from), dstIp: podIp(i), sport: 30000 + (i % 1000), dport: 8080, flags: 'A', payload: new Uint8Array(6) });
}

/** Learns FLOWS connections with SYNs; returns each flow's endpoint (ip) as chosen. */
function learn(p: Pipeline, out: OutFrame): Uint32Array {
  const chosen = new Uint32Array(FLOWS);
  for (let i = 0; i < FLOWS; i++) {
    const f = vipFrame(flowOf(i), 'S');
    if (p.process(podPort(flowOf(i).client), f, f.length, out) < 0) throw new Error(`SYN of flow ${i} dropped: ${p.lastDropReason()}`);
    chosen[i] = decode(out.bytes.subarray(0, out.length)).ipv4!.dst;
  }
  return chosen;
}

function runModel(p: Pipeline, frames: readonly Uint8Array[], out: OutFrame, n: number): number {
  const t0 = performance.now();
  let k = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const f = frames[k]!;
    sum += p.process(2, f, f.length, out);
    if (++k === frames.length) k = 0;
  }
  const ms = performance.now() - t0;
  if (sum < 0) throw new Error('drops in the measured loop');
  return (n / ms) * 1000;
}

function runCopy(frames: readonly Uint8Array[], out: OutFrame, n: number): number {
  const t0 = performance.now();
  let k = 0;
  let sum = 0;
  const o = out.bytes;
  for (let i = 0; i < n; i++) {
    const f = frames[k]!;
    o.set(f);
    out.length = f.length;
    sum += o[k & 63]!;
    if (++k === frames.length) k = 0;
  }
  const ms = performance.now() - t0;
  if (sum < 0) throw new Error('unreachable');
  return (n / ms) * 1000;
}

/** Checks a sample of outputs from scratch; returns the problems found. */
function verify(p: Pipeline, podFrames: readonly Uint8Array[], vipFrames: readonly Uint8Array[], chosen: Uint32Array, out: OutFrame): string[] {
  const problems: string[] = [];
  const check = (what: string, frame: Uint8Array, port: number, dstIp: number, dport: number, dmac: number): void => {
    const got = p.process(2, frame, frame.length, out);
    const o = out.bytes.slice(0, out.length);
    const d = decode(o);
    const cs = checksumsOk(o);
    const ok = got === port && d.ipv4?.dst === dstIp && d.tcp?.dport === dport && d.dst === dmac && d.src === GATEWAY_MAC && cs.ipv4 && cs.l4 && o.length === frame.length;
    if (!ok) problems.push(`${what}: port ${got}/${port}, dst ${d.ipv4?.dst}/${dstIp}:${d.tcp?.dport}/${dport}, checksums ${JSON.stringify(cs)}`);
  };
  for (let i = 0; i < podFrames.length; i += 97) check(`pod frame ${i}`, podFrames[i]!, podPort(i), podIp(i), 8080, podMac(i));
  for (let i = 0; i < vipFrames.length; i += 997) {
    const ep = chosen[i]! - podIp(0);
    check(`vip flow ${i}`, vipFrames[i]!, podPort(ep), chosen[i]!, endpointPort(flowOf(i).service), podMac(ep));
  }
  return problems;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  const info = loadP4Info();
  const p = new Pipeline(info);
  const b = new EntityBuilder(info);
  const out: OutFrame = { port: -1, length: 0, bytes: new Uint8Array(2048) };
  let t0 = performance.now();
  const writes = program(p, b);
  const programMs = performance.now() - t0;
  t0 = performance.now();
  const chosen = learn(p, out);
  const learnMs = performance.now() - t0;
  const st = p.stats();
  const entries = Object.fromEntries(st.tables.map((t) => [t.alias, t.entries]));
  if (entries.ct_forward !== FLOWS || entries.ct_reverse !== FLOWS) throw new Error(`learned ${entries.ct_forward}/${entries.ct_reverse} of ${FLOWS}`);
  console.log(`loaded ${writes} P4Runtime writes in ${programMs.toFixed(0)} ms (${Math.round(writes / programMs)}k/s): ${PODS} pods, ${SERVICES} services × ${ENDPOINTS} endpoints (${st.members} members, ${st.groups} groups)`);
  console.log(`learned ${FLOWS} connections (both directions) by SYN in ${learnMs.toFixed(0)} ms (incl. frame building); entries ${JSON.stringify(entries)}`);

  const podFrames = Array.from({ length: PODS }, (_x, i) => podFrame(i));
  const vipFrames = Array.from({ length: FLOWS }, (_x, i) => vipFrame(flowOf(i), 'A'));
  const runs = { pod: [] as number[], vip: [] as number[], copyPod: [] as number[], copyVip: [] as number[] };
  runModel(p, podFrames, out, BLOCK / 4);
  runModel(p, vipFrames, out, BLOCK / 4);
  runCopy(podFrames, out, BLOCK / 4);
  runCopy(vipFrames, out, BLOCK / 4);
  let gcs = 0;
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  const hitsBefore = p.hits.slice();
  for (let r = 0; r < ROUNDS; r++) {
    runs.pod.push(runModel(p, podFrames, out, BLOCK));
    runs.vip.push(runModel(p, vipFrames, out, BLOCK));
    runs.copyPod.push(runCopy(podFrames, out, BLOCK));
    runs.copyVip.push(runCopy(vipFrames, out, BLOCK));
  }
  const ctHits = p.hits[2]! - hitsBefore[2]!;
  t0 = performance.now();
  p.age(p.time + 1, Infinity);
  const sweepMs = performance.now() - t0;
  const problems = verify(p, podFrames, vipFrames, chosen, out);
  setImmediate(() => {
    obs.disconnect();
    report(runs, { ctHits, gcs, sweepMs, problems, programRate: writes / programMs });
  });
}

function report(runs: Record<'pod' | 'vip' | 'copyPod' | 'copyVip', number[]>, x: { ctHits: number; gcs: number; sweepMs: number; problems: string[]; programRate: number }): void {
  const pod = median(runs.pod);
  const vipPps = median(runs.vip);
  const copyPod = median(runs.copyPod);
  const copyVip = median(runs.copyVip);
  // The stricter copy floor of the two frame sets.
  const copy = Math.max(copyPod, copyVip);
  const m = (v: number): string => `${(v / 1e6).toFixed(2)} Mpps`;
  const all = (xs: number[]): string => xs.map((v) => (v / 1e6).toFixed(2)).join(' ');
  console.log(`${ROUNDS} rounds × ${BLOCK} packets per path, interleaved; medians (all rounds, Mpps):`);
  console.log(`  (a) pod→pod, ${PODS} destinations         ${m(pod)}   [${all(runs.pod)}]  ${(pod / copy).toFixed(3)} × copy`);
  console.log(`  (b) ClusterIP established, ${FLOWS} flows  ${m(vipPps)}   [${all(runs.vip)}]  ${(vipPps / copy).toFixed(3)} × copy`);
  console.log(`  (c) copy only: pod frames ${m(copyPod)} [${all(runs.copyPod)}], flow frames ${m(copyVip)} [${all(runs.copyVip)}]`);
  console.log(`ct_forward hits during the rounds: ${x.ctHits} (${ROUNDS * BLOCK} ClusterIP packets); GCs during the rounds: ${x.gcs}; full ageing sweep of ${2 * FLOWS} learned entries: ${x.sweepMs.toFixed(1)} ms`);
  console.log(`verified ${Math.ceil(PODS / 97) + Math.ceil(FLOWS / 997)} sampled outputs: ${x.problems.length === 0 ? 'all correct' : `${x.problems.length} wrong`}`);
  for (const pr of x.problems.slice(0, 10)) console.log(`  WRONG ${pr}`);
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(`goal ≥ 500,000 pps on both paths: ${met(pod >= 5e5 && vipPps >= 5e5)}; goal ≥ 0.2 × copy on both paths: ${met(pod >= 0.2 * copy && vipPps >= 0.2 * copy)}`);
  const r0 = (v: number): number => Math.round(v);
  console.log(
    JSON.stringify({
      bench: 'pipeline',
      pod_pps: r0(pod),
      vip_pps: r0(vipPps),
      copy_pps: r0(copy),
      pod_ratio: Math.round((pod / copy) * 1000) / 1000,
      vip_ratio: Math.round((vipPps / copy) * 1000) / 1000,
      copy_pod_pps: r0(copyPod),
      copy_vip_pps: r0(copyVip),
      gcs: x.gcs,
      verified_ok: x.problems.length === 0,
    }),
  );
  if (x.problems.length > 0) process.exitCode = 1;
}

main();
