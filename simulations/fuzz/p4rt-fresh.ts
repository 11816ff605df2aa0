/**
 * A fresh software target (bin/target, its own process) with the fuzzer's pipeline committed and
 * us as the primary client: what P4Runtime findings are replayed against (raw requests, batches,
 * the halves of a bisection), so no earlier case can leave anything behind.
 *
 * @example
 * const t = await freshP4Target();
 * const { codes } = await t.write([{ type: 'INSERT', entity }]);
 * const tables = await t.read(); // canonical entities, sorted
 * await t.close();
 */
import { P4RuntimeClient, P4RuntimeError, type P4RuntimeStream } from '../../p4/runtime-client.js';
import { fromProto3Json, p4Types } from '../../p4/runtime-proto.js';
import { startTarget, type TargetProcess } from '../target-process.js';
import { canonicalEntity, type Update } from './p4rt-model.js';
import { fuzzP4Info } from './p4rt-fuzz.js';

/** Our election id: far above the ids the malformed Write seeds carry (1 and 2). */
export const FRESH_ELECTION = { high: 0x7fff, low: 0x7fffffff } as const;

export interface FreshP4Target {
  readonly target: TargetProcess;
  readonly client: P4RuntimeClient;
  /** One Write; each update's canonical code (1000 + the RPC's code when the whole call failed). */
  write(updates: readonly Update[], deadlineMs?: number): Promise<{ codes: number[]; messages: string[] }>;
  /** Every table entry, member and group, canonical and sorted. */
  read(deadlineMs?: number): Promise<string[]>;
  /** Commits the pipeline again: a new program instance, every table empty (the process stays). */
  reset(): Promise<void>;
  alive(): boolean;
  close(): Promise<void>;
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Starts a target, arbitrates as primary and commits the fuzzer's pipeline (FUZZ_SIZES). */
export async function freshP4Target(): Promise<FreshP4Target> {
  const { json, info } = fuzzP4Info();
  const target = await startTarget();
  const client = new P4RuntimeClient(target.address);
  let stream: P4RuntimeStream | undefined;
  const commit = () => client.setPipeline({ device_id: 1, election_id: FRESH_ELECTION, action: 'VERIFY_AND_COMMIT', config: { p4info: fromProto3Json(p4Types.P4Info, json), p4_device_config: Uint8Array.of(1), cookie: { cookie: 11 } } });
  try {
    stream = client.openStream();
    stream.send({ arbitration: { device_id: 1, election_id: FRESH_ELECTION } });
    await stream.next();
    await commit();
  } catch (e) {
    stream?.close();
    client.close();
    await target.stop();
    throw e;
  }
  const profile = info.actionProfiles[0]!.id;
  return {
    target,
    client,
    async write(updates, deadlineMs = 5000) {
      try {
        await withDeadline(client.write({ device_id: 1, election_id: FRESH_ELECTION, updates }), deadlineMs);
        return { codes: updates.map(() => 0), messages: updates.map(() => '') };
      } catch (e) {
        if (e instanceof P4RuntimeError && e.details.length === updates.length) return { codes: e.details.map((d) => d.canonical_code), messages: e.details.map((d) => d.message) };
        const code = e instanceof P4RuntimeError ? e.code : -1;
        return { codes: updates.map(() => 1000 + code), messages: updates.map(() => `whole RPC failed: ${(e as Error).message}`) };
      }
    },
    async read(deadlineMs = 5000) {
      const got = await withDeadline(client.read({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }, { action_profile_member: { action_profile_id: profile } }, { action_profile_group: { action_profile_id: profile } }] }), deadlineMs);
      return got.map(canonicalEntity).sort();
    },
    reset: async () => void (await commit()),
    alive: () => target.child.exitCode === null && target.child.signalCode === null,
    async close() {
      stream?.close();
      client.close();
      await target.stop();
    },
  };
}
