/**
 * bench:bus — a typed request/reply through our bus (encode, precheck, decode, validate, route,
 * reply, decode) against a raw NATS request/reply carrying the same bytes, on the same
 * connections, in the same run, interleaved in blocks so both see the same machine noise.
 *
 * Last line: {"bench":"bus","p50_us":…,"raw_p50_us":…,"ratio":…}
 */
import { performance } from 'node:perf_hooks';
import { silentLogs } from '../../core/logger.js';
import { ok } from '../../core/result.js';
import { Bus, route } from '../../messages/bus.js';
import { prefix, subjects } from '../../messages/subjects.js';
import { managerMethods } from '../../protocol/methods.js';
import type { PodInterface } from '../../protocol/intent.js';
import { startNatsServer } from '../nats-server.js';

const NODE = 'bench-node';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const BLOCK = Number(process.env.BENCH_BLOCK ?? 250);
const WARMUP = 1000;

const pod: PodInterface = {
  node: NODE,
  namespace: 'default',
  name: 'iperf-server-5d8f7b6c9-x2k4q',
  containerId: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  interfaceName: 'P4TAP_7',
  portId: 7,
  ipv4: 0x0af40007,
  mac: 0x02000af40007,
};

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  const nats = await startNatsServer({ jetstream: false });
  const logger = silentLogs().root;
  const server = await Bus.connect({ servers: nats.url, name: 'bench-server', logger });
  const client = await Bus.connect({ servers: nats.url, name: 'bench-client', logger });
  try {
    const reply = { revision: 42, changed: true };
    server.serve(prefix(NODE, 'manager'), [route(managerMethods.podAdd, () => ok(reply))]);
    const requestBytes = managerMethods.podAdd.request.encode(pod);
    const replyBytes = managerMethods.podAdd.response.encode(reply);
    const rawSubject = `bench.raw.${NODE}`;
    server.connection.subscribe(rawSubject, {
      callback: (_e, m) => {
        m.respond(replyBytes);
      },
    });
    await server.connection.flush();
    const typedSubject = subjects.manager(NODE, 'pod.add');

    const typedOnce = async (): Promise<void> => {
      const r = await client.request(typedSubject, managerMethods.podAdd, pod);
      if (!r.ok) throw r.error;
    };
    const rawOnce = async (): Promise<void> => {
      await client.connection.request(rawSubject, requestBytes, { timeout: 2000 });
    };
    for (let i = 0; i < WARMUP; i++) {
      await typedOnce();
      await rawOnce();
    }
    const typed = new Float64Array(ROUNDS * BLOCK);
    const raw = new Float64Array(ROUNDS * BLOCK);
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < BLOCK; i++) {
        const t0 = performance.now();
        await rawOnce();
        raw[n + i] = (performance.now() - t0) * 1000;
      }
      for (let i = 0; i < BLOCK; i++) {
        const t0 = performance.now();
        await typedOnce();
        typed[n + i] = (performance.now() - t0) * 1000;
      }
      n += BLOCK;
    }
    typed.sort();
    raw.sort();
    const p50 = percentile(typed, 0.5);
    const rawP50 = percentile(raw, 0.5);
    console.log(`payload: request ${requestBytes.length} B, reply ${replyBytes.length} B; ${n} round trips each, interleaved in blocks of ${BLOCK}`);
    console.log(`raw NATS request/reply  p50 ${rawP50.toFixed(1)} µs  p90 ${percentile(raw, 0.9).toFixed(1)} µs  p99 ${percentile(raw, 0.99).toFixed(1)} µs`);
    console.log(`typed bus request/reply p50 ${p50.toFixed(1)} µs  p90 ${percentile(typed, 0.9).toFixed(1)} µs  p99 ${percentile(typed, 0.99).toFixed(1)} µs`);
    console.log(`ratio (typed / raw, medians): ${(p50 / rawP50).toFixed(3)}  (goal ≤ 1.15)`);
    console.log(
      JSON.stringify({
        bench: 'bus',
        p50_us: round1(p50),
        raw_p50_us: round1(rawP50),
        ratio: Math.round((p50 / rawP50) * 1000) / 1000,
        p99_us: round1(percentile(typed, 0.99)),
        raw_p99_us: round1(percentile(raw, 0.99)),
        samples: n,
      }),
    );
  } finally {
    await client.close();
    await server.close();
    await nats.stop();
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
