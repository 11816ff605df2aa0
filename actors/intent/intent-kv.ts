/**
 * The manager's intent bucket in NATS JetStream KV: one bucket per node (`infra_intent_<node>`),
 * so NATS permissions can confine a node's manager to its own bucket and loading reads only that
 * node's keys. History 1: the server keeps only the latest value of each key (compaction of
 * values is the server's); deletes leave a small marker that `load` purges once they pile up.
 *
 * Every write is a compare-and-set on the key's revision (JetStream's expected last subject
 * sequence, 0 for a key never written): a manager that lost its lease and still writes is
 * refused instead of overwriting its successor. Writes of one batch are published together and
 * awaited together (one round trip for the batch, not one per key).
 *
 * `IntentStorage` is what the durable store needs of the bucket; `IntentKv` is its JetStream
 * implementation, and MemoryKv (memory-kv.ts) gives an in-memory one with the same semantics for
 * the in-process simulator.
 *
 * @example
 * const kv = await IntentKv.open(bus, intentBucketName('node-1'));
 * const { entries } = await kv.load();
 * const revs = await kv.write([{ key: 'pod.c1', value: bytes, revision: 0 }]);
 */
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { Bus } from '../../messages/bus.js';
import { nodeToken } from '../../messages/subjects.js';

/** The bucket of one node's intent. */
export function intentBucketName(node: string, prefix = 'infra_intent'): string {
  return `${prefix}_${nodeToken(node)}`;
}

export interface StoredEntry {
  /** The KV revision (stream sequence) of the key's last message, value or delete marker. */
  readonly revision: number;
  /** The value, or null for a delete marker. */
  readonly value: Uint8Array | null;
}

export interface KvWrite {
  readonly key: string;
  /** The new value, or null to delete the key. */
  readonly value: Uint8Array | null;
  /** The revision the key must still have (0: never written, or its marker purged). */
  readonly revision: number;
}

export interface Loaded {
  readonly entries: Map<string, StoredEntry>;
  /** The highest revision seen (0 for an empty bucket). */
  readonly revision: number;
  /** Delete markers purged before loading. */
  readonly purged: number;
}

/** A write the server refused (compare-and-set lost, or no answer). */
export class IntentWriteError extends Error {
  override readonly name = 'IntentWriteError';
}

/**
 * What the durable store uses of a node's intent bucket. The error contract, for every
 * implementation:
 * - `load()` gives every key's last message in revision order, delete markers as `value: null`;
 *   once there are PURGE_MARKERS_AT markers or more it purges them first (the keys then have no
 *   message at all) and says how many in `purged`. An empty bucket loads as no entries, revision 0.
 *   An unreachable server rejects with the client's error (a NATS `TimeoutError`).
 * - `write(writes)` compare-and-sets each key on its revision (0: the key has no message at all,
 *   not even a marker) and resolves with the new revisions in order; if any write is refused (CAS
 *   lost, bad key, no answer) it rejects with an `IntentWriteError` whose cause is the refusal —
 *   the other writes of the batch may have landed.
 *
 * @example
 * const storage: IntentStorage = await IntentKv.open(bus, intentBucketName('node-1'));
 * const [rev] = await storage.write([{ key: 'pod.c1', value: bytes, revision: 0 }]);
 */
export interface IntentStorage {
  readonly bucket: string;
  load(): Promise<Loaded>;
  write(writes: readonly KvWrite[]): Promise<number[]>;
}

/** Purge delete markers once there are this many (each is a key's last message, kept forever otherwise). */
export const PURGE_MARKERS_AT = 256;
const LOAD_TIMEOUT_MS = 10_000;

/**
 * Starts every write of a batch at once, waits for all, and gives the new revisions in order, or
 * rejects with an IntentWriteError naming the first refused key (the shared error contract of
 * `IntentStorage.write`).
 *
 * @example
 * const revisions = await writeBatch(writes, (w) => publishWithCas(w));
 */
export async function writeBatch(writes: readonly KvWrite[], writeOne: (w: KvWrite) => Promise<number>): Promise<number[]> {
  const acks = await Promise.allSettled(writes.map((w) => writeOne(w)));
  const failed = acks.findIndex((a) => a.status === 'rejected');
  if (failed >= 0) {
    const reason = (acks[failed] as PromiseRejectedResult).reason as Error;
    throw new IntentWriteError(`intent write of ${writes[failed]!.key} refused: ${reason.message}`, { cause: reason });
  }
  return acks.map((a) => (a as PromiseFulfilledResult<number>).value);
}

export class IntentKv implements IntentStorage {
  private constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    readonly bucket: string,
    private readonly timeoutMs: number,
  ) {}

  /** Opens the bucket, creating it (history 1, file storage) the first time. */
  static async open(bus: Bus, bucket: string, timeoutMs = 5000): Promise<IntentKv> {
    const kv = await new Kvm(bus.connection).create(bucket, { history: 1 });
    return new IntentKv(kv, jetstream(bus.connection, { timeout: timeoutMs }), bucket, timeoutMs);
  }

  /** Every key's last message. Purges delete markers first when there are many. */
  async load(): Promise<Loaded> {
    let loaded = await this.readAll();
    const markers = [...loaded.entries].filter(([, e]) => e.value === null).map(([k]) => k);
    if (markers.length < PURGE_MARKERS_AT) return loaded;
    const jsm = await this.js.jetstreamManager();
    for (const key of markers) await jsm.streams.purge(`KV_${this.bucket}`, { filter: this.subject(key), keep: 0 });
    loaded = await this.readAll();
    return { ...loaded, purged: markers.length };
  }

  /**
   * Writes a batch, each key compare-and-set on its revision. Resolves with the new revision of
   * every key (in order); rejects with IntentWriteError if any write was refused — the others may
   * have landed, so the caller reloads.
   */
  write(writes: readonly KvWrite[]): Promise<number[]> {
    return writeBatch(writes, (w) => this.writeOne(w));
  }

  private async writeOne(w: KvWrite): Promise<number> {
    const opts: { expect: { lastSubjectSequence: number }; timeout: number; headers?: MsgHdrs } = {
      expect: { lastSubjectSequence: w.revision },
      timeout: this.timeoutMs,
    };
    if (w.value === null) {
      const h = headers();
      h.set('KV-Operation', 'DEL');
      opts.headers = h;
    }
    const ack = await this.js.publish(this.subject(w.key), w.value ?? new Uint8Array(0), opts);
    return ack.seq;
  }

  private subject(key: string): string {
    return `$KV.${this.bucket}.${key}`;
  }

  /** Last message per key through a KV watcher (values and delete markers). */
  private async readAll(): Promise<Loaded> {
    const entries = new Map<string, StoredEntry>();
    const status = await this.kv.status();
    if (status.values === 0) return { entries, revision: 0, purged: 0 };
    const watcher = await this.kv.watch({ key: '>' });
    let revision = 0;
    const timer = setTimeout(() => watcher.stop(), LOAD_TIMEOUT_MS);
    try {
      for await (const e of watcher) {
        entries.set(e.key, { revision: e.revision, value: e.operation === 'PUT' ? e.value : null });
        revision = Math.max(revision, e.revision);
        // The watcher marks the last of the initial values (and every later one) as an update.
        if (e.isUpdate) break;
      }
    } finally {
      clearTimeout(timer);
      watcher.stop();
    }
    if (entries.size === 0) throw new IntentWriteError(`loading ${this.bucket} timed out`);
    return { entries, revision, purged: 0 };
  }
}
