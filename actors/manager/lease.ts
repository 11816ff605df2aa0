/**
 * Leadership of a node's manager, decided as a pure function so it can be tested step by step.
 *
 * The lease is one key in NATS JetStream KV, written only by compare-and-set on its revision.
 * nats-server 2.9 has no per-key TTL, so expiry is judged by each contender on its own injected
 * clock: a standby takes over only after it has seen the key's revision stay unchanged for a
 * whole TTL; the leader renews every heartbeat and steps down by itself when it has not renewed
 * for a TTL. Elapsed times on each process's own clock are compared, never timestamps across
 * machines, so clock skew does not matter.
 *
 * The epoch of each new holder is higher than any before (it also passes the key's revision),
 * and it is the P4Runtime election id: a new leader always arbitrates at least as high as any
 * earlier one. Only standbys that saw the lease expire bid, each with the revision it saw; one
 * CAS wins and the others see a new revision and wait again — no livelock.
 */

export interface LeaseRecord {
  readonly holder: string;
  readonly epoch: number;
  /** The holder's clock at its last renewal (informative only: never compared across hosts). */
  readonly renewedAtMs: number;
}

/** What a read of the key returned: absent (or deleted), or a revision with its record. */
export type Observation =
  /** No value: never written, purged, or deleted (then `revision` is the delete marker's). */
  | { readonly present: false; readonly revision?: number }
  | { readonly present: true; readonly revision: number; readonly record: LeaseRecord | undefined };

export interface LeaseView {
  readonly leading: boolean;
  readonly epoch: number;
  /** Highest epoch this contender has ever seen (lower bound for its next epoch). */
  readonly maxEpochSeen: number;
  readonly lastRevision: number;
  /** When (own clock) the key's revision last changed, as seen here. */
  readonly lastChangeAtMs: number;
  /** When (own clock) this contender last renewed or took the lease. */
  readonly lastRenewedAtMs: number;
}

export const INITIAL_VIEW: LeaseView = {
  leading: false,
  epoch: 0,
  maxEpochSeen: 0,
  lastRevision: 0,
  lastChangeAtMs: Number.NEGATIVE_INFINITY,
  lastRenewedAtMs: Number.NEGATIVE_INFINITY,
};

export type LeaseStep =
  | { readonly op: 'create'; readonly record: LeaseRecord }
  | { readonly op: 'renew'; readonly revision: number; readonly record: LeaseRecord }
  | { readonly op: 'takeover'; readonly revision: number; readonly record: LeaseRecord }
  | { readonly op: 'wait' };

export interface Decision {
  readonly step: LeaseStep;
  /** The view after observing (before the step's outcome is known). */
  readonly view: LeaseView;
}

/**
 * Decides the next step of contender `me` given what it saw at `nowMs`.
 *
 * @example
 * const { step } = decideLease('mgr-a', INITIAL_VIEW, { present: false }, 0, 3000);
 * step.op; // 'create' with epoch 1
 */
export function decideLease(me: string, view: LeaseView, seen: Observation, nowMs: number, ttlMs: number): Decision {
  // A leader that could not renew for a whole TTL can no longer prove it leads.
  let v: LeaseView = view.leading && nowMs - view.lastRenewedAtMs >= ttlMs ? { ...view, leading: false } : view;
  if (!seen.present) {
    // Above every epoch this contender saw and above the delete marker's revision: a holder's
    // epoch never exceeds the revision it was written at, so a fresh process (which saw none)
    // still bids above the manager that deleted the key on a clean stop.
    const epoch = Math.max(v.maxEpochSeen, seen.revision ?? 0) + 1;
    return { step: { op: 'create', record: { holder: me, epoch, renewedAtMs: nowMs } }, view: { ...v, leading: false } };
  }
  const record = seen.record;
  const maxEpochSeen = Math.max(v.maxEpochSeen, record?.epoch ?? 0);
  const changed = seen.revision !== v.lastRevision;
  v = { ...v, maxEpochSeen, lastRevision: seen.revision, lastChangeAtMs: changed ? nowMs : v.lastChangeAtMs };
  if (record?.holder === me) {
    return { step: { op: 'renew', revision: seen.revision, record: { ...record, renewedAtMs: nowMs } }, view: v };
  }
  // Someone else holds it (or the record is unreadable): we are not the leader.
  v = { ...v, leading: false };
  if (changed || nowMs - v.lastChangeAtMs < ttlMs) return { step: { op: 'wait' }, view: v };
  const epoch = Math.max(maxEpochSeen, seen.revision) + 1;
  return { step: { op: 'takeover', revision: seen.revision, record: { holder: me, epoch, renewedAtMs: nowMs } }, view: v };
}

/** The view after a step's write succeeded (with the key's new revision) or failed. */
export function afterStep(view: LeaseView, step: LeaseStep, outcome: { ok: true; revision: number } | { ok: false }, nowMs: number): LeaseView {
  if (step.op === 'wait') return view;
  if (!outcome.ok) return { ...view, leading: false };
  return {
    ...view,
    leading: true,
    epoch: step.record.epoch,
    maxEpochSeen: Math.max(view.maxEpochSeen, step.record.epoch),
    lastRevision: outcome.revision,
    lastChangeAtMs: nowMs,
    lastRenewedAtMs: nowMs,
  };
}

/** Parses a stored record; undefined for anything malformed (treated as "held by nobody we know"). */
export function parseLeaseRecord(bytes: Uint8Array): LeaseRecord | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LeaseRecord>;
    if (typeof v.holder === 'string' && v.holder && Number.isSafeInteger(v.epoch) && (v.epoch as number) > 0 && typeof v.renewedAtMs === 'number') {
      return { holder: v.holder, epoch: v.epoch as number, renewedAtMs: v.renewedAtMs };
    }
  } catch {
    // fall through
  }
  return undefined;
}

export function encodeLeaseRecord(r: LeaseRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}
