/**
 * What the demo proves on its cluster, each check printed as it completes: ping pod → pod; 100
 * TCP connections to a ClusterIP spread over all its endpoints; UDP request/response through a
 * VIP; an endpoint added while traffic runs receives new connections; a removed one gets none;
 * iperf3 through a VIP. Every check waits for the programming to land (bounded), so a check that
 * fails says what it saw.
 *
 * @example
 * const outcome = await runProofs(cluster, print);
 * console.log(outcome.passed, '/', outcome.checks);
 */
import { service, slice as sliceOf, type PortSpec } from '../kube/objects.js';
import type { DemoCluster, Pod } from './cluster.js';
import { fanOut, nameServer, steadyConnections, udpAsk } from './workloads.js';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ProofOutcome {
  readonly checks: number;
  readonly passed: number;
  readonly results: readonly CheckResult[];
  readonly iperfMbps: number | null;
  readonly vipConnPerS: number | null;
}

/** An EndpointSlice of pods on this node. */
function slice(name: string, serviceName: string, pods: readonly Pod[], ports: readonly PortSpec[], node: string): ReturnType<typeof sliceOf> {
  return sliceOf(name, serviceName, pods.map((p) => ({ ip: p.ip, node, ready: true })), ports);
}

export const WEB_VIP = '10.96.0.10';
export const DNS_VIP = '10.96.0.53';
export const IPERF_VIP = '10.96.0.20';
const WEB_PORT = 8080;
const DNS_PORT = 5353;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `attempt` until it says done or `ms` pass; returns the last answer. */
async function until<T>(ms: number, attempt: () => Promise<{ done: boolean; value: T }>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await attempt().catch((e: unknown) => ({ done: false, value: e as T }));
    if (r.done || Date.now() > deadline) return r.value;
    await sleep(250);
  }
}

interface Setup {
  client: Pod;
  peer: Pod;
  web: Pod[];
  spare: Pod;
  iperf: Pod;
}

/** The pods and services the proofs use. */
export async function buildCluster(cluster: DemoCluster, say: (line: string) => void): Promise<Setup> {
  const client = await cluster.addPod('client');
  const peer = await cluster.addPod('peer');
  const web = [await cluster.addPod('web-1'), await cluster.addPod('web-2'), await cluster.addPod('web-3')];
  const spare = await cluster.addPod('web-4');
  const iperf = await cluster.addPod('iperf');
  for (const p of cluster.pods) say(`  pod ${p.name.padEnd(7)} ${p.ip.padEnd(12)} ${p.mac}  port ${p.port}  netns ${p.ns}`);
  for (const p of [...web, spare]) await cluster.serve(p, [process.execPath, '-e', nameServer(p.name, WEB_PORT, DNS_PORT)], 'listening');
  await cluster.serve(iperf, ['iperf3', '-s', '-p', '5201']);
  await cluster.apply(service('web', WEB_VIP, [{ name: 'http', port: 80, targetPort: WEB_PORT, protocol: 'TCP' }]));
  await cluster.apply(slice('web-1', 'web', web, [{ name: 'http', port: WEB_PORT, protocol: 'TCP' }], cluster.nodeName));
  await cluster.apply(service('dns', DNS_VIP, [{ name: 'dns', port: 53, targetPort: DNS_PORT, protocol: 'UDP' }]));
  await cluster.apply(slice('dns-1', 'dns', web, [{ name: 'dns', port: DNS_PORT, protocol: 'UDP' }], cluster.nodeName));
  await cluster.apply(service('iperf', IPERF_VIP, [{ name: 'iperf', port: 5201, targetPort: 5201, protocol: 'TCP' }]));
  await cluster.apply(slice('iperf-1', 'iperf', [iperf], [{ name: 'iperf', port: 5201, protocol: 'TCP' }], cluster.nodeName));
  say(`  service web   ${WEB_VIP}:80/TCP   → ${web.map((p) => p.name).join(', ')} :${WEB_PORT}`);
  say(`  service dns   ${DNS_VIP}:53/UDP   → ${web.map((p) => p.name).join(', ')} :${DNS_PORT}`);
  say(`  service iperf ${IPERF_VIP}:5201/TCP → iperf :5201`);
  return { client, peer, web, spare, iperf };
}

