/**
 * The hardware session's metrics against the software target as a separate process: write
 * results by op and code equal the target's own counters (failures included), table occupancy
 * equals what a P4Runtime read of the target returns per table and per action profile, learned
 * connections equal the target's learned entries after a reconcile reads them, reconcile
 * durations and entries match what the session reports, and readiness follows the session.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor } from 'xstate';
import { sessionLogic, sessionReadiness, type SessionRef } from '../../actors/manager/session/session.js';
import type { WriteCounts } from '../../actors/manager/session/session-io.js';
import { newRegistry, rpcCodeName, SessionMetrics } from '../../actors/metrics/index.js';
import { systemClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { desiredSet, type WireEntity } from '../../p4/desired.js';
import { ip, mac, tcp } from '../../p4/frames.js';
import { DEFAULT_P4INFO_PATH, loadP4Info } from '../../p4/p4info.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';
import { byLabel, parseExposition, total, until, valueOf, type Sample } from './support.js';

const info = loadP4Info();
const p4infoJson = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as unknown;
const T = (n: string) => info.tableByName(`MainControlImpl.${n}`).id;
const A = (n: string) => info.actionByName(`MainControlImpl.${n}`).id;
const SEL = info.actionProfileByName('MainControlImpl.lb_selector').id;
const VOLATILE = new Set(info.tables.filter((t) => t.addOnMiss).map((t) => t.id));
const be = (v: number, bytes: number): Uint8Array => Uint8Array.from({ length: bytes }, (_, i) => Math.floor(v / 256 ** (bytes - 1 - i)) & 255);
const exact = (id: number, v: number, bytes: number) => ({ field_id: id, exact: { value: be(v, bytes) } });
const param = (id: number, v: number, bytes: number) => ({ param_id: id, value: be(v, bytes) });
const POD_BASE = ip('10.244.0.10');
const VIP_BASE = ip('10.96.0.1');

/** Pods (a route and an ARP entry each) and services (a group of endpoint members and a VIP entry). */
function render(pods: readonly number[], services: number, endpoints: number): WireEntity[] {
  const out: WireEntity[] = [];
  for (const p of pods) {
    out.push({ table_entry: { table_id: T('ipv4_to_port'), match: [exact(1, POD_BASE + p, 4)], action: { action: { action_id: A('set_dest_mac_port'), params: [param(1, p + 2, 4), param(2, 0x020000000000 + p, 6)] } } } });
    out.push({ table_entry: { table_id: T('arp_to_port'), match: [exact(1, POD_BASE + p, 4)], action: { action: { action_id: A('set_port'), params: [param(1, p + 2, 4)] } } } });
  }
  for (let s = 0; s < services; s++) {
    const members: number[] = [];
    for (let e = 0; e < endpoints; e++) {
      const id = s * 100 + e + 1;
      members.push(id);
      out.push({ action_profile_member: { action_profile_id: SEL, member_id: id, action: { action_id: A('lb_set_endpoint'), params: [param(1, POD_BASE + pods[(s + e) % pods.length]!, 4), param(2, 8080, 2)] } } });
    }
    out.push({ action_profile_group: { action_profile_id: SEL, group_id: s + 1, members: members.map((m) => ({ member_id: m, weight: 1 })), max_size: 64 } });
    out.push({ table_entry: { table_id: T('service_lb'), match: [exact(1, VIP_BASE + s, 4), exact(2, 6, 1), exact(3, 80, 2)], action: { action_profile_group_id: s + 1 } } });
  }
  return out;
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('metrics: the hardware session against the target', function () {
  this.timeout(40_000);
  let dir: string;
  let target: TargetProcess;
  let admin: TargetAdminClient;
  let reader: P4RuntimeClient;
  let session: SessionRef;
  const registry = newRegistry();
  const synced: { counts: WriteCounts; kind: string }[] = [];
  let desired = desiredSet(render(range(40), 8, 4));

  const samples = async (): Promise<Sample[]> => parseExposition(await registry.metrics());
  const stats = async () =>
    (await admin.stats()) as { inserts: number; modifies: number; deletes: number; updatesFailed: number; failedByCode: Record<string, number>; learned: number };

  /** What the target holds, counted per table alias (learned tables apart) and per profile. */
  async function targetCounts(): Promise<{ tables: Record<string, number>; learned: Record<string, number>; members: number; groups: number }> {
    const entities = await reader.read({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }, { action_profile_member: { action_profile_id: SEL } }, { action_profile_group: { action_profile_id: SEL } }] });
    const tables: Record<string, number> = {};
    const learned: Record<string, number> = {};
    for (const t of info.tables) (t.addOnMiss ? learned : tables)[t.alias] = 0;
    let members = 0;
    let groups = 0;
    for (const e of entities) {
      const te = e.table_entry as { table_id: number } | undefined;
      if (te) {
        const alias = info.table(Number(te.table_id))!.alias;
        if (VOLATILE.has(Number(te.table_id))) learned[alias]!++;
        else tables[alias]!++;
      } else if (e.action_profile_member) members++;
      else if (e.action_profile_group) groups++;
    }
    return { tables, learned, members, groups };
  }

  /** The metrics' write results, by op then code, against the target's counters. */
  async function expectWritesMatchTarget(): Promise<void> {
    const s = await samples();
    const st = await stats();
    const ok = byLabel(s, 'infra_offload_p4_write_updates_total', 'op', { code: 'OK' });
    expect(ok, 'successful updates by op').to.deep.equal({ insert: st.inserts, modify: st.modifies, delete: st.deletes });
    const failed: Record<string, number> = {};
    for (const x of s) if (x.name === 'infra_offload_p4_write_updates_total' && x.labels.code !== 'OK' && x.value > 0) failed[x.labels.code!] = (failed[x.labels.code!] ?? 0) + x.value;
    const targetFailed = Object.fromEntries(Object.entries(st.failedByCode ?? {}).map(([code, n]) => [rpcCodeName(Number(code)), Number(n)]));
    expect(failed, 'failed updates by code').to.deep.equal(targetFailed);
  }

  async function expectOccupancyMatchesTarget(): Promise<void> {
    const s = await samples();
    const t = await targetCounts();
    expect(byLabel(s, 'infra_offload_p4_table_entries', 'table'), 'entries per table').to.deep.equal(t.tables);
    expect(byLabel(s, 'infra_offload_p4_action_profile_entries', 'kind', { profile: 'lb_selector' })).to.deep.equal({ member: t.members, group: t.groups });
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ioff-session-metrics-'));
    target = await startTarget({ socketPath: join(dir, 'p4rt.sock') });
    admin = new TargetAdminClient(target.address);
    reader = new P4RuntimeClient(target.address);
    session = createActor(sessionLogic, {
      clock: systemClock,
      input: {
        address: target.address,
        deviceId: 1,
        electionId: 1n,
        p4infoJson,
        desired: () => desired,
        volatileTables: VOLATILE,
        profileIds: [SEL],
        resyncMs: 400,
        batchSize: 64,
        backoff: { initialMs: 50, maxMs: 500 },
        random: seededRandom(5),
        logger: silentLogs().root,
        onSynced: (counts, kind) => synced.push({ counts, kind }),
        observer: new SessionMetrics(registry, info),
      },
    });
    session.subscribe({ error: (e) => console.error('session failed', e) });
    session.start();
  });
  after(async () => {
    session?.stop();
    admin?.close();
    reader?.close();
    await target?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after the first reconcile: writes by code equal the target\'s counters, occupancy equals the target\'s tables', async () => {
    expect(sessionReadiness(session.getSnapshot()).ready).to.equal(false);
    await until('the first reconcile', () => (synced.length > 0 ? true : undefined));
    expect(sessionReadiness(session.getSnapshot())).to.deep.include({ ready: true });
    const s = await samples();
    expect(valueOf(s, 'infra_offload_reconcile_entries_total', { kind: 'insert' })).to.equal(desired.size).and.equal(synced[0]!.counts.insert);
    expect(total(s, 'infra_offload_reconcile_duration_seconds_count', { result: 'ok' })).to.be.at.least(1);
    await expectWritesMatchTarget();
    await expectOccupancyMatchesTarget();
    expect(byLabel(s, 'infra_offload_p4_table_entries', 'table')).to.deep.equal({ arp_to_port: 40, service_lb: 8, ipv4_to_port: 40 });
  });

  it('learned connections: the gauge equals the target\'s learned entries once a reconcile has read them', async () => {
    // Two connections through a VIP, each learned in both directions by the data plane.
    for (const sport of [40000, 40001]) {
      const syn = tcp({ src: mac('02:00:00:00:00:05'), dst: mac('02:00:00:00:00:01'), srcIp: POD_BASE + 5, dstIp: VIP_BASE, sport, dport: 80, flags: 'S' });
      const out = await admin.process(7, syn);
      expect(out.dropped, out.dropReason).to.equal(false);
    }
    const learned = (await stats()).learned;
    expect(learned).to.equal(4);
    const reconciles = synced.filter((x) => x.kind === 'reconcile').length;
    await until('a resync reconcile', () => (synced.filter((x) => x.kind === 'reconcile').length > reconciles ? true : undefined));
    const s = await samples();
    expect(byLabel(s, 'infra_offload_learned_connections', 'table')).to.deep.equal((await targetCounts()).learned);
    expect(total(s, 'infra_offload_learned_connections')).to.equal(learned);
    // Resyncs of an intact target write nothing, and say so.
    expect(valueOf(s, 'infra_offload_reconcile_entries_total', { kind: 'modify' })).to.equal(0);
    expect(valueOf(s, 'infra_offload_reconcile_duration_seconds_count', { result: 'ok' })).to.equal(synced.filter((x) => x.kind === 'reconcile').length);
  });

  it('a sync that adds and removes: occupancy and write results still equal the target\'s', async () => {
    const before = synced.length;
    desired = desiredSet(render(range(30, 15), 6, 5)); // pods 0–14 gone, 40–44 new; fewer, wider services
    session.send({ type: 'desired.changed' });
    await until('the change written', () => (synced.length > before ? true : undefined));
    await expectOccupancyMatchesTarget();
    await expectWritesMatchTarget();
    const s = await samples();
    expect(byLabel(s, 'infra_offload_p4_table_entries', 'table')).to.deep.equal({ arp_to_port: 30, service_lb: 6, ipv4_to_port: 30 });
    expect(byLabel(s, 'infra_offload_p4_action_profile_entries', 'kind')).to.deep.equal({ member: 30, group: 6 });
  });

  it('a write the target refuses: counted under the target\'s code, readiness degraded until a reconcile succeeds', async () => {
    const bad: WireEntity = { table_entry: { table_id: T('ipv4_to_port'), match: [exact(1, ip('10.244.9.9'), 4)], action: { action: { action_id: A('lb_set_endpoint'), params: [param(1, 1, 4), param(2, 80, 2)] } } } };
    desired = desiredSet([...render(range(30, 15), 6, 5), bad]);
    session.send({ type: 'desired.changed' });
    const degraded = await until('degraded', () => {
      const r = sessionReadiness(session.getSnapshot());
      return r.state === 'degraded' ? r : undefined;
    });
    expect(degraded.ready).to.equal(false);
    expect(degraded.reason).to.match(/the target refused the last write/);
    const st = await stats();
    expect(st.updatesFailed).to.be.at.least(1);
    await expectWritesMatchTarget();
    // The refused entry is not counted as programmed.
    expect(byLabel(await samples(), 'infra_offload_p4_table_entries', 'table')).to.deep.equal((await targetCounts()).tables);

    const before = synced.length;
    desired = desiredSet(render(range(30, 15), 6, 5));
    session.send({ type: 'desired.changed' });
    await until('repaired', () => (synced.length > before && sessionReadiness(session.getSnapshot()).ready ? true : undefined));
    await expectOccupancyMatchesTarget();
    await expectWritesMatchTarget();
  });
});
