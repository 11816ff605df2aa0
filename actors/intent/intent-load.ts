/**
 * Rebuilds the manager's intent from what its KV bucket holds (after a restart, a new leader, or
 * a failed write): every record is decoded and validated again, the ids they carry are claimed
 * in the pools, and the objects are rendered. Nothing in the bucket is trusted blindly, and
 * nothing in it can stop the load:
 *
 * - a value that does not decode, or an object that conflicts with one loaded before it (same
 *   address, same port), is dropped and its key deleted — the agent's full-state sync that
 *   follows brings back whatever really exists;
 * - an id out of range or claimed twice (which the batch discipline prevents, but a hand-edited
 *   bucket could hold) goes to the first record in key order; the others get fresh ids and are
 *   rewritten.
 *
 * The keys that need repair stay marked for writing: the store writes them before serving.
 *
 * @example
 * const { intent, problems } = loadIntent(node, info, await kv.load(), pull);
 */
import type { P4Info } from '../../p4/p4info.js';
import { IdPool } from '../../p4/ids.js';
import { endpointKey, newIdPools, servicePortKey } from '../../p4/render.js';
import type { Loaded } from './intent-kv.js';
import { decodeRecord, type IntentRecord } from './intent-records.js';
import { ManagerIntent, type PullTracker } from './manager-intent.js';

type ServiceRecord = Extract<IntentRecord, { kind: 'service' }>;

export interface LoadOutcome {
  readonly intent: ManagerIntent;
  /** What was dropped or repaired, and why (for the log). */
  readonly problems: readonly string[];
  /** How many records were loaded. */
  readonly records: number;
}

export function loadIntent(node: string, info: P4Info, loaded: Loaded, pull: PullTracker): LoadOutcome {
  const problems: string[] = [];
  const repair = new Set<string>();
  const records: [string, IntentRecord][] = [];
  for (const [key, entry] of [...loaded.entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (entry.value === null) continue;
    const r = decodeRecord(key, entry.value);
    if (r.ok) records.push([key, r.value]);
    else {
      problems.push(`${key}: ${r.error}`);
      repair.add(key);
    }
  }
  const services = records.filter((r): r is [string, ServiceRecord] => r[1].kind === 'service');
  const intent = new ManagerIntent(node, info, pull, claimIds(info, services, problems, repair));
  for (const [key, entry] of loaded.entries) intent.stored(key, entry.revision, entry.value !== null);
  for (const [key, rec] of records) {
    const r = rec.kind === 'host' ? intent.applyHost(rec.host) : rec.kind === 'pod' ? intent.applyPod(rec.pod) : intent.applyService(rec.service);
    if (!r.ok) {
      problems.push(`${key}: ${r.error.message}`);
      repair.add(key);
    }
  }
  // A service whose stored ids could not all be kept is rewritten with the ids it got.
  for (const [key, rec] of services) {
    const s = intent.services.get(servicePortKey(rec.service));
    if (!s) continue;
    const moved = s.groupId !== rec.groupId || rec.service.endpoints.some((e, i) => intent.pools.members.idOf(endpointKey(e)) !== rec.memberIds[i]);
    if (moved) repair.add(key);
  }
  intent.markClean((key) => repair.has(key));
  for (const key of repair) if (!isLoadedObject(intent, key)) intent.markForDeletion(key);
  intent.renderTouched();
  return { intent, problems, records: records.length };
}

function isLoadedObject(intent: ManagerIntent, key: string): boolean {
  return intent.pendingWrites().some((w) => w.key === key && w.value !== null);
}

/** Pools holding every id the records carry that is in range and claimed once (first in key order wins). */
function claimIds(info: P4Info, services: readonly [string, ServiceRecord][], problems: string[], repair: Set<string>): ReturnType<typeof newIdPools> {
  const empty = newIdPools(info);
  const members = new Map<number, number>();
  const memberOwner = new Map<number, number>();
  const groups = new Map<number, number>();
  const groupTaken = new Set<number>();
  const inRange = (pool: IdPool, id: number): boolean => id >= pool.first && id <= pool.last;
  for (const [key, rec] of services) {
    const sk = servicePortKey(rec.service);
    if (inRange(empty.groups, rec.groupId) && !groupTaken.has(rec.groupId)) {
      groups.set(sk, rec.groupId);
      groupTaken.add(rec.groupId);
    } else {
      problems.push(`${key}: group id ${rec.groupId} unusable; a new one is allocated`);
      repair.add(key);
    }
    rec.service.endpoints.forEach((e, i) => {
      const ek = endpointKey(e);
      const id = rec.memberIds[i]!;
      const had = members.get(ek);
      if (had === id) return;
      if (had === undefined && inRange(empty.members, id) && !memberOwner.has(id)) {
        members.set(ek, id);
        memberOwner.set(id, ek);
        return;
      }
      problems.push(`${key}: member id ${id} unusable; a new one is allocated`);
      repair.add(key);
    });
  }
  return {
    members: IdPool.from(empty.members.first, empty.members.last, members),
    groups: IdPool.from(empty.groups.first, empty.groups.last, groups),
  };
}
