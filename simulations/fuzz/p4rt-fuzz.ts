/**
 * Issue 11, the P4Runtime slice: fuzzing the software target's P4Runtime service in its own
 * process. Two streams of input, interleaved:
 * - semantic Write batches built from the P4Info (valid updates, or wrong in exactly one way), each
 *   update's status predicted by the independent switch model (p4rt-model.ts) and compared with the
 *   per-update p4.v1.Error the target returns; batches hold no dependent updates (the spec lets a
 *   target reorder a batch), so the prediction does not depend on the order;
 * - structurally malformed WriteRequest / ReadRequest bytes (malformed.ts) sent raw, each of which
 *   must get a gRPC status within its deadline.
 * After every batch and every malformed chunk: Capabilities and a full wildcard Read, compared with
 * the model; the process must stay up; its RSS is sampled. A difference after a batch is a
 * state-change finding, bisected by replay against fresh targets (p4rt-bisect.ts) down to the
 * update(s) that make the tables differ.
 *
 * The plan (batches and predictions) depends only on the seed and the model, never on what the
 * target answered, so a seed replays identically (`planDigest`).
 */
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { seededRandom, type Random } from '../../core/random.js';
import { DEFAULT_P4INFO_PATH, parseP4Info, type P4Info } from '../../p4/p4info.js';
import { P4RuntimeClient, P4RuntimeError, type P4RuntimeStream } from '../../p4/runtime-client.js';
import { fromProto3Json, p4Types } from '../../p4/runtime-proto.js';
import { startTarget, type TargetProcess } from '../target-process.js';
import { malformedCases, type MalformedCase } from './malformed.js';
import type { MinimiseBudget } from './minimise.js';
import { bisectBatch, type Bisection } from './p4rt-bisect.js';
import { canonicalEntity, CODE, SwitchModel, type Prediction, type SwitchModelOptions, type Update } from './p4rt-model.js';

type Msg = Record<string, unknown>;

/** Shrunk sizes pushed with the pipeline, so a CI-sized run fills tables and profiles. */
export const FUZZ_SIZES = { table: 24, profile: 16, maxGroupSize: 4 } as const;
const FUZZED_TABLES = ['MainControlImpl.arp_to_port', 'MainControlImpl.ipv4_to_port', 'MainControlImpl.service_lb'];
const KEYS = 32;
const MEMBER_IDS = 20;
const GROUP_IDS = 10;
const ELECTION = { high: 0, low: 100 };

/** The P4Info JSON with FUZZ_SIZES applied, and its parsed form (what the model and the target both get). */
export function fuzzP4Info(): { json: Msg; info: P4Info } {
  const json = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as Msg;
  for (const t of json.tables as Msg[]) if (FUZZED_TABLES.includes((t.preamble as Msg).name as string)) t.size = String(FUZZ_SIZES.table);
  for (const p of json.actionProfiles as Msg[]) {
    p.size = String(FUZZ_SIZES.profile);
    p.maxGroupSize = FUZZ_SIZES.maxGroupSize;
  }
  return { json, info: parseP4Info(json) };
}

export interface PlannedUpdate {
  readonly update: Update;
  /** The fault injected ('well_formed' when none: its status still depends on the state). */
  readonly fault: string;
  readonly predicted: Prediction;
}

const pick = <T>(r: Random, xs: readonly T[]): T => xs[r.int(0, xs.length - 1)]!;
const be = (v: number, bytes: number): Uint8Array => {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 255;
  return out;
};
const minBytes = (bits: number): number => Math.ceil(bits / 8);

/** Builds one update, valid or wrong in one way, from the P4Info and the model's id pools. */
class UpdateMaker {
  private readonly tables;
  private readonly profile;

  constructor(
    private readonly info: P4Info,
    private readonly r: Random,
  ) {
    this.tables = FUZZED_TABLES.map((n) => info.tableByName(n));
    this.profile = info.actionProfiles[0]!;
  }

