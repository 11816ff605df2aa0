/**
 * A synthetic kernel's storage in memory (the `KernelStorage` of store.ts), for the in-process
 * simulator: the node's kernel outlives its agent because the simulator keeps this object (and
 * may keep the kernel itself), while nothing touches the disk and every call resolves in a
 * microtask — deterministic under a ManualClock.
 *
 * It behaves as the kernel directory does: the model is kept as the JSON text a save wrote (a
 * reload after a bug of the model gets the last saved state, not the half-changed one), a stamp
 * changes with every save, and a named namespace is a marker with an identity that a namespace
 * made again under the same name does not share (a counter here; a random token on disk).
 * Namespace paths are `/var/run/netns/<name>` by default — the paths a container runtime gives
 * as CNI_NETNS — which the kernel resolves to its own namespaces, never the machine's.
 *
 * @example
 * const storage = new MemoryKernelStorage('node-1');
 * const kernel = await SyntheticKernel.open({ storage, seed: 7 });
 * const netns = await storage.createNamespace('pod-7');   // ok('/var/run/netns/pod-7'): CNI_NETNS
 * await storage.deleteNamespace('pod-7');                 // its TAP is destroyed on the next command
 */
import { posix } from 'node:path';
import { err, ok, type Result } from '../../core/result.js';
import { KernelNamespaceError, KernelStateError } from './errors.js';
import { kernelStateSchema, type KernelState } from './state.js';
import { validNetnsName, type KernelStorage } from './store.js';

export interface MemoryKernelStorageOptions {
  /** Where namespace paths point (default /var/run/netns). */
  readonly netnsDir?: string;
}

export class MemoryKernelStorage implements KernelStorage {
  readonly location: string;
  readonly netnsDir: string;
  private text: string | undefined;
  private saves = 0;
  private readonly marks = new Map<string, string>();
  private made = 0;

  constructor(name = 'kernel', options: MemoryKernelStorageOptions = {}) {
    this.location = `memory:${name}`;
    this.netnsDir = posix.resolve('/', options.netnsDir ?? '/var/run/netns');
  }

  prepare(): Promise<Result<void, KernelStateError>> {
    return later(() => ok(undefined));
  }

  load(): Promise<Result<KernelState | undefined, KernelStateError>> {
    return later(() => {
      if (this.text === undefined) return ok(undefined);
      let json: unknown;
      try {
        json = JSON.parse(this.text);
      } catch (e) {
        return err(new KernelStateError(`${this.location} is not JSON`, { cause: e }));
      }
      const parsed = kernelStateSchema.safeParse(json);
      return parsed.success ? ok(parsed.data) : err(new KernelStateError(`${this.location} is not a synthetic kernel: ${parsed.error.message}`));
    });
  }

  save(state: KernelState): Promise<Result<string, KernelStateError>> {
    return later(() => {
      this.text = JSON.stringify(state);
      return ok(String(++this.saves));
    });
  }

  stamp(): Promise<string | undefined> {
    return later(() => (this.text === undefined ? undefined : String(this.saves)));
  }

  markers(): Promise<ReadonlyMap<string, string>> {
    return later(() => new Map(this.marks));
  }

  addMarker(name: string): Promise<Result<string, KernelNamespaceError>> {
    return later(() => {
      if (!validNetnsName(name)) return err(new KernelNamespaceError('bad-name', `invalid namespace name "${name}"`));
      if (this.marks.has(name)) return err(new KernelNamespaceError('exists', `namespace ${name} exists`));
      const id = `ns-${++this.made}`;
      this.marks.set(name, id);
      return ok(id);
    });
  }

  removeMarker(name: string): Promise<Result<void, KernelNamespaceError>> {
    return later(() => {
      if (!validNetnsName(name)) return err(new KernelNamespaceError('bad-name', `invalid namespace name "${name}"`));
      if (!this.marks.delete(name)) return err(new KernelNamespaceError('missing', `namespace ${name} does not exist`));
      return ok(undefined);
    });
  }

  /** The path a runtime gives for a namespace of this kernel. */
  namespacePath(name: string): string {
    return posix.join(this.netnsDir, name);
  }

  /**
   * The container runtime's `ip netns add NAME`: returns the namespace's path (CNI_NETNS).
   *
   * @example
   * const path = await storage.createNamespace('pod-1');
   */
  async createNamespace(name: string): Promise<Result<string, KernelNamespaceError>> {
    const made = await this.addMarker(name);
    return made.ok ? ok(this.namespacePath(name)) : made;
  }

  /** The container runtime's `ip netns del NAME`: the kernel destroys its devices on its next command. */
  deleteNamespace(name: string): Promise<Result<void, KernelNamespaceError>> {
    return this.removeMarker(name);
  }

  /** Bytes of the last saved model (for measurements). */
  get savedBytes(): number {
    return this.text?.length ?? 0;
  }
}

function later<T>(op: () => T): Promise<T> {
  return Promise.resolve().then(op);
}
