/**
 * The synthetic kernel's state: what `kernel.json` in the kernel directory holds, checked with
 * zod when it is loaded (a damaged file is refused, not guessed at). Plain JSON, mutated in
 * place by the model (model.ts) and written whole after every change (store.ts).
 *
 * @example
 * const state = newKernelState(7); // the init namespace with `lo`, nothing else
 */
import { z } from 'zod';

/** The key of the namespace the kernel's user runs in (the agent's own; `/proc/<pid>/ns/net`). */
export const INIT_NS = '@init';

export type LinkType = 'loopback' | 'tap' | 'tun';
export type Scope = 'global' | 'link' | 'host';

/** One IPv4 address of a link. */
export interface AddrState {
  local: string;
  prefixlen: number;
  scope: 'global' | 'host';
  /** In the subnet of an earlier address with the same prefix length on the link (deleted with it). */
  secondary: boolean;
}

export interface LinkState {
  /** Unique over the kernel's lifetime: a re-created TAP is another device. */
  serial: number;
  ifindex: number;
  name: string;
  type: LinkType;
  /** Lower-case aa:bb:…; null for a tun (no link-layer address). */
  mac: string | null;
  mtu: number;
  /** The UP flag (administrative state). */
  up: boolean;
  /** A qdisc was attached by bringing it up since it was created or moved (pfifo_fast/noqueue, else noop). */
  qdiscActive: boolean;
  addrs: AddrState[];
}

/** One route of the main table. */
export interface RouteState {
  /** The network address, dotted. */
  dst: string;
  len: number;
  gateway: string | null;
  /** The device, by its ifindex in the route's namespace. */
  ifindex: number;
  scope: Scope;
  onlink: boolean;
  /** `kernel` for the prefix route of an address, `boot` (not shown) for the rest. */
  proto: 'boot' | 'kernel';
  prefsrc: string | null;
}

export interface NamespaceState {
  /** The marker file's identity (its content, or its inode when empty); '' for the init namespace. */
  id: string;
  nextIfindex: number;
  /** The local routing table exists (made by the first address): `onlink` gateways are checked against it. */
  localTable: boolean;
  links: LinkState[];
  routes: RouteState[];
}

export interface KernelState {
  version: 1;
  /** The seed of the MAC stream. */
  seed: number;
  /** Values drawn from the stream so far, so that a reopened kernel continues it. */
  draws: number;
  nextSerial: number;
  namespaces: Record<string, NamespaceState>;
  /** Notes of the tools that drive the kernel (bin/sim-agent records the pools it made). */
  meta: Record<string, unknown>;
}

const addrSchema = z.object({ local: z.string(), prefixlen: z.number().int().min(0).max(32), scope: z.enum(['global', 'host']), secondary: z.boolean() });
const linkSchema = z.object({
  serial: z.number().int().min(0),
  ifindex: z.number().int().min(1),
  name: z.string().min(1).max(15),
  type: z.enum(['loopback', 'tap', 'tun']),
  mac: z.string().nullable(),
  mtu: z.number().int().min(0),
  up: z.boolean(),
  qdiscActive: z.boolean(),
  addrs: z.array(addrSchema),
});
const routeSchema = z.object({
  dst: z.string(),
  len: z.number().int().min(0).max(32),
  gateway: z.string().nullable(),
  ifindex: z.number().int().min(1),
  scope: z.enum(['global', 'link', 'host']),
  onlink: z.boolean(),
  proto: z.enum(['boot', 'kernel']),
  prefsrc: z.string().nullable(),
});
const namespaceSchema = z.object({
  id: z.string(),
  nextIfindex: z.number().int().min(1),
  localTable: z.boolean(),
  links: z.array(linkSchema),
  routes: z.array(routeSchema),
});
export const kernelStateSchema = z.object({
  version: z.literal(1),
  seed: z.number().int(),
  draws: z.number().int().min(0),
  nextSerial: z.number().int().min(0),
  namespaces: z.record(z.string(), namespaceSchema),
  meta: z.record(z.string(), z.unknown()),
});

/** `lo` as a new namespace has it: down, no address. */
export function newLoopback(serial: number): LinkState {
  return { serial, ifindex: 1, name: 'lo', type: 'loopback', mac: '00:00:00:00:00:00', mtu: 65536, up: false, qdiscActive: false, addrs: [] };
}

/** A namespace as `ip netns add` makes it: `lo` only, down; no routing table yet. */
export function newNamespace(id: string, serial: number): NamespaceState {
  return { id, nextIfindex: 2, localTable: false, links: [newLoopback(serial)], routes: [] };
}

/** A fresh kernel: the init namespace, whose `lo` is up with 127.0.0.1/8 as on any running host. */
export function newKernelState(seed: number): KernelState {
  const init = newNamespace('', 0);
  const lo = init.links[0]!;
  lo.up = true;
  lo.qdiscActive = true;
  lo.addrs.push({ local: '127.0.0.1', prefixlen: 8, scope: 'host', secondary: false });
  init.localTable = true;
  return { version: 1, seed, draws: 0, nextSerial: 1, namespaces: { [INIT_NS]: init }, meta: {} };
}
