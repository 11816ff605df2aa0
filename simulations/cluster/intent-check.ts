/**
 * no-lost-change: at the end of a run, the node's leader (asked over its read-only ctl
 * operations, as offloadctl asks) must hold exactly what was acknowledged: every pod whose ADD
 * was answered and not deleted since, with the port the ADD answered; every service the API
 * server accepted, with the endpoints of its last accepted slice — and nothing that was deleted.
 *
 * @example
 * const problems = await intentDifferences(bus, 'node-1', truth.fullState('node-1'));
 * // ['pod ctr-node-1-4 (10.244.1.14) acknowledged but missing']
 */
import type { Bus } from '../../messages/bus.js';
import { ctlPrefix } from '../../messages/subjects.js';
import { formatIpv4 } from '../../messages/validate.js';
import { ctlMethods } from '../../protocol/methods.js';
import type { FullState } from '../../protocol/sync.js';

const LIMIT = 5000;

/** Differences between the leader's intent and the truth; an unreachable leader is one difference. */
export async function intentDifferences(bus: Bus, node: string, truth: FullState): Promise<string[]> {
  const prefix = ctlPrefix(node, 'manager');
  const [pods, services] = await Promise.all([
    bus.request(`${prefix}.pods`, ctlMethods.pods, { node, limit: LIMIT }, { timeoutMs: 3000 }),
    bus.request(`${prefix}.services`, ctlMethods.services, { node, limit: LIMIT }, { timeoutMs: 3000 }),
  ]);
  if (!pods.ok) return [`the leader did not answer pods: ${pods.error.code} ${pods.error.message}`];
  if (!services.ok) return [`the leader did not answer services: ${services.error.code} ${services.error.message}`];
  const out: string[] = [];
  const held = new Map(pods.value.pods.map((p) => [p.containerId, p]));
  for (const p of truth.pods) {
    const h = held.get(p.containerId);
    if (!h) out.push(`pod ${p.containerId} (${formatIpv4(p.ipv4)}) acknowledged but missing`);
    else if (h.portId !== p.portId || h.ipv4 !== formatIpv4(p.ipv4)) out.push(`pod ${p.containerId}: held as ${h.ipv4} port ${h.portId}, acknowledged as ${formatIpv4(p.ipv4)} port ${p.portId}`);
    held.delete(p.containerId);
  }
  for (const gone of held.values()) out.push(`pod ${gone.containerId} (${gone.ipv4}) deleted but still held`);
  const byKey = new Map(services.value.services.map((s) => [s.key, s]));
  for (const s of truth.services) {
    const key = `${formatIpv4(s.clusterIp)}:${s.port}/${s.protocol}`;
    const h = byKey.get(key);
    byKey.delete(key);
    if (!h) {
      out.push(`service ${s.name} (${key}) accepted but missing`);
      continue;
    }
    const want = s.endpoints.map((e) => `${formatIpv4(e.ipv4)}/${e.ready ? 'r' : ''}${e.serving ? 's' : ''}${e.terminating ? 't' : ''}`).sort();
    const have = h.endpoints.map((e) => `${e.address.replace(/:\d+$/, '')}/${e.ready ? 'r' : ''}${e.serving ? 's' : ''}${e.terminating ? 't' : ''}`).sort();
    if (want.join(',') !== have.join(',')) out.push(`service ${s.name} (${key}): endpoints [${have.join(', ')}], accepted [${want.join(', ')}]`);
  }
  for (const gone of byKey.values()) out.push(`service ${gone.name} (${gone.key}) deleted but still held`);
  return out;
}
