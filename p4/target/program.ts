/**
 * What the P4Runtime target needs from the program a device runs: apply one update of one
 * entity, and read entities matching a (wildcard) entity, both in P4Runtime terms (protobufjs
 * messages with snake_case fields). The behavioural model sits behind it (model-program.ts).
 */
import type { Entity } from '../model/index.js';
import type { ReadChunker } from './lean-read.js';
import type { UpdateStatus } from './wire.js';

export type UpdateType = 'INSERT' | 'MODIFY' | 'DELETE';

/** A decoded p4.v1.Entity (one oneof field set). */
export type WireEntity = Record<string, unknown>;

export interface Applied {
  readonly status: UpdateStatus;
  /** Undoes a successful update (ROLLBACK_ON_ERROR). */
  readonly undo?: () => void;
}

export type ReadOutcome = { readonly ok: true; readonly entities: Iterable<WireEntity> } | { readonly ok: false; readonly status: UpdateStatus };

export type Processed = { readonly dropped: false; readonly port: number; readonly frame: Uint8Array } | { readonly dropped: true; readonly reason: string };

export interface ProgramStats {
  readonly packets: number;
  readonly learned: number;
  readonly tableEntries: number;
}

export interface TargetProgram {
  /** One update; the undo is only needed (and only built) for ROLLBACK_ON_ERROR. */
  apply(type: UpdateType, entity: WireEntity, wantUndo?: boolean): Applied;
  read(entity: WireEntity): ReadOutcome;
  /**
   * The lean path (optional): apply an entity that lean-write.ts decoded straight from the
   * request bytes into the model's form, with exactly the outcome apply() has for the same update.
   */
  applyDecoded?(type: UpdateType, entity: Entity, wantUndo: boolean): Applied;
  /**
   * The lean path (optional): append the encoded entities matching `entity` to `out`, exactly
   * the bytes read() would be encoded to; returns the status when the read fails.
   */
  readEncoded?(entity: WireEntity, out: ReadChunker): UpdateStatus | undefined;
  /** Runs one frame through the pipeline (for tests and tools; packet I/O comes separately). */
  process(port: number, frame: Uint8Array): Processed;
  /**
   * The packet I/O path (optional): forwards one frame without allocating; returns the output
   * port, or -1 when the pipeline dropped it. The frame to send is `forwarded()`, valid until
   * the next call.
   */
  forward?(port: number, frame: Uint8Array): number;
  forwarded?(): Uint8Array;
  /** Stamps what follows with the current time, and every so often expires idle learned flows. */
  tick?(): void;
  /** Whether the data plane itself adds and expires the table's entries (add-on-miss: learned connections). */
  learnedTable?(tableId: number): boolean;
  stats(): ProgramStats;
}
