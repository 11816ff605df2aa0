/**
 * Applies the plan's fault schedule to the cluster, each at its time, and heals each lasting one
 * when its window ends (fault-kinds.ts lists what each kind does). Every fault applied and healed
 * is in the event log and in `applied` for the report; a fault that could not be applied (its
 * process was down, a knob refused) is logged with the reason and still reported, marked.
 *
 * `heal()` ends every fault still on (SIGCONT, partitions lifted, message and write faults off,
 * the disk emptied): called at the end of the schedule and before the cluster stops.
 *
 * @example
 * const faults = new FaultRunner({ cluster, log, checkers, onTouched });
 * await faults.run(plan.faults, startedAtMs);
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TRANSPARENT } from '../faults/nats-proxy.js';
import type { SimCluster } from './cluster.js';
import type { EventLog } from './event-log.js';
import { CLUSTER } from './fault-kinds.js';
import { leaseHolder, loseKvState } from './kv-state.js';
import type { NodeCheckers } from './node-checkers.js';
import type { FaultEvent } from './plan-types.js';
import type { ManagedProcess } from '../processes.js';
import type { SimNode } from './sim-node.js';
import { NO_TARGET_FAULTS, setTargetFaults } from './target-faults.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface AppliedFault {
  readonly node: string;
  readonly kind: string;
  readonly startS: number;
  endS?: number;
  detail: string;
}

export interface FaultDeps {
  readonly cluster: SimCluster;
  readonly log: EventLog;
  readonly checkers: NodeCheckers;
  /** A fault started or ended on these nodes (all of them for a cluster fault). */
  readonly onTouched: (nodes: readonly string[]) => void;
  /** Called right before a node's target is killed (its counters die with it). */
  readonly beforeTargetKill?: (node: string) => Promise<void>;
  /** A node's lease key was purged. */
  readonly onLeaseLost?: (node: string) => void;
}

type Heal = () => Promise<string | void>;

export class FaultRunner {
  readonly applied: AppliedFault[] = [];
  private readonly active = new Map<AppliedFault, Heal>();
  private readonly running = new Set<Promise<void>>();
  /** Clock offsets given so far, by pid (a restarted process starts on the true time again). */
  private readonly clockOffsets = new Map<number, number>();

  constructor(private readonly d: FaultDeps) {}

  /** Applies every fault at its time; resolves when the last one has healed. */
  async run(faults: readonly FaultEvent[], startedAtMs: number): Promise<void> {
    for (const f of faults) {
      const wait = startedAtMs + f.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      const p = this.one(f, startedAtMs).finally(() => this.running.delete(p));
      this.running.add(p);
    }
    await Promise.all([...this.running]);
  }

  /** Ends every fault still on. */
  async heal(): Promise<void> {
    await Promise.all([...this.active.entries()].map(([a, h]) => this.end(a, h)));
  }

  private touched(node: string): string[] {
    return node === CLUSTER ? this.d.cluster.nodes.map((n) => n.name) : [node];
  }

  private async one(f: FaultEvent, startedAtMs: number): Promise<void> {
    const applied: AppliedFault = { node: f.node, kind: f.kind, startS: this.d.log.seconds(), detail: describe(f.detail) };
    this.applied.push(applied);
    this.d.onTouched(this.touched(f.node));
    let heal: Heal | undefined;
    try {
      const r = await this.apply(f);
      heal = r.heal;
      if (r.note) applied.detail = [applied.detail, r.note].filter(Boolean).join(', ');
      this.d.log.write('fault.start', { node: f.node, kind: f.kind, durationMs: f.durationMs, detail: f.detail, note: r.note });
    } catch (e) {
      applied.detail = [applied.detail, `not applied: ${(e as Error).message}`].filter(Boolean).join(', ');
      this.d.log.write('fault.failed', { node: f.node, kind: f.kind, error: (e as Error).message });
    }
    if (f.durationMs === 0 || !heal) return;
    this.active.set(applied, heal);
    const wait = startedAtMs + f.atMs + f.durationMs - Date.now();
    if (wait > 0) await sleep(wait);
    await this.end(applied, heal);
  }

  private async end(applied: AppliedFault, heal: Heal): Promise<void> {
    if (!this.active.delete(applied)) return;
    try {
      await heal();
    } catch (e) {
      this.d.log.write('fault.heal.failed', { node: applied.node, kind: applied.kind, error: (e as Error).message });
    }
    applied.endS = this.d.log.seconds();
    this.d.onTouched(this.touched(applied.node));
    this.d.log.write('fault.end', { node: applied.node, kind: applied.kind });
  }

