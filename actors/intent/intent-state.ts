/**
 * The intent one process holds for its node: the host interface, pod interfaces by container id
 * and service ports by ClusterIP:port/protocol. Plain data with checked mutations; the actor
 * that owns it (intent-store.ts) serialises access. Every accepted change bumps the revision;
 * a request that matches what is held changes nothing (idempotent retries are free).
 *
 * Kept mutable on purpose: copying maps of 100k pods per event would make each change O(n).
 */
import { err, ok, type Result } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import { formatIpv4 } from '../../messages/validate.js';
import type { ChangeReply, HostInterface, PodInterface, ServiceKey, ServicePort } from '../../protocol/intent.js';
import { intentDigest } from '../../protocol/intent-digest.js';
import type { FullState } from '../../protocol/sync.js';

/** Numeric key of a service port: exact in a double (32 + 16 + 1 bits). */
export function serviceKey(k: ServiceKey): number {
  return k.clusterIp * 131072 + k.port * 2 + (k.protocol === 'UDP' ? 1 : 0);
}

export interface IntentCounts {
  readonly pods: number;
  readonly services: number;
  readonly endpoints: number;
  readonly hasHost: boolean;
}

export type Change = Result<ChangeReply, BusError>;

export class IntentState {
  private host: HostInterface | undefined;
  private readonly pods = new Map<string, PodInterface>();
  private readonly podByIp = new Map<number, string>();
  private readonly podByPort = new Map<number, string>();
  private readonly services = new Map<number, ServicePort>();
  private endpointCount = 0;
  private rev = 0;

  constructor(readonly node: string) {}

  get revision(): number {
    return this.rev;
  }

  counts(): IntentCounts {
    return { pods: this.pods.size, services: this.services.size, endpoints: this.endpointCount, hasHost: this.host !== undefined };
  }

  setHost(host: HostInterface): Change {
    if (host.node !== this.node) return wrongNode(host.node, 'node');
    if (this.host && sameJson(this.host, host)) return this.unchanged();
    this.host = host;
    return this.changed();
  }

  addPod(pod: PodInterface): Change {
    if (pod.node !== this.node) return wrongNode(pod.node, 'interface.node');
    const existing = this.pods.get(pod.containerId);
    if (existing && sameJson(existing, pod)) return this.unchanged();
    const ipOwner = this.podByIp.get(pod.ipv4);
    if (ipOwner !== undefined && ipOwner !== pod.containerId) {
      return err(new BusError('CONFLICT', `${formatIpv4(pod.ipv4)} belongs to container ${ipOwner}`, 'interface.ipv4'));
    }
    const portOwner = this.podByPort.get(pod.portId);
    if (portOwner !== undefined && portOwner !== pod.containerId) {
      return err(new BusError('CONFLICT', `port ${pod.portId} belongs to container ${portOwner}`, 'interface.port_id'));
    }
    if (existing) this.unindexPod(existing);
    this.pods.set(pod.containerId, pod);
    this.podByIp.set(pod.ipv4, pod.containerId);
    this.podByPort.set(pod.portId, pod.containerId);
    return this.changed();
  }

  deletePod(node: string, containerId: string): Change {
    if (node !== this.node) return wrongNode(node, 'node');
    const existing = this.pods.get(containerId);
    if (!existing) return this.unchanged(); // DEL is idempotent, as CNI requires
    this.unindexPod(existing);
    this.pods.delete(containerId);
    return this.changed();
  }

  upsertService(node: string, service: ServicePort): Change {
    if (node !== this.node) return wrongNode(node, 'node');
    const key = serviceKey(service);
    const existing = this.services.get(key);
    if (existing && sameJson(existing, service)) return this.unchanged();
    this.endpointCount += service.endpoints.length - (existing?.endpoints.length ?? 0);
    this.services.set(key, service);
    return this.changed();
  }

  deleteService(node: string, key: ServiceKey): Change {
    if (node !== this.node) return wrongNode(node, 'node');
    const k = serviceKey(key);
    const existing = this.services.get(k);
    if (!existing) return this.unchanged();
    this.endpointCount -= existing.endpoints.length;
    this.services.delete(k);
    return this.changed();
  }

  /**
   * Replaces everything with `state` (a full-state sync). The revision moves past both sides'
   * when anything changed, and stays when the state was already the same.
   */
  replaceAll(state: FullState): Change {
    const before = this.digest();
    this.host = state.host;
    this.pods.clear();
    this.podByIp.clear();
    this.podByPort.clear();
    this.services.clear();
    this.endpointCount = 0;
    for (const p of state.pods) {
      this.pods.set(p.containerId, p);
      this.podByIp.set(p.ipv4, p.containerId);
      this.podByPort.set(p.portId, p.containerId);
    }
    for (const s of state.services) {
      this.services.set(serviceKey(s), s);
      this.endpointCount += s.endpoints.length;
    }
    if (this.digest() === before) return this.unchanged();
    this.rev = Math.max(this.rev, state.revision);
    return this.changed();
  }

  fullState(): FullState {
    return {
      node: this.node,
      revision: this.rev,
      host: this.host,
      pods: [...this.pods.values()],
      services: [...this.services.values()],
    };
  }

  /** SHA-256 of the canonical intent (protocol/intent-digest.ts): equal digests mean equal intent. */
  digest(): string {
    return intentDigest(this.host, this.pods.values(), this.services.values());
  }

  private unindexPod(pod: PodInterface): void {
    if (this.podByIp.get(pod.ipv4) === pod.containerId) this.podByIp.delete(pod.ipv4);
    if (this.podByPort.get(pod.portId) === pod.containerId) this.podByPort.delete(pod.portId);
  }

  private changed(): Change {
    return ok({ revision: ++this.rev, changed: true });
  }

  private unchanged(): Change {
    return ok({ revision: this.rev, changed: false });
  }
}

function wrongNode(got: string, field: string): Change {
  return err(new BusError('INVALID_ARGUMENT', `request for node "${got}" sent to another node`, field));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
