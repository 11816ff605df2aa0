/**
 * A small stand-in for the manager's render (issue 6), shared by the session tests over gRPC
 * (test/actors/session.test.ts) and over the loopback (test/p4/loopback.test.ts): pods, and
 * services with endpoint groups, as P4Runtime entities.
 *
 * @example
 * const desired = render(100, 20, 5); // 100 pods × 2 entries, 20 services × (5 members + group + VIP)
 */
import { readFileSync } from 'node:fs';
import type { WireEntity } from '../../p4/desired.js';
import { ip } from '../../p4/frames.js';
import { DEFAULT_P4INFO_PATH, loadP4Info } from '../../p4/p4info.js';

export const info = loadP4Info();
export const p4infoJson = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as unknown;
export const T = (n: string) => info.tableByName(`MainControlImpl.${n}`).id;
export const A = (n: string) => info.actionByName(`MainControlImpl.${n}`).id;
export const SEL = info.actionProfileByName('MainControlImpl.lb_selector').id;
export const be = (v: number, bytes: number): Uint8Array => Uint8Array.from({ length: bytes }, (_, i) => (v / 256 ** (bytes - 1 - i)) & 255);
export const param = (id: number, v: number, bytes: number) => ({ param_id: id, value: be(v, bytes) });
export const exact = (id: number, v: number, bytes: number) => ({ field_id: id, exact: { value: be(v, bytes) } });

/** Pods, and services with endpoint groups. */
export function render(pods: number, services: number, endpoints: number): WireEntity[] {
  const out: WireEntity[] = [];
  for (let p = 0; p < pods; p++) {
    const addr = ip('10.244.0.0') + 10 + p;
    out.push({ table_entry: { table_id: T('ipv4_to_port'), match: [exact(1, addr, 4)], action: { action: { action_id: A('set_dest_mac_port'), params: [param(1, p + 2, 4), param(2, 0x020000000000 + p, 6)] } } } });
    out.push({ table_entry: { table_id: T('arp_to_port'), match: [exact(1, addr, 4)], action: { action: { action_id: A('set_port'), params: [param(1, p + 2, 4)] } } } });
  }
  for (let s = 0; s < services; s++) {
    const members = [];
    for (let e = 0; e < endpoints; e++) {
      const id = s * 100 + e + 1;
      members.push(id);
      out.push({ action_profile_member: { action_profile_id: SEL, member_id: id, action: { action_id: A('lb_set_endpoint'), params: [param(1, ip('10.244.0.0') + 10 + ((s + e) % pods), 4), param(2, 8080, 2)] } } });
    }
    out.push({ action_profile_group: { action_profile_id: SEL, group_id: s + 1, members: members.map((m) => ({ member_id: m, weight: 1 })), max_size: 64 } });
    out.push({ table_entry: { table_id: T('service_lb'), match: [exact(1, ip('10.96.0.0') + s + 1, 4), exact(2, 6, 1), exact(3, 80, 2)], action: { action_profile_group_id: s + 1 } } });
  }
  return out;
}
