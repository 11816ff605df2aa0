/**
 * The simulator's seed → plan layer (pure): the same seed gives byte-identical plans (workload and
 * fault schedule), another seed a different one; the schedule honours its catalogue (every chosen
 * kind, windows inside the run, no kind overlapping itself on a node); the workload never breaks
 * its own rules (addresses in the node's range and never reused, a pod deleted only after it was
 * added, services by unique VIPs); bad options are typed errors and plan nothing.
 */
import { expect } from 'chai';
import { parseBroken } from '../../simulations/cluster/broken.js';
import { FAULT_KINDS, FAULT_SPECS, parseFaultList } from '../../simulations/cluster/fault-kinds.js';
import { buildPlan, planJson } from '../../simulations/cluster/plan.js';
import type { SimPlan } from '../../simulations/cluster/plan-types.js';
import { foldChildId, RestartCounter } from '../../simulations/cluster/restarts.js';
import { replayCommand } from '../../simulations/cluster/simulate.js';

function plan(seed: number, nodes = 3, durationS = 40, faults: readonly (typeof FAULT_KINDS)[number][] = FAULT_KINDS, root = true): SimPlan {
  const p = buildPlan({ seed, nodes, durationS, faults, root });
  if (!p.ok) throw p.error;
  return p.value;
}

