/**
 * A malicious P4Runtime target: a grpc-js server speaking p4.v1.P4Runtime whose answers are
 * hostile, to test the manager's client (issue 11). Each StreamChannel call opens a "connection
 * attempt"; attempt i plays scenario SCENARIOS[order[i mod n]] (a seeded permutation), which makes
 * one stage of the session hostile and answers the stages before it correctly, so the manager
 * gets that far: raw malformed response bytes (simulations/fuzz/malformed.ts aimed at the p4.v1
 * response types), arbitration saying we are not primary or naming a lower/higher election id,
 * garbage P4Info, Reads of unknown tables, never ending, huge or reset midway, error statuses with
 * garbage `grpc-status-details-bin`, slow and stalled replies. Every stream ends after `lifeMs`
 * with UNAVAILABLE (a target going away), so the session must reconnect for the next attempt.
 * `setGood(true)` turns it into a well-behaved (stateless) target: it keeps the pipeline it is
 * given, reads back nothing and accepts every write.
 *
 * Same seed → same order and same bytes for attempt i.
 *
 * @example
 * const evil = new EvilTarget({ seed: 7 });
 * const port = await evil.listen('127.0.0.1:0');
 * // … point a manager at 127.0.0.1:<port> …
 * evil.setGood(true);
 * await evil.close();
 */
