/**
 * The managers' state in JetStream KV, from the simulator's side: who holds each node's lease
 * (the `infra_leases` bucket, key `<node>.manager`), every lease record as it is written (a watch
 * that starts again after nats-server restarts), and the "KV state lost" fault — every key of a
 * node's intent bucket and/or its lease key purged, as if the store had been wiped.
 *
 * @example
 * const leases = new LeaseWatch(bus, (node, record, revision) => …);
 * const holder = await leaseHolder(bus, 'node-1'); // { holder: '3f…', epoch: 4, revision: 17 }
 * await loseKvState(bus, 'node-1', 'both');
 */
import { Kvm, type KV } from '@nats-io/kv';
import { intentBucketName } from '../../actors/intent/intent-kv.js';
import { LEASE_BUCKET } from '../../actors/manager/lease-keeper.js';
import { parseLeaseRecord, type LeaseRecord } from '../../actors/manager/lease.js';
import type { Bus } from '../../messages/bus.js';
import { nodeToken } from '../../messages/subjects.js';

const leaseKey = (node: string): string => `${nodeToken(node)}.manager`;

async function openBucket(bus: Bus, bucket: string): Promise<KV | undefined> {
  try {
    return await new Kvm(bus.connection).open(bucket);
  } catch {
    return undefined;
  }
}

/** The node's current lease record, if any. */
export async function leaseHolder(bus: Bus, node: string): Promise<(LeaseRecord & { revision: number }) | undefined> {
  const kv = await openBucket(bus, LEASE_BUCKET);
  const e = await kv?.get(leaseKey(node)).catch(() => null);
  if (!e || e.operation !== 'PUT') return undefined;
  const r = parseLeaseRecord(e.value);
  return r ? { ...r, revision: e.revision } : undefined;
}

/** Purges the node's intent keys ('intent'), its lease key ('lease') or both; returns the keys purged. */
export async function loseKvState(bus: Bus, node: string, what: 'intent' | 'lease' | 'both'): Promise<number> {
  let purged = 0;
  if (what !== 'lease') {
    const kv = await openBucket(bus, intentBucketName(node));
    if (kv) {
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      for (const k of keys) {
        await kv.purge(k);
        purged++;
      }
    }
  }
  if (what !== 'intent') {
    const kv = await openBucket(bus, LEASE_BUCKET);
    if (kv) {
      await kv.purge(leaseKey(node));
      purged++;
    }
  }
  return purged;
}

export type LeaseListener = (node: string, record: LeaseRecord | undefined, revision: number) => void;

/** Follows every write of the lease bucket; restarts its watch when the server comes back. */
export class LeaseWatch {
  private stopped = false;
  private lastRevision = 0;
  private stopCurrent: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly bus: Bus,
    private readonly nodes: readonly string[],
    private readonly listener: LeaseListener,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const byToken = new Map(this.nodes.map((n) => [leaseKey(n), n]));
    while (!this.stopped) {
      try {
        const kv = await new Kvm(this.bus.connection).create(LEASE_BUCKET, { history: 1 });
        const it = await kv.watch({ key: '>', ...(this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision + 1 } : {}) });
        this.stopCurrent = () => it.stop();
        for await (const e of it) {
          if (this.stopped) break;
          this.lastRevision = Math.max(this.lastRevision, e.revision);
          const node = byToken.get(e.key);
          if (node) this.listener(node, e.operation === 'PUT' ? parseLeaseRecord(e.value) : undefined, e.revision);
        }
      } catch {
        // The server went away: watch again once it is back.
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 300));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopCurrent?.();
    await Promise.race([this.done, new Promise((r) => setTimeout(r, 1000))]);
  }
}
