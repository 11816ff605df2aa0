/**
 * Packet tracing for tests, in the style of kube-proxy's: "this frame in on port p ends up as
 * that frame on port q" (or is dropped, and why), with the tables it hit, so tests assert where
 * packets go rather than what the entries say.
 *
 * @example
 * const r = trace(pipeline, 2, tcp({ ... dstIp: VIP, dport: 80, flags: 'S' }));
 * if ('port' in r) decode(r.frame).ipv4?.dst; // the endpoint after DNAT
 * r.hit;                                      // ['service_lb', 'ipv4_to_port'] (aliases)
 */
import type { Pipeline } from './model/pipeline.js';
import type { DropReason } from './model/outcomes.js';

interface Tables {
  /** Tables applied to the packet, by P4Info alias, in apply order. */
  readonly applied: readonly string[];
  /** Tables whose lookup hit an entry. */
  readonly hit: readonly string[];
}

export type TraceResult = (Tables & { readonly port: number; readonly frame: Uint8Array }) | (Tables & { readonly dropped: DropReason });

/** Runs one frame through the model (the input is left untouched) and reports where it went. */
export function trace(model: Pipeline, inPort: number, frame: Uint8Array): TraceResult {
  const out = { port: -1, length: 0, bytes: new Uint8Array(Math.max(frame.length, 1)) };
  const port = model.process(inPort, frame, frame.length, out);
  const names = (mask: number): string[] => model.tables.filter((_t, i) => (mask & (1 << i)) !== 0).map((t) => t.alias);
  const tables = { applied: names(model.lastApplied), hit: names(model.lastMatched) };
  if (port < 0) return { ...tables, dropped: model.lastDropReason() ?? 'none' };
  return { ...tables, port, frame: out.bytes.slice(0, out.length) };
}

/** The output port of a trace, or -1 when dropped (for compact assertions). */
export function portOf(r: TraceResult): number {
  return 'port' in r ? r.port : -1;
}

/** The output frame of a trace; throws with the drop reason if the packet was dropped. */
export function frameOf(r: TraceResult): Uint8Array {
  if ('port' in r) return r.frame;
  throw new Error(`the packet was dropped: ${r.dropped}`);
}
