/**
 * The agent's files, as a dependency: the only file operations on its pod path (the pool's
 * allocations in pool.json, the port map in portmap.json, their directory). The real filesystem
 * by default; the in-process simulator gives every node an in-memory one
 * (simulations/inproc/memory-files.ts) that outlives the agent, as a disk outlives a process,
 * and can fill up.
 *
 * Failures are the filesystem's own errors (`NodeJS.ErrnoException`: `code` ENOENT, ENOSPC…,
 * `errno`, `syscall`, `path`), thrown as node:fs throws them; callers turn them into their typed
 * errors (pool/state-file.ts: PoolStateError with the errno error as its cause).
 *
 * @example
 * await fsFiles.makeDir('/var/lib/infra-offload', 0o700);
 * await fsFiles.replace('/var/lib/infra-offload/pool.json', '{}\n', { sync: false, mode: 0o600 });
 * await fsFiles.readText('/var/lib/infra-offload/pool.json'); // '{}\n'; undefined when there is none
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface ReplaceOptions {
  /** fsync the file and its directory too (state that must survive a power loss). */
  readonly sync: boolean;
  /** The file's permissions when it is created. */
  readonly mode: number;
}

export interface AgentFiles {
  /** The file's text; undefined when it does not exist; rejects with the fs error otherwise. */
  readText(path: string): Promise<string | undefined>;
  /**
   * Replaces the file atomically — a reader (or a restarted agent) sees the old content or the
   * new, never a part — or rejects with the fs error (ENOSPC on a full disk) leaving the old one.
   */
  replace(path: string, text: string, options: ReplaceOptions): Promise<void>;
  /** Makes the directory and its parents (as `mkdir -p`); nothing when it exists. */
  makeDir(path: string, mode: number): Promise<void>;
}

let tmpCounter = 0;

/** The machine's filesystem: replace is a temp file in the same directory, then a rename. */
export const fsFiles: AgentFiles = {
  async readText(path) {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  },

  async replace(path, text, { sync, mode }) {
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++tmpCounter}.tmp`);
    try {
      const fh = await open(tmp, 'w', mode);
      try {
        await fh.writeFile(text);
        if (sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      if (sync) {
        const dir = await open(dirname(path), 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      }
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
  },

  async makeDir(path, mode) {
    await mkdir(path, { recursive: true, mode });
  },
};
