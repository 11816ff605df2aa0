/**
 * The in-process mode's faults: every kind of fault-kinds.ts, done to the in-process parts as its
 * process-mode twin does it to processes.
 *
 * | kind | in-process |
 * |---|---|
 * | kill-manager, kill-agent | the Incarnation is killed (timers cleared, nothing it waits for answers), its NATS connection, KV client and P4Runtime links killed; back 300 ms later with a new instance id |
 * | kill-target | a new P4RuntimeServer (empty tables, no learned connections); the old one's links drop |
 * | kill-nats | every connection is killed (each process's bus child restarts and connects again); KV, as JetStream's file store, survives |
 * | stall | the process's connections are cut (bus, and for a target its P4Runtime path) for the window: a stopped process neither sends nor answers; its timers still run, which SIGSTOP would hold |
 * | partition-agent-nats | MemoryNats.cut of the agent's connection (a black hole; `reset` kills it instead, and it reconnects) |
 * | partition-manager-target | LoopbackPath.cut (black hole); `reset` kills the managers' links |
 * | bus-* | MemoryNats.setFaults on the agent's connection |
 * | p4-slow-writes, p4-write-failures | P4RuntimeServer.setFaults (on the injected clock, seeded) |
 * | kube-watch-drop, kube-410, kube-outage | MemoryKube.dropWatches / compact + expireWatches / setOutage |
 * | kv-loss | MemoryKv.purgeBucket of the node's intent, purgeKey of its lease key |
 * | clock-jump | the process's OffsetClock steps (a restart starts it on the true time again) |
 * | disk-full | the agent's MemoryFiles fills to its limit |
 *
 * @example
 * const runner = new FaultRunner({ apply: inprocFaultApplier({ cluster }), nodes, log, clock, onTouched });
 */
import { intentBucketName } from '../../actors/intent/intent-kv.js';
import type { FaultApplier, FaultOutcome } from '../cluster/fault-runner.js';
import type { FaultEvent } from '../cluster/plan-types.js';
import { LEASE_BUCKET, leaseKeyOf, type InprocCluster, type InprocNode, type InprocProcess } from './inproc-cluster.js';

