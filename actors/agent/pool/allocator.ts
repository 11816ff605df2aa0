/**
 * The pool allocator: index 0 is the gateway (ARP) port, index 1 the host interface, indices
 * 2… go to pods, first free first, keyed by container id + CNI ifname. Every change is persisted
 * before it is acknowledged, and the state is reconciled with the kernel on open, so a restarted
 * agent neither leaks nor hands out an index twice.
 */
import { err, ok, type Result } from '../../../core/result.js';
import { IpCommandError, PoolExhaustedError, PoolNameError, PoolSizeError, PoolStateError } from './errors.js';
import { createPool } from './setup.js';
import { listLinks, type DiscoveredPool } from './discover.js';
import type { AgentFiles } from './files.js';
import type { IpRunner } from './ip.js';
import { readState, writeState, type PoolState } from './state-file.js';

export const GATEWAY_PORT = 0;
export const HOST_PORT = 1;
export const FIRST_POD_PORT = 2;

/** Who asks for an interface: the CNI container id and interface name. */
export interface PodKey {
  readonly containerId: string;
  readonly ifname: string;
}

/** What plumbing made of a pod's interface: enough to check it and register it again after a restart. */
export interface PodRecord {
  readonly podNamespace: string;
  readonly podName: string;
  readonly network: string;
  readonly mac: string;
  readonly mtu: number;
  /** Dotted IPv4 with the IPAM prefix length. */
  readonly ips: readonly { readonly address: string; readonly prefixLength: number }[];
  /** Extra routes from IPAM (via the gateway). */
  readonly routes: readonly { readonly dst: string; readonly prefixLength: number }[];
  /**
   * The pod's network namespace as its ADD named it. Kept when the TAP goes home, so a restarted
   * agent can tell a DEL cut short (the namespace is still there: the runtime will DEL again) from
   * a pod that is gone. Absent in records of older agents.
   */
  readonly sandbox?: string;
}

/** One pod's interface: its pool index and where the TAP now lives. */
export interface Allocation extends PodKey {
  readonly index: number;
  /** The namespace the TAP lives in; null = the pool's own namespace. */
  readonly netns: string | null;
  /** Its current name (the pool name until plumbing renames it). */
  readonly name: string;
  /** Set once the pod's interface is plumbed; absent while an ADD is still under way. */
  readonly pod?: PodRecord;
}

/** One row of the port map the target reads. */
export interface PortEntry {
  /** Pool index = P4 port id. */
  readonly port: number;
  readonly name: string;
  /** The namespace the interface lives in; null = the agent's own. */
  readonly netns: string | null;
  readonly role: 'gateway' | 'host' | 'pod';
  readonly allocated: boolean;
}

/** What reconciliation with the kernel found. */
export interface ReconcileReport {
  /** Indices whose TAP should be in the pool namespace and is not: re-create them (createPool). */
  readonly missing: number[];
  /** Allocations recorded as moved whose TAP is back in the pool namespace under its pool name. */
  readonly returned: number[];
  /** Recorded allocations outside the pool (index too big, or a duplicate index): dropped. */
  readonly dropped: Allocation[];
}

export interface OpenOptions {
  readonly ip: IpRunner;
  readonly pool: DiscoveredPool;
  readonly stateFile: string;
  /** Where the state file lives: the machine's filesystem unless given (the simulator's in memory). */
  readonly files?: AgentFiles;
  /**
   * Unallocatable indices that live in another namespace on purpose (the gateway TAP in the
   * gateway namespace): never reported missing, shown there in the port map.
   */
  readonly away?: readonly { readonly index: number; readonly netns: string }[];
  /** The state file's contents if the caller has read it already (undefined: no file); read here otherwise. */
  readonly state?: { readonly value: PoolState | undefined };
}

const keyOf = (k: PodKey): string => `${k.containerId}\u0000${k.ifname}`;

/**
 * @example
 * const pool = await discoverPool(execIp, { prefix: 'P4TAP_' });
 * const opened = await PoolAllocator.open({ ip: execIp, pool: pool.value, stateFile });
 * const a = await opened.value.allocator.allocate({ containerId: 'c1', ifname: 'eth0' });
 */
export class PoolAllocator {
  private readonly byIndex = new Map<number, Allocation>();
  private readonly byKey = new Map<string, Allocation>();
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(private readonly opts: OpenOptions) {}

  /** Loads the state file, reconciles it with the kernel and persists the result. */
  static async open(opts: OpenOptions): Promise<Result<{ allocator: PoolAllocator; report: ReconcileReport }, PoolStateError | IpCommandError>> {
    const state = opts.state ? { ok: true as const, value: opts.state.value } : await readState(opts.stateFile, opts.files);
    if (!state.ok) return state;
    const allocator = new PoolAllocator(opts);
    const dropped = allocator.load(state.value);
    const report = await allocator.reconcile();
    if (!report.ok) return report;
    const saved = await allocator.persist();
    if (!saved.ok) return saved;
    return ok({ allocator, report: { ...report.value, dropped } });
  }

  get size(): number {
    return this.opts.pool.size;
  }

  /** The allocation of a pod, if any. */
  lookup(key: PodKey): Allocation | undefined {
    return this.byKey.get(keyOf(key));
  }

