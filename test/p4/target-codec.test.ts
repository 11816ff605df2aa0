/**
 * The lean P4Runtime codecs against the generic protobufjs path, table-driven: what each lean
 * codec accepts it must read or write exactly as protobufjs does (same entities and statuses,
 * same bytes, same objects), and what it declines must be the generic path's to answer. Cases
 * say whether the lean path is expected to take them, so a lean path that silently declines
 * everything fails too.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { tcp } from '../../p4/frames.js';
import { TABLES } from '../../p4/model/index.js';
import { DEFAULT_P4INFO_PATH, loadP4Info, parseP4Info } from '../../p4/p4info.js';
import { decodeReadResponse, encodeWriteRequest } from '../../p4/runtime-client.js';
import { lookup, p4Types } from '../../p4/runtime-proto.js';
import { decodeLeanRead } from '../../p4/target/lean-client-read.js';
import { encodeLeanWrite, NOT_WRITTEN } from '../../p4/target/lean-client-write.js';
import { ReadChunker } from '../../p4/target/lean-read.js';
import { decodeLeanWrite, LeanWrite } from '../../p4/target/lean-write.js';
import { entityFromWire, ModelProgram, modelDevice } from '../../p4/target/model-program.js';
import { decodeGenericWrite, isMalformed, p4RuntimeServiceDefinition, u64, uint128 } from '../../p4/target/wire.js';
import { applyUpdates } from '../../p4/target/write-apply.js';
import { trace } from '../../p4/tracer.js';
import { GATEWAY_MAC, Node, pod } from './support.js';

type Msg = Record<string, unknown>;
const W = p4Types.WriteRequest;
const R = p4Types.ReadResponse;
const OBJECT = { longs: String, enums: Number, defaults: false };
const LIMITS = [64 << 20, 16_000_000] as const;

// ---- Cases ------------------------------------------------------------------------------

const info = loadP4Info();
const IPV4 = info.tableByName(TABLES.ipv4ToPort).id;
const LB = info.tableByName(TABLES.serviceLb).id;
const SET = info.actionByName('MainControlImpl.set_dest_mac_port').id;
const SEL = info.actionProfileByName('MainControlImpl.lb_selector').id;
const LB_EP = info.actionByName('MainControlImpl.lb_set_endpoint').id;

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const ip = (n: number): Uint8Array => b(10, 244, 0, n);
const key = (n: number): Msg => ({ table_id: IPV4, match: [{ field_id: 1, exact: { value: ip(n) } }] });
const podEntry = (n: number, port = b(n), mac = b(2, 0, 0, 0, 0, n)): Msg => ({
  table_entry: { ...key(n), action: { action: { action_id: SET, params: [{ param_id: 1, value: port }, { param_id: 2, value: mac }] } } },
});
const member = (id: number, host: number): Msg => ({
  action_profile_member: { action_profile_id: SEL, member_id: id, action: { action_id: LB_EP, params: [{ param_id: 1, value: ip(host) }, { param_id: 2, value: b(0x1f, 0x90) }] } },
});
const group = (id: number, members: number[], weight = 1, max = 16): Msg => ({
  action_profile_group: { action_profile_id: SEL, group_id: id, members: members.map((m) => ({ member_id: m, weight })), max_size: max },
});
const lbEntry = (vip: number, action?: Msg): Msg => ({
  table_entry: { table_id: LB, match: [{ field_id: 1, exact: { value: b(10, 96, 0, vip) } }, { field_id: 2, exact: { value: b(6) } }, { field_id: 3, exact: { value: b(0, 80) } }], ...(action ? { action } : {}) },
});
const ins = (entity?: Msg): Msg => ({ type: 'INSERT', ...(entity ? { entity } : {}) });
const wr = (updates: Msg[], extra: Msg = {}): Msg => ({ device_id: 1, election_id: { high: 0, low: 1 }, updates, ...extra });
/** What every case starts from: members 1 and 2, group 1 of both, the entry of 10.244.0.1. */
const SEED = [member(1, 31), member(2, 32), group(1, [1, 2]), podEntry(1)];