  make(): { update: Update; fault: string } {
    const r = this.r;
    const kind = r.next();
    const type = pick(r, ['INSERT', 'INSERT', 'MODIFY', 'DELETE'] as const);
    const faulty = r.next() < 0.35;
    if (kind < 0.6) return this.entry(type, faulty);
    if (kind < 0.8) return this.member(type, faulty);
    return this.group(type, faulty);
  }

  private value(bits: number): Uint8Array {
    return be(this.r.int(0, Math.min(2 ** bits - 1, 2 ** 40)), minBytes(bits));
  }

  private params(actionId: number): Msg[] {
    return this.info.action(actionId)!.params.map((p) => ({ param_id: p.id, value: this.value(p.bitwidth) }));
  }

  private entry(type: Update['type'], faulty: boolean): { update: Update; fault: string } {
    const r = this.r;
    const table = pick(r, this.tables);
    const k = r.int(0, KEYS - 1);
    // Small key pool per table: every field derives from k, so keys collide and tables fill.
    const match: Msg[] = table.matchFields.map((f, i) => ({ field_id: f.id, exact: { value: be(i === 0 ? 0x0af40000 + k : (k % 3) + 1, minBytes(f.bitwidth)) } }));
    const allowed = table.actionRefs.filter((a) => a.scope !== 'DEFAULT_ONLY').map((a) => a.id);
    let action: Msg;
    if (table.implementationId) action = r.next() < 0.5 ? { action_profile_member_id: r.int(1, MEMBER_IDS) } : { action_profile_group_id: r.int(1, GROUP_IDS) };
    else {
      const id = pick(r, allowed);
      action = { action: { action_id: id, params: this.params(id) } };
    }
    const t: Msg = { table_id: table.id, match, action };
    if (!faulty) return { update: { type, entity: { table_entry: t } }, fault: 'well_formed' };
    const direct = action.action as Msg | undefined;
    const faults: [string, () => void][] = [
      ['unknown_table', () => (t.table_id = 0x02000000 + r.int(100, 999))],
      ['unknown_field', () => match.push({ field_id: 50 + r.int(0, 9), exact: { value: be(1, 1) } })],
      ['missing_field', () => match.splice(r.int(0, match.length - 1), 1)],
      ['duplicate_field', () => match.push(match[r.int(0, match.length - 1)]!)],
      ['wrong_match_kind', () => (match[0] = { field_id: table.matchFields[0]!.id, ternary: { value: be(1, 1), mask: be(255, 1) } })],
      ['value_too_wide', () => (match[0] = { field_id: table.matchFields[0]!.id, exact: { value: Uint8Array.of(1, ...be(0, minBytes(table.matchFields[0]!.bitwidth))) } })],
      ['empty_value', () => (match[0] = { field_id: table.matchFields[0]!.id, exact: { value: new Uint8Array(0) } })],
      ['zero_padded_value', () => (match[0] = { field_id: table.matchFields[0]!.id, exact: { value: Uint8Array.of(0, 0, ...((match[0]!.exact as Msg).value as Uint8Array)) } })],
      ['priority', () => (t.priority = r.int(1, 1000))],
    ];
    if (direct) {
      faults.push(
        ['unknown_action', () => (direct.action_id = 0x01000000 + r.int(100, 999))],
        ['action_not_in_table', () => {
          const other = this.info.actions.filter((a) => !allowed.includes(a.id));
          const a = pick(r, other);
          direct.action_id = a.id;
          direct.params = this.params(a.id);
        }],
        ['indirect_on_direct_table', () => (t.action = { action_profile_member_id: 1 })],
      );
      const ps = direct.params as Msg[];
      if (ps.length > 0) {
        faults.push(
          ['missing_param', () => ps.splice(r.int(0, ps.length - 1), 1)],
          ['duplicate_param', () => ps.push(ps[0]!)],
          ['param_too_wide', () => {
            const p = this.info.action(direct.action_id as number)!.params[0]!;
            ps[0] = { param_id: p.id, value: be(2 ** (p.bitwidth % 8 === 0 ? 0 : p.bitwidth % 8), minBytes(p.bitwidth) + (p.bitwidth % 8 === 0 ? 1 : 0)) };
          }],
          ['empty_param', () => (ps[0] = { param_id: ps[0]!.param_id, value: new Uint8Array(0) })],
        );
      }
      faults.push(['unknown_param', () => ps.push({ param_id: 9 + r.int(0, 5), value: be(1, 1) })]);
    } else {
      faults.push(
        ['direct_on_indirect_table', () => (t.action = { action: { action_id: allowed[0]!, params: this.params(allowed[0]!) } })],
        ['missing_member_ref', () => (t.action = { action_profile_member_id: MEMBER_IDS + r.int(1, 50) })],
        ['missing_group_ref', () => (t.action = { action_profile_group_id: GROUP_IDS + r.int(1, 50) })],
      );
    }
    const [name, apply] = pick(r, faults);
    apply();
    return { update: { type, entity: { table_entry: t } }, fault: name };
  }

