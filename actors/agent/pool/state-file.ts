/**
 * The allocator's state on disk: one JSON document, replaced atomically (temp file, rename), so
 * a crash of the agent leaves either the old or the new state. Not fsynced: what the file
 * describes — TAPs, pod namespaces — does not outlive the kernel either (after a power loss or
 * a reboot the pool is created afresh and every pod re-added), while a process crash never loses
 * what is in the page cache; two fsyncs were ~2 ms of every pod's ADD for nothing.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { err, ok, toError, type Result } from '../../../core/result.js';
import { PoolStateError } from './errors.js';

const allocationSchema = z.object({
  index: z.number().int().min(0),
  containerId: z.string().min(1),
  ifname: z.string().min(1),
  netns: z.string().nullable(),
  name: z.string().min(1),
  pod: z
    .object({
      podNamespace: z.string(),
      podName: z.string(),
      network: z.string(),
      mac: z.string(),
      mtu: z.number().int(),
      ips: z.array(z.object({ address: z.string(), prefixLength: z.number().int().min(0).max(32) })).readonly(),
      routes: z.array(z.object({ dst: z.string(), prefixLength: z.number().int().min(0).max(32) })).readonly(),
    })
    .optional(),
});

const stateSchema = z.object({
  version: z.literal(1),
  prefix: z.string(),
  size: z.number().int(),
  allocations: z.array(allocationSchema),
});

/** What the file holds. */
export type PoolState = z.infer<typeof stateSchema>;

let tmpCounter = 0;

/**
 * Reads the state; a missing file is an empty state (`undefined`), a corrupt one an error.
 *
 * @example
 * const s = await readState('/var/lib/infra-offload/pool.json');
 */
export async function readState(path: string): Promise<Result<PoolState | undefined, PoolStateError>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(new PoolStateError(`cannot read ${path}`, { cause: e }));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return err(new PoolStateError(`${path} is not JSON`, { cause: e }));
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) return err(new PoolStateError(`${path} is not a pool state: ${parsed.error.message}`));
  return ok(parsed.data);
}

/**
 * Replaces the state file atomically (not fsynced: see the top of this file).
 *
 * @example
 * await writeState(path, { version: 1, prefix: 'P4TAP_', size: 8, allocations: [] });
 */
export function writeState(path: string, state: PoolState): Promise<Result<void, PoolStateError>> {
  return writeJsonAtomic(path, state, { sync: false });
}

/**
 * Replaces a JSON file atomically: temp file, rename; with `sync` (the default) the file and its
 * directory are fsynced too, for state that must survive a power loss.
 *
 * @example
 * await writeJsonAtomic('/var/lib/infra-offload/portmap.json', { ports: [] }, { sync: false });
 */
export async function writeJsonAtomic(path: string, value: unknown, options: { sync?: boolean } = {}): Promise<Result<void, PoolStateError>> {
  const sync = options.sync ?? true;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++tmpCounter}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
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
    return ok(undefined);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    return err(new PoolStateError(`cannot write ${path}: ${toError(e).message}`, { cause: e }));
  }
}
