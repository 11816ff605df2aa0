/**
 * Writes key material with safe permissions: directories 0700, keys and secrets 0600,
 * certificates 0644. A file is written to a temporary name and renamed, so a reader never sees
 * half a key and an existing file's looser mode is never kept (writeFile's mode applies only to
 * files it creates).
 *
 * @example
 * await ensurePrivateDir('/etc/infra-offload/certs');
 * await writeAtomic('/etc/infra-offload/certs/ca.key', keyPem, KEY_MODE);
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const DIR_MODE = 0o700;
export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

/** Creates the directory (and parents) and forces 0700 on it, even if it existed. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmod(dir, DIR_MODE);
}

/** Writes `data` to `file` with exactly `mode`, atomically (temp file + rename in the same directory). */
export async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    // The umask may have removed bits we want (e.g. 0644 under umask 077 is fine, but be exact).
    await chmod(tmp, mode);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The file's text, or undefined when it does not exist (other errors propagate). */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
