/**
 * entries-from-intent: what a node's target holds, read back over P4Runtime (a wildcard Read of
 * every programmed table and action profile, as offloadctl's `tables` does) and named through
 * the P4Info (p4/entry-view.ts), compared with the node's truth once the run is quiet:
 *
 * - arp_to_port and ipv4_to_port hold only the gateway (169.254.1.1), the node's own address
 *   and the addresses of the node's pods, each to that pod's port;
 * - service_lb holds only current VIP:port/protocol keys;
 * - every lb_selector member is a current endpoint of some service (or the reject member).
 *
 * Learned connections (ct_forward, ct_reverse) are the data plane's, not intent: not looked at.
 *
 * @example
 * const stale = await staleEntries(node, truth.fullState(node.name));
 * // ['ipv4_to_port 10.244.1.17 → port 9: no such pod']
 */
import { tablesView } from '../../p4/entry-view.js';
import { loadP4Info, type P4Info } from '../../p4/p4info.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
type Msg = Record<string, unknown>;
import { formatIpv4 } from '../../messages/validate.js';
import type { FullState } from '../../protocol/sync.js';
import type { SimNode } from './sim-node.js';

const GATEWAY_IP = '169.254.1.1';
let info: P4Info | undefined;

/** What is in the target and should not be (empty when every entry derives from the truth). */
export async function staleEntries(node: SimNode, truth: FullState): Promise<string[]> {
  const client = new P4RuntimeClient(node.targetAddress, undefined, { callMs: 5000, readIdleMs: 5000 });
  try {
    return await staleEntriesOf((req) => client.read(req), truth);
  } finally {
    client.close();
  }
}

/** The same, through any P4Runtime Read (the in-process simulator's loopback link). */
export async function staleEntriesOf(read: (request: Msg) => Promise<Msg[]>, truth: FullState): Promise<string[]> {
  info ??= loadP4Info();
  const p4 = info;
  {
    const entities = [
      ...p4.tables.filter((t) => !t.addOnMiss).map((t) => ({ table_entry: { table_id: t.id } })),
      ...p4.actionProfiles.flatMap((ap) => [{ action_profile_member: { action_profile_id: ap.id } }, { action_profile_group: { action_profile_id: ap.id } }]),
    ];
    const entries = await read({ device_id: 1, entities });
    const view = tablesView(p4, entries, { read: () => true, list: () => true, limit: 1_000_000, byteBudget: Number.MAX_SAFE_INTEGER });
    const pods = new Map(truth.pods.map((p) => [formatIpv4(p.ipv4), p]));
    const hostIp = truth.host ? formatIpv4(truth.host.ipv4) : '';
    const vips = new Set(truth.services.map((s) => `${formatIpv4(s.clusterIp)} ${s.protocol.toLowerCase()} ${s.port}`));
    const endpoints = new Set(truth.services.flatMap((s) => s.endpoints.map((e) => `${formatIpv4(e.ipv4)}:${e.port}`)));
    const out: string[] = [];
    for (const t of view.tables) {
      for (const e of t.entries) {
        if (e.isDefault) continue;
        const key = e.match.join(' ');
        const port = e.params.find((p) => p.name === 'port')?.value;
        if (t.name === 'arp_to_port' || t.name === 'ipv4_to_port') {
          const ip = e.match[0] ?? '';
          if (ip === GATEWAY_IP || ip === hostIp) continue;
          const pod = pods.get(ip);
          if (!pod) out.push(`${t.name} ${key} → port ${port ?? '?'}: no such pod on the node`);
          else if (port !== undefined && Number(port) !== pod.portId) out.push(`${t.name} ${key} → port ${port}: the pod is on port ${pod.portId}`);
        } else if (t.name === 'service_lb') {
          if (!vips.has(key)) out.push(`service_lb ${key}: no such service`);
        }
      }
    }
    for (const ap of view.profiles) {
      for (const m of ap.members) {
        if (m.action !== 'lb_set_endpoint') continue;
        const ep = `${m.params.find((p) => p.name === 'ep_ip')?.value ?? '?'}:${m.params.find((p) => p.name === 'ep_port')?.value ?? '?'}`;
        if (!endpoints.has(ep)) out.push(`${ap.name} member ${m.id} → ${ep}: not an endpoint of any service`);
      }
    }
    return out;
  }
}
