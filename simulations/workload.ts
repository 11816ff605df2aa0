/**
 * A seeded workload for one node, as an agent would see it: the host interface, pods coming and
 * going, and service ports whose endpoint sets are added, scaled, re-labelled ready/terminating
 * and deleted — in rounds of steps. The same seed gives the same rounds, so a failing run replays.
 *
 * Built in: 200 pods and 100 services with 1–50 endpoints each (local pods, pods not there yet —
 * pending —, and endpoints on another node), a "big" service scaled 3 → 250 → 3 while the rest
 * keeps changing, and one backend shared by two services (removed from one, then put back).
 *
 * `Truth` is the state the steps build (what the agent holds). `expectedBackends` is kube-proxy's
 * rule written out here on its own, so tests can predict where packets must go without the
 * manager's render.
 *
 * @example
 * const rounds = buildWorkload({ node: 'node-1', seed: 1 });
 * const truth = new Truth('node-1');
 * for (const step of rounds[0]!) truth.apply(step);
 */
import { seededRandom, type Random } from '../core/random.js';
import type { Endpoint, HostInterface, PodInterface, ServiceKey, ServicePort } from '../protocol/intent.js';
import type { FullState } from '../protocol/sync.js';

export type Step =
  | { readonly kind: 'host'; readonly host: HostInterface }
  | { readonly kind: 'pod'; readonly pod: PodInterface }
  | { readonly kind: 'pod.delete'; readonly containerId: string }
  | { readonly kind: 'service'; readonly service: ServicePort }
  | { readonly kind: 'service.delete'; readonly key: ServiceKey };

export interface WorkloadOptions {
  readonly node: string;
  readonly seed: number;
  readonly pods?: number;
  readonly services?: number;
  readonly maxEndpoints?: number;
  /** Rounds in all (≥ 12 for the big and shared scenarios). */
  readonly rounds?: number;
  readonly remoteNode?: string;
}

export const POD_BASE_IP = 0x0af40000; // 10.244.0.0
export const REMOTE_BASE_IP = 0x0af50000; // 10.245.0.0
export const VIP_BASE = 0x0a600000; // 10.96.0.0
export const HOST_IP = 0xc0a80a02; // 192.168.10.2
export const NODE_IP = 0xc000020a; // 192.0.2.10

const svcId = (k: ServiceKey): string => `${k.clusterIp}:${k.port}/${k.protocol}`;

/** The identity of what a step changes (steps on one object must stay in order). */
export function stepKey(step: Step): string {
  switch (step.kind) {
    case 'host':
      return 'host';
    case 'pod':
      return `pod:${step.pod.containerId}`;
    case 'pod.delete':
      return `pod:${step.containerId}`;
    case 'service':
      return `svc:${svcId(step.service)}`;
    case 'service.delete':
      return `svc:${svcId(step.key)}`;
  }
}

/** What the agent holds after the steps so far. */
export class Truth {
  host: HostInterface | undefined;
  readonly pods = new Map<string, PodInterface>();
  readonly services = new Map<string, ServicePort>();
  revision = 0;

  constructor(readonly node: string) {}

  apply(step: Step): void {
    this.revision++;
    if (step.kind === 'host') this.host = step.host;
    else if (step.kind === 'pod') this.pods.set(step.pod.containerId, step.pod);
    else if (step.kind === 'pod.delete') this.pods.delete(step.containerId);
    else if (step.kind === 'service') this.services.set(svcId(step.service), step.service);
    else this.services.delete(svcId(step.key));
  }

  fullState(): FullState {
    return { node: this.node, revision: this.revision, host: this.host, pods: [...this.pods.values()], services: [...this.services.values()] };
  }

  static from(state: FullState): Truth {
    const t = new Truth(state.node);
    t.host = state.host;
    for (const p of state.pods) t.pods.set(p.containerId, p);
    for (const s of state.services) t.services.set(svcId(s), s);
    t.revision = state.revision;
    return t;
  }
}

/**
 * kube-proxy's choice for new connections: the ready endpoints; if none, the serving and
 * terminating ones; an endpoint of this node whose pod is not here is pending (not used).
 */
export function expectedBackends(s: ServicePort, node: string, localIps: ReadonlySet<number>): Endpoint[] {
  const known = s.endpoints.filter((e) => e.node !== node || localIps.has(e.ipv4));
  const ready = known.filter((e) => e.ready);
  return ready.length > 0 ? ready : known.filter((e) => e.serving && e.terminating);
}

