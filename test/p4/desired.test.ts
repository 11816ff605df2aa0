import { expect } from 'chai';
import { canonicalHex, desiredSet, diffEntities, keyed, type WireEntity } from '../../p4/desired.js';

const b = (...x: number[]): Uint8Array => Uint8Array.from(x);
const entry = (table: number, key: number, port: Uint8Array): WireEntity => ({
  table_entry: { table_id: table, match: [{ field_id: 1, exact: { value: b(10, 0, 0, key) } }], action: { action: { action_id: 7, params: [{ param_id: 1, value: port }] } } },
});
const member = (id: number, ep: number): WireEntity => ({ action_profile_member: { action_profile_id: 9, member_id: id, action: { action_id: 8, params: [{ param_id: 1, value: b(10, 1, 0, ep) }] } } });
const group = (id: number, members: number[]): WireEntity => ({ action_profile_group: { action_profile_id: 9, group_id: id, members: members.map((m) => ({ member_id: m, weight: 1 })) } });
const lbEntry = (vip: number, groupId: number): WireEntity => ({
  table_entry: { table_id: 2, match: [{ field_id: 1, exact: { value: b(10, 96, 0, vip) } }], action: { action_profile_group_id: groupId } },
});
const none = { volatileTables: new Set<number>() };

describe('desired entities and their difference from the target', () => {
  it('canonical bytestrings: padded and shortest forms are equal', () => {
    expect(canonicalHex(b(0, 0, 7))).to.equal('07');
    expect(canonicalHex(b(0, 0))).to.equal('00');
    expect(canonicalHex(new Uint8Array(0))).to.equal('00');
    expect(keyed(entry(5, 1, b(0, 0, 0, 3))).value).to.equal(keyed(entry(5, 1, b(3))).value);
    expect(keyed(group(1, [2, 1])).value).to.equal(keyed(group(1, [1, 2])).value);
  });

  it('nothing to write when the target holds exactly the desired state', () => {
    const desired = [member(1, 1), member(2, 2), group(1, [1, 2]), lbEntry(1, 1), entry(5, 1, b(3))];
    const plan = diffEntities(desiredSet(desired), desired, none);
    expect(plan.phases).to.deep.equal([]);
    expect(plan.counts.unchanged).to.equal(5);
  });

  it('orders writes: members, groups, entries; then deletes entries, groups, members', () => {
    const actual = [member(1, 1), member(3, 3), group(2, [3]), lbEntry(2, 2), entry(5, 1, b(3))];
    const desired = [member(1, 9), member(2, 2), group(1, [1, 2]), lbEntry(1, 1), entry(5, 1, b(4))];
    const plan = diffEntities(desiredSet(desired), actual, none);
    const phases = plan.phases.map((p) => p.map((u) => `${u.type} ${keyed(u.entity).key}`));
    expect(phases).to.deep.equal([
      ['MODIFY m9:1', 'INSERT m9:2'],
      ['INSERT g9:1'],
      ['MODIFY t5:1=0a000001', 'INSERT t2:1=0a600001'],
      ['DELETE t2:1=0a600002'],
      ['DELETE g9:2'],
      ['DELETE m9:3'],
    ]);
    expect(plan.counts).to.deep.include({ insert: 3, modify: 2, delete: 3 });
    const del = plan.phases[3]![0]!.entity.table_entry as Record<string, unknown>;
    expect(del).to.not.have.property('action');
  });

  it('leaves learned entries alone, except those it is told to retire', () => {
    const learned = (ep: number): WireEntity => entry(3, ep, b(ep));
    const retire = (e: WireEntity): boolean => keyed(e).value.endsWith('1=02)');
    const plan = diffEntities(desiredSet([]), [learned(1), learned(2), learned(3)], { volatileTables: new Set([3]), retire });
    expect(plan.phases.map((p) => p.map((u) => `${u.type} ${keyed(u.entity).key}`))).to.deep.equal([['DELETE t3:1=0a000002']]);
    expect(plan.counts).to.deep.include({ retired: 1, delete: 0 });
  });

  it('refuses a render with two entities under one key', () => {
    expect(() => desiredSet([entry(5, 1, b(1)), entry(5, 1, b(2))])).to.throw(/share the key/);
  });
});
