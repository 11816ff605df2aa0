/**
 * Keeps (or waits for) a node's leadership lease in NATS JetStream KV, driving the pure
 * decision function of lease.ts every heartbeat on the injected clock, and tells the tree when
 * this manager becomes leader (with its epoch: the P4Runtime election id) or stops being one.
 * On a clean stop the leader deletes its lease (compare-and-set), so a standby takes over at once
 * instead of after a TTL.
 *
 * The keeper needs only four calls of the KV (`LeaseStore`): the NATS `KV` has them, and the
 * in-process simulator passes `openStore` to use MemoryKv's view (actors/intent/memory-kv.ts).
 *
 * @example
 * createActor(leaseKeeperLogic, { input: { bus, clock, node, me: instanceId, heartbeatMs: 1000,
 *   ttlMs: 3000, logger, onChange: (leading, epoch) => … } });
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { fromCallback } from 'xstate';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Bus } from '../../messages/bus.js';
import { nodeToken } from '../../messages/subjects.js';
import { afterStep, decideLease, encodeLeaseRecord, INITIAL_VIEW, parseLeaseRecord, type LeaseView, type Observation } from './lease.js';

export const LEASE_BUCKET = 'infra_leases';

export interface LeaseKeeperInput {
  readonly bus: Bus;
  readonly clock: Clock;
  readonly node: string;
  /** This manager's instance id (random per start). */
  readonly me: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly onChange: (leading: boolean, epoch: number) => void;
  /** Told after every check what the keeper knows of the lease (the operator's view). */
  readonly onView?: (status: LeaseStatus) => void;
  readonly bucket?: string;
  /** Opens the lease bucket instead of `openLeaseBucket(bus, bucket)` (the in-process simulator's MemoryKv). */
  readonly openStore?: () => Promise<LeaseStore>;
}

/** One read of the lease key: its last message, a value ('PUT') or a delete marker. */
export interface LeaseEntry {
  readonly revision: number;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  /** The value; empty for a marker. */
  readonly value: Uint8Array;
}

/**
 * What the keeper uses of the lease bucket, with JetStream KV's semantics (the NATS `KV` has
 * exactly these). Refusals reject: a lost compare-and-set with the server's "wrong last sequence"
 * error, an unreachable server with the client's timeout.
 *
 * @example
 * const store: LeaseStore = await openLeaseBucket(bus);
 * const rev = await store.create('node-1.manager', bytes); // fails if the key holds a value
 * await store.update('node-1.manager', bytes, rev);        // fails unless rev is the key's last revision
 * await store.delete('node-1.manager', { previousSeq: rev + 1 });
 */
export interface LeaseStore {
  /** The key's last message, or null if it has none. */
  get(key: string): Promise<LeaseEntry | null>;
  /** Writes the key if it has no value (absent or deleted); the new revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes the key if its last revision is `revision` (> 0); the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Leaves a delete marker; with `previousSeq` (> 0) only if that is the key's last revision. */
  delete(key: string, opts?: { previousSeq?: number }): Promise<void>;
}

/** What the keeper last saw of the lease. */
export interface LeaseStatus {
  readonly leading: boolean;
  readonly epoch: number;
  /** The instance id the key names ('' when the key is absent or unreadable). */
  readonly holder: string;
  /** The key's revision as last seen. */
  readonly revision: number;
  /** When (own clock) this manager last renewed or took the lease; -Infinity if never. */
  readonly renewedAtMs: number;
  /** The highest epoch this manager has seen on the key (a standby's view of the holder's). */
  readonly highestEpoch?: number;
}

/** Opens (creating if needed) the lease bucket: one value per key, in memory on the server is not enough — file storage. */
export async function openLeaseBucket(bus: Bus, bucket = LEASE_BUCKET): Promise<KV> {
  return new Kvm(bus.connection).create(bucket, { history: 1 });
}

