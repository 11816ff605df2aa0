/**
 * The operator's view of one process (offloadctl, tests): intent counts, revision, digest and
 * request counters, served on infra.v1.<node>.ctl.<role>.state by manager and agent alike.
 */
import type { Clock } from '../core/clock.js';
import { err, ok } from '../core/result.js';
import { route, type Route, type Served } from '../messages/bus.js';
import { BusError } from '../messages/errors.js';
import { ctlMethods } from '../protocol/methods.js';
import type { Role } from '../protocol/node.js';
import { ask } from './ask.js';
import type { IntentSnapshot, IntentStoreRef } from './intent/intent-store.js';

/** References every process tree keeps to its live children (refreshed on restart). */
export interface ProcessRefs {
  intent?: IntentStoreRef;
  /** The running `serve`s, for their request counters. */
  served: Served[];
}

export function intentRevision(refs: ProcessRefs): number {
  const snapshot = refs.intent?.getSnapshot();
  return snapshot?.status === 'active' ? snapshot.context.intent.revision : 0;
}

export interface CtlDeps {
  readonly node: string;
  readonly role: Role;
  readonly instanceId: string;
  readonly clock: Clock;
  readonly refs: ProcessRefs;
  readonly askTimeoutMs: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ctlRoutes(deps: CtlDeps): Route<any, any>[] {
  const { refs, node } = deps;
  return [
    route(ctlMethods.state, async (r) => {
      if (r.node !== node) return err(new BusError('INVALID_ARGUMENT', `state of node "${r.node}" asked of ${node}`, 'node'));
      const summary = await ask<IntentSnapshot>(refs.intent, (reply) => ({ type: 'state.summary', reply }), {
        clock: deps.clock,
        timeoutMs: deps.askTimeoutMs,
      });
      if (!summary.ok) return summary;
      const s = summary.value;
      return ok({
        node,
        role: deps.role,
        instanceId: deps.instanceId,
        revision: s.revision,
        pods: s.pods,
        services: s.services,
        endpoints: s.endpoints,
        hasHost: s.hasHost,
        digest: s.digest,
        requestsServed: refs.served.reduce((n, x) => n + x.stats.served, 0),
        requestsRejected: refs.served.reduce((n, x) => n + x.stats.rejected, 0),
      });
    }),
  ];
}
