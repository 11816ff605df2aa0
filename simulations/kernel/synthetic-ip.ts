/**
 * The synthetic kernel: an `IpRunner` (actors/agent/pool/ip.ts) that answers the agent's
 * iproute2 commands from a model of the kernel instead of exec'ing `ip`, so the real agent —
 * pool, gateway, pod plumbing, recovery — runs many pods on a machine without TAPs or root.
 * The fault-injection simulator gives every node's agent one (bin/sim-agent.ts).
 *
 * What it models (model.ts, commands.ts, render.ts; checked against real iproute2 6.1 on
 * Linux 6.18 by test/simulations/synthetic-kernel.test.ts):
 * - named network namespaces (`ip netns add/del`, or marker files made by another process) and
 *   the namespace of the kernel's user (`/proc/<pid>/ns/net`, or no namespace given);
 * - TAP and tun devices (`ip tuntap add`, persistent, never attached: NO-CARRIER) and `lo`:
 *   name, MAC (seeded), MTU and its bounds, the UP flag, ifindex, qdisc, moves between
 *   namespaces (down, addresses and routes dropped, renamed when the name is taken), renames,
 *   destruction with their namespace;
 * - IPv4 addresses (replace, del, flush; primaries and secondaries, scopes, prefix routes);
 * - main-table IPv4 routes (replace, del; dst, via, dev, scope, onlink; the kernel's checks of
 *   next hops and of prefixes, its dump order, routes lost when a link goes down or moves);
 * - iproute2's output (`-j`, `-d`, `-4`, text for link/addr/route show), its error messages,
 *   and `-batch` (stop at the first failure, output concatenated, "Command failed -:N").
 *
 * What it does not model: packets (no frame ever crosses a synthetic TAP — the software target
 * runs in synthetic-packet mode and traces packets through the P4 model instead), carrier,
 * IPv6 beyond `lo`'s ::1, neighbours, other tables, rules, metrics, veths or any other link
 * kind, sysctls. Commands outside the agent's shapes are refused with a message naming them,
 * never silently accepted. Two processes must not drive the same kernel directory at the same
 * instant (a process that finds the state file changed by another reloads it first).
 *
 * Persistence: the model lives in `<kernelDir>/kernel.json`, replaced atomically after each
 * change and before the command is answered, so a command the agent saw succeed survives the
 * agent's kill -9; namespaces are marker files in `<kernelDir>/netns/` (store.ts). Or, for an
 * in-process simulator, the same in memory (`storage`: memory-store.ts), nothing on disk.
 *
 * @example
 * const kernel = await SyntheticKernel.open({ kernelDir: '/tmp/sim/node-1/kernel', seed: 7 });
 * if (!kernel.ok) throw kernel.error;
 * await kernel.value.run(['netns', 'add', 'host']);
 * await createPool(kernel.value, { prefix: 'P4TAP_', count: 8, netns: 'host' });
 * const links = await kernel.value.run(['-d', '-j', 'link', 'show'], 'host');
 */
import { resolve } from 'node:path';
import { err, ok, toError, type Result } from '../../core/result.js';
import { IpCommandError } from '../../actors/agent/pool/errors.js';
import type { IpRunner, NetnsProbe } from '../../actors/agent/pool/ip.js';
import { runCommand, type CommandEnv } from './commands.js';
import { IpFailure, KernelStateError, type KernelNamespaceError } from './errors.js';
import { KernelModel } from './model.js';
import { INIT_NS, newKernelState, type KernelState } from './state.js';
import { DirKernelStorage, validNetnsName, type KernelStorage } from './store.js';
import { viewOf, type KernelView } from './view.js';

export { createNamespace, deleteNamespace, namespacePath, validNetnsName, DirKernelStorage, type KernelStorage } from './store.js';
export { readKernelState, viewOf, type KernelView, type LinkView, type NamespaceView, type RouteView } from './view.js';
export { INIT_NS } from './state.js';

export interface SyntheticKernelOptions {
  /** Where the kernel lives (created when missing): a directory, shorthand for `storage: new DirKernelStorage(kernelDir)`. */
  readonly kernelDir?: string;
  /** Where the kernel lives, when not a directory: MemoryKernelStorage (memory-store.ts) for an in-process simulator. */
  readonly storage?: KernelStorage;
  /** Seed of the MAC stream, used when the directory holds no kernel yet (default 1). */
  readonly seed?: number;
  /** The process whose `/proc/<pid>/ns/net` is the init namespace (default: this one). */
  readonly initPid?: number;
  /** Allow renaming an UP link, as Linux ≥ 6.x does (default true; false answers EBUSY). */
  readonly liveRename?: boolean;
}

