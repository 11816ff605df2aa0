/**
 * Every request/reply operation of the protocol, by the side that serves it. A process serves
 * `prefix(node, side)` with the routes of its table; a client sends to `subjects.<side>(node, op)`.
 *
 * @example
 * await bus.request(subjects.manager(node, managerMethods.podAdd.op), managerMethods.podAdd, pod);
 */
import type { Method } from '../messages/method.js';
import {
  leadershipReplyCodec,
  leadershipRequestCodec,
  podsReplyCodec,
  podsRequestCodec,
  servicesReplyCodec,
  servicesRequestCodec,
  tablesReplyCodec,
  tablesRequestCodec,
  treeReplyCodec,
  treeRequestCodec,
  type LeadershipReply,
  type LeadershipRequest,
  type PodsReply,
  type PodsRequest,
  type ServicesReply,
  type ServicesRequest,
  type TablesReply,
  type TablesRequest,
  type TreeReply,
  type TreeRequest,
} from './ctl.js';
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
  syncPageCodec,
  stateRequestCodec,
  stateSummaryCodec,
  syncRequestCodec,
  type SyncPage,
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
  sync: { op: 'sync', request: syncRequestCodec, response: syncPageCodec } as Method<SyncRequest, SyncPage>,
} as const;

/** Served by the agent under infra.v1.<node>.agent. */
export const agentMethods = {
  sync: { op: 'sync', request: syncRequestCodec, response: syncPageCodec } as Method<SyncRequest, SyncPage>,
} as const;

/**
 * Served under infra.v1.<node>.ctl.<role>.<op> for operators (offloadctl); every one only reads.
 * Both roles: state, tree, pods. The manager only: tables, services, leadership.
 */
export const ctlMethods = {
  state: { op: 'state', request: stateRequestCodec, response: stateSummaryCodec } as Method<StateRequest, StateSummary>,
  tree: { op: 'tree', request: treeRequestCodec, response: treeReplyCodec } as Method<TreeRequest, TreeReply>,
  pods: { op: 'pods', request: podsRequestCodec, response: podsReplyCodec } as Method<PodsRequest, PodsReply>,
  tables: { op: 'tables', request: tablesRequestCodec, response: tablesReplyCodec } as Method<TablesRequest, TablesReply>,
  services: { op: 'services', request: servicesRequestCodec, response: servicesReplyCodec } as Method<ServicesRequest, ServicesReply>,
  leadership: { op: 'leadership', request: leadershipRequestCodec, response: leadershipReplyCodec } as Method<
    LeadershipRequest,
    LeadershipReply
  >,
} as const;

/** The names of the operator's read-only operations (NATS permissions grant exactly these). */
export const CTL_READ_OPS: readonly string[] = Object.values(ctlMethods).map((m) => m.op);

/** Published on infra.v1.<node>.events.<kind>. */
export const eventCodecs = {
  heartbeat: heartbeatCodec,
} as const;
