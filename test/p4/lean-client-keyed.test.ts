/**
 * The reconcile's keying of Read responses from their bytes (p4/target/lean-client-keyed.ts)
 * against keyed() of the decoded entities (p4/desired.ts), which defines what equal means:
 * seeded random entities of every kind as protobufjs encodes them (padded and empty values,
 * zero weights, default entries, priorities, idle times, each kind of table action), and the
 * messages it must leave to the generic path.
 */
import { expect } from 'chai';
import { keyReadResponse } from '../../actors/manager/session/session-io.js';
import { seededRandom, type Random } from '../../core/random.js';
import { keyed, type Keyed } from '../../p4/desired.js';
import { decodeReadResponse, P4RuntimeError } from '../../p4/runtime-client.js';
import { p4Types } from '../../p4/runtime-proto.js';
import { keyLeanRead } from '../../p4/target/lean-client-keyed.js';

type Msg = Record<string, unknown>;
const R = p4Types.ReadResponse;
const encode = (entities: Msg[]): Uint8Array => R.encode(R.fromObject({ entities })).finish();

/** A bytestring of 0–6 bytes, often with leading zeros (a padded value from another target). */
function bytes(rnd: Random): Uint8Array {
  const out = rnd.bytes(new Uint8Array(rnd.int(0, 6)));
  if (out.length > 1 && rnd.next() < 0.4) out[0] = 0;
  if (out.length > 2 && rnd.next() < 0.2) out[1] = 0;
  return out;
}

/** Ids in ascending order, the first sometimes 0 (proto3 leaves it out). */
function ascending(rnd: Random, n: number): number[] {
  const ids: number[] = [];
  let id = rnd.next() < 0.1 ? 0 : rnd.int(1, 3);
  for (let i = 0; i < n; i++) {
    ids.push(id);
    id += rnd.int(1, 3);
  }
  return ids;
}

function action(rnd: Random): Msg {
  return { action_id: rnd.next() < 0.1 ? 0 : rnd.int(1, 0x7fffffff), params: ascending(rnd, rnd.int(0, 3)).map((param_id) => (rnd.next() < 0.1 ? { param_id } : { param_id, value: bytes(rnd) })) };
}

function entity(rnd: Random): Msg {
  const kind = rnd.int(0, 9);
  if (kind === 0) return { action_profile_member: { action_profile_id: rnd.int(0, 5), member_id: rnd.int(0, 1 << 20), ...(rnd.next() < 0.8 ? { action: action(rnd) } : {}) } };
  if (kind === 1) {
    const members = Array.from({ length: rnd.int(0, 4) }, () => ({ member_id: rnd.int(0, 50), ...(rnd.next() < 0.5 ? { weight: rnd.int(0, 3) } : {}) }));
    return { action_profile_group: { action_profile_id: rnd.int(1, 5), group_id: rnd.int(0, 1 << 20), members, ...(rnd.next() < 0.3 ? { max_size: rnd.int(0, 64) } : {}) } };
  }
  const te: Msg = { table_id: rnd.int(0, 0x7fffffff), match: ascending(rnd, rnd.int(0, 3)).map((field_id) => (rnd.next() < 0.1 ? { field_id, exact: {} } : { field_id, exact: { value: bytes(rnd) } })) };
  const a = rnd.int(0, 4);
  if (a === 1) te.action = { action: action(rnd) };
  else if (a === 2) te.action = { action_profile_member_id: rnd.int(0, 1000) };
  else if (a === 3) te.action = { action_profile_group_id: rnd.int(0, 1000) };
  else if (a === 4) te.action = {};
  if (rnd.next() < 0.2) te.priority = rnd.int(0, 100);
  if (rnd.next() < 0.2) te.is_default_action = true;
  if (rnd.next() < 0.2) te.time_since_last_hit = { elapsed_ns: String(rnd.int(0, 1e9)) };
  return { table_entry: te };
}

const facts = (k: Keyed): unknown[] => [k.key, k.value, k.kind, k.tableId, k.isDefault];