// Raw protobuf, for what an encoder would not write: fields out of order, repeated, unknown, malformed.
const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(Math.floor(n / 128))]);
const vi = (field: number, v: number): number[] => [...varint(field << 3), ...varint(v)];
const ld = (field: number, body: number[]): number[] => [...varint((field << 3) | 2), ...varint(body.length), ...body];
const MATCH = ld(2, [...vi(1, 1), ...ld(2, ld(1, [10, 244, 0, 20]))]);
const ACTION_BODY = [...vi(1, SET), ...ld(4, [...vi(2, 1), ...ld(3, [3])]), ...ld(4, [...vi(2, 2), ...ld(3, [2, 0, 0, 0, 0, 3])])];
const ACTION = ld(3, ld(1, ACTION_BODY));
const rawWrite = (entityBody: number[]): Uint8Array => Uint8Array.from([...vi(1, 1), ...ld(3, vi(2, 1)), ...ld(4, [...vi(1, 1), ...ld(2, entityBody)])]);
const rawEntry = (...fields: number[][]): Uint8Array => rawWrite(ld(2, fields.flat()));

interface WriteCase {
  readonly name: string;
  /** Whether the target's lean decoder takes it (else the generic path answers). */
  readonly lean: boolean;
  /** Whether the client's lean encoder takes it (default: yes). */
  readonly clientLean?: boolean;
  readonly req?: Msg;
  readonly bytes?: Uint8Array;
}