export async function runProofs(cluster: DemoCluster, s: Setup, report: (r: CheckResult) => void): Promise<ProofOutcome> {
  const results: CheckResult[] = [];
  const record = (r: CheckResult) => {
    results.push(r);
    report(r);
  };
  let iperfMbps: number | null = null;
  let vipConnPerS: number | null = null;

  // 1. ping pod → pod
  const ping = await until(15_000, async () => {
    const r = await cluster.commandInPod(s.client, ['ping', '-c', '3', '-i', '0.2', '-W', '1', s.peer.ip], 10_000);
    return { done: / 0% packet loss/.test(r.stdout), value: r.stdout };
  });
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(String(ping))?.[1];
  record({ name: `ping ${s.client.name} → ${s.peer.name} (${s.peer.ip})`, ok: / 0% packet loss/.test(String(ping)), detail: rtt ? `3/3 replies, avg ${rtt} ms` : String(ping).trim().split('\n').pop() ?? '' });

  // 2. 100 TCP connections to the VIP, spread over every endpoint
  type Fan = { seen: Record<string, number>; ms: number };
  const fan = await until<Fan>(20_000, async () => {
    const f = JSON.parse(await cluster.inPod(s.client, fanOut(WEB_VIP, 80, 100))) as Fan;
    return { done: s.web.every((p) => (f.seen[p.name] ?? 0) > 0) && Object.values(f.seen).reduce((a, b) => a + b, 0) === 100, value: f };
  });
  const spread = s.web.map((p) => `${p.name} ${fan.seen?.[p.name] ?? 0}`).join(', ');
  const fanOk = s.web.every((p) => (fan.seen?.[p.name] ?? 0) > 0) && Object.keys(fan.seen ?? {}).every((k) => s.web.some((p) => p.name === k));
  if (fanOk && fan.ms > 0) vipConnPerS = Math.round(100 / (fan.ms / 1000));
  record({ name: `100 TCP connections to ${WEB_VIP}:80 reach all 3 endpoints`, ok: fanOk, detail: `${spread}${vipConnPerS ? `; ${vipConnPerS} connections/s` : ''}` });

  // 3. UDP request/response through a VIP
  const answer = await until(15_000, async () => {
    const a = (await cluster.inPod(s.client, udpAsk(DNS_VIP, 53, 'who'))).trim();
    return { done: a.endsWith(':who'), value: a };
  });
  record({ name: `UDP request/response through ${DNS_VIP}:53`, ok: String(answer).endsWith(':who'), detail: `answer "${String(answer)}"` });

  // 4. an endpoint added while traffic runs receives new connections
  const added = await trafficWhile(cluster, s.client, async () => {
    await cluster.apply(slice('web-1', 'web', [...s.web, s.spare], [{ name: 'http', port: WEB_PORT, protocol: 'TCP' }], cluster.nodeName));
  });
  const addedAfter = added.after[s.spare.name] ?? 0;
  record({ name: `endpoint ${s.spare.name} added under traffic receives new connections`, ok: (added.before[s.spare.name] ?? 0) === 0 && addedAfter > 0, detail: `before: ${describe(added.before)}; after: ${describe(added.after)}` });

  // 5. a removed endpoint gets none
  const gone = s.web[1]!;
  const remaining = [s.web[0]!, s.web[2]!, s.spare];
  const removed = await trafficWhile(cluster, s.client, async () => {
    await cluster.apply(slice('web-1', 'web', remaining, [{ name: 'http', port: WEB_PORT, protocol: 'TCP' }], cluster.nodeName));
  });
  record({ name: `endpoint ${gone.name} removed gets no new connections`, ok: (removed.before[gone.name] ?? 0) > 0 && (removed.after[gone.name] ?? 0) === 0, detail: `before: ${describe(removed.before)}; after: ${describe(removed.after)}` });

  // 6. iperf3 through a VIP
  const iperf = await until<number>(20_000, async () => {
    const r = await cluster.commandInPod(s.client, ['iperf3', '-c', IPERF_VIP, '-p', '5201', '-t', '2', '-J'], 20_000);
    let bps = 0;
    try {
      bps = (JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second ?? 0;
    } catch {
      bps = 0;
    }
    return { done: bps > 0, value: bps };
  });
  if (typeof iperf === 'number' && iperf > 0) iperfMbps = Math.round(iperf / 1e4) / 100;
  record({ name: `iperf3 ${s.client.name} → ${IPERF_VIP}:5201 (-t 2)`, ok: iperfMbps !== null, detail: iperfMbps !== null ? `${iperfMbps} Mbit/s` : 'no throughput' });

  return { checks: results.length, passed: results.filter((r) => r.ok).length, results, iperfMbps, vipConnPerS };
}

function describe(seen: Record<string, number>): string {
  return Object.entries(seen)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'nothing';
}

/**
 * New connections to the web VIP for 5 s; `change` is applied after 1.5 s. Returns what answered
 * before the change, and in the last 2 s (the change has landed by then).
 */
async function trafficWhile(cluster: DemoCluster, client: Pod, change: () => Promise<void>): Promise<{ before: Record<string, number>; after: Record<string, number> }> {
  const running = cluster.inPod(client, steadyConnections(WEB_VIP, 80, 5000), 20_000);
  await sleep(1500);
  await change();
  const lines = (await running)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { t: number; seen: Record<string, number> });
  const sum = (pick: typeof lines) => pick.reduce<Record<string, number>>((acc, l) => {
    for (const [k, v] of Object.entries(l.seen)) acc[k] = (acc[k] ?? 0) + v;
    return acc;
  }, {});
  return { before: sum(lines.filter((l) => l.t <= 1)), after: sum(lines.filter((l) => l.t >= 4)) };
}
