/**
 * bench:programming — network programming latency: one endpoint change, from the agent's request
 * leaving to the entries being written at the target, with 10,000 services × 10 endpoints
 * programmed. Processes as in production: nats-server (JetStream), the software target and the
 * manager (bin/manager); this process plays the agent (AgentStandin: heartbeats, agent.sync,
 * managerMethods requests).
 *
 * A change adds an 11th endpoint to a random service or removes it again (each is a member
 * written and the service's group modified: two updates at the target). "Written" is the moment
 * the target acknowledged the Write of those updates, seen here through the manager's
 * `events.programmed` (published by the session's onSynced when the target has answered its
 * Write: every change answered with a revision up to the event's is in the data plane), one NATS
 * hop later — which the figure includes. The target's own counters (TargetAdmin.Stats) confirm,
 * outside the timing, that each change's two updates landed. BENCH_DETECT=stats measures instead
 * by polling Stats once the manager's reply is in (max(reply, written) plus the poll interval):
 * on a two-core machine a poll loop competes with the manager and the target for CPU and inflates
 * what it measures, which is why it is not the default.
 *
 * The floor, measured in the same run, interleaved sample by sample: a bare NATS request/reply
 * (the same request bytes to an echo responder in another connection), plus a bare KV put (the
 * same record bytes, kv.put), plus bare P4Runtime Writes of the same two updates in dependency
 * order (member then group, or group then member: two Write calls, as P4Runtime may reorder
 * updates inside one) on a second target process holding the same service.
 *
 * Last line: {"bench":"programming","services":10000,"p50_ms":…,"p99_ms":…,"floor_p50_ms":…,"floor_p99_ms":…,"ratio_p99":…}
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kvm } from '@nats-io/kv';
import { stringify } from 'yaml';
import { encodeService } from '../../actors/intent/intent-records.js';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { subjects } from '../../messages/subjects.js';
import { loadP4Info } from '../../p4/p4info.js';
import { memberEntity, serviceEntities } from '../../p4/render.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { changeReplyCodec, type Endpoint, type ServicePort } from '../../protocol/intent.js';
import { managerMethods } from '../../protocol/methods.js';
import { AgentStandin } from '../agent-standin.js';
import { startNatsServer } from '../nats-server.js';
import { ManagedProcess } from '../processes.js';
import { startTarget } from '../target-process.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10_000);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 1_200);
/** How 'written at the target' is observed: the manager's programmed event (default) or Stats polling. */
const DETECT = process.env.BENCH_DETECT === 'stats' ? 'stats' : 'event';
const WARMUP = 100;
const NODE = 'bench-node';
const info = loadP4Info();

const endpoint = (ipv4: number): Endpoint => ({ ipv4, port: 8080, node: 'other', ready: true, serving: true, terminating: false });
const service = (s: number, extra: boolean): ServicePort => ({
  namespace: 'bench',
  name: `svc-${s}`,
  portName: '',
  clusterIp: 0x0a600000 + s + 1,
  port: 80,
  protocol: 'TCP',
  // Endpoints on another node, distinct per service (every service has its own members); the
  // extra one lives in 11.128.0.0/9, away from the others.
  endpoints: [...Array.from({ length: ENDPOINTS }, (_, e) => endpoint(0x0b000000 + s * ENDPOINTS + e)), ...(extra ? [endpoint(0x0b800000 + s)] : [])],
});

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

interface Counters {
  readonly updates: number;
  readonly failed: number;
}

async function counters(admin: TargetAdminClient): Promise<Counters> {
  const s = (await admin.stats()) as { inserts: number; modifies: number; deletes: number; updatesFailed: number };
  return { updates: s.inserts + s.modifies + s.deletes, failed: s.updatesFailed };
}

/** Polls the target until `n` more updates landed; resolves with the time it saw them. */
async function writtenAt(admin: TargetAdminClient, before: number, n: number): Promise<number> {
  for (;;) {
    const c = await counters(admin);
    if (c.updates >= before + n) return performance.now();
  }
}

/**
 * The manager's `events.programmed` (ChangeReply: every change answered with a revision up to
 * this one is written at the target, published when the target acknowledged the Write): when each
 * revision was first seen here, one NATS hop after the target's answer.
 */
function programmedEvents(bus: Bus): { at: (revision: number) => Promise<number>; stop: () => void } {
  const seen: { revision: number; at: number }[] = [];
  let wake: (() => void) | undefined;
  const sub = bus.subscribe(subjects.events(NODE, 'programmed'), changeReplyCodec, (r) => {
    if (!r.ok) return;
    seen.push({ revision: r.value.revision, at: performance.now() });
    if (seen.length > 64) seen.shift();
    wake?.();
  });
  return {
    at: async (revision) => {
      for (;;) {
        const hit = seen.find((e) => e.revision >= revision);
        if (hit) return hit.at;
        await new Promise<void>((res) => (wake = res));
      }
    },
    stop: () => sub.stop(),
  };
}

