/**
 * Every request/reply operation of the protocol, by the side that serves it. A process serves
 * `prefix(node, side)` with the routes of its table; a client sends to `subjects.<side>(node, op)`.
 *
 * @example
 * await bus.request(subjects.manager(node, managerMethods.podAdd.op), managerMethods.podAdd, pod);
 */
import type { Method } from '../messages/method.js';
import {
  changeReplyCodec,
  hostSetupCodec,
  podAddCodec,
  podDeleteCodec,
  serviceDeleteCodec,
  serviceUpsertCodec,
  type ChangeReply,
  type HostInterface,
  type PodInterface,
  type PodInterfaceDelete,
  type ServiceDelete,
  type ServiceUpsert,
} from './intent.js';
import { helloCodec, helloReplyCodec, heartbeatCodec, type Hello, type HelloReply } from './node.js';
import {
  fullStateCodec,
  stateRequestCodec,
  stateSummaryCodec,
  syncRequestCodec,
  type FullState,
  type StateRequest,
  type StateSummary,
  type SyncRequest,
} from './sync.js';

/** Served by the manager under infra.v1.<node>.manager. */
export const managerMethods = {
  hello: { op: 'hello', request: helloCodec, response: helloReplyCodec } as Method<Hello, HelloReply>,
  podAdd: { op: 'pod.add', request: podAddCodec, response: changeReplyCodec } as Method<PodInterface, ChangeReply>,
  podDelete: { op: 'pod.delete', request: podDeleteCodec, response: changeReplyCodec } as Method<PodInterfaceDelete, ChangeReply>,
  hostSetup: { op: 'host.setup', request: hostSetupCodec, response: changeReplyCodec } as Method<HostInterface, ChangeReply>,
  serviceUpsert: { op: 'service.upsert', request: serviceUpsertCodec, response: changeReplyCodec } as Method<
    ServiceUpsert,
    ChangeReply
  >,
  serviceDelete: { op: 'service.delete', request: serviceDeleteCodec, response: changeReplyCodec } as Method<
    ServiceDelete,
    ChangeReply
  >,
  sync: { op: 'sync', request: syncRequestCodec, response: fullStateCodec } as Method<SyncRequest, FullState>,
} as const;

/** Served by the agent under infra.v1.<node>.agent. */
export const agentMethods = {
  sync: { op: 'sync', request: syncRequestCodec, response: fullStateCodec } as Method<SyncRequest, FullState>,
} as const;

/** Served by both under infra.v1.<node>.ctl.<role>.<op> for operators. */
export const ctlMethods = {
  state: { op: 'state', request: stateRequestCodec, response: stateSummaryCodec } as Method<StateRequest, StateSummary>,
} as const;

/** Published on infra.v1.<node>.events.<kind>. */
export const eventCodecs = {
  heartbeat: heartbeatCodec,
} as const;
