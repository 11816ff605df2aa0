/**
 * Replays one raw P4Runtime request (malformed WriteRequest or ReadRequest bytes) against a fresh
 * target where we are the primary: it must get a gRPC status within the deadline, a Write (whose
 * election id is never ours) must not succeed, the tables must stay empty, and the process must
 * stay up. After a crash or a state change the next replay gets a fresh target.
 *
 * @example
 * const r = await P4rtRawReplayer.start();
 * await r.verdict('Write', bytes); // { class: 'ok', … }
 * await r.close();
 */
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { entryMeta, type EntryMeta, type P4rtRawCorpusCase } from './corpus.js';
import { OK, type Verdict } from './findings.js';
import { freshP4Target, type FreshP4Target } from './p4rt-fresh.js';

const DEADLINE_MS = 5000;

/** Sends raw bytes to a P4Runtime method; resolves with the status code, or undefined past the deadline. */
export function sendRawP4(raw: Client, method: 'Write' | 'Read', bytes: Uint8Array, deadlineMs = DEADLINE_MS): Promise<number | undefined> {
  const path = `/p4.v1.P4Runtime/${method}`;
  const id = (b: Uint8Array): Buffer => Buffer.from(b);
  const opts = { deadline: Date.now() + deadlineMs };
  return new Promise((resolve) => {
    if (method === 'Write') {
      raw.makeUnaryRequest(path, id, id, bytes, opts, (e: ServiceError | null) => resolve(e?.code === status.DEADLINE_EXCEEDED ? undefined : e ? e.code : 0));
      return;
    }
    const call = raw.makeServerStreamRequest(path, id, id, bytes, opts);
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    call.on('status', (s: { code: number }) => resolve(s.code === Number(status.DEADLINE_EXCEEDED) ? undefined : s.code));
  });
}

/** Tests only: a planted oracle bug — a verdict for requests the target answered correctly. */
export type P4rtPlant = (method: 'Write' | 'Read', bytes: Uint8Array) => Verdict | undefined;

export class P4rtRawReplayer {
  private raw: Client;

  private constructor(
    private t: FreshP4Target,
    private readonly plant: P4rtPlant | undefined,
  ) {
    this.raw = P4rtRawReplayer.rawClient(t);
  }

  private static rawClient(t: FreshP4Target): Client {
    return new Client(t.target.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
  }

  static async start(plant?: P4rtPlant): Promise<P4rtRawReplayer> {
    return new P4rtRawReplayer(await freshP4Target(), plant);
  }

  private async renew(): Promise<void> {
    this.raw.close();
    await this.t.close();
    this.t = await freshP4Target();
    this.raw = P4rtRawReplayer.rawClient(this.t);
  }

  async verdict(method: 'Write' | 'Read', bytes: Uint8Array): Promise<Verdict> {
    if (!this.t.alive()) await this.renew();
    const code = await sendRawP4(this.raw, method, bytes);
    await new Promise((r) => setTimeout(r, code === undefined ? 100 : 0));
    if (!this.t.alive()) return { class: 'crash', detail: `the target exited on ${method} of ${bytes.length} bytes` };
    if (code === undefined) return { class: 'hang', detail: `no status within ${DEADLINE_MS} ms (${method}, ${bytes.length} bytes)` };
    if (method === 'Write' && code === 0) return { class: 'mismatch', detail: 'a non-primary Write succeeded' };
    let tables: string[];
    try {
      tables = await this.t.read();
    } catch (e) {
      return { class: 'hang', detail: `the Read after it failed: ${(e as Error).message}` };
    }
    if (tables.length > 0) {
      await this.renew();
      return { class: 'state', detail: `the tables changed: ${JSON.stringify(tables.slice(0, 3))}` };
    }
    return this.plant?.(method, bytes) ?? { ...OK, detail: `status ${code}` };
  }

  async close(): Promise<void> {
    this.raw.close();
    await this.t.close();
  }
}

/** The corpus entry of a (minimised) raw request. */
export function p4rtRawCorpusEntry(method: 'Write' | 'Read', bytes: Uint8Array, meta: EntryMeta): P4rtRawCorpusCase {
  return {
    target: 'p4rt',
    kind: 'raw',
    ...entryMeta(meta, bytes),
    method,
    bytesBase64: Buffer.from(bytes).toString('base64'),
    expected: { answered: true, writeRefused: method === 'Write' },
  };
}

/** What is wrong with a stored raw case now, or undefined. */
export async function checkP4rtRawCase(replayer: P4rtRawReplayer, entry: P4rtRawCorpusCase): Promise<string | undefined> {
  const v = await replayer.verdict(entry.method, Buffer.from(entry.bytesBase64, 'base64'));
  return v.class === 'ok' ? undefined : `${v.class}: ${v.detail}`;
}