  private member(type: Update['type'], faulty: boolean): { update: Update; fault: string } {
    const r = this.r;
    const table = this.info.table(this.profile.tableIds[0]!)!;
    const allowed = table.actionRefs.filter((a) => a.scope !== 'DEFAULT_ONLY').map((a) => a.id);
    const id = pick(r, allowed);
    const a: Msg = { action_id: id, params: this.params(id) };
    const m: Msg = { action_profile_id: this.profile.id, member_id: r.int(1, MEMBER_IDS), action: a };
    if (!faulty) return { update: { type, entity: { action_profile_member: m } }, fault: 'well_formed' };
    const faults: [string, () => void][] = [
      ['unknown_profile', () => (m.action_profile_id = 0x11000000 + r.int(100, 999))],
      ['action_not_in_profile', () => {
        const other = pick(r, this.info.actions.filter((x) => !allowed.includes(x.id)));
        a.action_id = other.id;
        a.params = this.params(other.id);
      }],
      ['unknown_param', () => (a.params as Msg[]).push({ param_id: 7, value: be(1, 1) })],
      ['empty_param', () => (a.params = (a.params as Msg[]).map((p) => ({ ...p, value: new Uint8Array(0) })))],
    ];
    const [name, apply] = pick(r, faults);
    apply();
    // An empty_param on a parameterless action changes nothing: the model says OK, as it should.
    return { update: { type, entity: { action_profile_member: m } }, fault: name };
  }

  private group(type: Update['type'], faulty: boolean): { update: Update; fault: string } {
    const r = this.r;
    const n = r.int(1, FUZZ_SIZES.maxGroupSize);
    const ids = new Set<number>();
    while (ids.size < n) ids.add(r.int(1, MEMBER_IDS));
    const members: Msg[] = [...ids].map((id) => ({ member_id: id, weight: 1 }));
    const g: Msg = { action_profile_id: this.profile.id, group_id: r.int(1, GROUP_IDS), members, max_size: FUZZ_SIZES.maxGroupSize };
    if (!faulty) return { update: { type, entity: { action_profile_group: g } }, fault: 'well_formed' };
    const faults: [string, () => void][] = [
      ['unknown_profile', () => (g.action_profile_id = 0x11000000 + r.int(100, 999))],
      ['missing_member', () => members.push({ member_id: MEMBER_IDS + r.int(1, 50), weight: 1 })],
      ['duplicate_member', () => members.push({ ...members[0]! })],
      ['zero_weight', () => (members[0] = { member_id: members[0]!.member_id, weight: 0 })],
      ['weights_over_max_size', () => (members[0] = { member_id: members[0]!.member_id, weight: FUZZ_SIZES.maxGroupSize + 1 })],
      ['max_size_over_profile', () => (g.max_size = FUZZ_SIZES.maxGroupSize + r.int(1, 10))],
    ];
    const [name, apply] = pick(r, faults);
    apply();
    return { update: { type, entity: { action_profile_group: g } }, fault: name };
  }
}

