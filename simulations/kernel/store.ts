/**
 * Where a synthetic kernel lives, behind `KernelStorage`: its model (state.ts) and one marker per
 * named network namespace. `DirKernelStorage` (here) is the kernel directory, shared by
 * processes (bin/sim-agent, the simulator, tools); simulations/kernel/memory-store.ts keeps the
 * same in memory for one process (the in-process simulator).
 *
 * The kernel directory, which outlives the processes that use it:
 *
 *   <kernelDir>/kernel.json        the model (state.ts), replaced atomically after every change
 *   <kernelDir>/netns/<name>       one marker file per named namespace
 *
 * A marker is what `/var/run/netns/<name>` is to Linux: creating the file is `ip netns add`,
 * removing it `ip netns del`, so another process (the simulator) manages pod namespaces with
 * plain fs calls and the kernel notices on its next command. A marker's identity is its
 * content (a random token written by createNamespace) or, for an empty file, its inode and
 * birth time: a namespace deleted and made again under the same name is another namespace,
 * and the devices of the old one are gone.
 *
 * @example
 * const pod = await createNamespace(dir, 'pod-1'); // ok('<dir>/netns/pod-1'): pass it as CNI_NETNS
 * await deleteNamespace(dir, 'pod-1');               // its TAP is destroyed, as by the kernel
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { err, ok, toError, type Result } from '../../core/result.js';
import { KernelNamespaceError, KernelStateError } from './errors.js';
import { kernelStateSchema, type KernelState } from './state.js';

export const STATE_FILE = 'kernel.json';
export const NETNS_DIR = 'netns';

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A namespace name the kernel accepts (the agent's own rule for names, at most 255 characters). */
export function validNetnsName(name: string): boolean {
  return name.length <= 255 && NETNS_NAME.test(name) && name !== '.' && name !== '..';
}

export const netnsDirOf = (kernelDir: string): string => join(kernelDir, NETNS_DIR);

/** The marker of a namespace: an absolute path the agent can be given as CNI_NETNS. */
export function namespacePath(kernelDir: string, name: string): string {
  return join(netnsDirOf(kernelDir), name);
}

const isErrno = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException | undefined)?.code === code;

/** The state file's identity now (inode, modification time, size), undefined when absent. */
export async function stateStamp(kernelDir: string): Promise<string | undefined> {
  try {
    const st = await stat(join(kernelDir, STATE_FILE), { bigint: true });
    return `${st.ino}:${st.mtimeNs}:${st.size}`;
  } catch {
    return undefined;
  }
}

/** The model on disk; undefined when the directory holds no kernel yet; an error when the file is damaged. */
export async function loadState(kernelDir: string): Promise<Result<KernelState | undefined, KernelStateError>> {
  const path = join(kernelDir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return ok(undefined);
    return err(new KernelStateError(`cannot read ${path}: ${toError(e).message}`, { cause: e }));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return err(new KernelStateError(`${path} is not JSON`, { cause: e }));
  }
  const parsed = kernelStateSchema.safeParse(json);
  if (!parsed.success) return err(new KernelStateError(`${path} is not a synthetic kernel: ${parsed.error.message}`));
  return ok(parsed.data);
}

let tmpCounter = 0;

/**
 * Replaces the model on disk (compact JSON in a temp file, then rename: a reader sees the old
 * state or the new one); returns the new file's stamp. Not fsynced: the kernel it stands for
 * would not survive a power loss either, and a process crash loses nothing in the page cache.
 */
export async function saveState(kernelDir: string, state: KernelState): Promise<Result<string, KernelStateError>> {
  const path = join(kernelDir, STATE_FILE);
  const tmp = join(kernelDir, `.${STATE_FILE}.${process.pid}.${++tmpCounter}.tmp`);
  try {
    await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    return err(new KernelStateError(`cannot write ${path}: ${toError(e).message}`, { cause: e }));
  }
  return ok((await stateStamp(kernelDir)) ?? '');
}

