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

async function call(socket: string, method: 'Prepare' | 'Add' | 'Del', bytes: Uint8Array): Promise<Result<Wire, CniFailure>> {
  const agent = connectAgent(socket);
  try {
    const reply = await agent.call(`/infra.v1.CniBackend/${method}`, bytes, DEADLINE_MS);
    const type = method === 'Add' ? addReply : statusReply;
    const wire: Wire = type.toObject(type.decode(reply), { longs: Number, enums: Number, defaults: true });
    const e = wire.error as { code?: number; message?: string } | undefined;
    if (e && (e.code ?? 0) !== 0) return err({ code: ERROR_NAMES[e.code ?? 0] ?? `CODE_${e.code}`, message: e.message ?? '' });
    return ok(wire);
  } catch (e) {
    return err({ code: 'TRANSPORT', message: toError(e).message });
  } finally {
    agent.close();
  }
}

/** The IPAM part of an ADD: the pod's /24 address and the range's first address as its gateway. */
function ipamOf(pod: PlanPod): { address: number; prefixLength: number; gateway: number } {
  const address = parseIpv4(pod.ipv4) ?? 0;
  return { address, prefixLength: 24, gateway: ((address & 0xffffff00) >>> 0) + 1 };
}

export async function cniPrepare(socket: string, pod: PlanPod, netns: string): Promise<Result<void, CniFailure>> {
  const r = await call(socket, 'Prepare', cniPrepareCodec.encode({ containerId: pod.containerId, netns, ifname: IFNAME, mtu: 0 }));
  return r.ok ? ok(undefined) : r;
}

export async function cniAdd(socket: string, pod: PlanPod, netns: string): Promise<Result<AddedInterface, CniFailure>> {
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
  const r = await call(socket, 'Add', bytes);
  if (!r.ok) return r;
  const text = typeof r.value.mac === 'string' ? r.value.mac : '';
  const mac = parseMac(text);
  const portId = Number(r.value.portId ?? 0);
  if (mac === undefined || !(portId >= 2)) return err({ code: 'BAD_REPLY', message: `ADD answered port ${portId} and MAC "${text}"` });
  return ok({ portId, mac, ifname: typeof r.value.ifname === 'string' ? r.value.ifname : IFNAME });
}

export async function cniDel(socket: string, pod: PlanPod, netns: string): Promise<Result<void, CniFailure>> {
  const r = await call(
    socket,
    'Del',
    cniDelCodec.encode({ containerId: pod.containerId, netns, ifname: IFNAME, podNamespace: SIM_NAMESPACE, podName: pod.name, network: NETWORK }),
  );
  // DEL is idempotent: NOT_FOUND means nothing is left, as the plugin reads it.
  if (!r.ok && r.error.code === 'NOT_FOUND') return ok(undefined);
  return r.ok ? ok(undefined) : r;
}
