/**
 * JetStream KV in memory, for the in-process simulator: one MemoryKv stands for one cluster's
 * JetStream server, and gives the manager the two views it uses — the lease keeper's
 * `LeaseStore` and the durable store's `IntentStorage` — with the semantics the NATS
 * implementations have over nats-server (checked by the shared contract suite in
 * test/actors/memory-kv.test.ts):
 *
 * - a bucket is a stream: its sequence (every key's revision) only grows, purges included;
 * - history 1: a key keeps only its last message, a value or a delete marker;
 * - compare-and-set as the server does it: refused writes reject with the server's
 *   `JetStreamApiError` "wrong last sequence: <the key's last revision>" (code 10071) and change
 *   nothing; the lease's `create` succeeds on an absent or deleted key (the NATS client retries
 *   over the marker's revision), an intent write with revision 0 only on a key with no message.
 *
 * Faults for the simulator: `purgeBucket` (kv-loss), `purgeKey`, and unreachability of a bucket,
 * of all of them or of one client (`setUnavailable`, `setClientUnavailable`): calls then reject
 * with the NATS client's `TimeoutError`, at once or after a timeout on the injected clock.
 *
 * Deterministic: every call answers in a later microtask (in call order), never through
 * setTimeout, setImmediate or Date.now; only the optional unreachable timeout uses the clock.
 * It lives beside intent-kv.ts because the intent bucket is most of what it models; the lease
 * view is the same store seen through the four calls the lease keeper makes.
 *
 * @example
 * const kv = new MemoryKv();
 * createActor(leaseKeeperLogic, { input: { ...keeperInput, openStore: async () => kv.leaseStore(LEASE_BUCKET, me) } });
 * createActor(durableStoreLogic, { input: { ...storeInput, open: async () => kv.intentStorage(intentBucketName(node), me) } });
 * kv.purgeBucket(intentBucketName(node)); // kv-loss
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/transport-node';
import type { Clock } from '../../core/clock.js';
import type { LeaseEntry, LeaseStore } from '../manager/lease-keeper.js';
import { PURGE_MARKERS_AT, writeBatch, type IntentStorage, type KvWrite, type Loaded, type StoredEntry } from './intent-kv.js';

/** A bad bucket name, key or revision given to MemoryKv (the NATS client throws a plain Error with the same message). */
export class KvInputError extends Error {
  override readonly name = 'KvInputError';
}

export interface MemoryKvOptions {
  /**
   * How an unreachable server answers: by default a call rejects in its next microtask; with
   * this, after `timeoutMs` on `clock`, as the NATS client's request times out (5 s by default).
   */
  readonly unreachable?: { readonly clock: Clock; readonly timeoutMs: number };
}

/** What a bucket holds, as the simulator (or a test) sees it without going through a client. */
export interface BucketDump {
  /** The stream's last sequence (0 if nothing was ever written). */
  readonly sequence: number;
  /** Every key's last message, in revision order. */
  readonly entries: ReadonlyMap<string, StoredEntry>;
}

interface Bucket {
  sequence: number;
  readonly keys: Map<string, StoredEntry>;
}

const VALID_KEY = /^[-/=.\w]+$/;
const VALID_BUCKET = /^[-\w]+$/;

function checkKey(key: string): void {
  // The NATS client's rule, plus no empty token (the server would not store it under the bucket).
  if (key.startsWith('.') || key.endsWith('.') || key.includes('..') || !VALID_KEY.test(key)) throw new KvInputError(`invalid key: ${key}`);
}

function checkBucket(bucket: string): void {
  if (!VALID_BUCKET.test(bucket)) throw new KvInputError(`invalid bucket name: ${bucket}`);
}

/** The server's refusal of a compare-and-set, naming the key's actual last revision. */
function wrongLastSequence(last: number): JetStreamApiError {
  return new JetStreamApiError({ code: 400, err_code: JetStreamApiCodes.StreamWrongLastSequence, description: `wrong last sequence: ${last}` });
}

export class MemoryKv {
  private readonly buckets = new Map<string, Bucket>();
  private readonly unavailable = new Set<string>();
  private readonly cutClients = new Set<string>();

  constructor(private readonly options: MemoryKvOptions = {}) {}