const CASES: readonly WriteCase[] = [
  { name: 'canonical inserts', lean: true, req: wr([ins(podEntry(5)), ins(podEntry(6))]) },
  { name: 'zero-padded values equal to their canonical form', lean: true, req: wr([ins(podEntry(7, b(0, 0, 0, 7), b(0, 0, 2, 0, 0, 0, 0, 7)))]) },
  {
    name: 'values too wide and empty ones: OUT_OF_RANGE',
    lean: true,
    req: wr([ins(podEntry(8, b(1, 0, 0, 0, 7))), ins(podEntry(9, new Uint8Array(0))), ins({ table_entry: { ...(podEntry(26).table_entry as Msg), match: [{ field_id: 1, exact: {} }] } })]),
  },
  {
    name: 'INSERT of an existing key, MODIFY, DELETE by key, DELETE of a missing key',
    lean: true,
    req: wr([ins(podEntry(1)), { type: 'MODIFY', entity: podEntry(1, b(9)) }, { type: 'DELETE', entity: { table_entry: key(1) } }, { type: 'DELETE', entity: { table_entry: key(77) } }]),
  },
  {
    name: 'members and groups: insert, modify, a group naming an unknown member, a member still in use',
    lean: true,
    req: wr([ins(member(3, 33)), ins(group(2, [1, 3], 2, 0)), { type: 'MODIFY', entity: group(1, [1, 9]) }, { type: 'DELETE', entity: member(1, 31) }, ins({ action_profile_member: { action_profile_id: SEL, member_id: 5 } })]),
  },
  {
    name: 'entries naming a member, a group, member 0, an empty action and none',
    lean: true,
    req: wr([ins(lbEntry(1, { action_profile_member_id: 1 })), ins(lbEntry(2, { action_profile_group_id: 1 })), ins(lbEntry(3, { action_profile_member_id: 0 })), ins(lbEntry(4, {})), ins(lbEntry(5))]),
  },
  {
    name: 'unknown ids, a missing or repeated field, priority, a default entry',
    lean: true,
    req: wr([
      ins({ table_entry: { ...podEntry(10).table_entry as Msg, table_id: 999 } }),
      ins({ table_entry: { ...podEntry(11).table_entry as Msg, match: [{ field_id: 9, exact: { value: ip(11) } }] } }),
      ins({ table_entry: { ...podEntry(12).table_entry as Msg, match: [] } }),
      ins({ table_entry: { ...podEntry(13).table_entry as Msg, match: [{ field_id: 1, exact: { value: ip(13) } }, { field_id: 1, exact: { value: ip(13) } }] } }),
      ins({ table_entry: { ...key(14), action: { action: { action_id: 12345, params: [] } } } }),
      ins({ table_entry: { ...key(15), action: { action: { action_id: SET, params: [{ param_id: 1, value: b(1) }] } } } }),
      ins({ table_entry: { ...podEntry(16).table_entry as Msg, priority: 5 } }),
      { type: 'MODIFY', entity: { table_entry: { table_id: IPV4, is_default_action: true, action: { action: { action_id: SET, params: [] } } } } },
    ]),
  },
  { name: 'update types UNSPECIFIED and 7, updates without an entity', lean: true, req: wr([{ type: 'UNSPECIFIED', entity: podEntry(20) }, { type: 7, entity: podEntry(21) }, ins(), ins({})]) },
  {
    name: 'role, ROLLBACK_ON_ERROR, 64- and 128-bit ids',
    lean: true,
    req: wr([ins(podEntry(22)), ins(podEntry(1))], { role: 'sdn', atomicity: 'ROLLBACK_ON_ERROR', device_id: '18446744073709551615', election_id: { high: '5', low: '18446744073709551615' } }),
  },
  { name: 'DATAPLANE_ATOMIC and an unknown atomicity', lean: true, req: wr([ins(podEntry(23))], { atomicity: 9 }) },
  { name: 'an empty request', lean: true, req: {} },
  { name: 'a ternary match', lean: false, clientLean: false, req: wr([ins({ table_entry: { table_id: IPV4, match: [{ field_id: 1, ternary: { value: ip(1), mask: ip(255) } }] } })]) },
  { name: 'a counter entry', lean: false, clientLean: false, req: wr([ins({ counter_entry: { counter_id: 1 } })]) },
  { name: 'a one-shot action set', lean: false, clientLean: false, req: wr([ins(lbEntry(6, { action_profile_action_set: { action_profile_actions: [] } }))]) },
  { name: 'fields the target ignores (metadata, idle timeout)', lean: false, clientLean: false, req: wr([ins({ table_entry: { ...podEntry(24).table_entry as Msg, metadata: b(1), idle_timeout_ns: 5 } })]) },
  { name: 'a negative priority', lean: false, clientLean: false, req: wr([ins({ table_entry: { ...podEntry(25).table_entry as Msg, priority: -1 } })]) },
  { name: 'the deprecated role_id', lean: false, clientLean: false, req: wr([], { role_id: 3 }) },
  { name: 'fields out of order', lean: false, bytes: rawEntry(vi(1, IPV4), ACTION, MATCH) },
  { name: 'a singular field twice', lean: false, bytes: rawEntry(vi(1, IPV4), vi(1, IPV4), MATCH, ACTION) },
  { name: 'an unknown field', lean: false, bytes: rawEntry(vi(1, IPV4), MATCH, ACTION, vi(14, 1)) },
  { name: 'an over-long varint', lean: false, bytes: rawEntry([0x08, ...varint(IPV4).map((x) => x | 0x80), 0x80, 0x00], MATCH, ACTION) },
  { name: 'two members of the Entity oneof', lean: false, bytes: rawWrite([...ld(2, [...vi(1, IPV4), ...MATCH, ...ACTION]), ...ld(3, [...vi(1, SEL), ...vi(2, 7)])]) },
  { name: 'two members of the TableAction oneof', lean: false, bytes: rawEntry(vi(1, IPV4), MATCH, ld(3, [...ld(1, ACTION_BODY), ...vi(2, 1)])) },
  { name: 'malformed: a length past the end', lean: false, bytes: b(0x22, 0x10, 0x08) },
  { name: 'malformed: a truncated varint', lean: false, bytes: b(0x08, 0x80) },
  { name: 'malformed: a group', lean: false, bytes: b(0x23, 0x24) },
  { name: 'malformed: field number 0', lean: false, bytes: b(0x00, 0x01) },
  { name: 'malformed: invalid UTF-8 in the role', lean: false, bytes: Uint8Array.from(ld(6, [0xff, 0xfe])) },
  { name: 'malformed: a 10-byte varint length', lean: false, bytes: b(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f) },
  { name: 'malformed: nested too deep', lean: false, bytes: new Uint8Array(100_000).fill(0x0b) },
];