interface Gen {
  readonly o: Required<WorkloadOptions>;
  readonly r: Random;
  readonly truth: Truth;
  nextPod: number;
  nextVip: number;
  nextRemote: number;
  /** Pods defined ahead of their arrival (endpoints may name them: pending until then). */
  readonly upcoming: PodInterface[];
}

function makePod(g: Gen): PodInterface {
  const i = g.nextPod++;
  return {
    node: g.o.node,
    namespace: 'work',
    name: `pod-${i}`,
    containerId: `c${i.toString(16).padStart(8, '0')}`,
    interfaceName: `P4TAP_${i + 2}`,
    portId: i + 2,
    ipv4: POD_BASE_IP + 10 + i,
    mac: 0x020000000000 + 10 + i,
  };
}

function endpointFor(g: Gen, port: number): Endpoint {
  const roll = g.r.next();
  const ready = roll < 0.85;
  const status = { ready, serving: ready || roll < 0.95, terminating: !ready };
  if (g.r.next() < 0.25) return { ipv4: REMOTE_BASE_IP + g.nextRemote++, port, node: g.o.remoteNode, ...status };
  const present = [...g.truth.pods.values()];
  const pool = g.r.next() < 0.1 && g.upcoming.length > 0 ? g.upcoming : present.length > 0 ? present : g.upcoming;
  const pod = pool[g.r.int(0, pool.length - 1)]!;
  return { ipv4: pod.ipv4, port, node: g.o.node, ...status };
}

function endpoints(g: Gen, n: number, port: number, keep: readonly Endpoint[] = []): Endpoint[] {
  const out = new Map<number, Endpoint>();
  for (const e of keep.slice(0, n)) out.set(e.ipv4 * 65536 + e.port, e);
  for (let tries = 0; out.size < n && tries < n * 20; tries++) {
    const e = endpointFor(g, port);
    out.set(e.ipv4 * 65536 + e.port, e);
  }
  return [...out.values()];
}

function newService(g: Gen, name: string, n: number, protocol?: 'TCP' | 'UDP'): ServicePort {
  const proto = protocol ?? (g.r.next() < 0.1 ? 'UDP' : 'TCP');
  const port = proto === 'UDP' ? 53 : 80;
  const target = proto === 'UDP' ? 5353 : 8080;
  return { namespace: 'work', name, portName: '', clusterIp: VIP_BASE + 1 + g.nextVip++, port, protocol: proto, endpoints: endpoints(g, n, target) };
}

function push(g: Gen, steps: Step[], step: Step): void {
  g.truth.apply(step);
  steps.push(step);
}

