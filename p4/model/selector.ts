/**
 * An action selector (PSA/PNA ActionSelector): members bound to actions, groups of members with
 * weights, and the data-plane choice CRC32(src addr, src port) mod group size. Member and group ids
 * are the controller's; the data plane works on member slots (Int32Array per group, each member
 * repeated `weight` times), so ids never collide and a member may sit in any number of groups.
 *
 * @example
 * const sel = new ActionSelector(info, info.actionProfileByName('MainControlImpl.lb_selector'));
 * sel.write('INSERT', { profileId: sel.id, memberId: 7, action });          // OK_STATUS
 * sel.writeGroup('INSERT', { profileId: sel.id, groupId: 1, members: [{ memberId: 7, weight: 1 }], maxSize: 16 });
 * const m = sel.select(sel.groupSlot(1), 0x0af40002, 40000);               // member slot
 */
import type { P4ActionProfile, P4Info } from '../p4info.js';
import { crc32AddrPort } from './crc32.js';
import type { ActionProfileGroup, ActionProfileMember, GroupMember, UpdateType } from './entities.js';
import { decodeAction, encodeAction, layoutActions, maxParamWords, type ActionLayout } from './layout.js';
import { Code, OK_STATUS, status, UNKNOWN_REFERENCE_CODE, type Status } from './status.js';

interface Group {
  readonly id: number;
  readonly maxSize: number;
  members: readonly GroupMember[];
  /** Table entries that point at this group. */
  refs: number;
}

const EMPTY = new Int32Array(0);
export const GROUP_EMPTY = -2;
export const GROUP_MIXED = -1;

export class ActionSelector {
  readonly id: number;
  readonly name: string;
  readonly actions: readonly ActionLayout[];
  readonly paramWords: number;
  readonly size: number;
  readonly maxGroupSize: number;
  readonly withSelector: boolean;
  readonly memberAction: Uint8Array;
  readonly memberParams: Uint32Array;
  /** Per group slot: member slots, each repeated by its weight. */
  readonly groupMembers: Int32Array[] = [];
  /**
   * Per group slot: the action index all its members share (so the data plane knows the action
   * without selecting a member), GROUP_MIXED when they differ, GROUP_EMPTY when there are none.
   */
  readonly groupAction: number[] = [];
  private readonly memberIdOf: Uint32Array;
  /** Groups containing the member + table entries pointing at it. */
  private readonly memberRefs: Int32Array;
  private readonly memberSlots = new Map<number, number>();
  private readonly freeMembers: Int32Array;
  private freeTop: number;
  private readonly groups: (Group | undefined)[] = [];
  private readonly groupSlots = new Map<number, number>();
  private readonly freeGroups: number[] = [];
  private readonly scratch: Uint32Array;

  constructor(info: P4Info, profile: P4ActionProfile) {
    this.id = profile.id;
    this.name = profile.name;
    this.withSelector = profile.withSelector;
    this.size = Math.max(1, profile.size || 1024);
    this.maxGroupSize = profile.maxGroupSize;
    const table = info.table(profile.tableIds[0] ?? -1);
    if (!table) throw new Error(`action profile ${profile.name} implements no table`);
    this.actions = layoutActions(info, table.actionRefs).filter((a) => a.scope !== 'DEFAULT_ONLY');
    this.paramWords = Math.max(1, maxParamWords(this.actions));
    this.memberAction = new Uint8Array(this.size);
    this.memberParams = new Uint32Array(this.size * this.paramWords);
    this.memberIdOf = new Uint32Array(this.size);
    this.memberRefs = new Int32Array(this.size);
    this.freeMembers = new Int32Array(this.size);
    for (let i = 0; i < this.size; i++) this.freeMembers[i] = this.size - 1 - i;
    this.freeTop = this.size;
    this.scratch = new Uint32Array(this.paramWords);
  }

  /** Data plane: the member slot chosen for (src, sport) in group slot g, or -1 for an empty group. */
  select(g: number, src: number, sport: number): number {
    const arr = this.groupMembers[g]!;
    const n = arr.length;
    if (n === 0) return -1;
    return arr[crc32AddrPort(src, sport) % n]!;
  }

  memberSlot(memberId: number): number {
    return this.memberSlots.get(memberId) ?? -1;
  }