async function waitFor(what: string, ms: number, done: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The floor's P4Runtime side: a second target holding service 0, written the same way. */
async function floorTarget(): Promise<{ write: (extra: boolean) => Promise<number>; close: () => Promise<void> }> {
  const target = await startTarget();
  const client = new P4RuntimeClient(target.address);
  const stream = client.openStream();
  const election = { high: 0, low: 1 };
  stream.send({ arbitration: { device_id: 1, election_id: election } });
  await stream.next();
  const write = (updates: unknown[]): Promise<unknown> => client.write({ device_id: 1, election_id: election, updates });
  const base = service(0, false);
  const ids = base.endpoints.map((_, i) => 2 + i);
  await write(base.endpoints.map((e, i) => ({ type: 'INSERT', entity: memberEntity(info, e, ids[i]!) })));
  const [group, entry] = serviceEntities(info, base, 1, ids);
  await write([{ type: 'INSERT', entity: group }]);
  await write([{ type: 'INSERT', entity: entry }]);
  const extraMember = memberEntity(info, endpoint(0x0b800000), 2 + ENDPOINTS);
  const groupWith = serviceEntities(info, service(0, true), 1, [...ids, 2 + ENDPOINTS])[0]!;
  return {
    write: async (extra) => {
      const t0 = performance.now();
      if (extra) {
        await write([{ type: 'INSERT', entity: extraMember }]);
        await write([{ type: 'MODIFY', entity: groupWith }]);
      } else {
        await write([{ type: 'MODIFY', entity: group }]);
        await write([{ type: 'DELETE', entity: { action_profile_member: (extraMember.action_profile_member as Record<string, unknown>) } }]);
      }
      return performance.now() - t0;
    },
    close: async () => {
      stream.close();
      client.close();
      await target.stop();
    },
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-programming-'));
  const nats = await startNatsServer();
  const target = await startTarget();
  const config = {
    node: { name: NODE, ip: '192.0.2.10', podCidr: '10.244.0.0/16' },
    nats: { servers: [nats.url], timeoutMs: 10_000, insecure: true },
    heartbeat: { intervalMs: 1000, missedBeats: 3 },
    logging: { level: 'warn', modules: {} },
    p4: { target: target.address, resyncMs: 86_400_000, insecure: true },
  };
  await writeFile(join(dir, 'manager.yaml'), stringify(config));
  const manager = new ManagedProcess({ name: 'manager', bin: 'manager', args: ['--config', join(dir, 'manager.yaml')], onLog: (_n, l) => typeof l !== 'string' && l.level >= 50 && console.error(l.msg) });
  manager.start();
  const agent = await AgentStandin.start({ servers: nats.url, node: NODE, heartbeatMs: 1000, seed: 1 });
  const admin = new TargetAdminClient(target.address);
  const bus = await Bus.connect({ servers: nats.url, name: 'bench', logger: silentLogs().root, timeoutMs: 10_000 });
  const floor = await floorTarget();
  try {
    // The manager leads and has pulled the (still empty) agent.
    const hello = { node: NODE, role: 'agent' as const, instanceId: agent.instanceId, startedAtMs: 1, version: 'bench', nodeIp: 0, podCidr: '' };
    await waitFor('the manager pulls the agent', 60_000, async () => {
      const r = await bus.request(subjects.manager(NODE, managerMethods.hello.op), managerMethods.hello, hello);
      return r.ok && !r.value.resyncRequested;
    });
    await program(agent, admin);
    await measure(agent, admin, bus, nats.url, floor);
  } finally {
    await floor.close();
    admin.close();
    await bus.close();
    await agent.stop();
    await manager.stop();
    await target.stop();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sends every service (many in flight: the manager commits them in batches) and waits for the target. */
async function program(agent: AgentStandin, admin: TargetAdminClient): Promise<void> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < SERVICES) {
        const step = { kind: 'service' as const, service: service(next++, false) };
        agent.truth.apply(step);
        for (;;) {
          const r = await agent.send(step);
          if (r.ok) break;
          if (r.error.code !== 'UNAVAILABLE' && r.error.code !== 'DEADLINE_EXCEEDED') throw r.error;
        }
      }
    }),
  );
  const answered = performance.now();
  const expected = SERVICES * (ENDPOINTS + 2);
  await waitFor('the target holds every entity', 300_000, async () => (await counters(admin)).updates >= expected);
  console.log(`programmed ${SERVICES} services × ${ENDPOINTS} endpoints: answered in ${((answered - t0) / 1000).toFixed(1)} s, at the target in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

interface Samples {
  readonly latencies: number[];
  readonly floors: number[];
  readonly parts: { readonly nats: number[]; readonly kv: number[]; readonly p4: number[]; readonly reply: number[] };
  unconfirmed: number;
}

/** The floor's NATS and KV parts: an echo responder on another connection, a bucket like ours. */
async function floorBus(bus: Bus, natsUrl: string): Promise<{ sample: (step: ServicePort, s: number) => Promise<[number, number]>; close: () => Promise<void> }> {
  const echo = await Bus.connect({ servers: natsUrl, name: 'bench-echo', logger: silentLogs().root });
  const sub = echo.connection.subscribe('bench.echo', {
    callback: (_e, m) => {
      m.respond(new Uint8Array(8));
    },
  });
  const kv = await new Kvm(bus.connection).create('bench_floor', { history: 1 });
  return {
    sample: async (svc, s) => {
      const bytes = managerMethods.serviceUpsert.request.encode({ node: NODE, service: svc });
      const f0 = performance.now();
      const echoed = await bus.requestBytes('bench.echo', bytes);
      if (!echoed.ok) throw echoed.error;
      const f1 = performance.now();
      await kv.put(`svc.${s}`, encodeService(NODE, svc, 1, svc.endpoints.map((_, k) => 2 + k)));
      return [f1 - f0, performance.now() - f1];
    },
    close: async () => {
      sub.unsubscribe();
      await echo.close();
    },
  };
}

async function measure(agent: AgentStandin, admin: TargetAdminClient, bus: Bus, natsUrl: string, floor: Awaited<ReturnType<typeof floorTarget>>): Promise<void> {
  const floorNats = await floorBus(bus, natsUrl);
  const programmed = programmedEvents(bus);
  const extra = new Set<number>();
  const out: Samples = { latencies: [], floors: [], parts: { nats: [], kv: [], p4: [], reply: [] }, unconfirmed: 0 };
  let floorExtra = false;
  let seed = 12345;
  const rand = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  try {
    for (let i = 0; i < CHANGES + WARMUP; i++) {
      const s = rand(SERVICES);
      const adding = !extra.has(s);
      const step = { kind: 'service' as const, service: service(s, adding) };
      agent.truth.apply(step);
      const before = (await counters(admin)).updates;
      const t0 = performance.now();
      const r = await agent.send(step);
      const t2 = performance.now();
      if (!r.ok) throw r.error;
      const t1 = DETECT === 'stats' ? await writtenAt(admin, before, 2) : await programmed.at(r.value.revision);
      // Outside the timing: the target's own counters confirm the change's two updates landed.
      if (DETECT !== 'stats' && (await counters(admin)).updates < before + 2) out.unconfirmed++;
      if (adding) extra.add(s);
      else extra.delete(s);
      // The floor, for the same change, once the manager's follow-up work (its flow sweep) is over.
      await new Promise((res) => setTimeout(res, 3));
      const [nats, kv] = await floorNats.sample(step.service, s);
      floorExtra = !floorExtra; // the floor target alternates adding and removing its extra member
      const p4 = await floor.write(floorExtra);
      await new Promise((res) => setTimeout(res, 1));
      if (i < WARMUP) continue;
      out.latencies.push(t1 - t0);
      out.floors.push(nats + kv + p4);
      out.parts.nats.push(nats);
      out.parts.kv.push(kv);
      out.parts.p4.push(p4);
      out.parts.reply.push(t2 - t0);
    }
  } finally {
    programmed.stop();
    await floorNats.close();
  }
  report(out, (await counters(admin)).failed);
}

function report(samples: Samples, failed: number): void {
  const { latencies, floors, parts } = samples;
  const out = {
    bench: 'programming',
    services: SERVICES,
    p50_ms: round3(percentile(latencies, 50)),
    p99_ms: round3(percentile(latencies, 99)),
    floor_p50_ms: round3(percentile(floors, 50)),
    floor_p99_ms: round3(percentile(floors, 99)),
    ratio_p99: 0,
  };
  out.ratio_p99 = round3(out.p99_ms / out.floor_p99_ms);
  const detected = DETECT === 'event' ? `the programmed event, ${samples.unconfirmed} not confirmed by the target's counters` : 'Stats polling';
  console.log(`${latencies.length} endpoint changes (after ${WARMUP} warm-up): p50 ${out.p50_ms} ms, p99 ${out.p99_ms} ms, max ${round3(Math.max(...latencies))} ms; failed updates at the target: ${failed}; detected by ${detected}`);
  const p50 = (xs: number[]): string => round3(percentile(xs, 50)).toFixed(3);
  console.log(`parts p50: NATS ${p50(parts.nats)} ms, KV put ${p50(parts.kv)} ms, P4Runtime writes ${p50(parts.p4)} ms; the manager's reply after ${p50(parts.reply)} ms`);
  console.log(`floor (NATS request/reply + KV put + P4Runtime writes of the same updates): p50 ${out.floor_p50_ms} ms, p99 ${out.floor_p99_ms} ms; goal ratio_p99 ≤ 2`);
  console.log(JSON.stringify(out));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
