/**
 * Which learned connections to retire: the data plane learns ct_forward (client → VIP:port,
 * ct_dnat to the chosen endpoint) and ct_reverse (endpoint → client, ct_snat back to VIP:port)
 * on its own; the control plane deletes those whose endpoint the intent no longer backs for that
 * service (the endpoint was removed from it, the service is gone, or a local endpoint's pod is).
 * Endpoints that are still listed but terminating keep their connections, as in kube-proxy.
 *
 * @example
 * const retire = flowRetirer(info, (vip, vport, proto, ip, port) => intent.isLiveFlow(vip, vport, proto, ip, port));
 * retire(readBackEntity); // true: delete it
 */
import type { WireEntity } from '../../p4/desired.js';
import type { P4Info } from '../../p4/p4info.js';

/** Is VIP:vport/proto (6 TCP, 17 UDP) → endpoint ip:port still backed by the intent? */
export type FlowLiveness = (vip: number, vport: number, proto: number, epIp: number, epPort: number) => boolean;

type Msg = Record<string, unknown>;

function bytesToNumber(v: unknown): number {
  if (!(v instanceof Uint8Array)) return -1;
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** id → value of a list of {field_id|param_id, value} pairs. */
function values(list: unknown, idKey: string, value: (m: Msg) => unknown): Map<number, number> {
  const out = new Map<number, number>();
  if (Array.isArray(list)) for (const m of list as Msg[]) out.set(Number(m[idKey]), bytesToNumber(value(m)));
  return out;
}

export function flowRetirer(info: P4Info, isLive: FlowLiveness): (entity: WireEntity) => boolean {
  const forward = info.tableByName('MainControlImpl.ct_forward').id;
  const reverse = info.tableByName('MainControlImpl.ct_reverse').id;
  return (entity) => {
    const t = entity.table_entry as Msg | undefined;
    if (!t) return false;
    const table = Number(t.table_id);
    if (table !== forward && table !== reverse) return false;
    const key = values(t.match, 'field_id', (m) => (m.exact as Msg | undefined)?.value);
    const action = (t.action as Msg | undefined)?.action as Msg | undefined;
    const params = values(action?.params, 'param_id', (m) => m.value);
    const [p1, p2] = [params.get(1), params.get(2)];
    if (p1 === undefined || p2 === undefined || p1 < 0 || p2 < 0) return false; // not a learned ct_dnat/ct_snat: leave it
    const proto = key.get(3) ?? -1;
    // ct_forward: src, dst (VIP), proto, sport, dport (vport) → ct_dnat(endpoint ip, port)
    if (table === forward) return !isLive(key.get(2) ?? -1, key.get(5) ?? -1, proto, p1, p2);
    // ct_reverse: src (endpoint), dst (client), proto, sport (endpoint port), dport → ct_snat(VIP, vport)
    return !isLive(p1, p2, proto, key.get(1) ?? -1, key.get(4) ?? -1);
  };
}

/** What `intentLiveness` reads of the manager's intent store, at the moment it is asked. */
export interface LiveIntentView {
  readonly loaded: boolean;
  /** The intent is complete (the agent's full state merged); see durable-store.ts. */
  readonly ready: boolean;
  readonly intent: { isLiveFlow: FlowLiveness };
}

/**
 * The liveness a sweep judges by, read from the store each time it is asked: a sweep reads the
 * learned tables first, and meanwhile the store may have reloaded an incomplete intent (its KV
 * lost keys). While the intent is incomplete — or no store runs — every connection counts as
 * live: retiring then would cut connections whose service only seems gone.
 *
 * @example
 * const retire = flowRetirer(info, intentLiveness(() => store.getSnapshot().context));
 */
export function intentLiveness(view: () => LiveIntentView | undefined): FlowLiveness {
  return (vip, vport, proto, ip, port) => {
    const v = view();
    return v?.loaded === true && v.ready ? v.intent.isLiveFlow(vip, vport, proto, ip, port) : true;
  };
}
