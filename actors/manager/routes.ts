/**
 * The manager's request handlers: each checks that the request is meant for this node and role,
 * then hands it to the actor that owns the state (ask pattern) and returns that actor's answer.
 * The handlers hold no state of their own.
 */
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import { err } from '../../core/result.js';
import { route, type HandlerResult, type Route } from '../../messages/bus.js';
import { BusError } from '../../messages/errors.js';
import { managerMethods } from '../../protocol/methods.js';
import { ask } from '../ask.js';
import { intentRevision } from '../ctl-routes.js';
import type { ProcessRefs } from '../ctl-routes.js';
import type { ChangeReply } from '../../protocol/intent.js';
import type { ProgrammedObject, ProgrammingTracker } from '../metrics/programming.js';
import type { FullState } from '../../protocol/sync.js';
import { SyncSnapshots } from '../sync-pages.js';
import type { AgentRegistryRef } from './agent-registry.js';

/** Live references, refreshed by the tree whenever a child restarts. */
export interface ManagerRefs extends ProcessRefs {
  registry?: AgentRegistryRef;
}

export interface RouteDeps {
  readonly node: string;
  readonly instanceId: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly refs: ManagerRefs;
  /** Deadline for the owning actor's answer. */
  readonly askTimeoutMs: number;
  /** Starts the network-programming clock of each change as it arrives (metrics). */
  readonly programming?: ProgrammingTracker;
}

/** Times a change from its arrival here to the target's acknowledgement (the tracker stops the clock). */
function timed(
  tracker: ProgrammingTracker | undefined,
  object: ProgrammedObject,
  change: () => Promise<HandlerResult<ChangeReply>>,
): Promise<HandlerResult<ChangeReply>> {
  if (!tracker) return change();
  const started = tracker.now();
  return change().then((r) => {
    if (r.ok) tracker.answered(object, r.value.revision, started);
    return r;
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function managerRoutes(deps: RouteDeps): Route<any, any>[] {
  const { refs, node, programming: tracker } = deps;
  const opts = { clock: deps.clock, timeoutMs: deps.askTimeoutMs };
  const snapshots = new SyncSnapshots({ clock: deps.clock, random: deps.random });
  return [
    route(managerMethods.hello, (hello) => {
      if (hello.node !== node) return err(new BusError('INVALID_ARGUMENT', `hello for node "${hello.node}" sent to ${node}`, 'node'));
      if (hello.role !== 'agent') return err(new BusError('PERMISSION_DENIED', `only an agent says hello, not a ${hello.role}`, 'role'));
      const stateRevision = intentRevision(refs);
      return ask(refs.registry, (reply) => ({ type: 'agent.hello', hello, stateRevision, reply }), opts);
    }),
    route(managerMethods.podAdd, (pod) => timed(tracker, 'pod', () => ask(refs.intent, (reply) => ({ type: 'pod.add', pod, reply }), opts))),
    route(managerMethods.podDelete, (d) =>
      timed(tracker, 'pod', () => ask(refs.intent, (reply) => ({ type: 'pod.delete', node: d.node, containerId: d.containerId, reply }), opts)),
    ),
    route(managerMethods.hostSetup, (host) => timed(tracker, 'host', () => ask(refs.intent, (reply) => ({ type: 'host.setup', host, reply }), opts))),
    route(managerMethods.serviceUpsert, (u) =>
      timed(tracker, 'service', () => ask(refs.intent, (reply) => ({ type: 'service.upsert', node: u.node, service: u.service, reply }), opts)),
    ),
    route(managerMethods.serviceDelete, (d) =>
      timed(tracker, 'service', () => ask(refs.intent, (reply) => ({ type: 'service.delete', node: d.node, key: d, reply }), opts)),
    ),
    route(managerMethods.sync, (r) => {
      if (r.node !== node) return err(new BusError('INVALID_ARGUMENT', `sync for node "${r.node}" sent to ${node}`, 'node'));
      return snapshots.page(r, () => ask<FullState>(refs.intent, (reply) => ({ type: 'state.get', reply }), opts));
    }),
  ];
}