/** Counters, for measurements. */
export interface KernelStats {
  commands: number;
  batches: number;
  failures: number;
  writes: number;
}

/** Same as execIp: a named path is passed to `ip -n` as its name. */
const NAMED_PATH = /^\/(?:var\/)?run\/netns\/([^/]+)$/;

export class SyntheticKernel implements IpRunner {
  private model: KernelModel;
  private stamp: string | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly storage: KernelStorage;
  private readonly netnsDir: string;
  private readonly initPid: number;
  readonly stats: KernelStats = { commands: 0, batches: 0, failures: 0, writes: 0 };

  private constructor(
    private readonly options: SyntheticKernelOptions,
    storage: KernelStorage,
    state: KernelState,
    /** The directory held no kernel before this one was opened. */
    readonly created: boolean,
  ) {
    this.model = new KernelModel(state, options);
    this.storage = storage;
    this.netnsDir = resolve(storage.netnsDir);
    this.initPid = options.initPid ?? process.pid;
  }

  /**
   * Opens the kernel in `kernelDir` (or `storage`), creating it (the init namespace only) when
   * there is none.
   *
   * @example
   * const k = await SyntheticKernel.open({ kernelDir: dir, seed: 3 });
   * const inMemory = await SyntheticKernel.open({ storage: new MemoryKernelStorage('node-1'), seed: 3 });
   */
  static async open(options: SyntheticKernelOptions): Promise<Result<SyntheticKernel, KernelStateError>> {
    const storage = options.storage ?? (options.kernelDir !== undefined ? new DirKernelStorage(options.kernelDir) : undefined);
    if (!storage) return err(new KernelStateError('a synthetic kernel needs a kernelDir or a storage'));
    const prepared = await storage.prepare();
    if (!prepared.ok) return prepared;
    const loaded = await storage.load();
    if (!loaded.ok) return loaded;
    const kernel = new SyntheticKernel(options, storage, loaded.value ?? newKernelState(options.seed ?? 1), loaded.value === undefined);
    const ready = await kernel.exclusive(async () => {
      if (kernel.created) kernel.model.dirty = true;
      else kernel.stamp = await storage.stamp();
      return kernel.refresh();
    });
    return ready.ok ? ok(kernel) : ready;
  }

  /** Where the kernel lives: its directory (`memory:…` for a storage in memory). */
  get kernelDir(): string {
    return this.storage.location;
  }

  /**
   * `ip netns add NAME` by someone else (the container runtime): the marker, which this kernel
   * notices on its next command. Returns the path to give the agent as CNI_NETNS.
   *
   * @example
   * const netns = await kernel.createNamespace('pod-7'); // ok('<netnsDir>/pod-7')
   */
  async createNamespace(name: string): Promise<Result<string, KernelNamespaceError>> {
    const made = await this.storage.addMarker(name);
    return made.ok ? ok(`${this.netnsDir}/${name}`) : made;
  }

  /** `ip netns del NAME` by someone else: the namespace's devices are destroyed on the kernel's next command. */
  deleteNamespace(name: string): Promise<Result<void, KernelNamespaceError>> {
    return this.storage.removeMarker(name);
  }

  /**
   * The agent's namespace checks (IpRunner.netns): a namespace exists while the model holds it
   * (its marker file, for pod namespaces made by another process); two references are the same
   * namespace when they name the same one. Undefined, /proc/self and the kernel user's /proc path
   * are the init namespace.
   */
  readonly netns: NetnsProbe = {
    exists: (ref) =>
      this.exclusive(async () => {
        if (!(await this.refresh()).ok) return false;
        return this.namespaceOf(ref) !== undefined;
      }),
    same: (a, b) =>
      this.exclusive(async () => {
        if (!(await this.refresh()).ok) return false;
        const x = this.namespaceOf(a);
        return x !== undefined && x === this.namespaceOf(b);
      }),
  };