/** Directory timestamps are as coarse as the kernel's tick: a change this recent may not show. */
const TIMESTAMP_SLACK_MS = 100;

/**
 * Reads the markers. Creating or removing one changes the directory's modification time, so
 * while that stays what it was (and was already old at the previous scan) the previous answer
 * holds: one stat per command. Otherwise one readdir and one stat per marker, remembering each
 * marker's identity by its stat so that a file is read only when it is new or changed.
 */
export class MarkerScanner {
  private readonly seen = new Map<string, { stamp: string; id: string }>();
  private last: { dirStamp: string; found: Map<string, string> } | undefined;

  constructor(private readonly kernelDir: string) {}

  /** Name → identity of every marker now. */
  async scan(): Promise<Map<string, string>> {
    const dir = netnsDirOf(this.kernelDir);
    const scannedAt = Date.now();
    let dirStamp = '';
    try {
      const st = await stat(dir, { bigint: true });
      dirStamp = `${st.ino}:${st.mtimeNs}`;
      if (this.last?.dirStamp === dirStamp) return new Map(this.last.found);
      this.last = undefined;
      // Trust this stamp next time only if it was old enough now that no later change can share it.
      if (Number(st.mtimeNs / 1_000_000n) > scannedAt - TIMESTAMP_SLACK_MS) dirStamp = '';
    } catch {
      this.last = undefined;
    }
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      names = [];
    }
    const found = new Map<string, string>();
    await Promise.all(
      names.filter(validNetnsName).map(async (name) => {
        const path = join(dir, name);
        let st;
        try {
          st = await stat(path, { bigint: true });
        } catch {
          return; // removed while we looked
        }
        if (!st.isFile()) return;
        const stamp = `${st.ino}:${st.ctimeNs}:${st.size}`;
        const cached = this.seen.get(name);
        if (cached?.stamp === stamp) {
          found.set(name, cached.id);
          return;
        }
        let text: string;
        try {
          text = (await readFile(path, 'utf8')).trim();
        } catch {
          return;
        }
        const id = text !== '' ? text.slice(0, 200) : `inode:${st.ino}:${st.birthtimeNs}`;
        this.seen.set(name, { stamp, id });
        found.set(name, id);
      }),
    );
    for (const name of [...this.seen.keys()]) if (!found.has(name)) this.seen.delete(name);
    if (dirStamp !== '') this.last = { dirStamp, found: new Map(found) };
    return found;
  }
}

/** Writes a new marker (fails if one exists); returns its identity. */
export async function writeMarker(kernelDir: string, name: string): Promise<Result<string, KernelNamespaceError>> {
  if (!validNetnsName(name)) return err(new KernelNamespaceError('bad-name', `invalid namespace name "${name}"`));
  const id = `ns-${randomBytes(8).toString('hex')}`;
  try {
    await mkdir(netnsDirOf(kernelDir), { recursive: true });
    await writeFile(namespacePath(kernelDir, name), `${id}\n`, { flag: 'wx', mode: 0o444 });
    return ok(id);
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return err(new KernelNamespaceError('exists', `namespace ${name} exists`, { cause: e }));
    return err(new KernelNamespaceError('io', `cannot create ${namespacePath(kernelDir, name)}: ${toError(e).message}`, { cause: e }));
  }
}

/** Removes a marker (fails if there is none). */
export async function removeMarker(kernelDir: string, name: string): Promise<Result<void, KernelNamespaceError>> {
  if (!validNetnsName(name)) return err(new KernelNamespaceError('bad-name', `invalid namespace name "${name}"`));
  try {
    await unlink(namespacePath(kernelDir, name));
    return ok(undefined);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return err(new KernelNamespaceError('missing', `namespace ${name} does not exist`, { cause: e }));
    return err(new KernelNamespaceError('io', `cannot remove ${namespacePath(kernelDir, name)}: ${toError(e).message}`, { cause: e }));
  }
}

