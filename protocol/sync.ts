/**
 * Full-state sync and the state summary: whichever side restarted asks the other for everything
 * it holds; operators and tests compare summaries (equal digests mean equal intent).
 */
import { protoCodec, type WireMessage } from '../messages/codec.js';
import { ValidationError } from '../messages/errors.js';
import { nodeName, u64, uint } from '../messages/validate.js';
import {
  hostFromWire,
  hostToWire,
  MAX_ENDPOINTS,
  podInterfaceFromWire,
  podInterfaceToWire,
  servicePortFromWire,
  servicePortToWire,
  type HostInterface,
  type PodInterface,
  type ServicePort,
} from './intent.js';
import { instanceId, roleFromWire, roleToWire, type Role } from './node.js';
import { wireType } from './root.js';

/** Most pods or service ports one page carries (the responder pages beyond it). */
export const MAX_SYNC_ITEMS = 4096;

export interface SyncRequest {
  readonly node: string;
  readonly from: Role;
  readonly instanceId: string;
  /** The snapshot being paged through (0 or absent: take a new one). */
  readonly snapshot?: number;
  /** The first item wanted (pods, then services). */
  readonly offset?: number;
}

export interface FullState {
  readonly node: string;
  readonly revision: number;
  readonly host: HostInterface | undefined;
  readonly pods: readonly PodInterface[];
  readonly services: readonly ServicePort[];
}

/** One page of a responder's snapshot: `state` holds the items from `offset` on (the host on the first page). */
export interface SyncPage {
  readonly state: FullState;
  readonly snapshot: number;
  readonly offset: number;
  /** Pods plus service ports in the whole snapshot. */
  readonly total: number;
  readonly more: boolean;
}

export interface StateRequest {
  readonly node: string;
}

export interface StateSummary {
  readonly node: string;
  readonly role: Role;
  readonly instanceId: string;
  readonly revision: number;
  readonly pods: number;
  readonly services: number;
  readonly endpoints: number;
  readonly hasHost: boolean;
  readonly digest: string;
  readonly requestsServed: number;
  readonly requestsRejected: number;
}

export const syncRequestCodec = protoCodec<SyncRequest>(
  wireType('SyncRequest'),
  {
    toWire: (r) => ({ ...r, from: roleToWire(r.from) }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      from: roleFromWire(w.from, 'from'),
      instanceId: instanceId(w.instanceId, 'instance_id'),
      snapshot: u64(w.snapshot, 'snapshot'),
      offset: uint(w.offset, 'offset', 0, 0xffffffff),
    }),
  },
  { maxBytes: 4096, maxDepth: 1, maxFields: 64 },
);

function list(value: unknown, field: string): WireMessage[] {
  const items = Array.isArray(value) ? (value as WireMessage[]) : [];
  if (items.length > MAX_SYNC_ITEMS) throw new ValidationError(field, `more than ${MAX_SYNC_ITEMS} items`);
  return items;
}

export const syncPageCodec = protoCodec<SyncPage>(
  wireType('FullState'),
  {
    toWire: ({ state: s, snapshot, offset, total, more }) => ({
      node: s.node,
      revision: s.revision,
      hasHost: s.host !== undefined,
      host: s.host ? hostToWire(s.host) : undefined,
      pods: s.pods.map(podInterfaceToWire),
      services: s.services.map(servicePortToWire),
      snapshot,
      offset,
      total,
      more,
    }),
    fromWire: (w) => {
      const state: FullState = {
        node: nodeName(w.node, 'node'),
        revision: u64(w.revision, 'revision'),
        host: w.hasHost === true ? hostFromWire((w.host ?? {}) as WireMessage, 'host.') : undefined,
        pods: list(w.pods, 'pods').map((p, i) => podInterfaceFromWire(p, `pods[${i}].`)),
        services: list(w.services, 'services').map((s, i) => servicePortFromWire(s, `services[${i}].`)),
      };
      const offset = uint(w.offset, 'offset', 0, 0xffffffff);
      const total = uint(w.total, 'total', 0, 0xffffffff);
      const more = w.more === true;
      const end = offset + state.pods.length + state.services.length;
      if (end > total || (!more && end !== total)) throw new ValidationError('total', `a page of items ${offset}–${end} does not fit a snapshot of ${total}`);
      return { state, snapshot: u64(w.snapshot, 'snapshot'), offset, total, more };
    },
  },
  { maxBytes: 1 << 20, maxDepth: 3, maxFields: 16 * MAX_ENDPOINTS },
);

export const stateRequestCodec = protoCodec<StateRequest>(
  wireType('StateRequest'),
  { toWire: (r) => ({ ...r }), fromWire: (w) => ({ node: nodeName(w.node, 'node') }) },
  { maxBytes: 1024, maxDepth: 1, maxFields: 8 },
);

export const stateSummaryCodec = protoCodec<StateSummary>(
  wireType('StateSummary'),
  {
    toWire: (s) => ({ ...s, role: roleToWire(s.role) }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      role: roleFromWire(w.role, 'role'),
      instanceId: instanceId(w.instanceId, 'instance_id'),
      revision: u64(w.revision, 'revision'),
      pods: uint(w.pods, 'pods', 0, 0xffffffff),
      services: uint(w.services, 'services', 0, 0xffffffff),
      endpoints: uint(w.endpoints, 'endpoints', 0, 0xffffffff),
      hasHost: w.hasHost === true,
      digest: typeof w.digest === 'string' ? w.digest.slice(0, 128) : '',
      requestsServed: u64(w.requestsServed, 'requests_served'),
      requestsRejected: u64(w.requestsRejected, 'requests_rejected'),
    }),
  },
  { maxBytes: 4096, maxDepth: 1, maxFields: 64 },
);
