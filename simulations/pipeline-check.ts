/**
 * Checks a target's pipeline against a node's intent by tracing packets through it
 * (TargetAdmin.Process), never by reading entries or the manager's render: the packets are
 * derived from the intent alone and the expectations from kube-proxy's rules (workload.ts).
 *
 * - every pod reaches its ring successor and two random pods (IPv4 and ARP): every pod is a
 *   source and a destination; the node IP leaves by the uplink;
 * - every VIP reaches exactly its selected endpoints: probes from fresh source ports until each
 *   expected endpoint was seen (or a generous cap), and none may reach anything else; a VIP
 *   without usable endpoints drops; a deleted VIP is not translated;
 * - removed pods get nothing (no packet leaves on their old port);
 * - learned connections ("sticky" flows opened with a SYN after an earlier check) keep their
 *   endpoint while it is listed, and are gone — both directions — once it is not.
 *
 * TCP probes are ACKs (mid-flow, so the pipeline translates without learning); UDP probes learn a
 * connection each, from source ports never used twice.
 *
 * @example
 * const checker = new PipelineChecker(new TargetAdminClient(address), 'node-1', seededRandom(1));
 * const report = await checker.check(truth);
 * if (report.failures.length === 0) await checker.openSticky(truth, 20);
 */
import type { Random } from '../core/random.js';
import { arpRequest, decode, ipText, tcp, udp, type Decoded } from '../p4/frames.js';
import type { PodInterface, ServicePort } from '../protocol/intent.js';
import type { FullState } from '../protocol/sync.js';
import { expectedBackends } from './workload.js';

export const GATEWAY_MAC = 0x02fe00000001;

/**
 * What the checker needs of a target: one frame traced through the pipeline from a port
 * (TargetAdmin.Process over gRPC, or the in-process simulator's direct call into the model).
 */
export interface PacketTracer {
  process(port: number, frame: Uint8Array): Promise<{ readonly dropped: boolean; readonly port: number; readonly frame: Uint8Array }>;
}
const UPLINK = 1;
const MAX_FAILURES = 50;

interface Traced {
  readonly dropped: boolean;
  readonly port: number;
  readonly frame: Decoded | undefined;
}

interface StickyFlow {
  readonly service: string;
  readonly client: PodInterface;
  readonly sport: number;
  readonly ep: { readonly ipv4: number; readonly port: number };
}

export interface CheckReport {
  readonly failures: readonly string[];
  readonly traces: number;
  readonly ms: number;
}

const svcId = (s: { clusterIp: number; port: number; protocol: string }): string => `${ipText(s.clusterIp)}:${s.port}/${s.protocol}`;
const epId = (ip: number, port: number): string => `${ipText(ip)}:${port}`;

/** Runs tasks with at most `n` in flight. */
async function pool(tasks: (() => Promise<void>)[], n: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, async () => {
    while (next < tasks.length) await tasks[next++]!();
  }));
}

export class PipelineChecker {
  private traces = 0;
  private ackPort = 1024;
  private udpPort = 30_000;
  private stickyPort = 20_000;
  private sticky: StickyFlow[] = [];
  private readonly seenPods = new Map<string, PodInterface>();
  private readonly seenServices = new Map<string, ServicePort>();
  private failures: string[] = [];

  constructor(
    private readonly admin: PacketTracer,
    private readonly node: string,
    private readonly random: Random,
    private readonly concurrency = 32,
  ) {}

  /** Every check above against `truth`; failures are described, at most MAX_FAILURES of them. */
  async check(truth: FullState): Promise<CheckReport> {
    const t0 = performance.now();
    const before = this.traces;
    this.failures = [];
    const alive: StickyFlow[] = [];
    const tasks = [...this.podTasks(truth), ...this.vipTasks(truth), ...this.stickyTasks(truth, alive), ...this.goneTasks(truth)];
    await pool(tasks, this.concurrency);
    // Only a passing check moves on: a failing one is repeated with the same expectations.
    if (this.failures.length === 0) {
      this.retiredChecked += this.sticky.length - alive.length;
      this.sticky = alive;
      for (const p of truth.pods) this.seenPods.set(p.containerId, p);
      for (const s of truth.services) this.seenServices.set(svcId(s), s);
    }
    return { failures: this.failures, traces: this.traces - before, ms: Math.round(performance.now() - t0) };
  }

  /** Opens `n` connections (SYN) to random VIPs; later checks verify they stick or are retired. */
  async openSticky(truth: FullState, n: number): Promise<readonly string[]> {
    this.failures = [];
    const local = new Set(truth.pods.map((p) => p.ipv4));
    const candidates = truth.services.filter((s) => s.protocol === 'TCP' && expectedBackends(s, this.node, local).length > 0);
    for (let i = 0; i < n && candidates.length > 0 && truth.pods.length > 0; i++) {
      const s = candidates[this.random.int(0, candidates.length - 1)]!;
      const client = truth.pods[this.random.int(0, truth.pods.length - 1)]!;
      const sport = this.stickyPort++;
      const r = await this.send(client.portId, tcp({ src: client.mac, dst: GATEWAY_MAC, srcIp: client.ipv4, dstIp: s.clusterIp, sport, dport: s.port, flags: 'S' }));
      const ep = this.backendOf(r, s, truth);
      if (ep) this.sticky.push({ service: svcId(s), client, sport, ep });
    }
    return this.failures;
  }