  groupSlot(groupId: number): number {
    return this.groupSlots.get(groupId) ?? -1;
  }

  get memberCount(): number {
    return this.memberSlots.size;
  }

  get groupCount(): number {
    return this.groupSlots.size;
  }

  /** A table entry starts (+1) or stops (-1) pointing at a member or group slot. */
  reference(kind: 'member' | 'group', slot: number, delta: 1 | -1): void {
    if (kind === 'member') this.memberRefs[slot] = this.memberRefs[slot]! + delta;
    else this.groups[slot]!.refs += delta;
  }

  /** INSERT / MODIFY / DELETE of a member. */
  write(type: UpdateType, m: ActionProfileMember): Status {
    if (!Number.isInteger(m.memberId) || m.memberId <= 0 || m.memberId > 0xffffffff) return status(Code.INVALID_ARGUMENT, 'member_id must be a non-zero uint32');
    const slot = this.memberSlot(m.memberId);
    if (type === 'DELETE') {
      if (slot < 0) return status(Code.NOT_FOUND, `member ${m.memberId} does not exist`);
      if (this.memberRefs[slot]! > 0) return status(Code.FAILED_PRECONDITION, `member ${m.memberId} is still used by ${this.memberRefs[slot]} group(s) or entries`);
      this.memberSlots.delete(m.memberId);
      this.freeMembers[this.freeTop++] = slot;
      return OK_STATUS;
    }
    if (type === 'INSERT' && slot >= 0) return status(Code.ALREADY_EXISTS, `member ${m.memberId} exists`);
    if (type === 'MODIFY' && slot < 0) return status(Code.NOT_FOUND, `member ${m.memberId} does not exist`);
    if (!m.action) return status(Code.INVALID_ARGUMENT, `member ${m.memberId} has no action`);
    const index = decodeAction(this.actions, m.action, this.scratch, 0, this.name);
    if (typeof index !== 'number') return index;
    if (type === 'INSERT' && this.freeTop === 0) return status(Code.RESOURCE_EXHAUSTED, `${this.name} holds ${this.size} members`);
    const s = type === 'INSERT' ? this.freeMembers[--this.freeTop]! : slot;
    if (type === 'INSERT') {
      this.memberSlots.set(m.memberId, s);
      this.memberIdOf[s] = m.memberId;
      this.memberRefs[s] = 0;
    }
    const changed = type === 'MODIFY' && this.memberAction[s] !== index;
    this.memberAction[s] = index;
    this.memberParams.set(this.scratch, s * this.paramWords);
    if (changed) this.groups.forEach((g, gs) => g && this.updateGroupAction(gs));
    return OK_STATUS;
  }

  /** INSERT / MODIFY / DELETE of a group. */
  writeGroup(type: UpdateType, g: ActionProfileGroup): Status {
    if (!this.withSelector) return status(Code.INVALID_ARGUMENT, `${this.name} is not an action selector: no groups`);
    if (!Number.isInteger(g.groupId) || g.groupId <= 0 || g.groupId > 0xffffffff) return status(Code.INVALID_ARGUMENT, 'group_id must be a non-zero uint32');
    const slot = this.groupSlot(g.groupId);
    if (type === 'DELETE') {
      if (slot < 0) return status(Code.NOT_FOUND, `group ${g.groupId} does not exist`);
      const group = this.groups[slot]!;
      if (group.refs > 0) return status(Code.FAILED_PRECONDITION, `group ${g.groupId} is used by ${group.refs} table entries`);
      this.setMembers(slot, []);
      this.groups[slot] = undefined;
      this.groupSlots.delete(g.groupId);
      this.freeGroups.push(slot);
      return OK_STATUS;
    }
    if (type === 'INSERT' && slot >= 0) return status(Code.ALREADY_EXISTS, `group ${g.groupId} exists`);
    if (type === 'MODIFY' && slot < 0) return status(Code.NOT_FOUND, `group ${g.groupId} does not exist`);
    const maxSize = g.maxSize ?? 0;
    const problem = this.checkGroup(g, maxSize, type === 'MODIFY' ? this.groups[slot]!.maxSize : undefined);
    if (problem) return problem;
    let s = slot;
    if (type === 'INSERT') {
      s = this.freeGroups.pop() ?? this.groups.length;
      this.groups[s] = { id: g.groupId, maxSize, members: [], refs: 0 };
      this.groupMembers[s] = EMPTY;
      this.groupSlots.set(g.groupId, s);
    }
    this.setMembers(s, g.members ?? []);
    return OK_STATUS;
  }

