/**
 * The metrics' building blocks, in one process: each against what it claims, on injected
 * stopwatches and hand-made inputs (no sleeping), plus the bus observer against a real
 * nats-server (requests by op and result, a reconnect after the server restarts).
 */
import { expect } from 'chai';
import { Counter, register as globalRegistry } from 'prom-client';
import { createActor, fromPromise } from 'xstate';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { ok } from '../../core/result.js';
import { Bus, route } from '../../messages/bus.js';
import { keyed, type Keyed, type WireEntity, type WireUpdate } from '../../p4/desired.js';
import { loadP4Info } from '../../p4/p4info.js';
import { P4RuntimeError } from '../../p4/runtime-client.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { Supervisor } from '../../supervisors/index.js';
import {
  agentReadiness,
  BusMetrics,
  kindsOf,
  managerReadiness,
  newRegistry,
  Observability,
  programmingHistogram,
  ProgrammingTracker,
  SessionMetrics,
  subjectOp,
} from '../../actors/metrics/index.js';
import { sessionReadiness } from '../../actors/manager/session/session.js';
import type { ReconcileOutcome } from '../../actors/manager/session/session-io.js';
import { managerMethods } from '../../protocol/methods.js';
import { byLabel, parseExposition, total, valueOf, type Sample } from './support.js';

const info = loadP4Info();
const T = (n: string) => info.tableByName(`MainControlImpl.${n}`).id;
const A = (n: string) => info.actionByName(`MainControlImpl.${n}`).id;
const SEL = info.actionProfileByName('MainControlImpl.lb_selector').id;
const be = (v: number, bytes: number): Uint8Array => Uint8Array.from({ length: bytes }, (_, i) => Math.floor(v / 256 ** (bytes - 1 - i)) & 255);

function route4(table: string, ip: number, port: number): WireEntity {
  return { table_entry: { table_id: T(table), match: [{ field_id: 1, exact: { value: be(ip, 4) } }], action: { action: { action_id: A(table === 'arp_to_port' ? 'set_port' : 'set_dest_mac_port'), params: [{ param_id: 1, value: be(port, 4) }] } } } };
}
const member = (id: number): WireEntity => ({ action_profile_member: { action_profile_id: SEL, member_id: id, action: { action_id: A('lb_set_endpoint'), params: [] } } });
const group = (id: number): WireEntity => ({ action_profile_group: { action_profile_id: SEL, group_id: id, members: [] } });
const flow = (table: 'ct_forward' | 'ct_reverse', n: number): WireEntity => ({ table_entry: { table_id: T(table), match: [{ field_id: 1, exact: { value: be(n, 4) } }] } });

async function samplesOf(registry: { metrics(): Promise<string> }): Promise<Sample[]> {
  return parseExposition(await registry.metrics());
}

