/**
 * What the packet path reports: the caller-owned output frame, drop reasons and their counters,
 * flow events (learned / aged / removed entries, for P4Runtime idle-timeout notifications), and
 * the options of a pipeline.
 *
 * @example
 * const out: OutFrame = { port: -1, length: 0, bytes: new Uint8Array(9216) };
 * if (pipeline.process(2, frame, frame.length, out) < 0) DROP_REASONS[pipeline.lastDrop];
 */
import type { Clock } from '../../core/clock.js';

/** The caller-owned output: the model copies the frame into `bytes` (or rewrites in place if it is the input). */
export interface OutFrame {
  port: number;
  length: number;
  readonly bytes: Uint8Array;
}

/** Why a packet was dropped (index into DROP_REASONS); 0 = not dropped. */
export const DROP_NONE = 0;
export const DROP_TRUNCATED = 1;
export const DROP_BAD_VERSION = 2;
export const DROP_BAD_IHL = 3;
export const DROP_BAD_TOTAL_LENGTH = 4;
export const DROP_BAD_L4 = 5;
export const DROP_ETHERTYPE = 6;
export const DROP_TABLE = 7;
export const DROP_LB_REJECT = 8;
export const DROP_EMPTY_GROUP = 9;
export const DROP_BAD_LENGTH = 10;
export const DROP_REASONS = ['none', 'truncated', 'bad_ipv4_version', 'bad_ipv4_ihl', 'bad_ipv4_total_length', 'bad_l4_header', 'unknown_ethertype', 'drop_action', 'lb_reject', 'empty_group', 'bad_length'] as const;
export type DropReason = (typeof DROP_REASONS)[number];
/** Drop reasons counted as parser errors. */
export const PARSER_ERRORS: readonly number[] = [DROP_TRUNCATED, DROP_BAD_VERSION, DROP_BAD_IHL, DROP_BAD_TOTAL_LENGTH, DROP_BAD_L4];

/** Flow events: a learned entry was added (or learned anew), aged out, or removed by an RST. */
export const FLOW_LEARNED = 1;
export const FLOW_AGED = 2;
export const FLOW_REMOVED = 3;
/** Called synchronously; for FLOW_AGED/FLOW_REMOVED the entry is still readable (entryAt) during the call. */
export type FlowEventHandler = (kind: number, tableId: number, entry: number) => void;

export interface PipelineOptions {
  /** The time source of age() and setTime() without arguments; default the system clock. */
  readonly clock?: Clock;
  /** Idle timeout per expire-time profile id, ms (default DEFAULT_EXPIRY_MS). */
  readonly expiryMs?: readonly number[];
  readonly onFlowEvent?: FlowEventHandler;
}