  get stickyFlows(): number {
    return this.sticky.length;
  }

  /** Tracked connections whose endpoint went away, verified gone in both directions. */
  retiredChecked = 0;

  private async send(port: number, frame: Uint8Array): Promise<Traced> {
    this.traces++;
    const r = await this.admin.process(port, frame);
    return { dropped: r.dropped, port: r.port, frame: r.dropped ? undefined : decode(r.frame) };
  }

  private fail(text: string): void {
    if (this.failures.length < MAX_FAILURES) this.failures.push(text);
  }

  /** The endpoint a VIP probe reached, checked against the expected set (undefined if wrong). */
  private backendOf(r: Traced, s: ServicePort, truth: FullState): { ipv4: number; port: number } | undefined {
    const local = new Set(truth.pods.map((p) => p.ipv4));
    const expected = expectedBackends(s, this.node, local);
    const ip4 = r.frame?.ipv4;
    const l4 = r.frame?.tcp ?? r.frame?.udp;
    if (r.dropped || !ip4 || !l4) {
      this.fail(`${svcId(s)}: dropped, expected one of ${expected.length} endpoints`);
      return undefined;
    }
    const hit = expected.find((e) => e.ipv4 === ip4.dst && e.port === l4.dport);
    if (!hit) {
      this.fail(`${svcId(s)}: reached ${epId(ip4.dst, l4.dport)}, not a selected endpoint`);
      return undefined;
    }
    const pod = truth.pods.find((p) => p.ipv4 === hit.ipv4);
    const want = hit.node === this.node ? pod?.portId : UPLINK;
    if (r.port !== want) this.fail(`${svcId(s)}: ${epId(hit.ipv4, hit.port)} left on port ${r.port}, not ${want}`);
    return hit;
  }

  private podTasks(truth: FullState): (() => Promise<void>)[] {
    const pods = [...truth.pods].sort((a, b) => (a.containerId < b.containerId ? -1 : 1));
    const tasks: (() => Promise<void>)[] = [];
    pods.forEach((from, i) => {
      const targets = [pods[(i + 1) % pods.length]!, pods[this.random.int(0, pods.length - 1)]!, pods[this.random.int(0, pods.length - 1)]!];
      for (const to of targets) {
        if (to === from) continue;
        const sport = this.ackPort;
        tasks.push(async () => {
          const r = await this.send(from.portId, tcp({ src: from.mac, dst: GATEWAY_MAC, srcIp: from.ipv4, dstIp: to.ipv4, sport, dport: 9000, flags: 'A' }));
          if (r.port !== to.portId || r.frame?.dst !== to.mac || r.frame.ipv4?.dst !== to.ipv4) this.fail(`pod ${from.containerId} → pod ${to.containerId}: port ${r.dropped ? 'dropped' : r.port}, expected ${to.portId}`);
        });
      }
      const to = targets[0]!;
      tasks.push(async () => {
        const r = await this.send(from.portId, arpRequest({ src: from.mac, spa: from.ipv4, tpa: to.ipv4 }));
        if (r.port !== to.portId) this.fail(`ARP from ${from.containerId} for ${ipText(to.ipv4)}: port ${r.dropped ? 'dropped' : r.port}, expected ${to.portId}`);
      });
    });
    if (truth.host && pods[0]) {
      const from = pods[0];
      const nodeIp = truth.host.nodeIp;
      tasks.push(async () => {
        const r = await this.send(from.portId, tcp({ src: from.mac, dst: GATEWAY_MAC, srcIp: from.ipv4, dstIp: nodeIp, sport: 40000, dport: 22, flags: 'A' }));
        if (r.port !== UPLINK) this.fail(`pod → node IP: port ${r.port}, expected the uplink`);
      });
    }
    return tasks;
  }

  private vipTasks(truth: FullState): (() => Promise<void>)[] {
    if (truth.pods.length === 0) return [];
    const local = new Set(truth.pods.map((p) => p.ipv4));
    return truth.services.map((s) => async () => {
      const expected = expectedBackends(s, this.node, local);
      const client = truth.pods[this.random.int(0, truth.pods.length - 1)]!;
      const probe = (): Promise<Traced> => {
        const common = { src: client.mac, dst: GATEWAY_MAC, srcIp: client.ipv4, dstIp: s.clusterIp, dport: s.port };
        if (s.protocol === 'UDP') return this.send(client.portId, udp({ ...common, sport: this.udpPort++ }));
        this.ackPort = this.ackPort >= 19_999 ? 1024 : this.ackPort + 1;
        return this.send(client.portId, tcp({ ...common, sport: this.ackPort, flags: 'A' }));
      };
      if (expected.length === 0) {
        for (let i = 0; i < 3; i++) if (!(await probe()).dropped) this.fail(`${svcId(s)}: no usable endpoint, yet a probe got through`);
        return;
      }
      const seen = new Set<string>();
      const cap = 20 * expected.length + 50;
      for (let i = 0; i < cap && seen.size < expected.length; i++) {
        const hit = this.backendOf(await probe(), s, truth);
        if (!hit) return;
        seen.add(epId(hit.ipv4, hit.port));
      }
      if (seen.size < expected.length) this.fail(`${svcId(s)}: reached ${seen.size} of ${expected.length} selected endpoints in ${cap} probes`);
    });
  }

