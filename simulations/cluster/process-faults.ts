/**
 * The process mode's faults (fault-kinds.ts): kill -9 and SIGSTOP by PID, the fault proxies, the
 * target's SetFaults, the API stand-in's knobs, KV purges over NATS, clock offset files and the
 * tmpfs under the agent's state.
 *
 * @example
 * const runner = new FaultRunner({ apply: processFaultApplier({ cluster, checkers }), nodes, log, onTouched });
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TRANSPARENT } from '../faults/nats-proxy.js';
import type { ManagedProcess } from '../processes.js';
import type { SimCluster } from './cluster.js';
import type { FaultApplier } from './fault-runner.js';
import { leaseHolder, loseKvState } from './kv-state.js';
import type { NodeCheckers } from './node-checkers.js';
import type { SimNode } from './sim-node.js';
import { NO_TARGET_FAULTS, setTargetFaults } from './target-faults.js';

export interface ProcessFaultDeps {
  readonly cluster: SimCluster;
  readonly checkers: NodeCheckers;
  /** Called right before a node's target is killed (its counters die with it). */
  readonly beforeTargetKill?: (node: string) => Promise<void>;
  /** A node's lease key was purged. */
  readonly onLeaseLost?: (node: string) => void;
}

export function processFaultApplier(d: ProcessFaultDeps): FaultApplier {
  /** Clock offsets given so far, by pid (a restarted process starts on the true time again). */
  const clockOffsets = new Map<number, number>();
  const node = (name: string): SimNode => {
    const n = d.cluster.node(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };

  /** The node's lease holder process (or, with `standby`, another manager); the first one if unknown. */
  const manager = async (node: SimNode, which: 'leader' | 'standby'): Promise<ManagedProcess> => {
    const holder = await leaseHolder(d.cluster.bus, node.name);
    const leaderName = holder ? d.cluster.logs.processOf(holder.holder) : undefined;
    const leader = node.managers.find((m) => m.name === leaderName);
    if (which === 'standby') return node.managers.find((m) => m !== leader) ?? node.managers[0]!;
    return leader ?? node.managers[0]!;
  };

  return async (f) => {
    const c = d.cluster;
    const detail = f.detail;
    switch (f.kind) {
      case 'kill-manager': {
        const m = await manager(node(f.node), detail.which === 'standby' ? 'standby' : 'leader');
        m.kill('SIGKILL');
        return { note: `killed ${m.name} (pid ${m.pid ?? '?'})` };
      }
      case 'kill-agent': {
        const n = node(f.node);
        n.agent.kill('SIGKILL');
        return { note: `pid ${n.agent.pid ?? '?'}` };
      }
      case 'kill-target': {
        const n = node(f.node);
        await d.beforeTargetKill?.(n.name);
        n.target.kill('SIGKILL');
        // Its learned connections are gone with it: tracked flows start over on the new target.
        await d.checkers.reset(n.name);
        return { note: `pid ${n.target.pid ?? '?'}; tables and learned flows wiped` };
      }
      case 'kill-nats': {
        const pid = c.nats.pid;
        await c.nats.kill9AndRestart(300);
        return { note: `pid ${pid}, back as ${c.nats.pid}` };
      }
      case 'stall': {
        const n = node(f.node);
        const p = detail.process === 'agent' ? n.agent : detail.process === 'target' ? n.target : await manager(n, 'leader');
        p.kill('SIGSTOP');
        return { note: `${p.name} stopped`, heal: () => Promise.resolve(p.kill('SIGCONT')) };
      }
      case 'partition-agent-nats':
      case 'partition-manager-target': {
        const n = node(f.node);
        const proxy = f.kind === 'partition-agent-nats' ? n.busProxy : n.p4Proxy;
        const r = proxy.partition(detail.mode === 'reset' ? 'reset' : 'blackhole');
        if (!r.ok) throw r.error;
        return { heal: async () => void proxy.partition('none') };
      }
      case 'bus-drop':
      case 'bus-duplicate':
      case 'bus-reorder':
      case 'bus-delay': {
        const n = node(f.node);
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
        const n = node(f.node);
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
        if (what !== 'intent') d.onLeaseLost?.(f.node);
        return { note: `${purged} keys purged` };
      }
      case 'clock-jump': {
        const n = node(f.node);
        if (!c.clockDir) throw new Error('the processes were started without a movable clock');
        const p = detail.process === 'agent' ? n.agent : await manager(n, detail.process === 'standby' ? 'standby' : 'leader');
        const pid = p.pid;
        if (pid === undefined || !p.running) throw new Error(`${p.name} is not running`);
        const total = (clockOffsets.get(pid) ?? 0) + Number(detail.offsetMs ?? 0);
        clockOffsets.set(pid, total);
        await writeFile(join(c.clockDir, `${pid}.offset`), `${total}\n`);
        return { note: `${p.name} (pid ${pid}) now ${total > 0 ? '+' : ''}${total} ms` };
      }
      case 'disk-full': {
        const n = node(f.node);
        if (!n.tmpfs) throw new Error('no tmpfs under the agent state');
        const tmpfs = n.tmpfs;
        const bytes = await tmpfs.fill();
        return { note: `${bytes} bytes written`, heal: () => tmpfs.unfill() };
      }
    }
  };
}