export interface InprocFaultDeps {
  readonly cluster: InprocCluster;
  /** A node's target was replaced: tracked flows start over. */
  readonly onTargetWiped?: (node: string) => void | Promise<void>;
  /** A node's lease key was purged. */
  readonly onLeaseLost?: (node: string) => void;
  /** Right before a node's target is replaced (its counters go with it). */
  readonly beforeTargetKill?: (node: string) => void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyProcess = InprocProcess<any>;

export function inprocFaultApplier(d: InprocFaultDeps): FaultApplier {
  const c = d.cluster;
  const node = (name: string): InprocNode => {
    const n = c.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  /** The manager holding the lease now (or, with `standby`, another one); the first if none leads. */
  const manager = (n: InprocNode, which: 'leader' | 'standby'): AnyProcess => {
    const leader = n.managers.find((m) => m.running && m.tree?.refs.epoch !== undefined);
    if (which === 'standby') return n.managers.find((m) => m !== leader) ?? n.managers[0]!;
    return leader ?? n.managers[0]!;
  };
  const running = (p: AnyProcess): void => {
    if (!p.running) throw new Error(`${p.name} is not running`);
  };

  return async (f: FaultEvent): Promise<FaultOutcome> => {
    const detail = f.detail;
    switch (f.kind) {
      case 'kill-manager': {
        const m = manager(node(f.node), detail.which === 'standby' ? 'standby' : 'leader');
        running(m);
        const id = m.instanceId;
        m.kill();
        return { note: `killed ${m.name} (${id})` };
      }
      case 'kill-agent': {
        const a = node(f.node).agent;
        running(a);
        const id = a.instanceId;
        a.kill();
        return { note: `killed ${a.name} (${id})` };
      }
      case 'kill-target': {
        const n = node(f.node);
        d.beforeTargetKill?.(n.name);
        n.restartTarget();
        await d.onTargetWiped?.(n.name);
        return { note: 'tables and learned flows wiped' };
      }
      case 'kill-nats': {
        let killed = 0;
        for (const n of c.nodes) for (const p of [...n.managers, n.agent]) killed += c.nats.kill(p.name);
        return { note: `${killed} connections killed` };
      }
      case 'stall': {
        const n = node(f.node);
        if (detail.process === 'target') {
          n.path.cut();
          return { note: `${n.name}/target stalled`, heal: async () => n.path.restore() };
        }
        const p = detail.process === 'agent' ? n.agent : manager(n, 'leader');
        running(p);
        c.nats.cut(p.name);
        return { note: `${p.name} stalled`, heal: async () => c.nats.restore(p.name) };
      }
      case 'partition-agent-nats': {
        const n = node(f.node);
        if (detail.mode === 'reset') {
          c.nats.kill(n.agent.name);
          return { note: 'connection reset' };
        }
        c.nats.cut(n.agent.name);
        return { heal: async () => c.nats.restore(n.agent.name) };
      }
      case 'partition-manager-target': {
        const n = node(f.node);
        n.path.cut();
        return { note: detail.mode === 'reset' ? 'black hole (in-process: no reset)' : 'black hole', heal: async () => n.path.restore() };
      }
      case 'bus-drop':
      case 'bus-duplicate':
      case 'bus-reorder':
      case 'bus-delay': {
        const n = node(f.node);
        const p = (k: string): number => Number(detail[k] ?? 0) / 1000;
        const delay = Number(detail.delayMs ?? 0);
        const jitter = Number(detail.jitterMs ?? 0);
        const r = c.nats.setFaults(n.agent.name, {
          drop: p('dropPerMille'),
          duplicate: p('duplicatePerMille'),
          reorder: p('reorderPerMille'),
          ...(delay > 0 ? { delayMs: [delay, delay + jitter] as const } : {}),
        });
        if (!r.ok) throw r.error;
        return { heal: async () => void c.nats.setFaults(n.agent.name, {}) };
      }
      case 'p4-slow-writes':
      case 'p4-write-failures': {
        const n = node(f.node);
        const target = n.target;
        const r = target.setFaults(1, { writeDelayMs: Number(detail.writeDelayMs ?? 0), failPerMille: Number(detail.failPerMille ?? 0), failCode: Number(detail.code ?? 14), seed: Number(detail.seed ?? 1) });
        if (!r.ok) throw r.error;
        return { heal: async () => void target.setFaults(1, { writeDelayMs: 0, failPerMille: 0, failCode: 14, seed: 0 }) };
      }
      case 'kube-watch-drop': {
        c.kube.dropWatches(detail.mode === 'close' ? 'close' : 'reset');
        return {};
      }
      case 'kube-410': {
        c.kube.compact();
        c.kube.expireWatches();
        return {};
      }
      case 'kube-outage': {
        c.kube.setOutage(true);
        return { heal: async () => c.kube.setOutage(false) };
      }
      case 'kv-loss': {
        const what = detail.what === 'intent' || detail.what === 'lease' ? detail.what : 'both';
        let purged = 0;
        if (what !== 'lease') purged += c.kv.purgeBucket(intentBucketName(f.node));
        if (what !== 'intent') {
          purged += c.kv.purgeKey(LEASE_BUCKET, leaseKeyOf(f.node)) ? 1 : 0;
          d.onLeaseLost?.(f.node);
        }
        return { note: `${purged} keys purged` };
      }
      case 'clock-jump': {
        const n = node(f.node);
        const p = detail.process === 'agent' ? n.agent : manager(n, detail.process === 'standby' ? 'standby' : 'leader');
        running(p);
        p.view!.jump(Number(detail.offsetMs ?? 0));
        return { note: `${p.name} now ${p.view!.offset > 0 ? '+' : ''}${p.view!.offset} ms` };
      }
      case 'disk-full': {
        const n = node(f.node);
        n.disk.fill();
        return { note: 'the agent’s state is full', heal: async () => n.disk.setLimit(undefined) };
      }
    }
  };
}