/**
 * `ip netns add NAME` for the simulator: the marker, noticed by the kernel on its next command.
 * Returns the marker's path (what to give the agent as CNI_NETNS).
 *
 * @example
 * const path = await createNamespace(kernelDir, 'pod-7');
 * if (path.ok) await cni.prepare({ containerId: 'c7', netns: path.value, ifname: 'eth0', mtu: 1500 });
 */
export async function createNamespace(kernelDir: string, name: string): Promise<Result<string, KernelNamespaceError>> {
  const made = await writeMarker(kernelDir, name);
  return made.ok ? ok(namespacePath(kernelDir, name)) : made;
}

/**
 * `ip netns del NAME` for the simulator: the kernel destroys the namespace's TAPs on its next
 * command (a pod's TAP with it; the agent re-creates it in the pool when it tears the pod down).
 *
 * @example
 * await deleteNamespace(kernelDir, 'pod-7');
 */
export async function deleteNamespace(kernelDir: string, name: string): Promise<Result<void, KernelNamespaceError>> {
  return removeMarker(kernelDir, name);
}

/**
 * What a synthetic kernel needs of where it lives: its model, loaded and saved whole, a stamp to
 * notice another writer, and the markers of named namespaces — which whoever plays the container
 * runtime creates and deletes (the kernel notices on its next command).
 */
export interface KernelStorage {
  /** What the kernel is called by: its directory (`memory:<name>` in memory). */
  readonly location: string;
  /** An absolute directory: `<netnsDir>/<name>` is a path to the named namespace (give it as CNI_NETNS). */
  readonly netnsDir: string;
  /** Makes what the storage needs (the directory); fails when it cannot. */
  prepare(): Promise<Result<void, KernelStateError>>;
  /** The stored model; undefined when there is none yet; an error when it is damaged. */
  load(): Promise<Result<KernelState | undefined, KernelStateError>>;
  /** Replaces the stored model (a reader sees the old or the new); returns its new stamp. */
  save(state: KernelState): Promise<Result<string, KernelStateError>>;
  /** The stored model's identity now (it changes when anyone replaces it); undefined when absent. */
  stamp(): Promise<string | undefined>;
  /** Name → identity of every named namespace's marker now. */
  markers(): Promise<ReadonlyMap<string, string>>;
  /** `ip netns add`: a new marker (refused if one exists); returns its identity. */
  addMarker(name: string): Promise<Result<string, KernelNamespaceError>>;
  /** `ip netns del`: removes the marker (refused if there is none). */
  removeMarker(name: string): Promise<Result<void, KernelNamespaceError>>;
}

/**
 * The kernel directory as a `KernelStorage` (the layout at the top of this file).
 *
 * @example
 * const kernel = await SyntheticKernel.open({ storage: new DirKernelStorage('/tmp/sim/node-1/kernel') });
 */
export class DirKernelStorage implements KernelStorage {
  readonly netnsDir: string;
  private readonly scanner: MarkerScanner;

  constructor(readonly location: string) {
    this.netnsDir = resolve(netnsDirOf(location));
    this.scanner = new MarkerScanner(location);
  }

  async prepare(): Promise<Result<void, KernelStateError>> {
    try {
      await mkdir(netnsDirOf(this.location), { recursive: true });
      return ok(undefined);
    } catch (e) {
      return err(new KernelStateError(`cannot create ${this.location}: ${toError(e).message}`, { cause: e }));
    }
  }

  load(): Promise<Result<KernelState | undefined, KernelStateError>> {
    return loadState(this.location);
  }

  save(state: KernelState): Promise<Result<string, KernelStateError>> {
    return saveState(this.location, state);
  }

  stamp(): Promise<string | undefined> {
    return stateStamp(this.location);
  }

  markers(): Promise<ReadonlyMap<string, string>> {
    return this.scanner.scan();
  }

  addMarker(name: string): Promise<Result<string, KernelNamespaceError>> {
    return writeMarker(this.location, name);
  }

  removeMarker(name: string): Promise<Result<void, KernelNamespaceError>> {
    return removeMarker(this.location, name);
  }
}