/**
 * Batches of updates with their predicted statuses, free of intra-batch dependencies: an update
 * whose key another update of the batch writes, or whose references another writes, is redrawn;
 * size limits are only hit when the outcome cannot depend on the order inside the batch.
 *
 * @example
 * const batches = planBatches(fuzzP4Info().info, seededRandom(7), 3000); // PlannedUpdate[][]
 */
export function planBatches(info: P4Info, random: Random, updates: number, maxBatch = 40, modelOptions: SwitchModelOptions = {}): PlannedUpdate[][] {
  const model = new SwitchModel(info, modelOptions);
  const maker = new UpdateMaker(info, random);
  const batches: PlannedUpdate[][] = [];
  let left = updates;
  while (left > 0) {
    const size = Math.min(left, random.int(1, maxBatch));
    const writes = new Set<string>();
    const reads = new Set<string>();
    const startCount = new Map<string, number>();
    const okInserts = new Map<string, number>();
    const deleted = new Set<string>();
    const fullRejected = new Set<string>();
    const batch: PlannedUpdate[] = [];
    for (let tries = 0; batch.length < size && tries < size * 10; tries++) {
      const { update, fault } = maker.make();
      const locks = model.locks(update);
      if (writes.has(locks.write) || reads.has(locks.write) || locks.read.some((k) => writes.has(k))) continue;
      const predicted = model.predict(update);
      const c = locks.container;
      const limit = containerLimit(info, c);
      if (!startCount.has(c)) startCount.set(c, containerCount(model, c));
      if (update.type === 'INSERT' && predicted.code === CODE.OK && startCount.get(c)! + (okInserts.get(c) ?? 0) + 1 > limit) continue;
      if (update.type === 'INSERT' && predicted.code === CODE.RESOURCE_EXHAUSTED && predicted.why.includes('full') && (startCount.get(c)! < limit || deleted.has(c))) continue;
      if (update.type === 'DELETE' && predicted.code === CODE.OK && fullRejected.has(c)) continue;
      model.apply(update);
      writes.add(locks.write);
      for (const k of locks.read) reads.add(k);
      if (update.type === 'INSERT' && predicted.code === CODE.OK) okInserts.set(c, (okInserts.get(c) ?? 0) + 1);
      if (update.type === 'INSERT' && predicted.code === CODE.RESOURCE_EXHAUSTED) fullRejected.add(c);
      if (update.type === 'DELETE' && predicted.code === CODE.OK) deleted.add(c);
      batch.push({ update, fault, predicted });
    }
    if (batch.length === 0) continue;
    batches.push(batch);
    left -= batch.length;
  }
  return batches;
}

function containerLimit(info: P4Info, c: string): number {
  const [kind, id] = c.split(':') as [string, string];
  if (kind === 't') return info.table(Number(id))?.size ?? Infinity;
  return info.actionProfile(Number(id))?.size ?? Infinity;
}

function containerCount(model: SwitchModel, c: string): number {
  const [kind, id] = c.split(':') as [string, string];
  return model.count(kind === 't' ? 'table' : kind === 'pm' ? 'member' : 'group', Number(id));
}

const hashBytes = (h: ReturnType<typeof createHash>, v: unknown): void => {
  h.update(JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)));
};

/**
 * A digest of everything a seed generates (updates, faults, predictions, malformed bytes): equal
 * for equal seeds, so a finding replays from its seed.
 *
 * @example
 * planDigest(42, 3000, 2000) === planDigest(42, 3000, 2000); // true
 */
