/**
 * The agent's own operator query on infra.v1.<node>.ctl.agent.pods (beside `state` and `tree`):
 * its pod interfaces as the interface pool holds them — container id, pod namespace/name, the
 * interface's name inside the pod, its pool index (= P4 port id), MAC, address, the pod's network
 * namespace and its pod actor's phase — and the pool's port map (port → interface name,
 * namespace, allocated). Without a pool (no `pods` section) it lists the pods its intent holds.
 *
 * @example
 * agentCtlRoutes({ node, clock, refs, askTimeoutMs: 2000 });
 * agentPodsView(allocator, poolNames, (key) => hub.phase(key), 1000).pods[0]; // { ifname: 'eth0', portId: 2, … }
 */
import type { Clock } from '../../core/clock.js';
import { ok } from '../../core/result.js';
import { route, type Route } from '../../messages/bus.js';
import type { PodView, PortView } from '../../protocol/ctl.js';
import { ctlMethods } from '../../protocol/methods.js';
import type { FullState } from '../../protocol/sync.js';
import { ask } from '../ask.js';
import { hostView, podsView } from '../ctl-intent-views.js';
import { wrongNode } from '../ctl-routes.js';
import type { IntentStoreRef } from '../intent/intent-store.js';
import type { PreparedPool } from './pod/node-pool.js';
import type { PodHub } from './pod/pod-hub.js';
import type { Allocation, PodKey, PortEntry } from './pool/allocator.js';

export interface AgentViewRefs {
  readonly intent?: IntentStoreRef;
  readonly pool?: PreparedPool;
  readonly pods?: PodHub;
}

export interface AgentCtlDeps {
  readonly node: string;
  readonly clock: Clock;
  readonly refs: AgentViewRefs;
  readonly askTimeoutMs: number;
}

/** What the view needs of the pool allocator. */
export interface PoolSource {
  allocations(): Allocation[];
  portMap(): PortEntry[];
}

export interface AgentPodsView {
  readonly count: number;
  readonly pods: PodView[];
  readonly portCount: number;
  readonly ports: PortView[];
  readonly omitted: number;
}

/** Pods (by pool index) and the port map, at most `limit` of each. */
export function agentPodsView(pool: PoolSource, poolNames: readonly string[], phase: (key: PodKey) => string | undefined, limit: number): AgentPodsView {
  const all = pool.allocations();
  const pods = all.slice(0, limit).map((a): PodView => {
    const ip = a.pod?.ips[0];
    return {
      containerId: a.containerId,
      namespace: a.pod?.podNamespace ?? '',
      name: a.pod?.podName ?? '',
      ifname: a.netns !== null ? a.name : a.ifname,
      poolInterface: poolNames[a.index] ?? '',
      portId: a.index,
      mac: a.pod?.mac ?? '',
      ipv4: ip ? `${ip.address}/${ip.prefixLength}` : '',
      netns: a.netns ?? '',
      phase: phase(a) ?? (a.pod ? 'plumbed' : 'allocated'),
    };
  });
  const map = pool.portMap();
  const ports = map.slice(0, limit).map((p): PortView => ({ port: p.port, name: p.name, netns: p.netns ?? '', role: p.role, allocated: p.allocated }));
  return { count: all.length, pods, portCount: map.length, ports, omitted: all.length - pods.length + (map.length - ports.length) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function agentCtlRoutes(deps: AgentCtlDeps): Route<any, any>[] {
  const { node, refs } = deps;
  return [
    route(ctlMethods.pods, async (r) => {
      const wrong = wrongNode(r.node, node, 'pods');
      if (wrong) return wrong;
      const state = await ask<FullState>(refs.intent, (reply) => ({ type: 'state.get', reply }), { clock: deps.clock, timeoutMs: deps.askTimeoutMs });
      if (!state.ok) return state;
      const host = state.value.host ? hostView(state.value.host) : undefined;
      const prepared = refs.pool;
      if (!prepared) {
        // No interface pool: what the agent's intent holds (registered by other means).
        return ok({ node, role: 'agent' as const, ...podsView(state.value.pods, r.limit), hasPool: false, portCount: 0, ports: [], host });
      }
      const hub = refs.pods;
      const view = agentPodsView(prepared.allocator, prepared.pool.names, (key) => hub?.phase(key), r.limit);
      return ok({ node, role: 'agent' as const, ...view, hasPool: true, host });
    }),
  ];
}
