/**
 * bench:p4rt — P4Runtime table writes and reads against the software target in its own process,
 * over a Unix socket and over TCP (127.0.0.1): the client arbitrates as primary, commits a fresh
 * pipeline, inserts ENTRIES ipv4_to_port entries (distinct keys, set_dest_mac_port) in Write
 * batches of BATCH, one Write awaited at a time, then reads the table back in one Read and counts
 * the entities. The target's own counters (TargetAdmin.Stats) confirm every insert landed.
 *
 * The floor, measured in the same run and interleaved with the transports round by round: the
 * same WriteRequests encoded by the client's encoder, decoded by the target's decoder and applied
 * to a fresh in-process model, and the same ReadResponses built by the target and decoded by the
 * client — everything but gRPC, the sockets and the second process.
 *
 * k8s_dp sizes ipv4_to_port at 65,536 entries; the bench commits the same P4Info with the table
 * sized for ENTRIES (SetForwardingPipelineConfig, VERIFY_AND_COMMIT), which also clears the table
 * before each round.
 *
 * Last line: {"bench":"p4rt","write_eps":…,"read_eps":…,"floor_eps":…,…} where write_eps,
 * read_eps and read_s are the slower transport's medians over the rounds.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DEFAULT_P4INFO_PATH, parseP4Info, type P4Info } from '../../p4/p4info.js';
import { decodeReadResponse, encodeWriteRequest, P4RuntimeClient } from '../../p4/runtime-client.js';
import { fromProto3Json, p4Types } from '../../p4/runtime-proto.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { ReadChunker } from '../../p4/target/lean-read.js';
import { modelDevice } from '../../p4/target/model-program.js';
import { p4RuntimeServiceDefinition } from '../../p4/target/wire.js';
import { applyUpdates } from '../../p4/target/write-apply.js';
import { startTarget } from '../target-process.js';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const GOAL_WRITE_EPS = 150_000;
const GOAL_READ_S = 0.5;
const TABLE = 'MainControlImpl.ipv4_to_port';
const ACTION = 'MainControlImpl.set_dest_mac_port';
const DEVICE = 1;
const ELECTION = { high: 0, low: 1 };

type Msg = Record<string, unknown>;
type Transport = 'unix' | 'tcp';

interface Round {
  readonly writeS: number;
  readonly readS: number;
}

/** k8s_dp's P4Info (proto3 JSON) with ipv4_to_port sized for ENTRIES. */
function benchP4InfoJson(): Msg {
  const json = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as { tables: { preamble: { name: string }; size: string }[] };
  const t = json.tables.find((x) => x.preamble.name === TABLE);
  if (!t) throw new Error(`no table ${TABLE}`);
  if (Number(t.size) < ENTRIES) t.size = String(2 ** Math.ceil(Math.log2(ENTRIES)));
  return json;
}

const p4infoJson = benchP4InfoJson();
const info: P4Info = parseP4Info(p4infoJson);
const tableId = info.tableByName(TABLE).id;
const action = info.actionByName(ACTION);
const [portParam, dmacParam] = [action.params.find((p) => p.name === 'port')!.id, action.params.find((p) => p.name === 'dmac')!.id];
const dstField = info.tableByName(TABLE).matchFields[0]!.id;

/** Entry i: 10.x.y.z = 10.0.0.0 + i + 1, port i mod 4096 + 2, dmac 02:00:… + i. Canonical bytestrings. */
function entry(i: number): Msg {
  const ip = 0x0a000001 + i;
  const port = (i % 4096) + 2;
  return {
    table_entry: {
      table_id: tableId,
      match: [{ field_id: dstField, exact: { value: Uint8Array.of(ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255) } }],
      action: {
        action: {
          action_id: action.id,
          params: [
            { param_id: portParam, value: port > 255 ? Uint8Array.of(port >>> 8, port & 255) : Uint8Array.of(port) },
            { param_id: dmacParam, value: Uint8Array.of(2, 0, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255) },
          ],
        },
      },
    },
  };
}

/** The WriteRequest of the batch starting at entry `first`, built when sent (as a controller would). */
function batch(first: number): Msg {
  const n = Math.min(BATCH, ENTRIES - first);
  const updates = new Array<Msg>(n);
  for (let k = 0; k < n; k++) updates[k] = { type: 'INSERT', entity: entry(first + k) };
  return { device_id: DEVICE, election_id: ELECTION, updates };
}

