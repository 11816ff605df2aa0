/**
 * The manager's durable intent, one JetStream KV key per domain object, so that a change to one
 * service or pod rewrites one small value and nothing else:
 *
 *   host                          the host interface            (HostInterface, protobuf)
 *   pod.<containerId>             one pod interface             (PodInterface, protobuf)
 *   podx.<base64url(containerId)> the same, for ids a KV key cannot carry ('.' makes empty tokens)
 *   svc.<a>-<b>-<c>-<d>_<port>_<tcp|udp>
 *                                 one service port with the ids allocated for it
 *
 * A service record carries its group id and one member id per endpoint (in endpoint order), so
 * the same intent renders the same entities after a restart. Values are the protocol's own
 * protobuf messages (the codecs validate them again on load: a damaged value is refused, never
 * trusted); a service record prefixes the message with its ids:
 *
 *   u8 version (1) · u32 group id · u32 n · n × u32 member id · ServiceUpsert message
 *
 * @example
 * const key = serviceKvKey(service);                       // "svc.10-96-0-10_53_udp"
 * const value = encodeService(node, service, 7, [3, 4]);
 * decodeRecord(key, value);                                // { ok: true, value: { kind: 'service', … } }
 */
import { err, ok, type Result } from '../../core/result.js';
import { hostSetupCodec, podAddCodec, serviceUpsertCodec, type HostInterface, type PodInterface, type ServiceKey, type ServicePort } from '../../protocol/intent.js';

export const HOST_KEY = 'host';
const SERVICE_RECORD_VERSION = 1;
const KEY_SAFE = /^[A-Za-z0-9_-]+$/;

export type IntentRecord =
  | { readonly kind: 'host'; readonly host: HostInterface }
  | { readonly kind: 'pod'; readonly pod: PodInterface }
  | { readonly kind: 'service'; readonly service: ServicePort; readonly groupId: number; readonly memberIds: readonly number[] };

/** The KV key of a pod interface. */
export function podKvKey(containerId: string): string {
  return KEY_SAFE.test(containerId) ? `pod.${containerId}` : `podx.${Buffer.from(containerId, 'utf8').toString('base64url')}`;
}

/** The KV key of a service port. */
export function serviceKvKey(k: ServiceKey): string {
  const ip = [k.clusterIp >>> 24, (k.clusterIp >>> 16) & 255, (k.clusterIp >>> 8) & 255, k.clusterIp & 255].join('-');
  return `svc.${ip}_${k.port}_${k.protocol === 'TCP' ? 'tcp' : 'udp'}`;
}

export function encodeHost(host: HostInterface): Uint8Array {
  return hostSetupCodec.encode(host);
}

export function encodePod(pod: PodInterface): Uint8Array {
  return podAddCodec.encode(pod);
}

/** A service record: `memberIds[i]` is the member id of `service.endpoints[i]`. */
export function encodeService(node: string, service: ServicePort, groupId: number, memberIds: readonly number[]): Uint8Array {
  const body = serviceUpsertCodec.encode({ node, service });
  const out = new Uint8Array(9 + 4 * memberIds.length + body.length);
  const view = new DataView(out.buffer);
  out[0] = SERVICE_RECORD_VERSION;
  view.setUint32(1, groupId);
  view.setUint32(5, memberIds.length);
  memberIds.forEach((id, i) => view.setUint32(9 + 4 * i, id));
  out.set(body, 9 + 4 * memberIds.length);
  return out;
}

/** Decodes and validates one stored value; the error says why it cannot be used. Never throws. */
export function decodeRecord(key: string, value: Uint8Array): Result<IntentRecord, string> {
  if (key === HOST_KEY) {
    const r = hostSetupCodec.decode(value);
    return r.ok ? ok({ kind: 'host', host: r.value }) : err(r.error.message);
  }
  if (key.startsWith('pod.') || key.startsWith('podx.')) {
    const r = podAddCodec.decode(value);
    if (!r.ok) return err(r.error.message);
    return podKvKey(r.value.containerId) === key ? ok({ kind: 'pod', pod: r.value }) : err('the pod does not belong under this key');
  }
  if (key.startsWith('svc.')) return decodeService(key, value);
  return err('unknown key');
}

function decodeService(key: string, value: Uint8Array): Result<IntentRecord, string> {
  if (value.length < 9 || value[0] !== SERVICE_RECORD_VERSION) return err('not a service record of a known version');
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const groupId = view.getUint32(1);
  const n = view.getUint32(5);
  if (value.length < 9 + 4 * n) return err('truncated member ids');
  const memberIds = Array.from({ length: n }, (_, i) => view.getUint32(9 + 4 * i));
  const r = serviceUpsertCodec.decode(value.subarray(9 + 4 * n));
  if (!r.ok) return err(r.error.message);
  const service = r.value.service;
  if (service.endpoints.length !== n) return err('member ids do not match the endpoints');
  if (serviceKvKey(service) !== key) return err('the service does not belong under this key');
  return ok({ kind: 'service', service, groupId, memberIds });
}
