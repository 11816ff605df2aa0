/**
 * The operator's queries both processes answer on infra.v1.<node>.ctl.<role>.<op>: `state` (intent
 * counts, revision, digest and request counters) and `tree` (the process's supervision tree with
 * statuses and restart counts, its instance id and uptime). The role-specific views (the
 * manager's tables, services, pods and leadership; the agent's pods) come from
 * actors/manager/ctl-views.ts and actors/agent/ctl-views.ts and are served beside these.
 *
 * @example
 * servingChild('ctl', refs, ctlPrefix(node, role), () => [...ctlRoutes(deps), ...managerCtlRoutes(views)]);
 */
import type { Clock } from '../core/clock.js';
import { err, ok, type Result } from '../core/result.js';
import { route, type Route, type Served } from '../messages/bus.js';
import { BusError } from '../messages/errors.js';
import { ctlMethods } from '../protocol/methods.js';
import type { Role } from '../protocol/node.js';
import type { Supervisor } from '../supervisors/index.js';
import { ask } from './ask.js';
import { supervisionView } from './ctl-tree.js';
import type { IntentSnapshot, IntentStoreRef } from './intent/intent-store.js';

/** References every process tree keeps to its live children (refreshed on restart). */
export interface ProcessRefs {
  intent?: IntentStoreRef;
  /** The running `serve`s, for their request counters. */
  served: Served[];
  /** The process's root supervisor, for the operator's `tree`. */
  root?: Supervisor;
  /** When the process's tree was built (its clock). */
  startedAtMs?: number;
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

/**
 * The check every ctl handler starts with: the request names this node.
 *
 * @example
 * const wrong = wrongNode(r.node, node, 'tables'); if (wrong) return wrong;
 */
export function wrongNode(asked: string, node: string, op: string): Result<never, BusError> | undefined {
  return asked === node ? undefined : err(new BusError('INVALID_ARGUMENT', `${op} of node "${asked}" asked of ${node}`, 'node'));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ctlRoutes(deps: CtlDeps): Route<any, any>[] {
  const { refs, node } = deps;
  return [
    route(ctlMethods.state, async (r) => {
      const wrong = wrongNode(r.node, node, 'state');
      if (wrong) return wrong;
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
    route(ctlMethods.tree, (r) => {
      const wrong = wrongNode(r.node, node, 'tree');
      if (wrong) return wrong;
      if (!refs.root) return err(new BusError('UNAVAILABLE', 'the supervision tree is not built yet'));
      const now = deps.clock.now();
      const startedAtMs = refs.startedAtMs ?? now;
      return ok({
        node,
        role: deps.role,
        instanceId: deps.instanceId,
        startedAtMs,
        uptimeMs: Math.max(0, now - startedAtMs),
        root: supervisionView(refs.root.inspect()),
      });
    }),
  ];
}