const CLIENT_CASES: readonly WriteCase[] = [
  { name: 'enum numbers, 64-bit ids as decimal strings, a role', lean: true, req: wr([{ type: 2, entity: podEntry(1) }], { device_id: '7', election_id: { high: '1', low: '2' }, role: 'sdn', atomicity: 1 }) },
  {
    name: 'zeros and false (left out), a member id of 0 (written), empty values and lists, nulls',
    lean: true,
    req: {
      device_id: 0,
      role: null,
      election_id: { high: 0, low: 0 },
      atomicity: 'CONTINUE_ON_ERROR',
      updates: [
        { type: 'UNSPECIFIED', entity: { table_entry: { table_id: 0, priority: 0, is_default_action: false, match: [], action: { action_profile_member_id: 0 } } } },
        ins(podEntry(3, new Uint8Array(0))),
        ins({ action_profile_group: { members: null } }),
      ],
    },
  },
  { name: 'Buffer values', lean: true, req: wr([ins(podEntry(4, Buffer.from([4]), Buffer.from([2, 0, 0, 0, 0, 4])))]) },
  { name: 'a value as base64 text', lean: true, clientLean: false, req: wr([ins(podEntry(5, 'BQ==' as unknown as Uint8Array))]) },
  { name: 'a value as an array of numbers', lean: true, clientLean: false, req: wr([ins(podEntry(5, [5] as unknown as Uint8Array))]) },
  { name: 'a fractional id', lean: true, clientLean: false, req: wr([ins({ table_entry: { ...key(6), table_id: 1.5 } })]) },
  { name: 'an id beyond 32 bits', lean: true, clientLean: false, req: wr([ins({ table_entry: { ...key(6), table_id: 2 ** 32 } })]) },
  { name: 'a 64-bit id as a Long-like object', lean: true, clientLean: false, req: wr([], { device_id: { low: 1, high: 0 } }) },
  { name: 'a non-ASCII role', lean: true, clientLean: false, req: wr([], { role: 'rôle' }) },
  { name: 'an unknown enum name', lean: true, clientLean: false, req: wr([{ type: 'UPSERT', entity: podEntry(7) }]) },
  { name: 'a protobufjs Message', lean: true, clientLean: false, req: W.fromObject(wr([ins(podEntry(8))])) },
];

interface ReadCase {
  readonly name: string;
  readonly entity: Msg;
  readonly chunkBytes?: number;
  readonly minChunks?: number;
}

const READ_CASES: readonly ReadCase[] = [
  { name: 'every table', entity: { table_entry: {} } },
  { name: 'every table, in chunks of 200 bytes', entity: { table_entry: { table_id: 0 } }, chunkBytes: 200, minChunks: 5 },
  { name: 'one table', entity: { table_entry: { table_id: IPV4 } } },
  { name: 'service_lb (members and groups named)', entity: { table_entry: { table_id: LB } } },
  { name: 'ct_forward (learned entries)', entity: { table_entry: { table_id: info.tableByName(TABLES.ctForward).id } } },
  { name: 'one entry by its key', entity: { table_entry: key(10) } },
  { name: 'a key that is not there', entity: { table_entry: key(99) } },
  { name: 'members', entity: { action_profile_member: {} } },
  { name: 'groups', entity: { action_profile_group: { action_profile_id: SEL } } },
  { name: 'an unknown table: INVALID_ARGUMENT', entity: { table_entry: { table_id: 999 } } },
  { name: 'a ternary match: INVALID_ARGUMENT', entity: { table_entry: { table_id: IPV4, match: [{ field_id: 1, ternary: {} }] } } },
  { name: 'a counter: UNIMPLEMENTED', entity: { counter_entry: {} } },
];

