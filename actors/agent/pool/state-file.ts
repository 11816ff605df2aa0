/**
 * The allocator's state on disk: one JSON document, replaced atomically (temp file, rename), so
 * a crash of the agent leaves either the old or the new state. Not fsynced: what the file
 * describes — TAPs, pod namespaces — does not outlive the kernel either (after a power loss or
 * a reboot the pool is created afresh and every pod re-added), while a process crash never loses
 * what is in the page cache; two fsyncs were ~2 ms of every pod's ADD for nothing.
 */
import { z } from 'zod';
import { err, ok, toError, type Result } from '../../../core/result.js';
import { PoolStateError } from './errors.js';
import { fsFiles, type AgentFiles } from './files.js';

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
      sandbox: z.string().optional(),
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

/**
 * Reads the state; a missing file is an empty state (`undefined`), a corrupt one an error.
 *
 * @example
 * const s = await readState('/var/lib/infra-offload/pool.json');
 */
export async function readState(path: string, files: AgentFiles = fsFiles): Promise<Result<PoolState | undefined, PoolStateError>> {
  let text: string | undefined;
  try {
    text = await files.readText(path);
  } catch (e) {
    return err(new PoolStateError(`cannot read ${path}`, { cause: e }));
  }
  if (text === undefined) return ok(undefined);
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
export function writeState(path: string, state: PoolState, files: AgentFiles = fsFiles): Promise<Result<void, PoolStateError>> {
  return writeJsonAtomic(path, state, { sync: false, files });
}

/**
 * Replaces a JSON file atomically (files.ts: temp file, rename on the real filesystem); with
 * `sync` (the default) the file and its directory are fsynced too, for state that must survive a
 * power loss. `files` is the filesystem (default the machine's; the simulator's in memory).
 *
 * @example
 * await writeJsonAtomic('/var/lib/infra-offload/portmap.json', { ports: [] }, { sync: false });
 */
export async function writeJsonAtomic(path: string, value: unknown, options: { sync?: boolean; files?: AgentFiles } = {}): Promise<Result<void, PoolStateError>> {
  const files = options.files ?? fsFiles;
  try {
    await files.replace(path, `${JSON.stringify(value, null, 2)}\n`, { sync: options.sync ?? true, mode: 0o600 });
    return ok(undefined);
  } catch (e) {
    return err(new PoolStateError(`cannot write ${path}: ${toError(e).message}`, { cause: e }));
  }
}

/**
 * The errno code of a state error's cause (ENOSPC: the disk is full), if any.
 *
 * @example
 * const r = await writeState(path, state);
 * if (!r.ok && stateErrorCode(r.error) === 'ENOSPC') … // worth trying again later
 */
export function stateErrorCode(error: Error): string | undefined {
  const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
  return error instanceof PoolStateError && typeof code === 'string' ? code : undefined;
}