const readRequest = { device_id: DEVICE, entities: [{ table_entry: { table_id: tableId } }] };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A connected primary client of a target process; `round()` runs one write-then-read round. */
async function connect(transport: Transport): Promise<{ round: () => Promise<Round>; close: () => Promise<void> }> {
  const target = await startTarget({ transport });
  const client = new P4RuntimeClient(target.address);
  const admin = new TargetAdminClient(target.address);
  const stream = client.openStream();
  const close = async (): Promise<void> => {
    stream.close();
    admin.close();
    client.close();
    const code = await target.stop();
    if (code !== 0) throw new Error(`${transport}: target exited with ${code}:\n${target.output.join('\n')}`);
  };
  try {
    stream.send({ arbitration: { device_id: DEVICE, election_id: ELECTION } });
    const arb = (await stream.next())?.arbitration as { status?: { code?: number } } | undefined;
    if (!arb || (arb.status?.code ?? 0) !== 0) throw new Error(`${transport}: not primary: ${JSON.stringify(arb ?? stream.ended)}`);
  } catch (e) {
    await close();
    throw e;
  }
  const config = { p4info: fromProto3Json(p4Types.P4Info, p4infoJson) };
  return {
    close,
    round: async () => {
      await client.setPipeline({ device_id: DEVICE, election_id: ELECTION, action: 'VERIFY_AND_COMMIT', config });
      const before = Number((await admin.stats()).inserts);
      let t = performance.now();
      for (let i = 0; i < ENTRIES; i += BATCH) await client.write(batch(i));
      const writeS = (performance.now() - t) / 1000;
      t = performance.now();
      const read = await client.read(readRequest);
      const readS = (performance.now() - t) / 1000;
      const inserted = Number((await admin.stats()).inserts) - before;
      if (read.length !== ENTRIES || inserted !== ENTRIES) throw new Error(`${transport}: inserted ${inserted}, read ${read.length}, expected ${ENTRIES}`);
      return { writeS, readS };
    },
  };
}

/** The floor: the same requests and responses through both ends' codecs and the model, in-process. */
function floorRound(): Round {
  const write = (p4RuntimeServiceDefinition() as unknown as Record<string, { requestDeserialize: (b: Buffer) => Msg }>).Write!.requestDeserialize;
  const program = modelDevice().instantiate(info);
  let t = performance.now();
  for (let i = 0; i < ENTRIES; i += BATCH) {
    const { statuses } = applyUpdates(program, write(encodeWriteRequest(batch(i))), false);
    if (statuses.some((s) => s.code !== 0)) throw new Error(`floor: a write failed: ${statuses.find((s) => s.code !== 0)?.message}`);
  }
  const writeS = (performance.now() - t) / 1000;
  t = performance.now();
  const read: Msg[] = []; // kept, as the client keeps what it reads
  const out = new ReadChunker((chunk) => {
    for (const e of decodeReadResponse(chunk)) read.push(e);
  });
  const bad = program.readEncoded(readRequest.entities[0]!, out);
  out.flush();
  const readS = (performance.now() - t) / 1000;
  if (bad || read.length !== ENTRIES) throw new Error(`floor: read ${read.length} of ${ENTRIES} (${bad?.message ?? 'no error'})`);
  return { writeS, readS };
}

const eps = (s: number): number => Math.round(ENTRIES / s);
const fmt = (n: number): string => n.toLocaleString('en-US');

function report(name: string, rounds: readonly Round[]): { writeEps: number; readS: number } {
  const writeS = median(rounds.map((r) => r.writeS));
  const readS = median(rounds.map((r) => r.readS));
  const perRound = rounds.map((r) => `${fmt(eps(r.writeS))}/${r.readS.toFixed(3)}s`).join(' ');
  console.log(`  ${name.padEnd(6)} write ${fmt(eps(writeS)).padStart(9)} entries/s (${writeS.toFixed(3)} s)   read ${readS.toFixed(3)} s (${fmt(eps(readS))} entries/s)   rounds: ${perRound}`);
  return { writeEps: eps(writeS), readS };
}

async function main(): Promise<void> {
  console.log(`p4rt: ${fmt(ENTRIES)} ipv4_to_port entries, Write batches of ${fmt(BATCH)} (one in flight), then one Read of the table; ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, medians`);
  const results: Record<string, Round[]> = { unix: [], tcp: [], floor: [] };
  for (const transport of ['unix', 'tcp'] as const) {
    const t = await connect(transport);
    try {
      await t.round(); // warm-up: JIT in both processes, connection, buffers
      for (let r = 0; r < ROUNDS; r++) {
        results[transport]!.push(await t.round());
        results.floor!.push(floorRound());
      }
    } finally {
      await t.close();
    }
  }
  const unix = report('unix', results.unix!);
  const tcp = report('tcp', results.tcp!);
  const floor = report('floor', results.floor!);
  const writeEps = Math.min(unix.writeEps, tcp.writeEps);
  const readS = Math.max(unix.readS, tcp.readS);
  const meets = writeEps >= GOAL_WRITE_EPS && readS < GOAL_READ_S;
  console.log(`  goal: write >= ${fmt(GOAL_WRITE_EPS)} entries/s and the read < ${GOAL_READ_S} s: ${meets ? 'met' : 'NOT met'} (slower transport: ${fmt(writeEps)} entries/s, read ${readS.toFixed(3)} s)`);
  console.log(`  gRPC vs floor: write ${(writeEps / floor.writeEps).toFixed(2)}x, read ${(floor.readS / readS).toFixed(2)}x`);
  console.log(
    JSON.stringify({
      bench: 'p4rt',
      write_eps: writeEps,
      read_eps: eps(readS),
      floor_eps: floor.writeEps,
      read_s: round3(readS),
      floor_read_eps: eps(floor.readS),
      floor_read_s: round3(floor.readS),
      write_eps_unix: unix.writeEps,
      write_eps_tcp: tcp.writeEps,
      read_s_unix: round3(unix.readS),
      read_s_tcp: round3(tcp.readS),
      read_eps_unix: eps(unix.readS),
      read_eps_tcp: eps(tcp.readS),
      entries: ENTRIES,
      batch: BATCH,
      rounds: ROUNDS,
      goal_met: meets,
    }),
  );
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
