/**
 * What the manager's hardware session needs of a P4Runtime connection: the pipeline calls, Read,
 * Write, the StreamChannel used for arbitration, and close. `P4RuntimeClient` (grpc-js, to a
 * target in another process) implements it; so does the in-process loopback link
 * (p4/target/loopback.ts), which carries the same bytes to a `P4RuntimeServer` in this process
 * on an injected clock. Messages are the plain snake_case objects of runtime-client.ts; a failed
 * call rejects with a `P4RuntimeError` (status code, message, per-update details).
 *
 * @example
 * async function primary(link: P4RuntimeLink): Promise<boolean> {
 *   const s = link.openStream();
 *   s.send({ arbitration: { device_id: 1, election_id: { high: 0, low: 1 } } });
 *   const m = await s.next();
 *   return (m?.arbitration as { status?: { code?: number } } | undefined)?.status?.code === 0;
 * }
 */
import type { P4RuntimeError } from './runtime-client.js';

type Msg = Record<string, unknown>;

export interface P4RuntimeLink {
  /** GetForwardingPipelineConfig. */
  getPipeline(req: Msg): Promise<Msg>;
  /** SetForwardingPipelineConfig. */
  setPipeline(req: Msg): Promise<Msg>;
  /** Every entity a ReadRequest matches, all response messages flattened. */
  read(req: Msg): Promise<Msg[]>;
  /**
   * The same Read, its ReadResponse messages undecoded, each told to `onMessage` as it arrives,
   * so that a caller can work on them while the target sends the rest. A throw from `onMessage`
   * cancels the read and fails it with that error.
   */
  readEach(req: Msg, onMessage: (message: Uint8Array) => void): Promise<void>;
  /** A WriteRequest; per-update failures reject with their details. */
  write(req: Msg): Promise<Msg>;
  /** One StreamChannel (arbitration and its notices). */
  openStream(): P4RuntimeLinkStream;
  /** No new calls; what is under way is left to finish or fail (as grpc-js's Client.close). */
  close(): void;
}

/** One StreamChannel as the session uses it. */
export interface P4RuntimeLinkStream {
  send(m: Msg): void;
  /** The next message, or undefined if the stream ended first or `ms` passed. */
  next(ms?: number): Promise<Msg | undefined>;
  /** undefined while open; null when it ended with OK; the status error otherwise. */
  readonly ended: P4RuntimeError | null | undefined;
  /** Half-closes and cancels: the target sees the stream go. */
  close(): void;
}
