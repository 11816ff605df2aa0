/**
 * Membership messages: hello (an agent registering with its manager) and heartbeats (both ways).
 *
 * @example
 * bus.publish(subjects.events(node, 'heartbeat'), heartbeatCodec, { node, role: 'agent', instanceId, seq: 1, sentAtMs: clock.now(), stateRevision: 0 });
 */
import { protoCodec } from '../messages/codec.js';
import { ValidationError } from '../messages/errors.js';
import { formatCidr, ipv4Cidr, nodeName, requireString, u64, uint, unicastIpv4 } from '../messages/validate.js';
import { wireType } from './root.js';

export type Role = 'agent' | 'manager' | 'ctl';
const ROLE_TO_WIRE: Record<Role, number> = { agent: 1, manager: 2, ctl: 3 };
const WIRE_TO_ROLE: readonly (Role | undefined)[] = [undefined, 'agent', 'manager', 'ctl'];

export function roleFromWire(value: unknown, field: string): Role {
  const role = typeof value === 'number' ? WIRE_TO_ROLE[value] : undefined;
  if (!role) throw new ValidationError(field, value === 0 || value === undefined ? 'required' : `unknown role ${typeof value === 'number' ? value : typeof value}`);
  return role;
}
export function roleToWire(role: Role): number {
  return ROLE_TO_WIRE[role];
}

/** Instance ids are random per process start; short printable tokens. */
export function instanceId(value: unknown, field: string): string {
  const text = requireString(value, field, 64);
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new ValidationError(field, 'not a printable token');
  return text;
}

export interface Hello {
  readonly node: string;
  readonly role: Role;
  readonly instanceId: string;
  readonly startedAtMs: number;
  readonly version: string;
  /** uint32 IPv4; 0 when the sender does not know it (a manager's hello). */
  readonly nodeIp: number;
  /** "10.244.1.0/24", or '' when unknown. */
  readonly podCidr: string;
}

export interface HelloReply {
  readonly node: string;
  readonly instanceId: string;
  readonly stateRevision: number;
  readonly resyncRequested: boolean;
  readonly heartbeatIntervalMs: number;
}

export interface Heartbeat {
  readonly node: string;
  readonly role: Role;
  readonly instanceId: string;
  readonly seq: number;
  readonly sentAtMs: number;
  readonly stateRevision: number;
}

const SMALL = { maxBytes: 4096, maxDepth: 1, maxFields: 64 };

export const helloCodec = protoCodec<Hello>(
  wireType('NodeHello'),
  {
    toWire: (h) => ({
      node: h.node,
      role: roleToWire(h.role),
      instanceId: h.instanceId,
      startedAtMs: h.startedAtMs,
      version: h.version,
      nodeIp: h.nodeIp,
      podCidr: h.podCidr,
    }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      role: roleFromWire(w.role, 'role'),
      instanceId: instanceId(w.instanceId, 'instance_id'),
      startedAtMs: u64(w.startedAtMs, 'started_at_ms'),
      version: typeof w.version === 'string' ? w.version.slice(0, 64) : '',
      nodeIp: w.nodeIp ? unicastIpv4(w.nodeIp, 'node_ip') : 0,
      podCidr: w.podCidr ? formatCidr(ipv4Cidr(w.podCidr, 'pod_cidr')) : '',
    }),
  },
  SMALL,
);

export const helloReplyCodec = protoCodec<HelloReply>(
  wireType('NodeHelloReply'),
  {
    toWire: (r) => ({ ...r }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      instanceId: instanceId(w.instanceId, 'instance_id'),
      stateRevision: u64(w.stateRevision, 'state_revision'),
      resyncRequested: w.resyncRequested === true,
      heartbeatIntervalMs: uint(w.heartbeatIntervalMs, 'heartbeat_interval_ms', 10, 3_600_000),
    }),
  },
  SMALL,
);

export const heartbeatCodec = protoCodec<Heartbeat>(
  wireType('Heartbeat'),
  {
    toWire: (h) => ({ ...h, role: roleToWire(h.role) }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      role: roleFromWire(w.role, 'role'),
      instanceId: instanceId(w.instanceId, 'instance_id'),
      seq: u64(w.seq, 'seq'),
      sentAtMs: u64(w.sentAtMs, 'sent_at_ms'),
      stateRevision: u64(w.stateRevision, 'state_revision'),
    }),
  },
  SMALL,
);
