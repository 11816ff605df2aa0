/**
 * The CniBackend request fuzz against the agent's gRPC server code in a process of its own with a
 * backend that answers NOT_FOUND (cni-server-process.ts): malformed CniPrepare/Add/Del/Check bytes
 * from the same generator as the real-agent run (cni-fuzz.ts grpcInputs), each judged by
 * replay-grpc.ts (the codec's typed error, within the deadline, the process up). A crash is
 * recorded with its input and the server restarted, so the run goes on. Cheap (no namespaces,
 * no NATS): what the harness's own tests plant bugs in.
 *
 * @example
 * const r = await runStandaloneGrpcFuzz({ dir, seed: 3, cases: 200 });
 * r.failures; // [] for a server that answers as the codec predicts
 */
import { podRequests, grpcInputs, type CniFuzzFailure } from './cni-fuzz.js';
import type { MalformedKind } from './malformed.js';
import { StandaloneGrpcReplayer } from './replay-grpc.js';
import type { Verdict } from './findings.js';

export interface StandaloneGrpcOptions {
  /** Where the server's sockets go. */
  readonly dir: string;
  readonly seed: number;
  readonly cases: number;
  /** Tests only: the server exits on a request holding these bytes. */
  readonly plantCrash?: Uint8Array;
  readonly onProgress?: (done: number) => void;
}

export interface StandaloneGrpcReport {
  readonly cases: number;
  readonly byKind: Partial<Record<MalformedKind, number>>;
  readonly byClass: Record<Verdict['class'], number>;
  /** The first failing inputs, with method and bytes. */
  readonly failures: CniFuzzFailure[];
  readonly failureCount: number;
}

/** The pod whose valid requests the generator mutates (the standalone server knows no pods). */
export const STANDALONE_POD = { containerId: 'standalone-fuzz-pod', netns: '/var/run/netns/ioff-none' } as const;

export async function runStandaloneGrpcFuzz(o: StandaloneGrpcOptions): Promise<StandaloneGrpcReport & { replayer: StandaloneGrpcReplayer }> {
  const replayer = await StandaloneGrpcReplayer.start(o.dir, o.plantCrash);
  const byKind: Partial<Record<MalformedKind, number>> = {};
  const byClass: Record<Verdict['class'], number> = { ok: 0, crash: 0, hang: 0, state: 0, mismatch: 0 };
  const failures: CniFuzzFailure[] = [];
  let failureCount = 0;
  let n = 0;
  try {
    for (const input of grpcInputs(o.seed, o.cases, podRequests(STANDALONE_POD).valid)) {
      const v = await replayer.verdict(input.method, input.bytes);
      n++;
      byKind[input.kind] = (byKind[input.kind] ?? 0) + 1;
      byClass[v.class]++;
      if (v.class !== 'ok') {
        failureCount++;
        if (failures.length < 50) failures.push({ input: input.what, expected: 'the typed error the codec predicts', got: `${v.class}: ${v.detail}`, method: input.method, bytes: input.bytes });
      }
      if (n % 20 === 0) o.onProgress?.(n);
    }
  } catch (e) {
    await replayer.close();
    throw e;
  }
  return { cases: n, byKind, byClass, failures, failureCount, replayer };
}
