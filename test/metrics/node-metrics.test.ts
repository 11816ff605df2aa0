/**
 * Both metrics endpoints of a whole node, every process its own (nats-server, the Kubernetes API
 * stand-in, the software target, two managers, an agent), driven as a cluster would drive it:
 * Services and EndpointSlices changed over HTTP on the API stand-in, the agent watching them and
 * asking the leading manager, which programs the target. Each metric is checked against the
 * workload and against what the target itself reports:
 *
 * - network programming latency counts exactly the changes made (and the agent sent as many);
 * - table occupancy per table and per action profile equals a P4Runtime read of the target;
 * - write results by op and code equal the target's own counters;
 * - reconcile durations and entries equal what the leader logged;
 * - learned connections equal the target's learned entries once a reconcile read them;
 * - leadership is 1 on the leader and 0 on the standby, readiness follows, and both flip when
 *   the leader is killed; a killed agent comes back as a new process (process_start_time_seconds)
 *   and ready; a restarted nats-server is a reconnect on every process.
 *
 * Every metric our processes export is documented in docs/operations.md (checked here).
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { ip, tcp } from '../../p4/frames.js';
import { loadP4Info } from '../../p4/p4info.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { KubeClient } from '../../simulations/kube/client.js';
import type { KubeObject } from '../../simulations/kube/store.js';
import { startLocalNode, type LocalNode } from '../../simulations/local-node.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import type { ManagedProcess } from '../../simulations/processes.js';
import { byLabel, get, helpTexts, scrape, total, until, valueOf, type Sample } from './support.js';

const info = loadP4Info();
const SEL = info.actionProfileByName('MainControlImpl.lb_selector').id;
const VOLATILE = new Set(info.tables.filter((t) => t.addOnMiss).map((t) => t.id));
const PROGRAMMING = 'infra_offload_network_programming_duration_seconds';
const REQUESTS = 'infra_offload_bus_request_duration_seconds';

function service(name: string, clusterIP: string, port: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'p', port, targetPort: 8080, protocol: 'TCP' }] },
  };
}

/** Endpoints on another node: usable at once (no local pod to wait for). */
function slice(name: string, serviceName: string, ips: readonly string[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: [{ name: 'p', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((a) => ({ addresses: [a], nodeName: 'node-2', conditions: { ready: true } })),
  };
}

interface Logged {
  readonly proc: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

describe('metrics: both endpoints of a whole node, against the workload and the target', function () {
  this.timeout(60_000);
  let node: LocalNode;
  let kube: KubeClient;
  let admin: TargetAdminClient;
  let reader: P4RuntimeClient;
  let natsAgain: NatsServer | undefined;
  const logged: Logged[] = [];
  /** The manager process (by name) that leads now, and the one standing by. */
  let leader: ManagedProcess;
  let standby: ManagedProcess;

  const healthOf = (p: ManagedProcess): string => node.health!.managers[node.managers.indexOf(p)]!;
  const agentHealth = (): string => node.health!.agent;
  const recent = (): string =>
    logged
      .slice(-30)
      .map((l) => `${l.proc}: ${l.msg}`)
      .join('\n');

  before(async () => {
    node = await startLocalNode({
      tls: false, // the test reads the target with a plain client; test/security covers mTLS
      managers: 2,
      health: true,
      heartbeatMs: 300,
      resyncMs: 1000,
      restartAfterMs: 300,
      logLevel: 'info',
      onLog: (proc, line) => {
        if (typeof line !== 'string') logged.push({ proc, msg: line.msg, fields: line });
      },
    });
    kube = new KubeClient(node.kube!.adminUrl);
    admin = new TargetAdminClient(node.targetAddress!);
    reader = new P4RuntimeClient(node.targetAddress!);
  });
  after(async () => {
    admin?.close();
    reader?.close();
    await node?.stop();
    await natsAgain?.stop();
  });

  /** Who leads: the manager whose /readyz says ready; the other must say standby. */
  async function roles(): Promise<{ leader: ManagedProcess; standby: ManagedProcess }> {
    return until(
      'one manager ready (leader, primary, reconciled) and one standby',
      async () => {
        const answers = await Promise.all(node.managers.map(async (m) => ({ m, r: await get(healthOf(m), '/readyz').catch(() => undefined) })));
        const ready = answers.filter((a) => a.r?.status === 200);
        const standing = answers.filter((a) => a.r?.status === 503 && /^standby: /.test((JSON.parse(a.r.text) as { reason?: string }).reason ?? ''));
        return ready.length === 1 && standing.length === 1 ? { leader: ready[0]!.m, standby: standing[0]!.m } : undefined;
      },
      20_000,
      recent,
    );
  }

  it('leadership and readiness: 1 and ready on the leader, 0 and 503 "standby" (alive) on the other; the agent ready', async () => {
    ({ leader, standby } = await roles());
    const l = await scrape(healthOf(leader));
    const s = await scrape(healthOf(standby));
    expect(valueOf(l, 'infra_offload_leader')).to.equal(1);
    expect(valueOf(s, 'infra_offload_leader')).to.equal(0);
    expect(valueOf(l, 'infra_offload_leader_epoch')).to.be.at.least(1);
    expect((await get(healthOf(standby), '/healthz')).status).to.equal(200);
    const ready = JSON.parse((await get(healthOf(leader), '/readyz')).text) as { checks: Record<string, unknown> };
    expect(ready.checks).to.deep.include({ leader: true, session: 'ready' });
    await until('the agent ready', async () => ((await get(agentHealth(), '/readyz')).status === 200 ? true : undefined), 15_000, recent);
  });

  it('network programming latency counts exactly the changes made, and the agent sent exactly as many', async () => {
    const serviceCount = async () => valueOf(await scrape(healthOf(leader)), `${PROGRAMMING}_count`, { object: 'service' }) ?? 0;
    const agentSent = async () => {
      const a = await scrape(agentHealth());
      return (valueOf(a, `${REQUESTS}_count`, { op: 'manager.service.upsert', result: 'ok' }) ?? 0) + (valueOf(a, `${REQUESTS}_count`, { op: 'manager.service.delete', result: 'ok' }) ?? 0);
    };
    const base = await serviceCount();
    const sentBefore = await agentSent();
    const steps: [string, () => Promise<unknown>][] = [
      ['service web', () => kube.apply(service('web', '10.96.0.10', 80))],
      ['web endpoints', () => kube.apply(slice('web-1', 'web', ['10.244.1.1', '10.244.1.2', '10.244.1.3']))],
      ['service db', () => kube.apply(service('db', '10.96.0.20', 5432))],
      ['db endpoints', () => kube.apply(slice('db-1', 'db', ['10.244.1.7', '10.244.1.8']))],
      ['web scaled to 5', () => kube.apply(slice('web-1', 'web', ['10.244.1.1', '10.244.1.2', '10.244.1.3', '10.244.1.4', '10.244.1.5']))],
      ['service db deleted', () => kube.delete('services', 'default', 'db')],
    ];
    for (const [i, [what, change]] of steps.entries()) {
      const r = (await change()) as { ok: boolean };
      expect(r.ok, what).to.equal(true);
      // One change at a time: each is one request (the agent's debounce would merge a burst).
      await until(`${what} programmed`, async () => ((await serviceCount()) === base + i + 1 ? true : undefined), 10_000, recent);
    }
    await new Promise((r) => setTimeout(r, 1000)); // nothing more arrives: exactly the changes made
    const l = await scrape(healthOf(leader));
    expect(valueOf(l, `${PROGRAMMING}_count`, { object: 'service' })).to.equal(base + steps.length);
    expect(await agentSent()).to.equal(sentBefore + steps.length);
    const sum = valueOf(l, `${PROGRAMMING}_sum`, { object: 'service' })!;
    expect(sum).to.be.greaterThan(0).and.below(steps.length * 2);
    const inf = valueOf(l, `${PROGRAMMING}_bucket`, { object: 'service', le: '+Inf' });
    expect(inf).to.equal(base + steps.length);
    // The standby programs nothing.
    expect(total(await scrape(healthOf(standby)), `${PROGRAMMING}_count`)).to.equal(0);
    console.log(`      programming latency: ${steps.length} changes, mean ${((sum / (base + steps.length)) * 1000).toFixed(1)} ms`);
  });

  it('table occupancy equals a P4Runtime read of the target; write results equal the target\'s counters', async () => {
    // Read the target while nothing changes: no sync runs now, and a resync of an intact target writes nothing.
    const entities = await reader.read({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }, { action_profile_member: { action_profile_id: SEL } }, { action_profile_group: { action_profile_id: SEL } }] });
    const tables: Record<string, number> = {};
    for (const t of info.tables) if (!t.addOnMiss) tables[t.alias] = 0;
    let members = 0;
    let groups = 0;
    for (const e of entities) {
      const te = e.table_entry as { table_id: number } | undefined;
      if (te && !VOLATILE.has(Number(te.table_id))) tables[info.table(Number(te.table_id))!.alias]!++;
      if (e.action_profile_member) members++;
      if (e.action_profile_group) groups++;
    }
    const l = await scrape(healthOf(leader));
    const s = await scrape(healthOf(standby));
    expect(byLabel(l, 'infra_offload_p4_table_entries', 'table'), 'entries per table').to.deep.equal(tables);
    expect(byLabel(l, 'infra_offload_p4_action_profile_entries', 'kind', { profile: 'lb_selector' })).to.deep.equal({ member: members, group: groups });
    expect(tables.service_lb, 'one VIP entry: web (db was deleted)').to.equal(1);
    expect(members, 'web\'s five endpoints and the shared reject member').to.equal(6);

    // The target counts what it applied; the managers count what they wrote (the standby nothing).
    const st = (await admin.stats()) as { inserts: number; modifies: number; deletes: number; updatesFailed: number };
    const written = (p: Sample[], op: string) => valueOf(p, 'infra_offload_p4_write_updates_total', { op, code: 'OK' }) ?? 0;
    expect({ insert: written(l, 'insert') + written(s, 'insert'), modify: written(l, 'modify') + written(s, 'modify'), delete: written(l, 'delete') + written(s, 'delete') }).to.deep.equal({
      insert: st.inserts,
      modify: st.modifies,
      delete: st.deletes,
    });
    expect(st.updatesFailed).to.equal(0);
    expect(total(l, 'infra_offload_p4_write_updates_total') - written(l, 'insert') - written(l, 'modify') - written(l, 'delete'), 'no failed update').to.equal(0);
    expect(total(s, 'infra_offload_p4_write_updates_total')).to.equal(0);
  });

  it('reconcile durations and entries equal what the leader logged', async () => {
    const reconciled = () => logged.filter((x) => x.proc === leader.name && x.msg === 'reconciled');
    const before = reconciled().length;
    const l = await scrape(healthOf(leader));
    const count = valueOf(l, 'infra_offload_reconcile_duration_seconds_count', { result: 'ok' })!;
    // The metric is updated just before the line is logged, and the line travels a pipe: wait for it.
    const after = await until('the log catches up', () => (reconciled().length >= count ? reconciled() : undefined), 5000, recent);
    expect(count, 'one per reconcile logged (resync every second)').to.be.at.least(before);
    expect(count).to.be.at.least(2);
    const inserts = after.slice(0, count).reduce((n, x) => n + Number(x.fields.insert ?? 0), 0);
    expect(valueOf(l, 'infra_offload_reconcile_entries_total', { kind: 'insert' })).to.equal(inserts);
    expect(valueOf(l, 'infra_offload_reconcile_duration_seconds_count', { result: 'error' })).to.equal(0);
  });

  it('learned connections: the gauge equals the target\'s learned entries after the next reconcile reads them', async () => {
    // Two clients outside the node connect to web's VIP (through the uplink, port 1).
    for (const [n, sport] of [[1, 40000], [2, 40001]] as const) {
      const syn = tcp({ src: 0x02aa00000000 + n, dst: 0x02bb00000001, srcIp: ip('192.0.2.50') + n, dstIp: ip('10.96.0.10'), sport, dport: 80, flags: 'S' });
      const out = await admin.process(1, syn);
      expect(out.dropped, out.dropReason).to.equal(false);
    }
    const learned = Number(((await admin.stats()) as { learned: number }).learned);
    expect(learned).to.equal(4); // each connection in both directions
    await until('the leader\'s gauge shows them', async () => (total(await scrape(healthOf(leader)), 'infra_offload_learned_connections') === learned ? true : undefined), 10_000, recent);
    const l = await scrape(healthOf(leader));
    expect(byLabel(l, 'infra_offload_learned_connections', 'table')).to.deep.equal({ ct_forward: 2, ct_reverse: 2 });
  });

  it('a killed agent is a new process (process_start_time_seconds), ready again, and pulled again by the leader', async () => {
    const startedAt = valueOf(await scrape(agentHealth()), 'process_start_time_seconds')!;
    const pulls = async () => valueOf(await scrape(healthOf(leader)), `${REQUESTS}_count`, { op: 'agent.sync', result: 'ok' }) ?? 0;
    const pulled = await pulls();
    node.agent.kill('SIGKILL');
    await node.agent.waitExit();
    const again = await until('the agent back', async () => {
      const s = await scrape(agentHealth()).catch(() => undefined);
      const t = s && valueOf(s, 'process_start_time_seconds');
      return t !== undefined && t > startedAt ? s : undefined;
    }, 20_000, recent);
    expect(valueOf(again, 'infra_offload_actor_restarts_total', { kind: 'bus' }), 'a fresh process has restarted nothing').to.equal(0);
    await until('the agent ready again', async () => ((await get(agentHealth(), '/readyz')).status === 200 ? true : undefined), 15_000, recent);
    await until('the leader pulled the new agent\'s state', async () => ((await pulls()) > pulled ? true : undefined), 15_000, recent);
  });

  it('kill -9 of the leader: the standby leads (1, a higher epoch, ready); the restarted one stands by (0)', async () => {
    const oldEpoch = valueOf(await scrape(healthOf(leader)), 'infra_offload_leader_epoch')!;
    const victim = leader;
    victim.kill('SIGKILL');
    await victim.waitExit();
    const next = await roles();
    expect(next.leader).to.equal(standby);
    expect(next.standby).to.equal(victim);
    const l = await scrape(healthOf(next.leader));
    expect(valueOf(l, 'infra_offload_leader')).to.equal(1);
    expect(valueOf(l, 'infra_offload_leader_epoch')).to.be.greaterThan(oldEpoch);
    // The restarted standby shows the holder's epoch once its lease keeper has read the key (one
    // heartbeat after it starts), which may come after its readiness already says "standby".
    const epoch = valueOf(l, 'infra_offload_leader_epoch');
    const s = await until('the standby shows the holder\'s epoch', async () => {
      const scraped = await scrape(healthOf(next.standby));
      return valueOf(scraped, 'infra_offload_leader_epoch') === epoch ? scraped : undefined;
    }, 10_000, recent);
    expect(valueOf(s, 'infra_offload_leader')).to.equal(0);
    expect(valueOf(s, 'infra_offload_leader_epoch')).to.equal(epoch);
    ({ leader, standby } = next);
  });

  it('a restarted nats-server: every process counts a disconnect and a reconnect', async () => {
    const port = node.nats.port;
    await node.nats.stop();
    natsAgain = await startNatsServer({ dir: node.nats.dir, port });
    const addresses = [...node.health!.managers, node.health!.agent];
    for (const a of addresses) {
      const s = await until(`${a} reconnected`, async () => {
        const x = await scrape(a);
        return (valueOf(x, 'infra_offload_bus_reconnects_total') ?? 0) >= 1 ? x : undefined;
      }, 15_000, recent);
      expect(valueOf(s, 'infra_offload_bus_disconnects_total')).to.be.at.least(1);
    }
    // The node works on: the leader is ready again.
    await roles();
  });

  it('every metric the processes export has a help text and is documented in docs/operations.md', async () => {
    const docs = await readFile(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    for (const address of [healthOf(leader), agentHealth()]) {
      const text = (await get(address, '/metrics')).text;
      for (const [name, help] of helpTexts(text)) {
        if (!name.startsWith('infra_offload_')) continue;
        expect(help.length, `${name} has a help text`).to.be.greaterThan(20);
        expect(docs, `${name} in docs/operations.md`).to.contain(`\`${name}\``);
      }
    }
  });
});