export function planDigest(seed: number, updates: number, malformed: number): string {
  const h = createHash('sha256');
  const { info } = fuzzP4Info();
  for (const b of planBatches(info, seededRandom(seed), updates)) hashBytes(h, b);
  for (const c of malformedPlan(seed, malformed)) h.update(c.method).update(c.bytes);
  return h.digest('hex');
}

/** One raw request: a malformed case for Write or Read. */
export interface RawCase {
  readonly method: 'Write' | 'Read';
  readonly case: MalformedCase;
  readonly bytes: Uint8Array;
}

/**
 * Malformed WriteRequest and ReadRequest bytes, alternating. The Write seeds carry a non-primary
 * election id, so the legal variants (unknown fields, repeated singulars…) are refused as
 * PERMISSION_DENIED and cannot change the state the model tracks.
 *
 * @example
 * const cases = [...malformedPlan(42, 100)]; // 50 Write, 50 Read
 */
export function* malformedPlan(seed: number, count: number): Generator<RawCase> {
  const W = p4Types.WriteRequest;
  const R = p4Types.ReadRequest;
  const { info } = fuzzP4Info();
  const t = info.tableByName('MainControlImpl.ipv4_to_port');
  const entry = { table_entry: { table_id: t.id, match: [{ field_id: 1, exact: { value: be(0x0af40001, 4) } }], action: { action: { action_id: t.actionRefs[0]!.id, params: [{ param_id: 1, value: be(3, 1) }, { param_id: 2, value: be(2, 6) }] } } } };
  const writes = [1, 2].map((n) => W.encode(W.fromObject({ device_id: 1, election_id: { high: 0, low: n }, updates: [{ type: 1, entity: entry }, { type: 3, entity: entry }] })).finish());
  const reads = [
    R.encode(R.fromObject({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }] })).finish(),
    R.encode(R.fromObject({ device_id: 1, entities: [{ table_entry: { table_id: t.id, match: entry.table_entry.match } }, { action_profile_group: { action_profile_id: info.actionProfiles[0]!.id } }] })).finish(),
  ];
  const half = Math.ceil(count / 2);
  const options = { random: seededRandom(seed ^ 0x5eed), maxBytes: 64 * 1024, oversizeBytes: 1 << 20 };
  const w = malformedCases({ ...options, type: W, valid: writes, others: reads, count: half });
  const rd = malformedCases({ ...options, random: seededRandom(seed ^ 0xbeef), type: R, valid: reads, others: writes, count: count - half });
  for (let i = 0; i < half; i++) {
    const a = w.next();
    if (!a.done) yield { method: 'Write', case: a.value, bytes: a.value.bytes };
    const b = rd.next();
    if (!b.done) yield { method: 'Read', case: b.value, bytes: b.value.bytes };
  }
}

export interface Mismatch {
  readonly batch: number;
  readonly index: number;
  readonly fault: string;
  readonly type: string;
  readonly entity: string;
  readonly predicted: Prediction;
  readonly actual: number;
  readonly message: string;
}

export interface StateDiff {
  readonly after: string;
  readonly missing: string[];
  readonly unexpected: string[];
  /** The updates a bisection by replay found to make the tables differ (index in the batch, update, fault). */
  readonly culprits: string[];
  readonly bisection?: Omit<Bisection, 'culprits'>;
}

/**
 * What a finding needs to be saved as a regression case (not for JSON): the model before the
 * batch and the updates to blame, or the raw request.
 */
export type P4rtFinding =
  | { readonly kind: 'batch'; readonly class: 'state' | 'mismatch'; readonly before: SwitchModel; readonly updates: readonly Update[]; readonly note: string }
  | { readonly kind: 'raw'; readonly class: 'hang' | 'mismatch' | 'state'; readonly raw: RawCase; readonly note: string };