  /** All pod allocations, by index. */
  allocations(): Allocation[] {
    return [...this.byIndex.values()].sort((a, b) => a.index - b.index);
  }

  /** The first free pod index; the same one again for a key that already holds one. */
  async allocate(key: PodKey): Promise<Result<Allocation, PoolExhaustedError | PoolStateError>> {
    const held = this.lookup(key);
    if (held) return ok(held);
    let index = FIRST_POD_PORT;
    while (index < this.size && this.byIndex.has(index)) index++;
    if (index >= this.size) return err(new PoolExhaustedError(this.size));
    // Claimed before the write starts, so concurrent calls cannot pick the same index.
    const a: Allocation = { ...key, index, netns: null, name: this.opts.pool.names[index]! };
    this.put(a);
    const saved = await this.persist();
    if (!saved.ok) this.drop(a);
    return saved.ok ? ok(a) : saved;
  }

  /** Gives a pod's index back; releasing what is not held is a success (`undefined`). */
  async release(key: PodKey): Promise<Result<Allocation | undefined, PoolStateError>> {
    const held = this.lookup(key);
    if (!held) return ok(undefined);
    this.drop(held);
    const saved = await this.persist();
    if (!saved.ok) this.put(held);
    return saved.ok ? ok(held) : saved;
  }

  /** Records where plumbing put a pod's TAP (netns null = back in the pool namespace) and what it made. */
  async relocate(key: PodKey, where: { netns: string | null; name: string; pod?: PodRecord }): Promise<Result<Allocation | undefined, PoolStateError>> {
    const held = this.lookup(key);
    if (!held) return ok(undefined);
    const moved: Allocation = { ...held, ...where };
    this.put(moved);
    const saved = await this.persist();
    if (!saved.ok) this.put(held);
    return saved.ok ? ok(moved) : saved;
  }

  /** Compares the records with the pool namespace's links (see ReconcileReport). */
  async reconcile(): Promise<Result<Omit<ReconcileReport, 'dropped'>, IpCommandError>> {
    const links = await listLinks(this.opts.ip, this.opts.pool.netns);
    if (!links.ok) return links;
    const present = new Set(links.value.filter((l) => l.kind === 'tun' && l.tunType === 'tap').map((l) => l.name));
    const missing: number[] = [];
    const returned: number[] = [];
    const away = new Set((this.opts.away ?? []).map((a) => a.index));
    this.opts.pool.names.forEach((name, index) => {
      if (away.has(index)) return;
      const a = this.byIndex.get(index);
      const home = present.has(name);
      if (a && a.netns !== null) {
        if (home) {
          this.put({ ...a, netns: null, name });
          returned.push(index);
        }
      } else if (!home) {
        missing.push(index);
      }
    });
    return ok({ missing, returned });
  }

  /**
   * Reconciles, then re-creates the TAPs missing at home (destroyed with their pod's namespace,
   * or deleted by hand), returning the re-created indices. Moved TAPs are left alone.
   */
  async restore(): Promise<Result<number[], IpCommandError | PoolNameError | PoolSizeError>> {
    const found = await this.reconcile();
    if (!found.ok) return found;
    if (found.value.missing.length === 0) return ok([]);
    const { prefix, size, netns } = this.opts.pool;
    const made = await createPool(this.opts.ip, { prefix, count: size, netns, indices: found.value.missing });
    return made.ok ? ok(found.value.missing) : made;
  }

  /** Pool index (= P4 port id) → interface name and namespace, for every index. */
  portMap(): PortEntry[] {
    const home = this.opts.pool.netns ?? null;
    const away = new Map((this.opts.away ?? []).map((a) => [a.index, a.netns]));
    return this.opts.pool.names.map((name, port) => {
      const role = port === GATEWAY_PORT ? 'gateway' : port === HOST_PORT ? 'host' : 'pod';
      const there = away.get(port);
      if (there !== undefined) return { port, name, netns: there, role, allocated: true };
      const a = this.byIndex.get(port);
      if (!a) return { port, name, netns: home, role, allocated: role !== 'pod' };
      return { port, name: a.name, netns: a.netns ?? home, role, allocated: true };
    });
  }

  private load(state: PoolState | undefined): Allocation[] {
    const dropped: Allocation[] = [];
    for (const a of state?.allocations ?? []) {
      const outside = a.index < FIRST_POD_PORT || a.index >= this.size || state?.prefix !== this.opts.pool.prefix;
      if (outside || this.byIndex.has(a.index) || this.byKey.has(keyOf(a))) dropped.push(a);
      else this.put(a);
    }
    return dropped;
  }

  private put(a: Allocation): void {
    this.byIndex.set(a.index, a);
    this.byKey.set(keyOf(a), a);
  }

  private drop(a: Allocation): void {
    this.byIndex.delete(a.index);
    this.byKey.delete(keyOf(a));
  }

  /** Writes are chained so renames land in call order; each writes the state as it is then. */
  private persist(): Promise<Result<void, PoolStateError>> {
    const next = this.writes.then(() =>
      writeState(
        this.opts.stateFile,
        {
          version: 1,
          prefix: this.opts.pool.prefix,
          size: this.size,
          allocations: this.allocations(),
        },
        this.opts.files,
      ),
    );
    this.writes = next;
    return next;
  }
}
