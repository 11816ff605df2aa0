/**
 * A read-only view of a synthetic kernel for the simulator's invariants — which TAP is in which
 * namespace, under which name, with which MAC, addresses and routes — taken from the kernel
 * directory by any process. It applies the namespace markers itself, so it is exact even before
 * the kernel's owner (the agent) has run its next command: a namespace whose marker is gone is
 * not listed (its devices are destroyed), a new marker is a namespace holding only `lo`.
 *
 * @example
 * const view = await readKernelState(kernelDir);
 * if (view.ok) for (const t of view.value.taps) console.log(t.netns, t.name, t.mac, t.addresses);
 */
import { err, ok, type Result } from '../../core/result.js';
import type { KernelStateError } from './errors.js';
import { byIndex } from './render.js';
import { INIT_NS, newKernelState, newNamespace, type KernelState, type LinkType, type NamespaceState, type Scope } from './state.js';
import { DirKernelStorage, type KernelStorage } from './store.js';

export interface LinkView {
  /** Unique over the kernel's lifetime: a TAP re-created after its namespace died has a new one. */
  readonly serial: number;
  readonly ifindex: number;
  readonly name: string;
  readonly type: LinkType;
  readonly mac: string | null;
  readonly mtu: number;
  readonly up: boolean;
  /** a.b.c.d/len, in the kernel's order. */
  readonly addresses: readonly string[];
}

export interface RouteView {
  /** a.b.c.d/len (0.0.0.0/0 for the default route). */
  readonly dst: string;
  readonly gateway: string | undefined;
  readonly dev: string;
  readonly scope: Scope;
  readonly onlink: boolean;
}

export interface NamespaceView {
  /** The namespace's name; INIT_NS ('@init') for the namespace the kernel's user runs in. */
  readonly name: string;
  readonly links: readonly LinkView[];
  readonly routes: readonly RouteView[];
}

export interface KernelView {
  readonly namespaces: readonly NamespaceView[];
  /** Every TAP and tun device with the namespace it is in, by serial. */
  readonly taps: readonly (LinkView & { readonly netns: string })[];
}

function namespaceView(name: string, ns: NamespaceState): NamespaceView {
  const links = byIndex(ns).map((l) => ({
    serial: l.serial,
    ifindex: l.ifindex,
    name: l.name,
    type: l.type,
    mac: l.mac,
    mtu: l.mtu,
    up: l.up,
    addresses: l.addrs.map((a) => `${a.local}/${a.prefixlen}`),
  }));
  const routes = ns.routes.map((r) => ({
    dst: r.len === 0 ? '0.0.0.0/0' : `${r.dst}/${r.len}`,
    gateway: r.gateway ?? undefined,
    dev: ns.links.find((l) => l.ifindex === r.ifindex)?.name ?? `if${r.ifindex}`,
    scope: r.scope,
    onlink: r.onlink,
  }));
  return { name, links, routes };
}

/**
 * The kernel as its markers make it now: `markers` (name → identity) decides which named
 * namespaces exist; undefined takes the state as it is.
 */
export function viewOf(state: KernelState, markers?: ReadonlyMap<string, string>): KernelView {
  const names = new Set(Object.keys(state.namespaces));
  for (const name of markers?.keys() ?? []) names.add(name);
  const namespaces: NamespaceView[] = [];
  for (const name of [...names].sort()) {
    const ns = state.namespaces[name];
    if (name === INIT_NS || !markers) {
      if (ns) namespaces.push(namespaceView(name, ns));
      continue;
    }
    const id = markers.get(name);
    if (id === undefined) continue; // deleted: its devices are gone
    namespaces.push(namespaceView(name, ns && ns.id === id ? ns : newNamespace(id, -1)));
  }
  const taps = namespaces
    .flatMap((n) => n.links.filter((l) => l.type !== 'loopback').map((l) => ({ ...l, netns: n.name })))
    .sort((a, b) => a.serial - b.serial);
  return { namespaces, taps };
}

/**
 * Reads the kernel directory (the model and the markers) — or a kernel's storage in memory —
 * without changing anything.
 *
 * @example
 * const view = await readKernelState('/tmp/sim/node-1/kernel');
 * const inMemory = await readKernelState(memoryStorage);
 */
export async function readKernelState(where: string | KernelStorage): Promise<Result<KernelView, KernelStateError>> {
  const storage = typeof where === 'string' ? new DirKernelStorage(where) : where;
  const state = await storage.load();
  if (!state.ok) return err(state.error);
  const markers = await storage.markers();
  return ok(viewOf(state.value ?? newKernelState(0), markers));
}