describe('simulator plan: seed → workload and fault schedule', () => {
  it('is deterministic: the same seed gives the same bytes, other seeds other plans', () => {
    for (const seed of [1, 2, 77, 4_000_000_000]) {
      expect(planJson(plan(seed)), `seed ${seed}`).to.equal(planJson(plan(seed)));
    }
    const texts = new Set([1, 2, 3, 4, 5].map((s) => planJson(plan(s))));
    expect(texts.size).to.equal(5);
    const [a, b] = [plan(1), plan(2)];
    expect(JSON.stringify(a.workload)).to.not.equal(JSON.stringify(b.workload));
    expect(JSON.stringify(a.faults)).to.not.equal(JSON.stringify(b.faults));
  });

  it('keeps the workload when only the fault kinds change (each from its own stream)', () => {
    const all = plan(9);
    const one = plan(9, 3, 40, ['kill-agent']);
    expect(JSON.stringify(one.workload)).to.equal(JSON.stringify(all.workload));
    expect(one.faults.every((f) => f.kind === 'kill-agent')).to.equal(true);
  });

  it('schedules every chosen kind inside the run, never one kind twice at once on a node', () => {
    for (const seed of [1, 5, 12, 33]) {
      for (const nodes of [1, 2, 5]) {
        const p = plan(seed, nodes, 40);
        const kinds = new Set(p.faults.map((f) => f.kind));
        expect([...kinds].sort(), `seed ${seed} nodes ${nodes}`).to.deep.equal([...FAULT_KINDS].sort());
        for (const f of p.faults) {
          const spec = FAULT_SPECS[f.kind];
          expect(f.atMs).to.be.at.least(0);
          expect(f.atMs + f.durationMs).to.be.at.most(p.durationMs);
          if (spec.maxMs === 0) expect(f.durationMs).to.equal(0);
          else expect(f.durationMs).to.be.within(1, spec.maxMs);
          expect(f.node === 'cluster').to.equal(spec.scope === 'cluster');
          if (spec.scope === 'node') expect(p.nodes.map((n) => n.name)).to.include(f.node);
        }
        for (const f of p.faults) {
          const same = p.faults.filter((g) => g !== f && g.kind === f.kind && g.node === f.node);
          for (const g of same) expect(g.atMs > f.atMs + f.durationMs || f.atMs > g.atMs + g.durationMs, `${f.kind} on ${f.node} overlaps itself`).to.equal(true);
        }
        expect(p.faultsEndMs).to.equal(Math.max(...p.faults.map((f) => f.atMs + f.durationMs)));
      }
    }
  });

  it('skips root-only kinds without root, saying why', () => {
    const p = plan(3, 2, 30, FAULT_KINDS, false);
    expect(p.skipped.map((s) => s.kind)).to.deep.equal(['disk-full']);
    expect(p.faults.some((f) => f.kind === 'disk-full')).to.equal(false);
  });

  it('builds a workload that keeps its own rules', () => {
    for (const seed of [1, 2, 3, 10, 99]) {
      const p = plan(seed, 4, 60);
      const seenIps = new Set<string>();
      const live = new Map<string, string>();
      const vips = new Set<string>();
      const nodes = new Map(p.nodes.map((n) => [n.name, n]));
      let last = 0;
      for (const op of p.workload) {
        expect(op.atMs).to.be.at.least(last);
        expect(op.atMs).to.be.below(p.durationMs);
        last = op.atMs;
        if (op.op === 'pod.add') {
          const range = nodes.get(op.pod.node)!.podCidr.replace(/0\/24$/, '');
          expect(op.pod.ipv4.startsWith(range), `${op.pod.ipv4} in ${range}`).to.equal(true);
          expect(seenIps.has(op.pod.ipv4), `address ${op.pod.ipv4} reused`).to.equal(false);
          seenIps.add(op.pod.ipv4);
          live.set(op.pod.containerId, op.pod.node);
          expect([...live.values()].filter((n) => n === op.pod.node).length).to.be.at.most(nodes.get(op.pod.node)!.pool - 2);
        } else if (op.op === 'pod.delete') {
          expect(live.has(op.containerId), `delete of ${op.containerId} before its add`).to.equal(true);
          live.delete(op.containerId);
        } else if (op.op === 'pod.terminate' || op.op === 'pod.ready') {
          expect(live.has(op.containerId)).to.equal(true);
        } else if (op.op === 'service.add') {
          expect(vips.has(op.service.clusterIp)).to.equal(false);
          vips.add(op.service.clusterIp);
        }
      }
      const kinds = new Set(p.workload.map((o) => o.op));
      expect([...kinds].sort(), `seed ${seed}`).to.include.members(['pod.add', 'pod.delete', 'pod.terminate', 'service.add', 'flows.open']);
    }
  });

  it('refuses bad options with a typed error naming the option', () => {
    const bad = [
      { seed: -1, nodes: 2, durationS: 30, field: 'seed' },
      { seed: 1.5, nodes: 2, durationS: 30, field: 'seed' },
      { seed: 1, nodes: 0, durationS: 30, field: 'nodes' },
      { seed: 1, nodes: 17, durationS: 30, field: 'nodes' },
      { seed: 1, nodes: 2, durationS: 5, field: 'duration' },
      { seed: 1, nodes: 2, durationS: Number.NaN, field: 'duration' },
    ];
    for (const b of bad) {
      const r = buildPlan({ ...b, faults: [], root: true });
      expect(r.ok, JSON.stringify(b)).to.equal(false);
      if (!r.ok) expect([r.error.code, r.error.field]).to.deep.equal(['BAD_OPTION', b.field]);
    }
    const pool = buildPlan({ seed: 1, nodes: 2, durationS: 30, faults: [], root: true, pool: 24 });
    expect(pool.ok).to.equal(false);
  });

  it('parses --faults and --broken', () => {
    expect(parseFaultList('all')).to.deep.equal({ ok: true, value: [...FAULT_KINDS] });
    expect(parseFaultList('none')).to.deep.equal({ ok: true, value: [] });
    expect(parseFaultList(' bus-drop,kill-agent ,bus-drop')).to.deep.equal({ ok: true, value: ['kill-agent', 'bus-drop'] });
    for (const text of ['', ',', 'kill-everything', 'kill-agent,nope']) {
      const r = parseFaultList(text);
      expect(r.ok, text).to.equal(false);
      if (!r.ok) expect(r.error.field).to.equal('faults');
    }
    expect(parseBroken('ids-double-allocate').ok).to.equal(true);
    expect(parseBroken('everything').ok).to.equal(false);
    expect(replayCommand({ seed: 5, nodes: 2, durationS: 20, faultsText: 'kill-agent,bus-drop', broken: undefined })).to.equal(
      'npm run simulate -- --seed 5 --nodes 2 --duration 20 --faults kill-agent,bus-drop --mode process',
    );
  });

  it('counts supervisor restarts and escalations per actor kind from log lines', () => {
    const r = new RestartCounter();
    r.line('node-1/manager', { level: 50, msg: 'supervisor child terminated', supervisor: 'manager', offender: { id: 'session' } });
    r.line('node-1/manager-2', { level: 50, msg: 'supervisor child failed to start', supervisor: 'manager', offender: { id: 'session' } });
    r.line('node-2/agent', { level: 50, msg: 'supervisor child terminated', supervisor: 'pods', offender: { id: 'pod-ctr-node-2-3-eth0' } });
    r.line('node-2/agent', { level: 30, msg: 'child exited', child: 'kube', willRestart: true });
    r.line('node-2/agent', { level: 30, msg: 'child exited', child: 'kube', willRestart: false });
    r.line('node-2/agent', { level: 50, msg: 'supervisor reached max restart intensity', supervisor: 'agent', offender: { id: 'bus' } });
    r.line('node-2/agent', { level: 30, msg: 'something else', offender: { id: 'bus' } });
    r.processRestart('node-1/target');
    expect(r.rows()).to.deep.equal([
      { actorKind: 'agent.agent', restarts: 0, escalations: 1 },
      { actorKind: 'agent.kube', restarts: 1, escalations: 0 },
      { actorKind: 'agent.pod', restarts: 1, escalations: 0 },
      { actorKind: 'manager.session', restarts: 2, escalations: 0 },
      { actorKind: 'process:target', restarts: 1, escalations: 0 },
    ]);
    expect(foldChildId('pod-7')).to.equal('pod');
    expect(foldChildId('leader')).to.equal('leader');
  });
});
