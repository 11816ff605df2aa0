/**
 * What the P4Runtime target needs from the program a device runs: apply one update of one
 * entity, and read entities matching a (wildcard) entity, both in P4Runtime terms (protobufjs
 * messages with snake_case fields). The behavioural model sits behind it (model-program.ts).
 */
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
  apply(type: UpdateType, entity: WireEntity): Applied;
  read(entity: WireEntity): ReadOutcome;
  /** Runs one frame through the pipeline (for tests and tools; packet I/O comes separately). */
  process(port: number, frame: Uint8Array): Processed;
  stats(): ProgramStats;
}