  /** The namespace a reference spells, if the model holds it. */
  private namespaceOf(ref: string | undefined): string | undefined {
    if (ref === undefined || ref === '/proc/self/ns/net' || ref === '/proc/thread-self/ns/net' || this.isInitPath(ref)) return INIT_NS;
    const name = this.namedBy(ref);
    return name !== undefined && this.model.ns(name) ? name : undefined;
  }

  run(args: readonly string[], netns?: string): Promise<Result<string, IpCommandError>> {
    const full = fullArgs(args, netns);
    this.stats.commands++;
    return this.exclusive(() => this.execute(full, netns, async (env) => runCommand(env, args)));
  }

  /** `ip -batch -`: the commands in order, stopping at the first failure, outputs concatenated. */
  runBatch(commands: readonly (readonly string[])[], netns?: string): Promise<Result<string, IpCommandError>> {
    this.stats.batches++;
    this.stats.commands += commands.length;
    const full = fullArgs(['-batch', '-'], netns);
    return this.exclusive(() =>
      this.execute(full, netns, async (env) => {
        let out = '';
        for (const [i, command] of commands.entries()) {
          try {
            out += await runCommand(env, command, true);
          } catch (e) {
            if (e instanceof IpFailure) throw new IpFailure(`${e.stderr.trimEnd()}\nCommand failed -:${i + 1}\n`, 1);
            throw e;
          }
        }
        return out;
      }),
    );
  }

  /** The kernel as it is now (markers applied). */
  view(): Promise<Result<KernelView, KernelStateError>> {
    return this.exclusive(async () => {
      const ready = await this.refresh();
      return ready.ok ? ok(viewOf(this.model.state)) : ready;
    });
  }

  /** A tool's note in the state file (bin/sim-agent records the pools it made). */
  meta(key: string): unknown {
    return this.model.state.meta[key];
  }