  /**
   * The lease keeper's view of `bucket` (created if new, like `openLeaseBucket`). `client` names
   * the caller for `setClientUnavailable` (e.g. the manager's instance id).
   *
   * @example
   * const store = kv.leaseStore('infra_leases', 'mgr-a');
   * const rev = await store.create('node-1.manager', bytes);
   */
  leaseStore(bucket: string, client = ''): LeaseStore {
    const b = this.open(bucket);
    const value = (m: StoredEntry): LeaseEntry => ({ revision: m.revision, operation: m.value ? 'PUT' : 'DEL', value: m.value ? m.value.slice() : new Uint8Array(0) });
    return {
      get: (key) =>
        this.call(bucket, client, key, () => {
          const m = b.keys.get(key);
          return m ? value(m) : null;
        }),
      create: (key, bytes) =>
        this.call(bucket, client, key, () => {
          const m = b.keys.get(key);
          if (m && m.value !== null) throw wrongLastSequence(m.revision);
          return this.append(b, key, bytes.slice());
        }),
      update: (key, bytes, revision) => {
        // Thrown, not rejected, as the NATS client does (a bad key rejects).
        if (!(revision > 0)) throw new KvInputError('version must be greater than 0');
        return this.call(bucket, client, key, () => {
          const last = b.keys.get(key)?.revision ?? 0;
          if (last !== revision) throw wrongLastSequence(last);
          return this.append(b, key, bytes.slice());
        });
      },
      delete: (key, opts) =>
        this.call(bucket, client, key, () => {
          const last = b.keys.get(key)?.revision ?? 0;
          // As the NATS client: a previousSeq of 0 (or none) deletes unconditionally.
          if (opts?.previousSeq && last !== opts.previousSeq) throw wrongLastSequence(last);
          this.append(b, key, null);
        }),
    };
  }

  /**
   * The durable store's view of `bucket` (created if new, like `IntentKv.open`).
   *
   * @example
   * const storage = kv.intentStorage(intentBucketName('node-1'), 'mgr-a');
   * const { entries } = await storage.load();
   */
  intentStorage(bucket: string, client = ''): IntentStorage {
    const b = this.open(bucket);
    const writeOne = (w: KvWrite): Promise<number> =>
      this.call(bucket, client, w.key, () => {
        const last = b.keys.get(w.key)?.revision ?? 0;
        if (last !== w.revision) throw wrongLastSequence(last);
        return this.append(b, w.key, w.value ? w.value.slice() : null);
      });
    return {
      bucket,
      load: () =>
        this.call(bucket, client, undefined, (): Loaded => {
          const markers = [...b.keys].filter(([, m]) => m.value === null).map(([k]) => k);
          const purged = markers.length >= PURGE_MARKERS_AT ? markers.length : 0;
          if (purged > 0) for (const k of markers) b.keys.delete(k);
          const entries = new Map<string, StoredEntry>();
          let revision = 0;
          for (const [k, m] of this.ordered(b)) {
            entries.set(k, { revision: m.revision, value: m.value ? m.value.slice() : null });
            revision = m.revision;
          }
          return { entries, revision, purged };
        }),
      write: (writes) => writeBatch(writes, writeOne),
    };
  }

  /** kv-loss: every key of the bucket gone; its sequence keeps growing from where it was. Returns the messages purged. */
  purgeBucket(bucket: string): number {
    checkBucket(bucket);
    const b = this.buckets.get(bucket);
    if (!b) return 0;
    const n = b.keys.size;
    b.keys.clear();
    return n;
  }

  /** One key gone entirely (no marker left), as a stream purge filtered on its subject. */
  purgeKey(bucket: string, key: string): boolean {
    checkBucket(bucket);
    checkKey(key);
    return this.buckets.get(bucket)?.keys.delete(key) ?? false;
  }

  /** Makes every call on `bucket` (or on all buckets: '*') fail as with an unreachable server, or heals it. */
  setUnavailable(bucket: string, on: boolean): void {
    if (bucket !== '*') checkBucket(bucket);
    if (on) this.unavailable.add(bucket);
    else this.unavailable.delete(bucket);
  }

  /** Makes every call of one client's views fail as if its connection were cut, or heals it. */
  setClientUnavailable(client: string, on: boolean): void {
    if (on) this.cutClients.add(client);
    else this.cutClients.delete(client);
  }

  /** The bucket's state, read directly (no fault applies); undefined for a bucket never opened. */
  dump(bucket: string): BucketDump | undefined {
    const b = this.buckets.get(bucket);
    if (!b) return undefined;
    return { sequence: b.sequence, entries: new Map(this.ordered(b).map(([k, m]) => [k, { revision: m.revision, value: m.value?.slice() ?? null }])) };
  }

  private open(bucket: string): Bucket {
    checkBucket(bucket);
    let b = this.buckets.get(bucket);
    if (!b) this.buckets.set(bucket, (b = { sequence: 0, keys: new Map() }));
    return b;
  }

  private ordered(b: Bucket): [string, StoredEntry][] {
    return [...b.keys].sort(([, x], [, y]) => x.revision - y.revision);
  }

  private append(b: Bucket, key: string, value: Uint8Array | null): number {
    b.sequence += 1;
    b.keys.set(key, { revision: b.sequence, value });
    return b.sequence;
  }

  /**
   * Runs `op` as the server would answer: in a later microtask (calls answered in the order they
   * were made), or not at all when unreachable. A bad key is refused first, as the client does.
   */
  private async call<T>(bucket: string, client: string, key: string | undefined, op: () => T): Promise<T> {
    await Promise.resolve();
    if (key !== undefined) checkKey(key);
    if (this.unavailable.has('*') || this.unavailable.has(bucket) || (client !== '' && this.cutClients.has(client))) {
      const late = this.options.unreachable;
      if (!late) throw new TimeoutError();
      return new Promise<never>((_, reject) => late.clock.setTimeout(() => reject(new TimeoutError()), late.timeoutMs));
    }
    return op();
  }
}
