/**
 * The desired entities of the manager's intent, kept up to date object by object: each domain
 * object (the gateway, the host, a pod interface, a service port) owns the keys its render
 * produced; replacing an object's entities touches only its own keys. Endpoint members are shared
 * by every service they back, so they are reference-counted by member id.
 *
 * The hardware session reads `desired` (a live map: read it synchronously) and takes the keys
 * that changed since it last asked, so a sync diffs only those instead of every entity.
 *
 * @example
 * const index = new DesiredIndex();
 * index.setOwner('p:c1', podEntities(info, pod));
 * index.takeChanges();   // undefined the first time (diff everything), then the changed keys
 */
import { keyed, type Keyed, type WireEntity } from '../../p4/desired.js';

interface MemberRef {
  refs: number;
  readonly key: string;
}

export class DesiredIndex {
  /** Every desired entity by key. Mutated in place: read it synchronously. */
  readonly desired = new Map<string, Keyed>();
  private readonly owned = new Map<string, string[]>();
  private readonly ownerOf = new Map<string, string>();
  private readonly members = new Map<number, MemberRef>();
  /** Keys changed since the last take; undefined until the first take (everything is new). */
  private changes: Set<string> | undefined;
  /** Keys two owners rendered (a validation gap): the first owner keeps it. */
  conflicts = 0;

  /** Replaces the entities `owner` contributes (an empty list removes them all). */
  setOwner(owner: string, entities: readonly WireEntity[]): void {
    const before = this.owned.get(owner) ?? [];
    const after: string[] = [];
    for (const e of entities) {
      const k = keyed(e);
      const holder = this.ownerOf.get(k.key);
      if (holder !== undefined && holder !== owner) {
        this.conflicts++;
        continue;
      }
      after.push(k.key);
      this.ownerOf.set(k.key, owner);
      this.put(k);
    }
    if (before.length > 0) {
      const keep = new Set(after);
      for (const key of before) {
        if (keep.has(key)) continue;
        this.ownerOf.delete(key);
        this.remove(key);
      }
    }
    if (after.length === 0) this.owned.delete(owner);
    else this.owned.set(owner, after);
  }

  /** One more service uses this member (the entity is added on the first use). */
  refMember(memberId: number, entity: WireEntity): void {
    const ref = this.members.get(memberId);
    if (ref) {
      ref.refs++;
      return;
    }
    const k = keyed(entity);
    this.members.set(memberId, { refs: 1, key: k.key });
    this.put(k);
  }

  /** One service fewer uses this member (removed with the last). */
  unrefMember(memberId: number): void {
    const ref = this.members.get(memberId);
    if (!ref) return;
    if (--ref.refs > 0) return;
    this.members.delete(memberId);
    this.remove(ref.key);
  }

  /** The keys changed since the last call, or undefined the first time (compare everything). */
  takeChanges(): Set<string> | undefined {
    const taken = this.changes;
    this.changes = new Set();
    return taken;
  }

  private put(k: Keyed): void {
    const prev = this.desired.get(k.key);
    if (prev && prev.value === k.value) return;
    this.desired.set(k.key, k);
    this.changes?.add(k.key);
  }

  private remove(key: string): void {
    if (this.desired.delete(key)) this.changes?.add(key);
  }
}