export const leaseKeeperLogic = fromCallback<{ type: string }, LeaseKeeperInput>(({ input }) => {
  const { clock, logger } = input;
  const key = `${nodeToken(input.node)}.manager`;
  let view: LeaseView = INITIAL_VIEW;
  let kv: LeaseStore | undefined;
  let timer: TimerHandle | undefined;
  /** While leading: fires when the lease runs out unless renewed first (a KV call may hang far longer than the TTL). */
  let expiry: TimerHandle | undefined;
  let stopped = false;
  let reported = false;
  let holder = '';

  const report = (): void => {
    if (view.leading === reported) return;
    reported = view.leading;
    logger.info({ epoch: view.epoch, node: input.node }, view.leading ? 'leader: holding the lease' : 'standby: the lease is held elsewhere');
    input.onChange(view.leading, view.epoch);
  };

  const open = input.openStore ?? ((): Promise<LeaseStore> => openLeaseBucket(input.bus, input.bucket));

  const observe = async (store: LeaseStore): Promise<Observation> => {
    const e = await store.get(key);
    if (!e) return { present: false };
    if (e.operation !== 'PUT') return { present: false, revision: e.revision };
    return { present: true, revision: e.revision, record: parseLeaseRecord(e.value) };
  };

  const tick = async (): Promise<void> => {
    kv ??= await open();
    const now = clock.now();
    const seen = await observe(kv);
    holder = seen.present ? (seen.record?.holder ?? '') : '';
    const { step, view: next } = decideLease(input.me, view, seen, now, input.ttlMs);
    view = next;
    if (step.op === 'wait') return;
    try {
      const bytes = encodeLeaseRecord(step.record);
      let revision = step.op === 'create' ? await kv.create(key, bytes) : await kv.update(key, bytes, step.revision);
      let taken = step;
      if (step.op !== 'renew' && revision > step.record.epoch) {
        // The epoch is the election id, so it must be above every id any holder of this node ever
        // had. A holder's epoch never exceeds the revision its record was first written at, and
        // revisions only grow — a purge of the key (lost KV state) hides its history, not the
        // bucket's sequence. So a new holder takes the revision of its own write as its epoch:
        // above every earlier one even when nothing of the key's past is left to read.
        const record = { ...step.record, epoch: revision };
        revision = await kv.update(key, encodeLeaseRecord(record), revision);
        taken = { ...step, record };
      }
      view = afterStep(view, taken, { ok: true, revision }, now);
      holder = step.record.holder;
    } catch (e) {
      // Someone else wrote first (CAS), or the KV is unreachable: not the leader this round.
      logger.debug({ err: e, op: step.op }, 'lease write refused');
      view = afterStep(view, step, { ok: false }, now);
    }
  };

  const tell = (): void => {
    report();
    input.onView?.({ leading: view.leading, epoch: view.epoch, holder, revision: view.lastRevision, renewedAtMs: view.lastRenewedAtMs, highestEpoch: view.maxEpochSeen });
  };

  /**
   * A leader steps down when its TTL from its last renewal runs out, whatever KV call is still
   * pending: a standby takes over after the same TTL on its own clock, so waiting for the hung
   * call (the client's timeout is seconds longer) would leave two managers believing they lead.
   */
  const watchExpiry = (): void => {
    if (expiry) clock.clearTimeout(expiry);
    expiry = undefined;
    if (!view.leading) return;
    expiry = clock.setTimeout(() => {
      expiry = undefined;
      if (stopped || !view.leading) return;
      if (clock.now() - view.lastRenewedAtMs < input.ttlMs) return watchExpiry();
      logger.warn({ epoch: view.epoch, node: input.node }, 'lease not renewed within its TTL: stepping down');
      view = { ...view, leading: false };
      tell();
    }, view.lastRenewedAtMs + input.ttlMs - clock.now());
  };

  /** The check in progress (a renewal may be on the wire): a clean stop deletes after it. */
  let checking: Promise<unknown> = Promise.resolve();
  const loop = (): void => {
    if (stopped) return;
    checking = tick()
      .catch((e: unknown) => {
        // The KV is unreachable: a leader keeps leading only until its TTL runs out.
        logger.warn({ err: e }, 'lease check failed');
        if (view.leading && clock.now() - view.lastRenewedAtMs >= input.ttlMs) view = { ...view, leading: false };
      })
      .finally(() => {
        if (stopped) return;
        tell();
        watchExpiry();
        timer = clock.setTimeout(loop, input.heartbeatMs);
      });
  };
  loop();

  return () => {
    stopped = true;
    if (timer) clock.clearTimeout(timer);
    if (expiry) clock.clearTimeout(expiry);
    // After the check in progress: deleting at the revision seen before a renewal that then
    // lands would be refused, and the standby would wait out a whole TTL instead.
    void checking.then(() => {
      if (view.leading && kv) return kv.delete(key, { previousSeq: view.lastRevision });
      return undefined;
    }).catch(() => undefined);
  };
});
