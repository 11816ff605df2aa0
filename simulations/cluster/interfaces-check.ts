/**
 * no-double-interface: a pool interface (a P4 port) belongs to one pod at a time.
 *
 * - As the run goes: an ADD answered with a port that another live pod of the node already got
 *   from its own ADD is an interface handed out twice.
 * - When the run is quiet: the agent's pool.json names no index twice and no pod twice, and in
 *   the synthetic kernel every live pod's namespace holds exactly one TAP, the one (by MAC) its
 *   ADD answered — an interface handed to a second pod would have been moved out of the first.
 *
 * @example
 * const ifaces = new InterfaceCheck(book, log);
 * ifaces.podUp('node-1', pod, truth.podsOf('node-1'));
 * await ifaces.scan(node, truth.podsOf(node.name));
 */
import { join } from 'node:path';
import type { AgentFiles } from '../../actors/agent/pool/files.js';
import { readState } from '../../actors/agent/pool/state-file.js';
import { formatMac } from '../../messages/validate.js';
import type { PodInterface } from '../../protocol/intent.js';
import { readKernelState, type KernelStorage } from '../kernel/synthetic-ip.js';
import type { EventLog } from './event-log.js';
import type { InvariantBook } from './invariants.js';

/** Where a node's allocations are: the agent's state directory (on `files`: the disk unless given) and its synthetic kernel. */
export interface InterfaceSources {
  readonly name: string;
  readonly stateDir: string;
  readonly files?: AgentFiles;
  readonly kernel: string | KernelStorage;
}

export class InterfaceCheck {
  constructor(
    private readonly book: InvariantBook,
    private readonly log: EventLog,
  ) {}

  /** A pod's ADD was answered: no other live pod of the node may hold its port. */
  podUp(node: string, pod: PodInterface, live: readonly PodInterface[]): void {
    const other = live.find((p) => p.containerId !== pod.containerId && p.portId === pod.portId);
    if (other) this.book.violate('no-double-interface', this.log.seconds(), node, `port ${pod.portId} given to ${pod.containerId} while ${other.containerId} holds it`);
  }

  /** The agent's allocations and the kernel's namespaces, read where they are kept. */
  async scan(node: InterfaceSources, live: readonly PodInterface[]): Promise<void> {
    const at = this.log.seconds();
    const state = await readState(join(node.stateDir, 'pool.json'), ...(node.files ? [node.files] : []));
    if (state.ok && state.value) {
      const byIndex = new Map<number, string>();
      const byPod = new Map<string, number>();
      for (const a of state.value.allocations) {
        const key = `${a.containerId}/${a.ifname}`;
        const holder = byIndex.get(a.index);
        if (holder !== undefined && holder !== key) this.book.violate('no-double-interface', at, node.name, `pool.json gives index ${a.index} to ${holder} and ${key}`);
        const index = byPod.get(key);
        if (index !== undefined && index !== a.index) this.book.violate('no-double-interface', at, node.name, `pool.json gives ${key} indices ${index} and ${a.index}`);
        byIndex.set(a.index, key);
        byPod.set(key, a.index);
      }
    }
    const kernel = await readKernelState(node.kernel);
    if (!kernel.ok) {
      this.book.violate('no-double-interface', at, node.name, `the synthetic kernel cannot be read: ${kernel.error.message}`);
      return;
    }
    // Each live pod's namespace holds one TAP, the one its ADD answered (by MAC); a TAP handed to
    // two pods would have left one of them.
    const taps = new Map<string, { name: string; mac: string | null }[]>();
    for (const t of kernel.value.taps) taps.set(t.netns, [...(taps.get(t.netns) ?? []), { name: t.name, mac: t.mac }]);
    for (const pod of live) {
      const held = taps.get(pod.containerId) ?? [];
      const mac = formatMac(pod.mac);
      if (held.length !== 1 || held[0]!.mac !== mac) {
        this.book.violate('no-double-interface', at, node.name, `pod ${pod.containerId} (port ${pod.portId}, ${mac}) holds ${held.length === 0 ? 'no interface' : held.map((h) => `${h.name} ${h.mac ?? '-'}`).join(', ')} in its namespace`);
      }
    }
  }
}