  private node(name: string): SimNode {
    const n = this.d.cluster.node(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** The node's lease holder process (or, with `standby`, another manager); the first one if unknown. */
  private async manager(node: SimNode, which: 'leader' | 'standby'): Promise<ManagedProcess> {
    const holder = await leaseHolder(this.d.cluster.bus, node.name);
    const leaderName = holder ? this.d.cluster.logs.processOf(holder.holder) : undefined;
    const leader = node.managers.find((m) => m.name === leaderName);
    if (which === 'standby') return node.managers.find((m) => m !== leader) ?? node.managers[0]!;
    return leader ?? node.managers[0]!;
  }

  private async apply(f: FaultEvent): Promise<{ heal?: Heal; note?: string }> {
    const c = this.d.cluster;
    const detail = f.detail;
    switch (f.kind) {
      case 'kill-manager': {
        const m = await this.manager(this.node(f.node), detail.which === 'standby' ? 'standby' : 'leader');
        m.kill('SIGKILL');
        return { note: `killed ${m.name} (pid ${m.pid ?? '?'})` };
      }
      case 'kill-agent': {
        const n = this.node(f.node);
        n.agent.kill('SIGKILL');
        return { note: `pid ${n.agent.pid ?? '?'}` };
      }
      case 'kill-target': {
        const n = this.node(f.node);
        await this.d.beforeTargetKill?.(n.name);
        n.target.kill('SIGKILL');
        // Its learned connections are gone with it: tracked flows start over on the new target.
        await this.d.checkers.reset(n.name);
        return { note: `pid ${n.target.pid ?? '?'}; tables and learned flows wiped` };
      }
      case 'kill-nats': {
        const pid = c.nats.pid;
        await c.nats.kill9AndRestart(300);
        return { note: `pid ${pid}, back as ${c.nats.pid}` };
      }
      case 'stall': {
        const n = this.node(f.node);
        const p = detail.process === 'agent' ? n.agent : detail.process === 'target' ? n.target : await this.manager(n, 'leader');
        p.kill('SIGSTOP');
        return { note: `${p.name} stopped`, heal: () => Promise.resolve(p.kill('SIGCONT')) };
      }
      case 'partition-agent-nats':
      case 'partition-manager-target': {
        const n = this.node(f.node);
        const proxy = f.kind === 'partition-agent-nats' ? n.busProxy : n.p4Proxy;
        const r = proxy.partition(detail.mode === 'reset' ? 'reset' : 'blackhole');
        if (!r.ok) throw r.error;
        return { heal: async () => void proxy.partition('none') };
      }
      case 'bus-drop':
      case 'bus-duplicate':
      case 'bus-reorder':
      case 'bus-delay': {
        const n = this.node(f.node);
        const p = (k: string): number => Number(detail[k] ?? 0) / 1000;
        const r = n.busProxy.setMessageFaults({
          ...TRANSPARENT,
          dropP: p('dropPerMille'),
          duplicateP: p('duplicatePerMille'),
          reorderP: p('reorderPerMille'),
          delayMs: Number(detail.delayMs ?? 0),
          delayJitterMs: Number(detail.jitterMs ?? 0),
        });
        if (!r.ok) throw r.error;
        return { heal: async () => void n.busProxy.setMessageFaults(TRANSPARENT) };
      }
      case 'p4-slow-writes':
      case 'p4-write-failures': {
        const n = this.node(f.node);
        const r = await setTargetFaults(n.admin, {
          writeDelayMs: Number(detail.writeDelayMs ?? 0),
          failPerMille: Number(detail.failPerMille ?? 0),
          failCode: Number(detail.code ?? 14),
          seed: Number(detail.seed ?? 1),
        });
        if (!r.ok) throw r.error;
        return {
          heal: async () => {
            const off = await setTargetFaults(n.admin, NO_TARGET_FAULTS);
            if (!off.ok) return `target faults not cleared: ${off.error.message}`;
          },
        };
      }
      case 'kube-watch-drop': {
        const r = await c.kubeAdmin.knob('drop-watches', { mode: String(detail.mode ?? 'reset') });
        if (!r.ok) throw new Error(r.error.message);
        return { note: `${String(r.value.dropped)} watches cut` };
      }
      case 'kube-410': {
        const compact = await c.kubeAdmin.knob('compact');
        if (!compact.ok) throw new Error(compact.error.message);
        const r = await c.kubeAdmin.knob('expire-watches');
        if (!r.ok) throw new Error(r.error.message);
        return { note: `${String(r.value.expired)} watches expired` };
      }
      case 'kube-outage': {
        const r = await c.kubeAdmin.knob('outage', { seconds: f.durationMs / 1000 });
        if (!r.ok) throw new Error(r.error.message);
        // The stand-in listens again by itself; the window's end is only recorded.
        return { heal: () => Promise.resolve() };
      }
      case 'kv-loss': {
        const what = detail.what === 'intent' || detail.what === 'lease' ? detail.what : 'both';
        const purged = await loseKvState(c.bus, f.node, what);
        if (what !== 'intent') this.d.onLeaseLost?.(f.node);
        return { note: `${purged} keys purged` };
      }
      case 'clock-jump': {
        const n = this.node(f.node);
        if (!c.clockDir) throw new Error('the processes were started without a movable clock');
        const p = detail.process === 'agent' ? n.agent : await this.manager(n, detail.process === 'standby' ? 'standby' : 'leader');
        const pid = p.pid;
        if (pid === undefined || !p.running) throw new Error(`${p.name} is not running`);
        const total = (this.clockOffsets.get(pid) ?? 0) + Number(detail.offsetMs ?? 0);
        this.clockOffsets.set(pid, total);
        await writeFile(join(c.clockDir, `${pid}.offset`), `${total}\n`);
        return { note: `${p.name} (pid ${pid}) now ${total > 0 ? '+' : ''}${total} ms` };
      }
      case 'disk-full': {
        const n = this.node(f.node);
        if (!n.tmpfs) throw new Error('no tmpfs under the agent state');
        const tmpfs = n.tmpfs;
        const bytes = await tmpfs.fill();
        return { note: `${bytes} bytes written`, heal: () => tmpfs.unfill() };
      }
    }
  }
}

function describe(detail: Readonly<Record<string, string | number>>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
