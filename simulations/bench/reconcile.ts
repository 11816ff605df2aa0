/**
 * bench:reconcile — the hardware session's reconcile after a manager restart, against an intact
 * target (must write nothing) and against a wiped one (must write everything, in dependency
 * order), next to a raw batch write of the same entities measured in the same run.
 *
 * Workload: 10,000 services × 10 endpoints plus 5,000 pods, rendered by the manager's own render.
 * Last line: {"bench":"reconcile","entries":…,"intact_s":…,"intact_writes":0,"wiped_s":…,"raw_write_s":…,"wiped_ratio":…,
 * "intact_ratio":…,"read_s":…} — read_s: a Read of everything with nothing decoded, the floor of intact_s.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createActor } from 'xstate';
import { sessionLogic } from '../../actors/manager/session/session.js';
import { readAllRequest, type WriteCounts } from '../../actors/manager/session/session-io.js';
import { systemClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { desiredSet, diffEntities, type Keyed } from '../../p4/desired.js';
import { DEFAULT_P4INFO_PATH, loadP4Info } from '../../p4/p4info.js';
import { assignIds, newIdPools, render } from '../../p4/render.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import type { PodInterface, ServicePort } from '../../protocol/intent.js';
import { startTarget, type TargetProcess } from '../target-process.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10);
const PODS = Number(process.env.BENCH_PODS ?? 5_000);
const BATCH = 2000;
const NODE = 'bench-node';

const info = loadP4Info();
const p4infoJson = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as unknown;

function workload(): ReadonlyMap<string, Keyed> {
  const pods: PodInterface[] = Array.from({ length: PODS }, (_, i) => ({
    node: NODE,
    namespace: 'bench',
    name: `pod-${i}`,
    containerId: `c${i}`,
    interfaceName: `P4TAP_${i + 2}`,
    portId: i + 2,
    ipv4: 0x0af40000 + i + 10,
    mac: 0x020000000000 + i + 10,
  }));
  const services: ServicePort[] = Array.from({ length: SERVICES }, (_, s) => ({
    namespace: 'bench',
    name: `svc-${s}`,
    portName: '',
    clusterIp: 0x0a600000 + s + 1,
    port: 80,
    protocol: 'TCP',
    // Endpoints on other nodes, distinct per service: every service has its own 10 members.
    endpoints: Array.from({ length: ENDPOINTS }, (_, e) => ({ ipv4: 0x0b000000 + s * ENDPOINTS + e, port: 8080, node: 'other', ready: true, serving: true, terminating: false })),
  }));
  const intent = { node: NODE, host: undefined, pods, services };
  const pools = newIdPools(info);
  assignIds(intent, pools);
  return desiredSet(render(info, intent, pools));
}

async function reconcileOnce(target: TargetProcess, desired: ReadonlyMap<string, Keyed>, electionId: bigint): Promise<{ seconds: number; counts: WriteCounts }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const session = createActor(sessionLogic, {
      clock: systemClock,
      input: {
        address: target.address,
        deviceId: 1,
        electionId,
        p4infoJson,
        desired: () => desired,
        volatileTables: new Set(info.tables.filter((t) => t.addOnMiss).map((t) => t.id)),
        profileIds: info.actionProfiles.map((p) => p.id),
        resyncMs: 3_600_000,
        batchSize: BATCH,
        backoff: { initialMs: 50, maxMs: 1000 },
        random: seededRandom(1),
        logger: silentLogs().root,
        onSynced: (counts) => {
          const seconds = (performance.now() - t0) / 1000;
          session.stop();
          resolve({ seconds, counts });
        },
      },
    });
    session.subscribe({ error: reject });
    session.start();
  });
}

async function rawWrite(target: TargetProcess, desired: ReadonlyMap<string, Keyed>): Promise<number> {
  const client = new P4RuntimeClient(target.address);
  const stream = client.openStream();
  stream.send({ arbitration: { device_id: 1, election_id: { high: 0, low: 1 } } });
  await stream.next();
  const plan = diffEntities(desired, [], { volatileTables: new Set() });
  const t0 = performance.now();
  for (const phase of plan.phases) {
    for (let i = 0; i < phase.length; i += BATCH) {
      await client.write({ device_id: 1, election_id: { high: 0, low: 1 }, updates: phase.slice(i, i + BATCH) });
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  stream.close();
  client.close();
  return seconds;
}

/** A Read of every table, member and group, its messages counted and not decoded: the read alone. */
async function rawRead(target: TargetProcess): Promise<number> {
  const client = new P4RuntimeClient(target.address);
  let bytes = 0;
  const t0 = performance.now();
  await client.readEach(readAllRequest(1, info.actionProfiles.map((p) => p.id)), (m) => void (bytes += m.length));
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  if (bytes === 0) throw new Error('the raw read returned nothing');
  return seconds;
}

async function main(): Promise<void> {
  const desired = workload();
  console.log(`workload: ${SERVICES} services × ${ENDPOINTS} endpoints + ${PODS} pods → ${desired.size} entities (members, groups, table entries)`);
  const raw = await startTarget();
  const rawS = await rawWrite(raw, desired);
  await raw.stop();
  console.log(`raw batch write of ${desired.size} entities: ${rawS.toFixed(2)} s (${Math.round(desired.size / rawS)} entities/s)`);

  const target = await startTarget();
  const admin = new TargetAdminClient(target.address);
  try {
    const wiped = await reconcileOnce(target, desired, 1n);
    console.log(`reconcile against a wiped target: ${wiped.seconds.toFixed(2)} s, ${wiped.counts.insert} inserts in ${wiped.counts.writes} writes`);
    const before = (await admin.stats()) as { writeRpcs: number };
    const intact = await reconcileOnce(target, desired, 2n);
    const after = (await admin.stats()) as { writeRpcs: number; updatesFailed: number };
    const intactWrites = after.writeRpcs - before.writeRpcs;
    console.log(`reconcile after a manager restart (intact target): ${intact.seconds.toFixed(2)} s, ${intactWrites} writes counted at the target, ${intact.counts.unchanged} unchanged`);
    const readS = await rawRead(target);
    console.log(`a Read of everything, undecoded (the floor of an intact reconcile): ${readS.toFixed(2)} s`);
    console.log(`ratios: intact / raw ${(intact.seconds / rawS).toFixed(2)} (goal ≤ 0.5), wiped / raw ${(wiped.seconds / rawS).toFixed(2)} (goal ≤ 1.5); failed updates at the target: ${after.updatesFailed}`);
    console.log(
      JSON.stringify({
        bench: 'reconcile',
        entries: desired.size,
        intact_s: round(intact.seconds),
        intact_writes: intactWrites,
        wiped_s: round(wiped.seconds),
        raw_write_s: round(rawS),
        wiped_ratio: round(wiped.seconds / rawS),
        intact_ratio: round(intact.seconds / rawS),
        read_s: round(readS),
      }),
    );
  } finally {
    admin.close();
    await target.stop();
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