  private stickyTasks(truth: FullState, alive: StickyFlow[]): (() => Promise<void>)[] {
    const local = new Set(truth.pods.map((p) => p.ipv4));
    const byId = new Map(truth.services.map((s) => [svcId(s), s]));
    return this.sticky.map((f) => async () => {
      const s = byId.get(f.service);
      const listed = s?.endpoints.find((e) => e.ipv4 === f.ep.ipv4 && e.port === f.ep.port);
      const live = listed !== undefined && (listed.node !== this.node || local.has(listed.ipv4));
      const vip = this.seenServices.get(f.service) ?? s;
      if (!vip) return;
      const fwd = await this.send(f.client.portId, tcp({ src: f.client.mac, dst: GATEWAY_MAC, srcIp: f.client.ipv4, dstIp: vip.clusterIp, sport: f.sport, dport: vip.port, flags: 'A' }));
      const usable = s ? expectedBackends(s, this.node, local) : [];
      const got = fwd.frame?.ipv4 && fwd.frame.tcp ? epId(fwd.frame.ipv4.dst, fwd.frame.tcp.dport) : 'dropped';
      if (s && usable.length === 0) {
        if (!fwd.dropped) this.fail(`${f.service}: a tracked connection got through a VIP without usable endpoints`);
      } else if (live && got !== epId(f.ep.ipv4, f.ep.port)) {
        this.fail(`${f.service}: connection ${ipText(f.client.ipv4)}:${f.sport} moved from ${epId(f.ep.ipv4, f.ep.port)} to ${got}`);
      } else if (!live && got === epId(f.ep.ipv4, f.ep.port) && !usable.some((e) => e.ipv4 === f.ep.ipv4 && e.port === f.ep.port)) {
        this.fail(`${f.service}: connection ${ipText(f.client.ipv4)}:${f.sport} still reaches removed ${got}`);
      }
      const fromPort = listed && listed.node === this.node ? (truth.pods.find((p) => p.ipv4 === f.ep.ipv4)?.portId ?? UPLINK) : UPLINK;
      const back = await this.send(fromPort, tcp({ src: 0x020000000099, dst: GATEWAY_MAC, srcIp: f.ep.ipv4, dstIp: f.client.ipv4, sport: f.ep.port, dport: f.sport, flags: 'A' }));
      const translated = back.frame?.ipv4?.src === vip.clusterIp;
      if (live && !translated) this.fail(`${f.service}: the reply of ${ipText(f.client.ipv4)}:${f.sport} is not translated back to the VIP`);
      if (!live && translated) this.fail(`${f.service}: the reverse entry of removed ${epId(f.ep.ipv4, f.ep.port)} is still there`);
      if (live) alive.push(f);
    });
  }

  /** Pods and VIPs that existed at an earlier check and are gone now get nothing. */
  private goneTasks(truth: FullState): (() => Promise<void>)[] {
    const from = truth.pods[0];
    if (!from) return [];
    const pods = new Set(truth.pods.map((p) => p.containerId));
    const services = new Set(truth.services.map(svcId));
    const tasks: (() => Promise<void>)[] = [];
    for (const gone of [...this.seenPods.values()].filter((p) => !pods.has(p.containerId)).slice(-40)) {
      tasks.push(async () => {
        const r = await this.send(from.portId, tcp({ src: from.mac, dst: GATEWAY_MAC, srcIp: from.ipv4, dstIp: gone.ipv4, sport: 41000, dport: 9000, flags: 'A' }));
        if (!r.dropped && r.port === gone.portId) this.fail(`removed pod ${gone.containerId} still gets packets on port ${gone.portId}`);
      });
    }
    for (const gone of [...this.seenServices.values()].filter((s) => !services.has(svcId(s))).slice(-20)) {
      tasks.push(async () => {
        const common = { src: from.mac, dst: GATEWAY_MAC, srcIp: from.ipv4, dstIp: gone.clusterIp, sport: 41001, dport: gone.port };
        const r = await this.send(from.portId, gone.protocol === 'UDP' ? udp(common) : tcp({ ...common, flags: 'A' }));
        if (!r.dropped && r.frame?.ipv4?.dst !== gone.clusterIp) this.fail(`removed VIP ${svcId(gone)} still translated to ${ipText(r.frame?.ipv4?.dst ?? 0)}`);
      });
    }
    return tasks;
  }
}