describe('reconcile keying: Read responses keyed from their bytes, as keyed() keys the decoded entities', () => {
  it('every kind of entity, seeded at random: the same key, value, kind, table, default flag and entity', () => {
    const rnd = seededRandom(7);
    let keyedCount = 0;
    for (let m = 0; m < 40; m++) {
      const message = encode(Array.from({ length: 250 }, () => entity(rnd)));
      const fromBytes: Keyed[] = [];
      expect(keyLeanRead(message, fromBytes), `message ${m} is taken`).to.equal(true);
      const fromObjects = decodeReadResponse(message).map(keyed);
      expect(fromBytes.map(facts)).to.deep.equal(fromObjects.map(facts));
      expect(fromBytes.map((k) => k.entity)).to.deep.equal(fromObjects.map((k) => k.entity));
      keyedCount += fromBytes.length;
    }
    expect(keyedCount).to.equal(40 * 250);
  });

  it('padded and unpadded values key alike, so a padded read-back equals its canonical desired entry', () => {
    const padded = encode([{ table_entry: { table_id: 9, match: [{ field_id: 1, exact: { value: Uint8Array.of(0, 0, 10, 1) } }], action: { action: { action_id: 3, params: [{ param_id: 1, value: Uint8Array.of(0, 0) }] } } } }]);
    const canonical = encode([{ table_entry: { table_id: 9, match: [{ field_id: 1, exact: { value: Uint8Array.of(10, 1) } }], action: { action: { action_id: 3, params: [{ param_id: 1, value: Uint8Array.of(0) }] } } } }]);
    const a: Keyed[] = [];
    const b: Keyed[] = [];
    expect(keyLeanRead(padded, a) && keyLeanRead(canonical, b)).to.equal(true);
    expect(facts(a[0]!)).to.deep.equal(facts(b[0]!));
    expect(a[0]!.key).to.equal('t9:1=0a01');
    expect(a[0]!.value).to.equal('a3(1=00)');
  });

  const declined: [string, Msg[] | Uint8Array][] = [
    ['match fields out of order (keyed() sorts them)', [{ table_entry: { table_id: 4, match: [{ field_id: 2, exact: { value: Uint8Array.of(1) } }, { field_id: 1, exact: { value: Uint8Array.of(2) } }] } }]],
    ['params out of order', [{ action_profile_member: { action_profile_id: 1, member_id: 2, action: { action_id: 5, params: [{ param_id: 2, value: Uint8Array.of(1) }, { param_id: 1, value: Uint8Array.of(1) }] } } }]],
    ['a ternary match', [{ table_entry: { table_id: 1, match: [{ field_id: 1, ternary: { value: Uint8Array.of(1), mask: Uint8Array.of(1) } }] } }]],
    ['a counter entry', [{ counter_entry: { counter_id: 1 } }]],
  ];
  for (const [name, entities] of declined) {
    it(`leaves to the generic path, untouched: ${name}`, () => {
      const message = entities instanceof Uint8Array ? entities : encode(entities);
      const out: Keyed[] = [{ key: 'before', kind: 2, value: '', entity: {}, tableId: 0, isDefault: false }];
      expect(keyLeanRead(message, out)).to.equal(false);
      expect(out.map((k) => k.key)).to.deep.equal(['before']);
      // The generic path: keyed() of the decoded entities, or keyed()'s own refusal.
      const viaPath: Keyed[] = [];
      let pathError: unknown;
      try {
        keyReadResponse(message, viaPath);
      } catch (e) {
        pathError = e;
      }
      let objectError: unknown;
      let objects: Keyed[] = [];
      try {
        objects = decodeReadResponse(message).map(keyed);
      } catch (e) {
        objectError = e;
      }
      expect(String(pathError)).to.equal(String(objectError));
      expect(viaPath.map(facts)).to.deep.equal(objects.map(facts));
    });
  }

  it('a message that does not parse fails as grpc fails it: INTERNAL, "Response message parsing error"', () => {
    const out: Keyed[] = [];
    const broken = Uint8Array.of(0x0a, 0x05, 0x12, 0x01); // an entity longer than the message
    expect(keyLeanRead(broken, out)).to.equal(false);
    expect(() => keyReadResponse(broken, out))
      .to.throw(P4RuntimeError)
      .that.satisfies((e: P4RuntimeError) => e.code === 13 && e.message.startsWith('Response message parsing error'));
    expect(out).to.deep.equal([]);
  });
});
