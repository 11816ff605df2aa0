/**
 * The simulator as a container runtime: CNI Prepare, Add and Del straight to a node's agent over
 * its gRPC socket (cni/grpc-client.ts, the plugin's own client), with the IPAM result the
 * simulator decided itself (host-local would give the same: an address of the node's pod range
 * with its gateway). Every outcome is a Result: the agent's typed error, or a transport failure.
 *
 * @example
 * const r = await cniAdd(node.cniSocket, { pod, netns: podNetnsPath(node.kernelDir, 'ctr-1'), gateway: '10.244.1.1' });
 * if (r.ok) console.log(r.value.portId, r.value.mac);
 */
import { connectAgent } from '../../cni/grpc-client.js';
import { err, ok, toError, type Result } from '../../core/result.js';
import { loadProtoRoot } from '../../messages/codec.js';
import { parseIpv4, parseMac } from '../../messages/validate.js';
import { cniAddCodec, cniDelCodec, cniPrepareCodec } from '../../protocol/cni.js';
import type { PlanPod } from './plan-types.js';
import { SIM_NAMESPACE } from './kube-objects.js';

const root = loadProtoRoot(['infra/v1/errors.proto', 'infra/v1/cni.proto']);
const addReply = root.lookupType('infra.v1.CniAddReply');
const statusReply = root.lookupType('infra.v1.CniDelReply');
const ERROR_NAMES = ['UNSPECIFIED', 'MALFORMED', 'INVALID_ARGUMENT', 'TOO_LARGE', 'UNIMPLEMENTED', 'NOT_FOUND', 'CONFLICT', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED'];

export const IFNAME = 'eth0';
export const NETWORK = 'sim-net';
const DEADLINE_MS = 6000;

export interface CniFailure {
  /** The agent's typed error code (CONFLICT, UNAVAILABLE…), or TRANSPORT. */
  readonly code: string;
  readonly message: string;
}

export interface AddedInterface {
  readonly portId: number;
  readonly mac: number;
  readonly ifname: string;
}

type Wire = Record<string, unknown>;

/** Carries one CNI request's bytes to the agent and brings its reply's bytes back (gRPC, or in-process). */
export type CniSend = (method: 'Prepare' | 'Add' | 'Del', bytes: Uint8Array, deadlineMs: number) => Promise<Uint8Array>;

/** Over the agent's gRPC socket, a connection per call as the plugin makes. */
function socketSend(socket: string): CniSend {
  return async (method, bytes, deadlineMs) => {
    const agent = connectAgent(socket);
    try {
      return await agent.call(`/infra.v1.CniBackend/${method}`, bytes, deadlineMs);
    } finally {
      agent.close();
    }
  };
}

async function call(send: CniSend, method: 'Prepare' | 'Add' | 'Del', bytes: Uint8Array): Promise<Result<Wire, CniFailure>> {
  try {
    const reply = await send(method, bytes, DEADLINE_MS);
    const type = method === 'Add' ? addReply : statusReply;
    const wire: Wire = type.toObject(type.decode(reply), { longs: Number, enums: Number, defaults: true });
    const e = wire.error as { code?: number; message?: string } | undefined;
    if (e && (e.code ?? 0) !== 0) return err({ code: ERROR_NAMES[e.code ?? 0] ?? `CODE_${e.code}`, message: e.message ?? '' });
    return ok(wire);
  } catch (e) {
    return err({ code: 'TRANSPORT', message: toError(e).message });
  }
}

/** The IPAM part of an ADD: the pod's /24 address and the range's first address as its gateway. */
function ipamOf(pod: PlanPod): { address: number; prefixLength: number; gateway: number } {
  const address = parseIpv4(pod.ipv4) ?? 0;
  return { address, prefixLength: 24, gateway: ((address & 0xffffff00) >>> 0) + 1 };
}

/** The three calls of a container runtime, over `send`. */
export interface CniDriver {
  prepare(pod: PlanPod, netns: string): Promise<Result<void, CniFailure>>;
  add(pod: PlanPod, netns: string): Promise<Result<AddedInterface, CniFailure>>;
  del(pod: PlanPod, netns: string): Promise<Result<void, CniFailure>>;
}

export function cniDriver(send: CniSend): CniDriver {
  return { prepare: (pod, netns) => prepareOver(send, pod, netns), add: (pod, netns) => addOver(send, pod, netns), del: (pod, netns) => delOver(send, pod, netns) };
}

export function cniPrepare(socket: string, pod: PlanPod, netns: string): Promise<Result<void, CniFailure>> {
  return prepareOver(socketSend(socket), pod, netns);
}

export function cniAdd(socket: string, pod: PlanPod, netns: string): Promise<Result<AddedInterface, CniFailure>> {
  return addOver(socketSend(socket), pod, netns);
}

export function cniDel(socket: string, pod: PlanPod, netns: string): Promise<Result<void, CniFailure>> {
  return delOver(socketSend(socket), pod, netns);
}

async function prepareOver(send: CniSend, pod: PlanPod, netns: string): Promise<Result<void, CniFailure>> {
  const r = await call(send, 'Prepare', cniPrepareCodec.encode({ containerId: pod.containerId, netns, ifname: IFNAME, mtu: 0 }));
  return r.ok ? ok(undefined) : r;
}

async function addOver(send: CniSend, pod: PlanPod, netns: string): Promise<Result<AddedInterface, CniFailure>> {
  const bytes = cniAddCodec.encode({
    containerId: pod.containerId,
    netns,
    ifname: IFNAME,
    podNamespace: SIM_NAMESPACE,
    podName: pod.name,
    network: NETWORK,
    ips: [ipamOf(pod)],
    routes: [],
    mtu: 0,
  });
  const r = await call(send, 'Add', bytes);
  if (!r.ok) return r;
  const text = typeof r.value.mac === 'string' ? r.value.mac : '';
  const mac = parseMac(text);
  const portId = Number(r.value.portId ?? 0);
  if (mac === undefined || !(portId >= 2)) return err({ code: 'BAD_REPLY', message: `ADD answered port ${portId} and MAC "${text}"` });
  return ok({ portId, mac, ifname: typeof r.value.ifname === 'string' ? r.value.ifname : IFNAME });
}

async function delOver(send: CniSend, pod: PlanPod, netns: string): Promise<Result<void, CniFailure>> {
  const r = await call(
    send,
    'Del',
    cniDelCodec.encode({ containerId: pod.containerId, netns, ifname: IFNAME, podNamespace: SIM_NAMESPACE, podName: pod.name, network: NETWORK }),
  );
  // DEL is idempotent: NOT_FOUND means nothing is left, as the plugin reads it.
  if (!r.ok && r.error.code === 'NOT_FOUND') return ok(undefined);
  return r.ok ? ok(undefined) : r;
}