  private checkGroup(g: ActionProfileGroup, maxSize: number, insertedMaxSize: number | undefined): Status | undefined {
    if (insertedMaxSize !== undefined && maxSize !== insertedMaxSize) return status(Code.INVALID_ARGUMENT, `max_size of group ${g.groupId} is ${insertedMaxSize}; it cannot change`);
    if (this.maxGroupSize > 0 && (!Number.isInteger(maxSize) || maxSize <= 0 || maxSize > this.maxGroupSize)) {
      return status(Code.INVALID_ARGUMENT, `max_size must be 1…${this.maxGroupSize}, got ${maxSize}`);
    }
    const seen = new Set<number>();
    let total = 0;
    for (const m of g.members ?? []) {
      if (seen.has(m.memberId)) return status(Code.INVALID_ARGUMENT, `member ${m.memberId} listed twice in group ${g.groupId}`);
      seen.add(m.memberId);
      if (!Number.isInteger(m.weight) || m.weight <= 0) return status(Code.INVALID_ARGUMENT, `member ${m.memberId} has weight ${m.weight}; weights must be > 0`);
      if (this.memberSlot(m.memberId) < 0) return status(UNKNOWN_REFERENCE_CODE, `group ${g.groupId} names member ${m.memberId}, which does not exist`);
      total += m.weight;
    }
    const limit = maxSize > 0 ? maxSize : this.maxGroupSize > 0 ? this.maxGroupSize : Infinity;
    if (total > limit) return status(Code.RESOURCE_EXHAUSTED, `group ${g.groupId}: members' weights sum to ${total}, more than ${limit}`);
    return undefined;
  }

  private setMembers(s: number, members: readonly GroupMember[]): void {
    const group = this.groups[s]!;
    for (const m of group.members) this.reference('member', this.memberSlot(m.memberId), -1);
    const total = members.reduce((n, m) => n + m.weight, 0);
    const arr = new Int32Array(total);
    let k = 0;
    for (const m of members) {
      const ms = this.memberSlot(m.memberId);
      this.reference('member', ms, 1);
      for (let w = 0; w < m.weight; w++) arr[k++] = ms;
    }
    group.members = members.map((m) => ({ memberId: m.memberId, weight: m.weight }));
    this.groupMembers[s] = arr;
    this.updateGroupAction(s);
  }

  private updateGroupAction(s: number): void {
    const arr = this.groupMembers[s]!;
    let a = arr.length === 0 ? GROUP_EMPTY : this.memberAction[arr[0]!]!;
    for (let i = 1; i < arr.length && a !== GROUP_MIXED; i++) if (this.memberAction[arr[i]!] !== a) a = GROUP_MIXED;
    this.groupAction[s] = a;
  }

  /** Members in P4Runtime form (memberId 0 = all). */
  readMembers(memberId = 0): ActionProfileMember[] {
    const out: ActionProfileMember[] = [];
    for (const [id, s] of this.memberSlots) {
      if (memberId !== 0 && id !== memberId) continue;
      out.push({ profileId: this.id, memberId: id, action: encodeAction(this.actions[this.memberAction[s]!]!, this.memberParams, s * this.paramWords) });
    }
    return out;
  }

  /** Groups in P4Runtime form (groupId 0 = all). */
  readGroups(groupId = 0): ActionProfileGroup[] {
    const out: ActionProfileGroup[] = [];
    for (const [id, s] of this.groupSlots) {
      if (groupId !== 0 && id !== groupId) continue;
      const g = this.groups[s]!;
      out.push({ profileId: this.id, groupId: id, members: g.members.map((m) => ({ ...m })), maxSize: g.maxSize });
    }
    return out;
  }

  memberIdAt(slot: number): number {
    return this.memberIdOf[slot]!;
  }

  groupIdAt(slot: number): number {
    return this.groups[slot]!.id;
  }
}