import { Metadata, Server, ServerCredentials, type sendUnaryData, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { seededRandom, type Random } from '../../core/random.js';
import { p4Types } from '../../p4/runtime-proto.js';
import { p4RuntimeServiceDefinition } from '../../p4/target/wire.js';
import { malformedCases, type MalformedKind } from './malformed.js';
import { randomBytes } from './random-bytes.js';
import { sampleMessages } from './samples.js';

/** Hostile behaviours of each stage; `good` answers correctly. */
export const SCENARIOS = [
  'arbitration-malformed',
  'arbitration-not-primary',
  'arbitration-lower-election',
  'arbitration-higher-election',
  'arbitration-garbage-status',
  'stream-reset',
  'stream-silent',
  'pipeline-malformed',
  'pipeline-garbage-p4info',
  'pipeline-garbage-details',
  'pipeline-huge',
  'pipeline-stall',
  'pipeline-slow',
  'set-pipeline-malformed',
  'read-malformed',
  'read-unknown-tables',
  'read-never-ends',
  'read-reset-midway',
  'read-huge',
  'read-garbage-details',
  'write-malformed',
  'write-garbage-details',
] as const;

export type Scenario = (typeof SCENARIOS)[number] | 'good';

export interface EvilTargetOptions {
  readonly seed: number;
  /** Only these scenarios, in a seeded order (default all). */
  readonly scenarios?: readonly Scenario[];
  /** Each stream is ended with UNAVAILABLE after this long (default 1500 ms). */
  readonly lifeMs?: number;
  /** Size of the huge answers (default 8 MiB). */
  readonly hugeBytes?: number;
}

/** What the target saw, for the test's report. */
export interface EvilStats {
  attempts: number;
  byScenario: Record<string, number>;
  calls: Record<string, number>;
  rawMalformed: number;
}

type Msg = Record<string, unknown>;
const UNAVAILABLE = 14;
const RESPONSE_TYPES = {
  stream: p4Types.StreamMessageResponse,
  read: p4Types.ReadResponse,
  write: p4Types.WriteResponse,
  getPipeline: p4Types.GetForwardingPipelineConfigResponse,
  setPipeline: p4Types.SetForwardingPipelineConfigResponse,
  capabilities: p4Types.CapabilitiesResponse,
  status: p4Types.Status,
};
/** Malformed kinds small enough to send over and over (group bombs and oversize have their own scenarios). */
const KINDS: readonly MalformedKind[] = [
  'truncated',
  'length_past_end',
  'length_near_2_32',
  'overlong_varint',
  'wrong_wire_type',
  'field_number_zero',
  'huge_field_number',
  'unknown_fields',
  'deep_nesting',
  'group_bomb',
  'huge_repeated',
  'invalid_utf8',
  'duplicate_singular',
  'random_bytes',
  'other_type',
];

/**
 * A seeded permutation of `items` (Fisher–Yates).
 *
 * @example
 * shuffled(seededRandom(1), [...SCENARIOS]);
 */
export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * `count` malformed encodings of a response type, reproducible from (seed, salt).
 *
 * @example
 * const [bytes] = hostileBytes(p4Types.ReadResponse, 7, 3, 1);
 */
export function hostileBytes(type: protobuf.Type, seed: number, salt: number, count: number): Uint8Array[] {
  const random = seededRandom((seed * 7919 + salt) | 0);
  const valid = sampleMessages(type, random, 4);
  const cases = malformedCases({ type, valid, random, count, kinds: KINDS, start: random.int(0, KINDS.length - 1), maxBytes: 64 * 1024 });
  return [...cases].map((c) => c.bytes);
}

interface Attempt {
  readonly index: number;
  readonly scenario: Scenario;
  readonly random: Random;
}

export class EvilTarget {
  readonly stats: EvilStats = { attempts: 0, byScenario: {}, calls: {}, rawMalformed: 0 };
  private readonly server = new Server({ 'grpc.max_receive_message_length': 64 << 20 });
  private readonly order: Scenario[];
  private current: Attempt | undefined;
  private good = false;
  /** The pipeline last set (kept in good mode, so the manager keeps it too). */
  private pipeline: Msg | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly open = new Set<{ end(): void }>();

  constructor(private readonly options: EvilTargetOptions) {
    this.order = shuffled(seededRandom(options.seed), options.scenarios ?? SCENARIOS);
    this.server.addService(p4RuntimeServiceDefinition(), this.implementation());
  }

  /** Serves on host:port (port 0: any free one); resolves with the port. */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => this.server.bindAsync(address, ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
  }

  /** Good mode: every later attempt plays `good`. */
  setGood(good: boolean): void {
    this.good = good;
  }

  /** The scenario attempt `index` plays (same seed → same answer). */
  scenarioOf(index: number): Scenario {
    return this.order[index % this.order.length]!;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.open) c.end();
    this.server.forceShutdown();
    await Promise.resolve();
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  private count(name: string): void {
    this.stats.calls[name] = (this.stats.calls[name] ?? 0) + 1;
  }

  private raw(type: protobuf.Type, salt: number, count = 1): Buffer[] {
    this.stats.rawMalformed += count;
    return hostileBytes(type, this.options.seed + (this.current?.index ?? 0) * 101, salt, count).map((b) => Buffer.from(b));
  }

  private scenario(): Scenario {
    return this.good ? 'good' : (this.current?.scenario ?? 'good');
  }

  private garbageDetails(salt: number): Metadata {
    const md = new Metadata();
    const bytes = this.current && this.current.random.next() < 0.5 ? this.raw(RESPONSE_TYPES.status, salt)[0]! : Buffer.from(randomBytes(seededRandom(salt), 64));
    md.set('grpc-status-details-bin', bytes);
    return md;
  }

  private implementation(): UntypedServiceImplementation {
    return {
      StreamChannel: (call: ServerDuplexStream<Msg, unknown>) => this.stream(call),
      Capabilities: (_call: ServerUnaryCall<Msg, unknown>, cb: sendUnaryData<unknown>) => {
        this.count('Capabilities');
        if (this.scenario() === 'good') cb(null, { p4runtime_api_version: '1.4.1' });
        else cb(null, this.raw(RESPONSE_TYPES.capabilities, 9)[0]);
      },
      GetForwardingPipelineConfig: (_call: ServerUnaryCall<Msg, unknown>, cb: sendUnaryData<unknown>) => this.getPipeline(cb),
      SetForwardingPipelineConfig: (call: ServerUnaryCall<Msg, unknown>, cb: sendUnaryData<unknown>) => {
        this.count('SetForwardingPipelineConfig');
        if (this.scenario() === 'set-pipeline-malformed') return void cb(null, this.raw(RESPONSE_TYPES.setPipeline, 5)[0]);
        this.pipeline = (call.request as { config?: Msg }).config;
        cb(null, {});
      },
      Read: (call: ServerWritableStream<Msg, unknown>) => this.read(call),
      Write: (_call: ServerUnaryCall<Msg, unknown>, cb: sendUnaryData<unknown>) => {
        this.count('Write');
        const s = this.scenario();
        if (s === 'write-malformed') return void cb(null, this.raw(RESPONSE_TYPES.write, 6)[0]);
        if (s === 'write-garbage-details') return void cb({ code: 2, details: 'one or more updates failed', metadata: this.garbageDetails(7) });
        cb(null, {});
      },
    };
  }

  private stream(call: ServerDuplexStream<Msg, unknown>): void {
    this.count('StreamChannel');
    const index = this.stats.attempts++;
    const scenario = this.good ? 'good' : this.scenarioOf(index);
    this.stats.byScenario[scenario] = (this.stats.byScenario[scenario] ?? 0) + 1;
    const attempt: Attempt = { index, scenario, random: seededRandom((this.options.seed * 31 + index) | 0) };
    this.current = attempt;
    let ended = false;
    const end = (code = UNAVAILABLE, details = 'evil target: going away'): void => {
      if (ended) return;
      ended = true;
      this.open.delete(handle);
      call.emit('error', { code, details });
    };
    const handle = { end: () => end() };
    this.open.add(handle);
    call.on('error', () => (ended = true));
    call.on('cancelled', () => (ended = true));
    call.on('end', () => end());
    // Good mode: the stream stays open (a well-behaved target); otherwise it ends after lifeMs.
    if (scenario !== 'good') this.later(this.options.lifeMs ?? 1500, () => end());
    call.on('data', (m: Msg) => {
      const arb = m.arbitration as Msg | undefined;
      if (!arb || ended) return;
      const election = (arb.election_id ?? {}) as { high?: unknown; low?: unknown };
      const reply = (code: number, id: Msg): void => void call.write({ arbitration: { device_id: arb.device_id, election_id: id, status: { code, message: 'evil' } } });
      switch (scenario) {
        case 'arbitration-malformed':
          for (const b of this.raw(RESPONSE_TYPES.stream, 1, 3)) call.write(b);
          return;
        case 'arbitration-not-primary':
          return reply(6, { high: 0xffffffff, low: 0xffffffff });
        case 'arbitration-lower-election':
          return reply(0, { high: 0, low: 0 });
        case 'arbitration-higher-election':
          return reply(0, { high: 0xffffffff, low: 0xffffffff });
        case 'arbitration-garbage-status':
          return void call.write({ arbitration: { device_id: 99, status: { code: 0x7fffffff, message: '\u0000'.repeat(1000), details: [{ type_url: 'x', value: randomBytes(attempt.random, 256) }] } } });
        case 'stream-reset':
          call.write({ arbitration: { device_id: arb.device_id, election_id: election, status: { code: 0 } } });
          return end(attempt.random.int(1, 16), 'evil target: reset');
        case 'stream-silent':
          return;
        default:
          return reply(0, election);
      }
    });
  }

  private getPipeline(cb: sendUnaryData<unknown>): void {
    this.count('GetForwardingPipelineConfig');
    const s = this.scenario();
    const hugeBytes = this.options.hugeBytes ?? 8 << 20;
    switch (s) {
      case 'pipeline-malformed':
        return void cb(null, this.raw(RESPONSE_TYPES.getPipeline, 2)[0]);
      case 'pipeline-garbage-p4info':
        return void cb(null, {
          config: {
            p4info: { tables: [{ preamble: { id: 0xdeadbeef, name: '\u00ff'.repeat(50) }, match_fields: [{ id: 0, bitwidth: -1 }], size: -5 }], actions: [{ preamble: { id: 0 } }] },
            cookie: { cookie: '18446744073709551615' },
          },
        });
      case 'pipeline-garbage-details':
        return void cb({ code: 9, details: 'evil', metadata: this.garbageDetails(3) });
      case 'pipeline-huge':
        return void cb(null, { config: { p4_device_config: Buffer.alloc(hugeBytes, 0x5a), p4info: { pkg_info: { name: 'x'.repeat(1024) } } } });
      case 'pipeline-stall':
        return; // never answered
      case 'pipeline-slow':
        return this.later(500 + (this.current?.index ?? 0) % 700, () => cb(null, this.pipeline ? { config: this.pipeline } : {}));
      default:
        return void cb(null, this.pipeline ? { config: this.pipeline } : {});
    }
  }

  private read(call: ServerWritableStream<Msg, unknown>): void {
    this.count('Read');
    const s = this.scenario();
    const random = this.current?.random ?? seededRandom(1);
    const unknownEntities = (n: number): Msg[] =>
      Array.from({ length: n }, (_, i) => ({
        table_entry: { table_id: 0x0ff00000 + random.int(0, 1000), match: [{ field_id: random.int(0, 70000), exact: { value: randomBytes(random, random.int(0, 40)) } }], action: { action: { action_id: i } } },
      }));
    switch (s) {
      case 'read-malformed':
        for (const b of this.raw(RESPONSE_TYPES.read, 4, 2)) call.write(b);
        return void call.end();
      case 'read-unknown-tables':
        call.write({ entities: unknownEntities(50) });
        call.write({ entities: [{ action_profile_member: { action_profile_id: 0xabcdef, member_id: 7 } }, { action_profile_group: { action_profile_id: 1, group_id: 0, members: [{ member_id: 0, weight: -3 }] } }, {}] });
        return void call.end();
      case 'read-never-ends':
        call.write({ entities: [] });
        return; // never ended
      case 'read-reset-midway':
        call.write({ entities: unknownEntities(5) });
        return void call.emit('error', { code: 13, details: 'evil target: reset' });
      case 'read-huge': {
        // Many small messages, about hugeBytes in all.
        const chunk = { entities: unknownEntities(500) };
        const size = p4Types.ReadResponse.encode(p4Types.ReadResponse.fromObject(chunk)).finish().length;
        for (let n = 0; n < (this.options.hugeBytes ?? 8 << 20); n += size) call.write(chunk);
        return void call.end();
      }
      case 'read-garbage-details':
        return void call.emit('error', { code: 3, details: 'evil', metadata: this.garbageDetails(8) });
      default:
        return void call.end();
    }
  }
}
