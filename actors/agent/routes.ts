/**
 * The agent's request handlers: the manager's full-state pull (agent.sync).
 *
 * An agent that watches Kubernetes answers UNAVAILABLE until its watches have rebuilt its
 * services from the API (kube-watchers.ts): a partial state would make the manager, which
 * replaces its intent with the answer, drop services that are still there. The manager retries
 * on its heartbeat interval and keeps its last state meanwhile. The state travels in pages of
 * one snapshot (actors/sync-pages.ts).
 */
import type { Clock } from '../../core/clock.js';
import { err } from '../../core/result.js';
import { route, type Route } from '../../messages/bus.js';
import { BusError } from '../../messages/errors.js';
import { agentMethods } from '../../protocol/methods.js';
import type { Random } from '../../core/random.js';
import type { FullState } from '../../protocol/sync.js';
import { ask } from '../ask.js';
import type { ProcessRefs } from '../ctl-routes.js';
import { SyncSnapshots } from '../sync-pages.js';

export interface AgentRouteDeps {
  readonly node: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly refs: ProcessRefs;
  readonly askTimeoutMs: number;
  /** Present when the agent watches Kubernetes: agent.sync waits for its rebuild. */
  readonly kube?: { readonly complete: boolean };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function agentRoutes(deps: AgentRouteDeps): Route<any, any>[] {
  const snapshots = new SyncSnapshots({ clock: deps.clock, random: deps.random });
  return [
    route(agentMethods.sync, (r) => {
      if (r.node !== deps.node) {
        return err(new BusError('INVALID_ARGUMENT', `sync for node "${r.node}" sent to ${deps.node}`, 'node'));
      }
      if (r.from !== 'manager') return err(new BusError('PERMISSION_DENIED', `only the manager pulls state, not a ${r.from}`, 'from'));
      if (!r.snapshot && deps.kube && !deps.kube.complete) {
        return err(new BusError('UNAVAILABLE', 'the agent is rebuilding its services from the Kubernetes API; ask again'));
      }
      return snapshots.page(r, () => ask<FullState>(deps.refs.intent, (reply) => ({ type: 'state.get', reply }), { clock: deps.clock, timeoutMs: deps.askTimeoutMs }));
    }),
  ];
}