export interface P4rtFuzzReport {
  readonly seed: number;
  readonly updates: number;
  readonly batches: number;
  readonly byFault: Record<string, number>;
  readonly byPredicted: Record<number, number>;
  readonly mismatches: Mismatch[];
  /** Updates breaking two rules whose status was the spec-allowed alternative (Prediction.also), by code. */
  readonly ambiguous: Record<number, number>;
  readonly stateDiffs: StateDiff[];
  readonly malformed: number;
  readonly malformedByCode: Record<number, number>;
  /** Malformed requests without a status in the deadline, or with an unexpected OK Write. */
  readonly malformedFailures: string[];
  readonly probes: number;
  readonly probeFailures: string[];
  readonly alive: boolean;
  readonly rssStartKiB: number;
  readonly rssEndKiB: number;
  readonly rssMaxKiB: number;
  readonly writeMs: number;
  readonly updatesPerSecond: number;
  readonly elapsedMs: number;
  /** The first findings, with what it takes to save them (see P4rtFinding). */
  readonly findings: P4rtFinding[];
}

export interface P4rtFuzzOptions {
  readonly seed: number;
  readonly updates: number;
  readonly malformed: number;
  /** Per-request deadline. Default 5 s. */
  readonly deadlineMs?: number;
  /** Bisect a batch after which the tables differ (default: yes, within this budget). */
  readonly bisect?: false | MinimiseBudget;
  /** Tests only: a planted misprediction of the model (SwitchModelOptions.plant). */
  readonly plant?: SwitchModelOptions['plant'];
  /** Updates and malformed requests sent so far. */
  readonly onProgress?: (done: number) => void;
}

const MAX_FINDINGS_KEPT = 10;

/**
 * Runs the whole fuzz against a fresh target process and reports; never throws for a finding.
 *
 * @example
 * const report = await runP4rtFuzz({ seed: 42, updates: 3000, malformed: 2000 });
 * report.mismatches.length; // 0 when the target agrees with the model
 */