function shuffle<T>(r: Random, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Shuffles a round's steps, keeping the steps of one object in the order they were made. */
function shuffleSteps(r: Random, steps: Step[]): Step[] {
  const order = new Map<string, Step[]>();
  for (const s of steps) {
    const k = stepKey(s);
    order.set(k, [...(order.get(k) ?? []), s]);
  }
  return shuffle(r, [...steps]).map((s) => order.get(stepKey(s))!.shift()!);
}

/** Pods and services to reach the initial sizes (half in each of the first two rounds). */
function setupRound(g: Gen, round: number): Step[] {
  const steps: Step[] = [];
  if (round === 0) {
    push(g, steps, { kind: 'host', host: { node: g.o.node, interfaceName: 'P4TAP_1', portId: 1, ipv4: HOST_IP, mac: 0x02000000aaaa, nodeIp: NODE_IP, podCidr: '10.244.0.0/16' } });
    for (let i = 0; i < g.o.pods; i++) g.upcoming.push(makePod(g));
  }
  const pods = g.upcoming.splice(0, Math.ceil(g.o.pods / 2));
  for (const pod of pods) push(g, steps, { kind: 'pod', pod });
  for (let i = 0; i < g.o.pods / 2; i++) g.upcoming.push(makePod(g)); // the next arrivals, nameable now
  const count = round === 0 ? Math.floor(g.o.services / 2) : g.o.services - g.truth.services.size;
  for (let i = 0; i < count; i++) {
    const name = round === 1 && i === 0 ? 'big' : round === 1 && i < 3 ? `shared-${i}` : `svc-${g.nextVip}`;
    const n = name === 'big' ? 3 : g.r.int(1, g.o.maxEndpoints);
    push(g, steps, { kind: 'service', service: newService(g, name, n, name === 'big' || name.startsWith('shared') ? 'TCP' : undefined) });
  }
  if (round === 1) sharedBackend(g, steps, true);
  return shuffleSteps(g.r, steps);
}

/** shared-1 and shared-2 both list one backend (added) or shared-1 drops it (removed). */
function sharedBackend(g: Gen, steps: Step[], both: boolean): void {
  const s1 = [...g.truth.services.values()].find((s) => s.name === 'shared-1')!;
  const s2 = [...g.truth.services.values()].find((s) => s.name === 'shared-2')!;
  const pod = [...g.truth.pods.values()][0]!;
  const backend: Endpoint = { ipv4: pod.ipv4, port: 8080, node: g.o.node, ready: true, serving: true, terminating: false };
  const without = (s: ServicePort): Endpoint[] => s.endpoints.filter((e) => !(e.ipv4 === backend.ipv4 && e.port === backend.port));
  push(g, steps, { kind: 'service', service: { ...s1, endpoints: both ? [...without(s1), backend] : without(s1) } });
  if (both) push(g, steps, { kind: 'service', service: { ...s2, endpoints: [...without(s2), backend] } });
}

/** Adds, scales, re-labels and deletes; the big and shared scenarios at fixed rounds. */
function churnRound(g: Gen, round: number): Step[] {
  const steps: Step[] = [];
  const special = new Set(['big', 'shared-1', 'shared-2']);
  const services = (): ServicePort[] => [...g.truth.services.values()].filter((s) => !special.has(s.name));
  for (const s of shuffle(g.r, services()).slice(0, 10)) {
    const n = g.r.int(1, g.o.maxEndpoints);
    push(g, steps, { kind: 'service', service: { ...s, endpoints: endpoints(g, n, s.endpoints[0]?.port ?? 8080, shuffle(g.r, [...s.endpoints])) } });
  }
  for (const s of shuffle(g.r, services()).slice(0, 3)) {
    const flipped = s.endpoints.map((e) => (g.r.next() < 0.3 ? { ...e, ready: !e.ready, terminating: e.ready, serving: true } : e));
    push(g, steps, { kind: 'service', service: { ...s, endpoints: flipped } });
  }
  for (const s of shuffle(g.r, services()).slice(0, 2)) {
    push(g, steps, { kind: 'service.delete', key: { clusterIp: s.clusterIp, port: s.port, protocol: s.protocol } });
    push(g, steps, { kind: 'service', service: newService(g, `svc-${g.nextVip}`, g.r.int(1, g.o.maxEndpoints)) });
  }
  for (const p of shuffle(g.r, [...g.truth.pods.values()]).slice(0, 5)) push(g, steps, { kind: 'pod.delete', containerId: p.containerId });
  for (const pod of g.upcoming.splice(0, 5)) push(g, steps, { kind: 'pod', pod });
  for (let i = 0; i < 5; i++) g.upcoming.push(makePod(g));
  const big = [...g.truth.services.values()].find((s) => s.name === 'big')!;
  const third = Math.floor(g.o.rounds / 3);
  if (round === third) push(g, steps, { kind: 'service', service: { ...big, endpoints: endpoints(g, 250, 8080, big.endpoints) } });
  if (round === 2 * third) push(g, steps, { kind: 'service', service: { ...big, endpoints: big.endpoints.slice(0, 3) } });
  if (round === third + 1) sharedBackend(g, steps, false);
  if (round === 2 * third + 1) sharedBackend(g, steps, true);
  return shuffleSteps(g.r, steps);
}

/** The rounds of steps, seeded. */
export function buildWorkload(options: WorkloadOptions): Step[][] {
  const o: Required<WorkloadOptions> = { pods: 200, services: 100, maxEndpoints: 50, rounds: 24, remoteNode: 'node-2', ...options };
  const g: Gen = { o, r: seededRandom(o.seed), truth: new Truth(o.node), nextPod: 0, nextVip: 0, nextRemote: 1, upcoming: [] };
  const rounds: Step[][] = [];
  for (let round = 0; round < o.rounds; round++) rounds.push(round < 2 ? setupRound(g, round) : churnRound(g, round));
  return rounds;
}