/** A request with `set` applied to its message of `type` (for the fields the client encoder does not write). */
function locate(type: string, set: (o: Msg) => void): Msg {
  const fm: Msg = { field_id: 1, exact: { value: b(1) } };
  const ta: Msg = { action: { action_id: SET, params: [] } };
  const te: Msg = { table_id: IPV4, match: [fm], action: ta };
  const gm: Msg = { member_id: 1, weight: 1 };
  const entity: Msg = { table_entry: te };
  const req = wr([ins(entity), ins({ action_profile_group: { action_profile_id: SEL, group_id: 1, members: [gm] } })]);
  const at: Record<string, Msg> = { 'p4.v1.WriteRequest': req, 'p4.v1.Entity': entity, 'p4.v1.TableEntry': te, 'p4.v1.FieldMatch': fm, 'p4.v1.TableAction': ta, 'p4.v1.ActionProfileGroup.Member': gm };
  set(at[type]!);
  return req;
}

function valueFor(f: protobuf.Field): unknown {
  if (f.resolvedType instanceof protobuf.Type) return {};
  return f.type === 'bytes' ? b(1) : f.type === 'bool' ? true : f.type === 'string' ? 'x' : 1;
}

const ELAPSED_MINUS_1 = [0x08, ...Array<number>(9).fill(0xff), 0x01];
const ELAPSED_2_63 = [0x08, ...Array<number>(9).fill(0x80), 0x01];
/** A ReadResponse as other servers may write it: explicit zeros, a member id of 0, idle times, empty messages. */
const ODD_READ = Buffer.from([
  ...ld(1, ld(2, [...vi(1, 0), ...ld(2, [...vi(1, 0), ...ld(2, [])]), ...ld(3, vi(2, 0)), ...vi(4, 3), ...vi(8, 1), ...ld(10, ELAPSED_MINUS_1)])),
  ...ld(1, ld(2, [...vi(1, IPV4), ...ld(10, ELAPSED_2_63)])),
  ...ld(1, ld(3, [...vi(1, SEL), ...vi(2, 4), ...ld(3, [...vi(1, LB_EP), ...ld(4, [...vi(2, 0), ...ld(3, [])])])])),
  ...ld(1, ld(4, [...vi(1, SEL), ...vi(2, 1), ...ld(3, [...vi(1, 4), ...vi(2, 0)]), ...ld(3, []), ...vi(4, 16)])),
  ...ld(1, []),
]);
const rawRead = (...fields: number[][]): Buffer => Buffer.from(ld(1, ld(2, fields.flat())));

/** A small pipeline (every table sized 64) so that each case gets fresh ones cheaply. */
const small = (() => {
  const json = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as { tables: { size: string }[]; actionProfiles: { size: string }[] };
  for (const t of json.tables) t.size = '64';
  for (const p of json.actionProfiles) p.size = '64';
  return parseP4Info(json);
})();

/** A program holding members 1 and 2, group 1 and one ipv4_to_port entry, as the cases expect. */
function seeded(): ModelProgram {
  const p = modelDevice().instantiate(small);
  const setup = W.encode(W.fromObject({ updates: SEED.map((entity) => ins(entity)) })).finish();
  const { statuses } = applyUpdates(p, decodeGenericWrite(setup) as Msg, false);
  expect(statuses.map((s) => s.code), 'seed').to.deep.equal(SEED.map(() => 0));
  return p;
}