export async function runP4rtFuzz(options: P4rtFuzzOptions): Promise<P4rtFuzzReport> {
  const t0 = Date.now();
  const deadline = options.deadlineMs ?? 5000;
  const { json, info } = fuzzP4Info();
  const modelOptions: SwitchModelOptions = options.plant ? { plant: options.plant } : {};
  const batches = planBatches(info, seededRandom(options.seed), options.updates, 40, modelOptions);
  const raws = [...malformedPlan(options.seed, options.malformed)];
  const target = await startTarget();
  const client = new P4RuntimeClient(target.address);
  const raw = new Client(target.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
  let stream: P4RuntimeStream | undefined;
  const report = {
    seed: options.seed,
    updates: 0,
    batches: batches.length,
    byFault: {} as Record<string, number>,
    byPredicted: {} as Record<number, number>,
    mismatches: [] as Mismatch[],
    ambiguous: {} as Record<number, number>,
    stateDiffs: [] as StateDiff[],
    malformed: 0,
    malformedByCode: {} as Record<number, number>,
    malformedFailures: [] as string[],
    probes: 0,
    probeFailures: [] as string[],
    alive: true,
    rssStartKiB: 0,
    rssEndKiB: 0,
    rssMaxKiB: 0,
    writeMs: 0,
    updatesPerSecond: 0,
    elapsedMs: 0,
    findings: [] as P4rtFinding[],
  };
  const find = (f: P4rtFinding): void => void (report.findings.length < MAX_FINDINGS_KEPT && report.findings.push(f));
  try {
    stream = client.openStream();
    stream.send({ arbitration: { device_id: 1, election_id: ELECTION } });
    await stream.next();
    await client.setPipeline({ device_id: 1, election_id: ELECTION, action: 'VERIFY_AND_COMMIT', config: { p4info: fromProto3Json(p4Types.P4Info, json), p4_device_config: Uint8Array.of(1), cookie: { cookie: 11 } } });
    report.rssStartKiB = report.rssMaxKiB = rss(target);
    const model = new SwitchModel(info, modelOptions);
    const profile = info.actionProfiles[0]!.id;
    const probe = async (after: string): Promise<boolean> => {
      report.probes += 2;
      try {
        await withDeadline(client.capabilities(), deadline);
      } catch (e) {
        report.probeFailures.push(`${after}: Capabilities ${(e as Error).message}`);
      }
      let got: Msg[];
      try {
        got = await withDeadline(client.read({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }, { action_profile_member: { action_profile_id: profile } }, { action_profile_group: { action_profile_id: profile } }] }), deadline);
      } catch (e) {
        report.probeFailures.push(`${after}: Read ${(e as Error).message}`);
        return false;
      }
      const have = got.map(canonicalEntity).sort();
      const want = model.snapshot();
      const hs = new Set(have);
      const ws = new Set(want);
      const missing = want.filter((x) => !hs.has(x));
      const unexpected = have.filter((x) => !ws.has(x));
      if (missing.length + unexpected.length === 0) return true;
      report.stateDiffs.push({ after, missing, unexpected, culprits: [] });
      return false;
    };
    let next = 0;
    const perBatch = Math.ceil(raws.length / Math.max(1, batches.length));
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const before = model.clone();
      const statuses = await writeStatuses(client, batch.map((p) => p.update), deadline);
      report.writeMs += statuses.ms;
      batch.forEach((p, i) => {
        model.apply(p.update);
        report.updates++;
        report.byFault[p.fault] = (report.byFault[p.fault] ?? 0) + 1;
        report.byPredicted[p.predicted.code] = (report.byPredicted[p.predicted.code] ?? 0) + 1;
        const actual = statuses.codes[i] ?? -1;
        if (actual !== p.predicted.code && p.predicted.also?.includes(actual)) report.ambiguous[actual] = (report.ambiguous[actual] ?? 0) + 1;
        else if (actual !== p.predicted.code) {
          report.mismatches.push({ batch: b, index: i, fault: p.fault, type: p.update.type, entity: canonicalEntity(p.update.entity), predicted: p.predicted, actual, message: statuses.messages[i] ?? '' });
          find({ kind: 'batch', class: 'mismatch', before, updates: [p.update], note: `batch ${b} update ${i} (${p.fault}): predicted ${p.predicted.code} (${p.predicted.why}), got ${actual} ${statuses.messages[i] ?? ''}` });
        }
      });
      if (!(await probe(`batch ${b}`))) {
        const d = report.stateDiffs.at(-1);
        if (d && options.bisect !== false) {
          const history = batches.slice(0, b).map((x) => x.map((p) => p.update));
          const found = await bisectBatch({ history, before, batch: batch.map((p) => p.update), ...(options.bisect ? { budget: options.bisect } : {}) });
          const { culprits, ...how } = found;
          const replay = before.clone();
          const named = culprits.map((i) => {
            const p = batch[i]!;
            const r = replay.apply(p.update);
            return `#${i} ${p.update.type} ${canonicalEntity(p.update.entity)} (${p.fault}; model: ${r.code} ${r.why})`;
          });
          report.stateDiffs[report.stateDiffs.length - 1] = { ...d, culprits: named, bisection: how };
          find({ kind: 'batch', class: 'state', before, updates: culprits.map((i) => batch[i]!.update), note: `batch ${b}: the tables differ from the model (${named.join('; ')})` });
        }
        break; // the model no longer follows the target: later comparisons would only repeat this
      }
      const chunk = raws.slice(next, next + perBatch);
      next += chunk.length;
      for (const c of chunk) await sendRaw(raw, c, deadline, report, find);
      if (chunk.length > 0 && !(await probe(`malformed ${chunk[0]!.case.index}..${chunk.at(-1)!.case.index}`))) {
        // One of the chunk's raw requests changed the tables: each is replayed when saving.
        for (const c of chunk) find({ kind: 'raw', class: 'state', raw: c, note: `in the malformed chunk after which the tables differed: ${c.method} #${c.case.index} ${c.case.kind}` });
        break;
      }
      report.rssMaxKiB = Math.max(report.rssMaxKiB, rss(target));
      options.onProgress?.(report.updates + report.malformed);
      if (target.child.exitCode !== null) break;
    }
    for (const c of raws.slice(next)) await sendRaw(raw, c, deadline, report, find);
    report.rssEndKiB = rss(target);
    report.rssMaxKiB = Math.max(report.rssMaxKiB, report.rssEndKiB);
  } finally {
    report.alive = target.child.exitCode === null && target.child.signalCode === null;
    stream?.close();
    client.close();
    raw.close();
    await target.stop();
  }
  report.elapsedMs = Date.now() - t0;
  report.updatesPerSecond = Math.round(report.updates / (report.writeMs / 1000));
  return report;
}

