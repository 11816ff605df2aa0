/**
 * An in-memory filesystem for an in-process agent (the `AgentFiles` of
 * actors/agent/pool/files.ts): the node's disk, which the simulator keeps while it kills and
 * restarts the agent — a "kill -9" of an in-memory agent keeps its pool.json and portmap.json,
 * as a real disk keeps them — and which it can fill (the `disk-full` fault).
 *
 * Every operation resolves in a microtask (never a timer, never real I/O), so a run under a
 * ManualClock is deterministic: the same calls in the same order give the same results.
 * Failures are errors of the same shape as node:fs's (`code`, `errno`, `syscall`, `path`, and
 * its message format), so the agent's own error handling is what runs:
 *
 * - a write that would take the files past `limitBytes` fails with ENOSPC (`write`), like a
 *   real atomic replace, which needs room for the new copy while the old one still exists;
 * - a file in a directory that was never made fails with ENOENT (`open`);
 * - reading or replacing a directory fails with EISDIR; making a directory where a file is,
 *   with EEXIST (or ENOTDIR for a file on the way).
 *
 * @example
 * const disk = new MemoryFiles();
 * agentTree({ ...deps, files: disk });          // pool.json and portmap.json live in `disk`
 * disk.fill();                                   // the disk is full: the next write fails with ENOSPC
 * disk.setLimit(undefined);                      // room again
 * disk.peek('/var/lib/infra-offload/pool.json'); // what the agent last wrote
 */
import { constants } from 'node:os';
import { posix } from 'node:path';
import type { AgentFiles, ReplaceOptions } from '../../actors/agent/pool/files.js';

export interface MemoryFilesOptions {
  /** How many bytes the files may hold in all; a write that needs more fails with ENOSPC. Unlimited when absent. */
  readonly limitBytes?: number;
}

type ErrnoCode = 'ENOENT' | 'ENOSPC' | 'EISDIR' | 'ENOTDIR' | 'EEXIST';

const DESCRIPTIONS: Record<ErrnoCode, string> = {
  ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on device',
  EISDIR: 'illegal operation on a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file already exists',
};

/**
 * An error as node:fs makes it: `ENOSPC: no space left on device, write` (a write names no
 * path), `ENOENT: no such file or directory, open '/x'`.
 *
 * @example
 * errnoError('ENOSPC', 'write'); // { code: 'ENOSPC', errno: -28, syscall: 'write' }
 */
export function errnoError(code: ErrnoCode, syscall: string, path?: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${DESCRIPTIONS[code]}, ${syscall}${path === undefined ? '' : ` '${path}'`}`);
  e.errno = -constants.errno[code];
  e.code = code;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  return e;
}

/** Counters, for the simulator's report. */
export interface MemoryFilesStats {
  reads: number;
  writes: number;
  /** Writes refused for lack of space. */
  full: number;
}

export class MemoryFiles implements AgentFiles {
  private readonly files = new Map<string, { text: string; bytes: number; mode: number }>();
  private readonly dirs = new Set<string>(['/']);
  private used = 0;
  private limit: number | undefined;
  readonly stats: MemoryFilesStats = { reads: 0, writes: 0, full: 0 };

  constructor(options: MemoryFilesOptions = {}) {
    this.limit = options.limitBytes;
  }

  readText(path: string): Promise<string | undefined> {
    return later(() => {
      const p = normal(path);
      this.stats.reads++;
      if (this.dirs.has(p)) throw errnoError('EISDIR', 'read');
      return this.files.get(p)?.text;
    });
  }

  replace(path: string, text: string, options: ReplaceOptions): Promise<void> {
    return later(() => {
      const p = normal(path);
      if (this.dirs.has(p)) throw errnoError('EISDIR', 'rename', p);
      if (!this.dirs.has(posix.dirname(p))) throw errnoError('ENOENT', 'open', p);
      const bytes = Buffer.byteLength(text, 'utf8');
      if (this.limit !== undefined && this.used + bytes > this.limit) {
        this.stats.full++;
        throw errnoError('ENOSPC', 'write');
      }
      const old = this.files.get(p);
      this.files.set(p, { text, bytes, mode: old?.mode ?? options.mode });
      this.used += bytes - (old?.bytes ?? 0);
      this.stats.writes++;
    });
  }

  makeDir(path: string, _mode: number): Promise<void> {
    return later(() => {
      const p = normal(path);
      const chain: string[] = [];
      for (let d = p; !this.dirs.has(d); d = posix.dirname(d)) chain.unshift(d);
      for (const [i, d] of chain.entries()) {
        if (this.files.has(d)) throw errnoError(i === chain.length - 1 ? 'EEXIST' : 'ENOTDIR', 'mkdir', p);
      }
      for (const d of chain) this.dirs.add(d);
    });
  }

  /** The file's text now, without a turn (tests and invariants). */
  peek(path: string): string | undefined {
    return this.files.get(normal(path))?.text;
  }

  /** Every file's path, sorted. */
  list(): string[] {
    return [...this.files.keys()].sort();
  }

  /** Bytes the files hold now. */
  get usedBytes(): number {
    return this.used;
  }

  get limitBytes(): number | undefined {
    return this.limit;
  }

  /** Sets (or, undefined, lifts) the size limit; files already over it stay, their next growth fails. */
  setLimit(bytes: number | undefined): void {
    this.limit = bytes;
  }

  /** The `disk-full` fault: no room is left, so every write fails with ENOSPC until `setLimit`. */
  fill(): void {
    this.limit = this.used;
  }
}

/** Runs `op` in a microtask: its result (or its throw, as a rejection) comes a turn later, as fs's does. */
function later<T>(op: () => T): Promise<T> {
  return Promise.resolve().then(op);
}

/** An absolute, normalised path ('/a/b/../c/' → '/a/c'); a relative one is taken from '/'. */
function normal(path: string): string {
  const p = posix.normalize(posix.resolve('/', path));
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}