function state(p: ModelProgram): unknown {
  const all = [{ table_entry: {} }, { action_profile_member: {} }, { action_profile_group: {} }].map((e) => p.read(e));
  return all.map((r) => (r.ok ? [...r.entities] : r.status));
}

/** Statuses and the resulting state of applying a decoded request to a fresh seeded program. */
function outcome(req: Msg | LeanWrite, rollback: boolean): unknown {
  const p = seeded();
  const { statuses, types } = applyUpdates(p, req, rollback);
  return { statuses: statuses.map((s) => ({ code: s.code, message: s.message })), types, state: state(p) };
}

function header(req: Msg | LeanWrite): unknown {
  if (req instanceof LeanWrite) return [req.deviceId, req.role, req.electionId, req.atomicity];
  return [Number(u64(req.device_id)), typeof req.role === 'string' ? req.role : '', uint128(req.election_id), Number(req.atomicity ?? 0)];
}

/** What the target's gRPC service definition makes of a Write's bytes (lean, generic or malformed). */
const served = (p4RuntimeServiceDefinition() as unknown as Record<string, { requestDeserialize: (b: Buffer) => unknown }>).Write!.requestDeserialize;

/** Checks the lean decoding of `bytes` against the generic one; returns whether the lean path took it. */
function checkWrite(bytes: Uint8Array, what: string): boolean {
  const buf = Buffer.from(bytes);
  const lean = decodeLeanWrite(buf, ...LIMITS);
  const generic = decodeGenericWrite(buf);
  const service = served(buf);
  if (isMalformed(generic)) {
    expect(lean, `${what}: the generic path finds it malformed (${generic.__malformed}), the lean one must decline`).to.equal(undefined);
    expect(service, `${what}: the service answers INVALID_ARGUMENT`).to.deep.equal(generic);
    return false;
  }
  expect(service instanceof LeanWrite, `${what}: the service decodes it the lean way`).to.equal(lean !== undefined);
  if (!lean) return false;
  const g = generic as Msg;
  expect(header(lean), `${what}: header`).to.deep.equal(header(g));
  const updates = (g.updates ?? []) as Msg[];
  expect(lean.types, `${what}: update types`).to.deep.equal(updates.map((u) => Number(u.type ?? 0)));
  updates.forEach((u, i) => {
    const e = u.entity as Msg | null | undefined;
    const expected = !e || Object.keys(e).length === 0 ? undefined : entityFromWire(e);
    expect(lean.entities[i], `${what}: entity ${i}`).to.deep.equal(expected);
  });
  for (const rollback of [false, true]) expect(outcome(lean, rollback), `${what}: outcome, rollback ${rollback}`).to.deep.equal(outcome(g, rollback));
  return true;
}

/** Deterministic PRNG (mulberry32) for the mutations. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  const bytes = Array.from(src);
  const kind = Math.floor(rnd() * 4);
  const at = Math.floor(rnd() * bytes.length);
  if (kind === 0) bytes[at] = Math.floor(rnd() * 256);
  else if (kind === 1) bytes[at] = bytes[at]! ^ (1 << Math.floor(rnd() * 8));
  else if (kind === 2) bytes.splice(at, 1);
  else bytes.splice(at, 0, Math.floor(rnd() * 256));
  return Uint8Array.from(bytes);
}

/** A structural rendering that tells Buffer from Uint8Array and keeps key order. */
function shape(x: unknown): string {
  if (Buffer.isBuffer(x)) return `Buffer(${x.toString('hex')})`;
  if (x instanceof Uint8Array) return `Uint8Array(${Buffer.from(x).toString('hex')})`;
  if (Array.isArray(x)) return `[${x.map(shape).join(',')}]`;
  if (x !== null && typeof x === 'object') return `{${Object.entries(x).map(([k, v]) => `${k}:${shape(v)}`).join(',')}}`;
  return `${typeof x}:${String(x)}`;
}

