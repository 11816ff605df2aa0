/**
 * The trees wired to their metrics and readiness, in one process against a real nats-server:
 * two managers (one leads, one stands by: leadership gauges and /readyz), an agent (manager link
 * readiness, bus request latency), a child actor killed (its bus connection closed: crashes and
 * restarts by kind, rest_for_one) and a root that gives up (an escalation). Each process's
 * metrics live in a registry of its own, so the three coexist here.
 */
import { expect } from 'chai';
import { agentTree, type AgentTree } from '../../actors/agent/tree.js';
import { startHealth, type HealthServer } from '../../actors/health.js';
import { managerTree, type ManagerTree } from '../../actors/manager/tree.js';
import { Observability } from '../../actors/metrics/index.js';
import { agentConfigSchema, managerConfigSchema } from '../../actors/process-config.js';
import { systemClock } from '../../core/clock.js';
import { parseConfig } from '../../core/config.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { waitForEvent } from '../../supervisors/index.js';
import { byLabel, get, parseExposition, scrape, until, valueOf } from './support.js';

const NODE = 'node-1';

interface Running<T> {
  readonly tree: T;
  readonly obs: Observability;
  readonly health: HealthServer;
}

describe('metrics: the manager and agent trees', function () {
  this.timeout(40_000);
  let nats: NatsServer;
  const managers: Running<ManagerTree>[] = [];
  let agent: Running<AgentTree>;

  before(async () => {
    nats = await startNatsServer();
    const raw = { node: { name: NODE, ip: '192.0.2.10', podCidr: '10.244.0.0/24' }, nats: { servers: [nats.url], insecure: true }, heartbeat: { intervalMs: 100 } };
    const mc = parseConfig(raw, managerConfigSchema);
    const ac = parseConfig(raw, agentConfigSchema);
    if (!mc.ok || !ac.ok) throw new Error('config');
    const common = { logs: silentLogs(), clock: systemClock, random: seededRandom(1) };
    for (const id of ['manager1', 'manager2']) {
      const obs = new Observability();
      const tree = managerTree({ ...common, config: mc.value, instanceId: id, observability: obs });
      expect(await tree.supervisor.start()).to.deep.equal({ ok: true });
      const health = await startHealth({ listen: '127.0.0.1:0', supervisor: tree.supervisor, role: 'manager', node: NODE, instanceId: id, logger: silentLogs().root, metrics: obs.registry, readiness: () => obs.readiness() });
      managers.push({ tree, obs, health });
      // The first one takes the lease before the second starts.
      if (id === 'manager1') await until('manager1 leads', () => (tree.refs.epoch !== undefined ? true : undefined));
    }
    const obs = new Observability();
    const tree = agentTree({ ...common, config: ac.value, instanceId: 'agent1', observability: obs });
    expect(await tree.supervisor.start()).to.deep.equal({ ok: true });
    const health = await startHealth({ listen: '127.0.0.1:0', supervisor: tree.supervisor, role: 'agent', node: NODE, instanceId: 'agent1', logger: silentLogs().root, metrics: obs.registry, readiness: () => obs.readiness() });
    agent = { tree, obs, health };
  });
  after(async () => {
    await agent?.tree.supervisor.stop();
    await agent?.health.close();
    for (const m of managers) {
      await m.tree.supervisor.stop();
      await m.health.close();
    }
    await nats?.stop();
  });

  it('leadership: 1 and the epoch on the leader (ready), 0 on the standby (503 with a reason, yet alive)', async () => {
    const [leader, standby] = managers as [Running<ManagerTree>, Running<ManagerTree>];
    const epoch = leader.tree.refs.epoch!;
    await until('the standby has seen the lease', async () => ((await scrape(standby.health.address)).some((s) => s.name === 'infra_offload_leader_epoch' && s.value === epoch) ? true : undefined));
    const l = await scrape(leader.health.address);
    const s = await scrape(standby.health.address);
    expect(valueOf(l, 'infra_offload_leader')).to.equal(1);
    expect(valueOf(l, 'infra_offload_leader_epoch')).to.equal(epoch);
    expect(valueOf(s, 'infra_offload_leader')).to.equal(0);
    expect(valueOf(s, 'infra_offload_leader_epoch'), 'a standby shows the holder\'s epoch').to.equal(epoch);

    // No device configured here: leading is enough.
    const ready = await get(leader.health.address, '/readyz');
    expect(ready.status, ready.text).to.equal(200);
    expect(JSON.parse(ready.text)).to.deep.include({ ok: true, checks: { leader: true, epoch, session: 'none' } });
    const notReady = await get(standby.health.address, '/readyz');
    expect(notReady.status).to.equal(503);
    expect((JSON.parse(notReady.text) as { reason: string }).reason).to.equal(`standby: the lease is held by manager1 (epoch ${epoch})`);
    expect((await get(standby.health.address, '/healthz')).status).to.equal(200);
  });

  it('the agent is ready once its manager answers; its hello and the leader\'s pull are timed by op', async () => {
    const r = await until('the agent ready', async () => {
      const x = await get(agent.health.address, '/readyz');
      return x.status === 200 ? x : undefined;
    });
    expect((JSON.parse(r.text) as { checks: unknown }).checks).to.deep.equal({ pool: 'none', manager: 'answers' });
    const a = await scrape(agent.health.address);
    expect(valueOf(a, 'infra_offload_bus_request_duration_seconds_count', { op: 'manager.hello', result: 'ok' })).to.be.at.least(1);
    await until('the leader pulled the agent\'s state', async () =>
      (valueOf(await scrape(managers[0]!.health.address), 'infra_offload_bus_request_duration_seconds_count', { op: 'agent.sync', result: 'ok' }) ?? 0) >= 1 ? true : undefined,
    );
    // The standby sends nothing to the agent.
    expect(byLabel(await scrape(managers[1]!.health.address), 'infra_offload_bus_request_duration_seconds_count', 'op')).to.not.have.property('agent.sync');
  });

  it('a killed child actor: one crash of `bus`, and a restart of it and of every child after it (rest_for_one)', async () => {
    const leader = managers[0]!;
    const restarted = waitForEvent(leader.tree.supervisor, 'child_restarted', (e) => e.childId === 'leadership');
    await leader.tree.refs.bus!.connection.close();
    await restarted;
    const s = await scrape(leader.health.address);
    expect(byLabel(s, 'infra_offload_actor_crashes_total', 'kind')).to.include({ bus: 1, lease: 0, leadership: 0, session: 0 });
    expect(byLabel(s, 'infra_offload_actor_restarts_total', 'kind')).to.include({ bus: 1, lease: 1, leadership: 1, intent: 0 });
    // The new connection is observed too: its requests keep being counted.
    const before = valueOf(s, 'infra_offload_bus_request_duration_seconds_count', { op: 'agent.sync', result: 'ok' }) ?? 0;
    await until('the leader pulls again over its new connection', async () =>
      (valueOf(await scrape(leader.health.address), 'infra_offload_bus_request_duration_seconds_count', { op: 'agent.sync', result: 'ok' }) ?? 0) > before ? true : undefined,
    );
  });

  it('a root that gives up: more crashes than its intensity within its period is one escalation', async () => {
    const standby = managers[1]!;
    const escalated = waitForEvent(standby.tree.supervisor, 'escalated');
    // Intensity 5 in 10 s: the sixth crash in a row is one too many.
    for (let i = 0; i < 6; i++) {
      const bus = await until('a bus', () => (standby.tree.supervisor.whichChildren()[0]?.status === 'running' ? standby.tree.refs.bus : undefined));
      const next = i < 5 ? waitForEvent(standby.tree.supervisor, 'child_restarted', (e) => e.childId === 'bus') : escalated;
      await bus.connection.close();
      await next;
    }
    await escalated;
    const s = parseExposition(await standby.obs.registry.metrics());
    expect(valueOf(s, 'infra_offload_actor_escalations_total', { kind: 'manager' })).to.equal(1);
    expect(valueOf(s, 'infra_offload_actor_crashes_total', { kind: 'bus' })).to.equal(6);
    expect(valueOf(s, 'infra_offload_actor_restarts_total', { kind: 'bus' })).to.equal(5);
    expect((await get(standby.health.address, '/healthz')).status, 'a failed root is not alive').to.equal(503);
    const ready = JSON.parse((await get(standby.health.address, '/readyz')).text) as { reason: string };
    expect(ready.reason).to.equal('the supervision tree is failed');
  });
});
