/**
 * A small tmpfs of the simulator's own, mounted under its run directory (root only), so that a
 * "full disk" fault fills that and never the machine's disk: the agent keeps its state there, and
 * the fault writes a filler file until the filesystem says ENOSPC, then removes it.
 *
 * @example
 * const fs = await mountTmpfs(join(nodeDir, 'state'), 4 << 20);
 * await fs.fill();    // the agent's next write of pool.json fails with ENOSPC
 * await fs.unfill();
 * await fs.unmount();
 */
import { execFile } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  readonly path: string;
  /** Writes a filler file until the filesystem is full; resolves with the bytes written. */
  fill(): Promise<number>;
  /** Removes the filler file. */
  unfill(): Promise<void>;
  /** Unmounts (lazily if busy) and removes the mount point. */
  unmount(): Promise<void>;
}

export async function mountTmpfs(path: string, bytes: number): Promise<Tmpfs> {
  await mkdir(path, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'ioff-sim-tmpfs', path]);
  const filler = join(path, '.disk-full-filler');
  return {
    path,
    async fill() {
      const fh = await open(filler, 'a');
      const chunk = Buffer.alloc(16 << 10);
      let written = 0;
      try {
        for (;;) {
          const { bytesWritten } = await fh.write(chunk);
          written += bytesWritten;
          if (bytesWritten < chunk.length) break;
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        await fh.close().catch(() => undefined);
      }
      return written;
    },
    async unfill() {
      await rm(filler, { force: true });
    },
    async unmount() {
      await run('umount', [path]).catch(() => run('umount', ['-l', path]));
      await rm(path, { recursive: true, force: true });
    },
  };
}