const genericRead = (buf: Buffer): unknown => (R.toObject(R.decode(buf), OBJECT) as { entities?: Msg[] }).entities ?? [];

describe('P4Runtime lean codecs (target-codec)', () => {
  describe('target: WriteRequest bytes → entities, lean vs generic', () => {
    const bytesOf = (c: WriteCase): Uint8Array => c.bytes ?? W.encode(W.fromObject(c.req!)).finish();
    for (const c of CASES) {
      it(`${c.lean ? 'lean' : 'generic'}: ${c.name}`, () => {
        expect(checkWrite(bytesOf(c), c.name), 'taken by the lean decoder').to.equal(c.lean);
      });
    }

    it('mutated requests: what the lean decoder takes it reads as the generic path does; malformed ones it declines', () => {
      const rnd = prng(4);
      const bases = CASES.filter((c) => c.lean).map(bytesOf);
      let taken = 0;
      for (let i = 0; i < 1500; i++) {
        let m = bases[i % bases.length]!;
        for (let k = 1 + Math.floor(rnd() * 2); k > 0; k--) m = mutate(m, rnd);
        if (checkWrite(m, `mutation ${i} (${Buffer.from(m).toString('hex')})`)) taken++;
      }
      expect(taken, 'some mutations stay well-formed and lean').to.be.greaterThan(100);
    });

    it('requests over the size or field-count limit are left to the generic path', () => {
      const bytes = Buffer.from(W.encode(W.fromObject(CASES[0]!.req!)).finish());
      expect(decodeLeanWrite(bytes, bytes.length - 1, LIMITS[1])).to.equal(undefined);
      expect(decodeLeanWrite(bytes, LIMITS[0], 3)).to.equal(undefined);
      expect(decodeLeanWrite(bytes, ...LIMITS)).to.be.instanceOf(LeanWrite);
    });
  });

  describe('target: Read → encoded ReadResponses, lean vs generic', () => {
    const n = new Node(info).gateway().addPod(pod(2)).addPod(pod(10)).addService(0x0a60000a, 6, 80, [{ ip: pod(10).ip, port: 8080 }]);
    n.addService(0x0a60000b, 6, 80, []);
    // Values at every byte boundary of the canonical form, one word and two.
    const edges = [0, 0xff, 0x100, 0xffff, 0x10000, 0xffffff, 0x1000000, 0xffffffff];
    edges.forEach((v, i) => n.p.insert(n.b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': v }, 'MainControlImpl.set_dest_mac_port', { port: v, dmac: i % 2 ? v * 0x10000 : v })));
    const program = new ModelProgram(n.p);
    before(async () => {
      n.p.age();
      for (const sport of [1000, 1001, 40000]) trace(n.p, 2, tcp({ src: pod(2).mac, dst: GATEWAY_MAC, srcIp: pod(2).ip, dstIp: 0x0a60000a, sport, dport: 80, flags: 'S' }));
      await n.clock.advance(1234.5678);
      n.p.age();
    });

    for (const c of READ_CASES) {
      it(`${c.name}: the same bytes, in chunks the client decodes as protobufjs does`, () => {
        const chunks: Buffer[] = [];
        const out = new ReadChunker((x) => chunks.push(x), c.chunkBytes);
        const bad = program.readEncoded(c.entity, out);
        out.flush();
        const r = program.read(c.entity);
        if (!r.ok) return expect(bad).to.deep.equal(r.status);
        expect(bad).to.equal(undefined);
        const generic = Buffer.from(R.encode({ entities: [...r.entities] }).finish());
        expect(Buffer.concat(chunks).toString('hex')).to.equal(generic.toString('hex'));
        expect(out.entities).to.equal([...r.entities].length);
        expect(chunks.length, 'chunks').to.be.at.least(c.minChunks ?? 0);
        for (const chunk of chunks) {
          const lean = decodeLeanRead(chunk);
          expect(lean, 'the client decoder takes it').to.not.equal(undefined);
          expect(shape(lean)).to.equal(shape(genericRead(chunk)));
          if (c.chunkBytes) expect(chunk.length <= c.chunkBytes || lean!.length === 1, `a chunk of ${chunk.length} bytes`).to.equal(true);
        }
      });
    }

    it('reads learned entries with their idle time, and entries naming members and groups', () => {
      const r = program.read({ table_entry: { table_id: info.tableByName(TABLES.ctForward).id } });
      expect(r.ok && [...r.entities].length).to.equal(3);
      const lb = program.read({ table_entry: { table_id: info.tableByName(TABLES.serviceLb).id } });
      expect(lb.ok && [...lb.entities].map((e) => Object.keys(((e.table_entry as Msg).action as Msg))[0]).sort()).to.deep.equal(['action_profile_group_id', 'action_profile_member_id']);
    });
  });

  describe('client: WriteRequest object → bytes, lean vs protobufjs', () => {
    for (const c of [...CASES, ...CLIENT_CASES].filter((x) => x.req)) {
      const req = c.req!;
      it(`${c.clientLean === false ? 'generic' : 'lean'}: ${c.name}`, () => {
        const generic = Buffer.from(W.encode(W.fromObject(req)).finish()).toString('hex');
        const lean = encodeLeanWrite(req);
        if (c.clientLean === false) expect(lean, 'declined').to.equal(undefined);
        else expect(lean?.toString('hex')).to.equal(generic);
        expect(encodeWriteRequest(req).toString('hex'), 'with the fallback').to.equal(generic);
      });
    }

    it('declines a request setting any field it does not write (the lists match the .proto)', () => {
      for (const [type, names] of Object.entries(NOT_WRITTEN)) {
        const t = lookup(type);
        const written = t.fieldsArray.map((f) => f.name).filter((f) => !names.includes(f));
        expect(written.length + names.length, type).to.equal(t.fieldsArray.length);
        for (const name of names) {
          const req = locate(type, (o) => (o[name] = valueFor(t.fields[name]!)));
          expect(encodeLeanWrite(req), `${type}.${name}`).to.equal(undefined);
          expect(encodeWriteRequest(req).toString('hex')).to.equal(Buffer.from(W.encode(W.fromObject(req)).finish()).toString('hex'));
        }
      }
    });
  });

  describe('client: ReadResponse bytes → objects, lean vs protobufjs', () => {
    const responses: [string, boolean, Buffer][] = [
      ['explicit zeros, a member id of 0, idle times, empty messages', true, ODD_READ],
      ['a ternary match', false, Buffer.from(R.encode(R.fromObject({ entities: [{ table_entry: { table_id: 1, match: [{ field_id: 1, ternary: { value: b(1), mask: b(1) } }] } }] })).finish())],
      ['a counter entry', false, Buffer.from(R.encode(R.fromObject({ entities: [{ counter_entry: { counter_id: 1 } }] })).finish())],
      ['a table entry with metadata', false, Buffer.from(R.encode(R.fromObject({ entities: [{ table_entry: { table_id: 1, metadata: b(1) } }] })).finish())],
      ['fields out of order', false, rawRead(vi(1, IPV4), ACTION, MATCH)],
      ['an unknown field', false, rawRead(vi(1, IPV4), MATCH, vi(14, 1))],
      ['a negative priority', false, rawRead(vi(1, IPV4), [0x20, ...Array<number>(9).fill(0xff), 0x01])],
      ['an empty response', true, Buffer.alloc(0)],
    ];
    for (const [name, lean, buf] of responses) {
      it(`${lean ? 'lean' : 'generic'}: ${name}`, () => {
        const got = decodeLeanRead(buf);
        if (lean) expect(shape(got)).to.equal(shape(genericRead(buf)));
        else expect(got).to.equal(undefined);
        expect(shape(decodeReadResponse(buf))).to.equal(shape(genericRead(buf)));
      });
    }
  });
});