describe('metrics: building blocks', function () {
  it('one registry per process: two in one process do not collide, and the global registry stays empty of ours', async () => {
    const a = new Observability();
    const b = new Observability();
    a.bus.reconnected();
    expect(valueOf(await samplesOf(a.registry), 'infra_offload_bus_reconnects_total')).to.equal(1);
    expect(valueOf(await samplesOf(b.registry), 'infra_offload_bus_reconnects_total')).to.equal(0);
    expect((await globalRegistry.metrics()).includes('infra_offload_')).to.equal(false);
    // A name registered twice on one registry is a wiring bug, found at once.
    expect(() => new Counter({ name: 'infra_offload_bus_reconnects_total', help: 'x', registers: [a.registry] })).to.throw();
  });

  describe('network programming latency', () => {
    it('observes a change when a plan including its revision is programmed, from its own start, once', async () => {
      const registry = newRegistry();
      let now = 1000;
      const tracker = new ProgrammingTracker(programmingHistogram(registry), () => now);
      tracker.answered('service', 5, 1000); // received at 1000 ms, answered with revision 5
      now = 1003;
      tracker.answered('pod', 6, 1002);
      tracker.programmed(4); // an older plan: neither is in it
      let s = await samplesOf(registry);
      expect(total(s, 'infra_offload_network_programming_duration_seconds_count')).to.equal(0);
      now = 1010;
      tracker.programmed(5);
      s = await samplesOf(registry);
      expect(valueOf(s, 'infra_offload_network_programming_duration_seconds_count', { object: 'service' })).to.equal(1);
      expect(valueOf(s, 'infra_offload_network_programming_duration_seconds_sum', { object: 'service' })).to.be.closeTo(0.01, 1e-9);
      expect(valueOf(s, 'infra_offload_network_programming_duration_seconds_count', { object: 'pod' })).to.equal(0);
      expect(tracker.pending.waiting).to.equal(1);
      now = 1020;
      tracker.programmed(9);
      tracker.programmed(9); // nothing is observed twice
      // Answered after its revision was programmed (the reply raced the write): observed at once.
      tracker.answered('host', 7, 1015);
      s = await samplesOf(registry);
      expect(byLabel(s, 'infra_offload_network_programming_duration_seconds_count', 'object')).to.deep.equal({ service: 1, pod: 1, host: 1 });
      expect(valueOf(s, 'infra_offload_network_programming_duration_seconds_sum', { object: 'pod' })).to.be.closeTo(0.018, 1e-9);
      expect(valueOf(s, 'infra_offload_network_programming_duration_seconds_bucket', { object: 'host', le: '0.0025' })).to.equal(0);
      expect(valueOf(s, 'infra_offload_network_programming_duration_seconds_bucket', { object: 'host', le: '0.005' })).to.equal(1);
      expect(tracker.pending).to.deep.equal({ waiting: 0, dropped: 0 });
    });
  });

  describe('session metrics', () => {
    const shadowOf = (entities: WireEntity[]): Map<string, Keyed> => new Map(entities.map((e) => [keyed(e).key, keyed(e)]));
    const ins = (e: WireEntity): WireUpdate => ({ type: 'INSERT', entity: e });

    it('counts write results per update by op and code: all OK, per-update codes, a call that failed as a whole', async () => {
      const registry = newRegistry();
      const m = new SessionMetrics(registry, info);
      m.wrote([ins(member(1)), ins(member(2)), { type: 'MODIFY', entity: group(1) }, { type: 'DELETE', entity: member(3) }]);
      const perUpdate = new P4RuntimeError(2, 'one failed', [
        { canonical_code: 0, message: '' },
        { canonical_code: 6, message: 'exists' },
        { canonical_code: 5, message: 'gone' },
      ]);
      m.wrote([ins(member(4)), ins(member(5)), { type: 'DELETE', entity: member(6) }], perUpdate);
      m.wrote([ins(member(7)), ins(member(8))], new P4RuntimeError(14, 'unavailable'));
      m.wrote([ins(member(9))], new Error('socket closed'));
      const s = await samplesOf(registry);
      const codes = (op: string) => byLabel(s, 'infra_offload_p4_write_updates_total', 'code', { op });
      expect(codes('insert')).to.deep.equal({ OK: 3, ALREADY_EXISTS: 1, UNAVAILABLE: 2, UNKNOWN: 1 });
      expect(codes('modify')).to.deep.equal({ OK: 1 });
      expect(codes('delete')).to.deep.equal({ OK: 1, NOT_FOUND: 1 });
    });

    it('occupancy follows reconciles (recount) and syncs (by the change list); learned flows as read, less those retired', async () => {
      const registry = newRegistry();
      const m = new SessionMetrics(registry, info);
      const base = [route4('ipv4_to_port', 1, 2), route4('ipv4_to_port', 2, 3), route4('arp_to_port', 1, 2), member(1), member(2), group(1)];
      const defaultEntry: WireEntity = { table_entry: { table_id: T('service_lb'), is_default_action: true, action: { action: { action_id: A('lb_reject') } } } };
      const shadow = shadowOf([...base, defaultEntry]);
      const retiredFlow = flow('ct_forward', 9);
      const actual = [...base, flow('ct_forward', 1), flow('ct_forward', 2), retiredFlow, flow('ct_reverse', 1)];
      const outcome: ReconcileOutcome = {
        plan: { phases: [[{ type: 'DELETE', entity: retiredFlow }]], counts: { insert: 0, modify: 0, delete: 0, unchanged: 6, retired: 1 } },
        counts: { insert: 4, modify: 1, delete: 2, unchanged: 6, retired: 1, writes: 3 },
        actual: actual.map(keyed),
        shadow,
      };
      m.reconciled(0.25, outcome);
      m.reconciled(1.5); // a failed one
      let s = await samplesOf(registry);
      expect(byLabel(s, 'infra_offload_p4_table_entries', 'table')).to.deep.equal({ arp_to_port: 1, service_lb: 0, ipv4_to_port: 2 }); // the default entry is not counted
      expect(byLabel(s, 'infra_offload_p4_action_profile_entries', 'kind', { profile: 'lb_selector' })).to.deep.equal({ member: 2, group: 1 });
      expect(byLabel(s, 'infra_offload_learned_connections', 'table')).to.deep.equal({ ct_forward: 2, ct_reverse: 1 });
      expect(byLabel(s, 'infra_offload_reconcile_entries_total', 'kind')).to.deep.equal({ insert: 4, modify: 1, delete: 2, retired: 1 });
      expect(valueOf(s, 'infra_offload_reconcile_duration_seconds_count', { result: 'ok' })).to.equal(1);
      expect(valueOf(s, 'infra_offload_reconcile_duration_seconds_sum', { result: 'ok' })).to.equal(0.25);
      expect(valueOf(s, 'infra_offload_reconcile_duration_seconds_count', { result: 'error' })).to.equal(1);

      // A sync: one route replaced (modify: counts stay), one added, one member and the ARP entry deleted.
      const next = route4('ipv4_to_port', 1, 7);
      const added = route4('ipv4_to_port', 3, 4);
      const updates: [string, Keyed | undefined][] = [
        [keyed(next).key, keyed(next)],
        [keyed(added).key, keyed(added)],
        [keyed(member(2)).key, undefined],
        [keyed(route4('arp_to_port', 1, 2)).key, undefined],
      ];
      m.synced(shadow, updates);
      s = await samplesOf(registry);
      expect(byLabel(s, 'infra_offload_p4_table_entries', 'table')).to.deep.equal({ arp_to_port: 0, service_lb: 0, ipv4_to_port: 3 });
      expect(byLabel(s, 'infra_offload_p4_action_profile_entries', 'kind')).to.deep.equal({ member: 1, group: 1 });

      // A sweep reads the learned tables again and retires one flow.
      m.swept([flow('ct_forward', 1), flow('ct_reverse', 1), flow('ct_reverse', 2)], [flow('ct_reverse', 2)]);
      s = await samplesOf(registry);
      expect(byLabel(s, 'infra_offload_learned_connections', 'table')).to.deep.equal({ ct_forward: 1, ct_reverse: 1 });

      // A whole-shadow replacement recounts from nothing.
      m.replaced(shadowOf([route4('arp_to_port', 5, 2)]));
      s = await samplesOf(registry);
      expect(byLabel(s, 'infra_offload_p4_table_entries', 'table')).to.deep.equal({ arp_to_port: 1, service_lb: 0, ipv4_to_port: 0 });
      expect(byLabel(s, 'infra_offload_p4_action_profile_entries', 'kind')).to.deep.equal({ member: 0, group: 0 });
    });
  });

  describe('supervision metrics', () => {
    it('counts crashes, restarts and escalations by kind through the root observer, nested supervisors and dynamic children included', async () => {
      const obs = new Observability();
      const clock = new ManualClock(0);
      const env = { clock, random: seededRandom(1), logger: silentLogs().root };
      const crashers: { fail: () => void }[] = [];
      const worker = fromPromise<void, void>(
        () =>
          new Promise<void>((_, reject) => {
            crashers.push({ fail: () => reject(new Error('crash')) });
          }),
      );
      const last = () => crashers[crashers.length - 1]!;
      const kindOf = kindsOf(['bus', 'intent', 'pods'], { pods: 'pod' });
      let podsSup: Supervisor | undefined;
      const root = new Supervisor({
        id: 'agent',
        strategy: 'rest_for_one',
        intensity: 3,
        backoff: { initialMs: 0 },
        observer: obs.supervisorObserver(kindOf, ['bus', 'intent', 'pods', 'pod'], ['agent', 'pods']),
        children: [
          { id: 'bus', start: () => createActor(worker) },
          { id: 'intent', start: () => createActor(worker) },
          { id: 'pods', type: 'supervisor', start: () => (podsSup = new Supervisor({ id: 'pods', strategy: 'simple_one_for_one', intensity: 0, children: [{ id: 'pod', start: () => createActor(worker) }], ...env })) },
        ],
        ...env,
      });
      await root.start();
      const settle = async () => {
        for (let i = 0; i < 20; i++) await Promise.resolve();
        await clock.advance(0);
        for (let i = 0; i < 20; i++) await Promise.resolve();
      };
      crashers[0]!.fail(); // bus: rest_for_one restarts bus, intent and pods
      await settle();
      let s = await samplesOf(obs.registry);
      expect(byLabel(s, 'infra_offload_actor_crashes_total', 'kind')).to.deep.equal({ bus: 1, intent: 0, pods: 0, pod: 0 });
      expect(byLabel(s, 'infra_offload_actor_restarts_total', 'kind')).to.deep.equal({ bus: 1, intent: 1, pods: 1, pod: 0 });
      // A pod child (dynamic id) crashes: intensity 0 makes `pods` give up; the root restarts it.
      const pods = root.whichChildren().find((c) => c.id === 'pods');
      expect(pods?.status).to.equal('running');
      expect((await podsSup!.startChild(undefined, 'pod-c0ffee-eth0')).ok).to.equal(true);
      last().fail();
      await settle();
      s = await samplesOf(obs.registry);
      expect(byLabel(s, 'infra_offload_actor_crashes_total', 'kind')).to.deep.equal({ bus: 1, intent: 0, pods: 1, pod: 1 });
      expect(byLabel(s, 'infra_offload_actor_escalations_total', 'kind')).to.deep.equal({ agent: 0, pods: 1 });
      expect(valueOf(s, 'infra_offload_actor_restarts_total', { kind: 'pods' })).to.equal(2);
      expect(s.some((x) => x.labels.kind === 'pod-c0ffee-eth0'), 'no per-pod series').to.equal(false);
      await root.stop();
    });
  });

  describe('readiness', () => {
    it('manager: standby, leader without session, session not primary, degraded, ready', () => {
      expect(managerReadiness({ leading: false, holder: 'abc', epoch: 4 })).to.deep.include({ ready: false, reason: 'standby: the lease is held by abc (epoch 4)' });
      expect(managerReadiness({ leading: false }).reason).to.equal('standby: the lease is not held by anyone yet');
      expect(managerReadiness({ leading: true, epoch: 4, leaderSubtree: 'starting' }).reason).to.match(/leader subtree is starting/);
      expect(managerReadiness({ leading: true, epoch: 4, leaderSubtree: 'running' })).to.deep.equal({ ready: true, checks: { leader: true, epoch: 4, session: 'none' } });
      const arbitrating = { ready: false, state: 'arbitrating', reason: 'not primary at the target' };
      expect(managerReadiness({ leading: true, epoch: 4, leaderSubtree: 'running', session: arbitrating })).to.deep.include({ ready: false, reason: 'leader: not primary at the target' });
      expect(managerReadiness({ leading: true, epoch: 4, leaderSubtree: 'running', session: { ready: true, state: 'ready' } }).ready).to.equal(true);
      expect(sessionReadiness(undefined)).to.deep.include({ ready: false, state: 'stopped' });
    });

    it('agent: pool, manager link', () => {
      expect(agentReadiness({ link: 'linked' })).to.deep.equal({ ready: true, checks: { pool: 'none', manager: 'answers' } });
      expect(agentReadiness({ pool: 'prepared', link: 'linked' }).ready).to.equal(true);
      expect(agentReadiness({ pool: 'not prepared', link: 'linked' }).reason).to.match(/pool is not prepared/);
      expect(agentReadiness({ pool: 'prepared', link: 'waiting', helloAttempts: 3 }).reason).to.equal('the manager does not answer after 3 hello attempts: no leader, or the bus is down');
    });
  });

  describe('bus metrics', function () {
    this.timeout(20_000);
    let nats: NatsServer;
    let again: NatsServer | undefined;
    let bus: Bus;
    let server: Bus;

    before(async () => {
      nats = await startNatsServer({ jetstream: false });
      bus = await Bus.connect({ servers: nats.url, name: 'metrics-client', logger: silentLogs().root, timeoutMs: 300, reconnectWaitMs: 50 });
      server = await Bus.connect({ servers: nats.url, name: 'metrics-server', logger: silentLogs().root, reconnectWaitMs: 50 });
    });
    after(async () => {
      await bus.close();
      await server.close();
      await nats.stop();
      await again?.stop();
    });

    it('names the operation without the node, and keeps labels few', () => {
      expect(subjectOp('infra.v1.node-1.manager.service.upsert')).to.equal('manager.service.upsert');
      expect(subjectOp('infra.v1.a_b.ctl.agent.state')).to.equal('ctl.agent.state');
      expect(subjectOp('$KV.infra_leases.x')).to.equal('other');
      expect(subjectOp('infra.v1.node-1')).to.equal('other');
      const registry = newRegistry();
      const m = new BusMetrics(registry);
      for (let i = 0; i < 100; i++) m.requested(`infra.v1.n.x.op${i}`, 0.001, '');
      return samplesOf(registry).then((s) => {
        const ops = byLabel(s, 'infra_offload_bus_request_duration_seconds_count', 'op');
        expect(Object.keys(ops)).to.have.length(65); // 64 named + other
        expect(ops.other).to.equal(36);
      });
    });

    it('times every typed request by op and result, and counts a reconnect after the server restarts', async () => {
      const registry = newRegistry();
      bus.observe(new BusMetrics(registry));
      const served = server.serve('infra.v1.node-1.manager', [route(managerMethods.serviceDelete, () => ok({ revision: 1, changed: true }))]);
      await server.connection.flush();
      const req = { node: 'node-1', clusterIp: 0x0a60000a, port: 80, protocol: 'TCP' as const };
      for (let i = 0; i < 3; i++) {
        const r = await bus.request('infra.v1.node-1.manager.service.delete', managerMethods.serviceDelete, req);
        expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
      }
      const none = await bus.request('infra.v1.node-1.agent.sync', managerMethods.serviceDelete, req);
      expect(none.ok).to.equal(false);
      let s = await samplesOf(registry);
      expect(valueOf(s, 'infra_offload_bus_request_duration_seconds_count', { op: 'manager.service.delete', result: 'ok' })).to.equal(3);
      expect(total(s, 'infra_offload_bus_request_duration_seconds_count', { op: 'agent.sync' })).to.equal(1);
      expect(Object.keys(byLabel(s, 'infra_offload_bus_request_duration_seconds_count', 'result', { op: 'agent.sync' }))).to.deep.equal([none.ok ? '' : none.error.code]);
      await served.stop();

      // The server goes away and comes back on the same port: one disconnect, one reconnect.
      const port = nats.port;
      await nats.stop();
      again = await startNatsServer({ jetstream: false, port });
      for (let i = 0; i < 100; i++) {
        s = await samplesOf(registry);
        if (valueOf(s, 'infra_offload_bus_reconnects_total') === 1) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(valueOf(s, 'infra_offload_bus_disconnects_total')).to.equal(1);
      expect(valueOf(s, 'infra_offload_bus_reconnects_total')).to.equal(1);
    });
  });
});
