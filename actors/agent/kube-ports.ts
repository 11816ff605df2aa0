/**
 * The two places the agent's Kubernetes watches write to, bound to the tree's live references
 * (refreshed when a child restarts): its own intent store (by ask) and its node's manager (by a
 * bus request). Each call returns a Result; a missing bus or store is UNAVAILABLE, never a throw.
 *
 * @example
 * const intent = intentPort({ node, clock, refs, askTimeoutMs: 2000 });
 * await intent.upsert(servicePort); // { ok: true, value: { revision, changed } }
 */
import type { Clock } from '../../core/clock.js';
import { err, ok } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import { subjects } from '../../messages/subjects.js';
import type { ChangeReply } from '../../protocol/intent.js';
import { managerMethods } from '../../protocol/methods.js';
import type { FullState } from '../../protocol/sync.js';
import { ask } from '../ask.js';
import type { ProcessRefs } from '../ctl-routes.js';
import type { BusRef } from '../tree-parts.js';
import type { IntentPort, ManagerPort } from './kube-sync.js';

export interface PortDeps {
  readonly node: string;
  readonly clock: Clock;
  readonly refs: ProcessRefs & BusRef;
  readonly askTimeoutMs: number;
}

export function intentPort(deps: PortDeps): IntentPort {
  const { node, refs } = deps;
  const opts = { clock: deps.clock, timeoutMs: deps.askTimeoutMs };
  return {
    services: async () => {
      const r = await ask<FullState>(refs.intent, (reply) => ({ type: 'state.get', reply }), opts);
      return r.ok ? ok(r.value.services) : r;
    },
    upsert: (service) => ask<ChangeReply>(refs.intent, (reply) => ({ type: 'service.upsert', node, service, reply }), opts),
    delete: (key) => ask<ChangeReply>(refs.intent, (reply) => ({ type: 'service.delete', node, key, reply }), opts),
  };
}

export function managerPort(deps: PortDeps): ManagerPort {
  const { node, refs } = deps;
  const noBus = () => Promise.resolve(err(new BusError('UNAVAILABLE', 'the bus is restarting')));
  return {
    upsert: (service) =>
      refs.bus
        ? refs.bus.request(subjects.manager(node, managerMethods.serviceUpsert.op), managerMethods.serviceUpsert, { node, service })
        : noBus(),
    delete: (key) =>
      refs.bus
        ? refs.bus.request(subjects.manager(node, managerMethods.serviceDelete.op), managerMethods.serviceDelete, { node, ...key })
        : noBus(),
  };
}