  setMeta(key: string, value: unknown): Promise<Result<void, KernelStateError>> {
    return this.exclusive(async () => {
      this.model.state.meta[key] = value;
      this.model.dirty = true;
      return this.persist();
    });
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const next = this.tail.then(f, f);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async execute(full: string[], netns: string | undefined, body: (env: CommandEnv) => Promise<string>): Promise<Result<string, IpCommandError>> {
    const ready = await this.refresh();
    if (!ready.ok) return this.fail(full, `synthetic kernel: ${ready.error.message}`);
    const at = this.execNamespace(netns);
    if (!at.ok) return this.fail(full, at.error);
    const env = this.env(at.value);
    let result: Result<string, string>;
    try {
      result = ok(await body(env));
    } catch (e) {
      if (!(e instanceof IpFailure)) {
        // A bug of ours: forget whatever half of it happened, as if the command never ran.
        await this.reload();
        return this.fail(full, `synthetic kernel: internal error: ${toError(e).stack ?? String(e)}`);
      }
      result = err(e.stderr);
    }
    const saved = await this.persist();
    if (!saved.ok) return this.fail(full, `synthetic kernel: ${saved.error.message}`);
    return result.ok ? result : this.fail(full, result.error);
  }

  private fail(full: string[], stderr: string): Result<string, IpCommandError> {
    this.stats.failures++;
    return err(new IpCommandError(full, stderr));
  }

  private env(execNs: string): CommandEnv {
    return {
      model: this.model,
      execNs,
      resolveTarget: (value) => this.targetNamespace(value, execNs),
      addNamespace: async (name) => {
        if (!validNetnsName(name)) throw new IpFailure(`Invalid netns name "${name}"`, 255);
        const exists = `Cannot create namespace file "/run/netns/${name}": File exists`;
        if (this.model.ns(name)) throw new IpFailure(exists, 1);
        const made = await this.storage.addMarker(name);
        if (!made.ok) throw new IpFailure(made.error.reason === 'exists' ? exists : `synthetic kernel: ${made.error.message}`, 1);
        this.model.addNamespace(name, made.value);
      },
      delNamespace: async (name) => {
        const missing = `Cannot remove namespace file "/run/netns/${name}": No such file or directory`;
        if (!validNetnsName(name) || !this.model.ns(name)) throw new IpFailure(missing, 1);
        const removed = await this.storage.removeMarker(name);
        if (!removed.ok && removed.error.reason !== 'missing') throw new IpFailure(`synthetic kernel: ${removed.error.message}`, 1);
        this.model.removeNamespace(name);
      },
    };
  }

  /** Where a command runs (`ip -n NAME`, or `nsenter --net=PATH ip`, as execIp does). */
  private execNamespace(netns: string | undefined): Result<string, string> {
    if (netns === undefined) return ok(INIT_NS);
    const name = this.namedBy(netns);
    if (name !== undefined && this.model.ns(name)) return ok(name);
    // execIp passes a name (or a /var/run/netns path) to `ip -n`, any other path to nsenter.
    if (!netns.startsWith('/') || NAMED_PATH.test(netns)) return err(`Cannot open network namespace "${NAMED_PATH.exec(netns)?.[1] ?? netns}": No such file or directory`);
    if (this.isInitPath(netns) || netns === '/proc/self/ns/net' || netns === '/proc/thread-self/ns/net') return ok(INIT_NS);
    if (/^\/proc\/[0-9]+\/(?:task\/[0-9]+\/)?ns\/net$/.test(netns)) return err(`synthetic kernel: ${netns} is not modelled (only /proc/${this.initPid}/ns/net, the kernel's user)`);
    return err(`nsenter: cannot open ${netns}: No such file or directory`);
  }

  /** The target of `link set … netns VALUE` (a path is opened; a bare word is a name, else a PID). */
  private targetNamespace(value: string, execNs: string): string | undefined {
    if (value === '/proc/self/ns/net' || value === '/proc/thread-self/ns/net') return execNs;
    if (this.isInitPath(value) || value === String(this.initPid)) return INIT_NS;
    const name = this.namedBy(value);
    return name !== undefined && name !== INIT_NS && this.model.ns(name) ? name : undefined;
  }

  /** The namespace name a reference spells (a bare name, /run/netns/X, /var/run/netns/X, <kernelDir>/netns/X). */
  private namedBy(ref: string): string | undefined {
    if (!ref.startsWith('/')) return validNetnsName(ref) ? ref : undefined;
    const named = NAMED_PATH.exec(ref)?.[1];
    if (named !== undefined) return validNetnsName(named) ? named : undefined;
    const abs = resolve(ref);
    if (abs.startsWith(`${this.netnsDir}/`)) {
      const tail = abs.slice(this.netnsDir.length + 1);
      return validNetnsName(tail) ? tail : undefined;
    }
    return undefined;
  }

  private isInitPath(ref: string): boolean {
    return ref === `/proc/${this.initPid}/ns/net`;
  }

  /** Catches up with the kernel directory: a state file written by another process, and the markers. */
  private async refresh(): Promise<Result<void, KernelStateError>> {
    const stamp = await this.storage.stamp();
    if (stamp !== undefined && stamp !== this.stamp) {
      const reloaded = await this.reload();
      if (!reloaded.ok) return reloaded;
    }
    const markers = await this.storage.markers();
    const { model } = this;
    for (const [name, ns] of Object.entries(model.state.namespaces)) {
      if (name !== INIT_NS && markers.get(name) !== ns.id) model.removeNamespace(name);
    }
    // In name order: a directory lists (and stats) its markers in no fixed order, and the serials
    // new namespaces take must not depend on it.
    for (const name of [...markers.keys()].sort()) if (!model.ns(name)) model.addNamespace(name, markers.get(name) as string);
    return this.persist();
  }

  private async reload(): Promise<Result<void, KernelStateError>> {
    const loaded = await this.storage.load();
    if (!loaded.ok) return loaded;
    if (loaded.value) this.model = new KernelModel(loaded.value, this.options);
    this.stamp = await this.storage.stamp();
    return ok(undefined);
  }

  /** Writes the model if it changed; on failure the change is forgotten (the disk's state is the kernel's). */
  private async persist(): Promise<Result<void, KernelStateError>> {
    if (!this.model.dirty) return ok(undefined);
    const saved = await this.storage.save(this.model.state);
    if (!saved.ok) {
      const back = await this.reload();
      if (!back.ok) this.model.dirty = false;
      return err(saved.error);
    }
    this.stats.writes++;
    this.stamp = saved.value;
    this.model.dirty = false;
    return ok(undefined);
  }
}

/** The arguments an IpCommandError names, as execIp's: `-n NETNS …args` (a named path becomes its name). */
function fullArgs(args: readonly string[], netns: string | undefined): string[] {
  if (netns === undefined) return [...args];
  return ['-n', NAMED_PATH.exec(netns)?.[1] ?? netns, ...args];
}