async function writeStatuses(client: P4RuntimeClient, updates: readonly Update[], deadline: number): Promise<{ codes: number[]; messages: string[]; ms: number }> {
  const t = performance.now();
  try {
    await withDeadline(client.write({ device_id: 1, election_id: ELECTION, updates }), deadline);
    return { codes: updates.map(() => 0), messages: [], ms: performance.now() - t };
  } catch (e) {
    const ms = performance.now() - t;
    if (e instanceof P4RuntimeError && e.details.length === updates.length) return { codes: e.details.map((d) => d.canonical_code), messages: e.details.map((d) => d.message), ms };
    const code = e instanceof P4RuntimeError ? e.code : -1;
    return { codes: updates.map(() => 1000 + code), messages: updates.map(() => `whole RPC failed: ${(e as Error).message}`), ms };
  }
}

function sendRaw(raw: Client, c: RawCase, deadline: number, report: { malformed: number; malformedByCode: Record<number, number>; malformedFailures: string[] }, find: (f: P4rtFinding) => void): Promise<void> {
  const path = `/p4.v1.P4Runtime/${c.method}`;
  const id = (b: Uint8Array): Buffer => Buffer.from(b);
  const done = (code: number | undefined, detail: string): void => {
    report.malformed++;
    if (code === undefined) {
      report.malformedFailures.push(`${c.method} #${c.case.index} ${c.case.kind} (${c.case.note}): ${detail}`);
      find({ kind: 'raw', class: 'hang', raw: c, note: `${c.method} #${c.case.index} ${c.case.kind}: ${detail}` });
    } else report.malformedByCode[code] = (report.malformedByCode[code] ?? 0) + 1;
    if (c.method === 'Write' && code === 0) {
      report.malformedFailures.push(`${c.method} #${c.case.index} ${c.case.kind}: a non-primary Write succeeded`);
      find({ kind: 'raw', class: 'mismatch', raw: c, note: `${c.method} #${c.case.index} ${c.case.kind}: a non-primary Write succeeded` });
    }
  };
  const opts = { deadline: Date.now() + deadline };
  return new Promise((resolve) => {
    if (c.method === 'Write') {
      raw.makeUnaryRequest(path, id, id, c.bytes, opts, (e: ServiceError | null) => {
        if (e?.code === status.DEADLINE_EXCEEDED) done(undefined, 'no status within the deadline');
        else done(e ? e.code : 0, '');
        resolve();
      });
      return;
    }
    const call = raw.makeServerStreamRequest(path, id, id, c.bytes, opts);
    call.on('data', () => undefined);
    call.on('error', () => undefined); // the status below says it all
    call.on('status', (s: { code: number }) => {
      if (s.code === Number(status.DEADLINE_EXCEEDED)) done(undefined, 'no status within the deadline');
      else done(s.code, '');
      resolve();
    });
  });
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The target's resident set in KiB (Linux /proc), 0 if unknown. */
function rss(target: TargetProcess): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${target.pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
