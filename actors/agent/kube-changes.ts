/**
 * "Record changes, then sync" (kube-proxy's change tracker) for the agent's services. Event
 * handlers only record the desired ServicePorts of a Service ("namespace/name"); a sync later
 * drains what differs from what was last written, as one request per changed service port.
 *
 * - A burst of changes to one service collapses: only its latest state is kept.
 * - A change back to what was written is dropped: nothing to send.
 * - Deletes go first, then upserts; a port key that another service now claims is not deleted
 *   (a ClusterIP freed by one service and taken by another in the same burst).
 * - Nothing is forgotten on failure: a service stays pending until `commit` says it is written.
 * - A write that failed may have landed all the same (a request that timed out, its answer lost):
 *   the ports it upserted stay "maybe written" until a later change is written, so that a delete
 *   of the service still deletes them instead of comparing with an empty shadow.
 * - A change recorded while the service's last change is being written is kept, whatever it is:
 *   comparing it with the shadow before that write lands would drop it (an upsert in flight, then
 *   a delete back to "nothing was written" — the delete was lost).
 *
 * @example
 * const t = new ServiceChangeTracker();
 * t.record('default/web', portsV1); t.record('default/web', portsV2);
 * for (const c of t.changes()) { ...send c.deletes, c.upserts...; t.commit(c); }
 */
import { serviceKeyText, type ServiceKey, type ServicePort } from '../../protocol/intent.js';

export interface ServiceChange {
  /** "namespace/name" of the Kubernetes Service. */
  readonly service: string;
  /** The ports the service should have once this change is written ([] = the service is gone). */
  readonly ports: readonly ServicePort[];
  /** Ports that are new or differ from what was written. */
  readonly upserts: readonly ServicePort[];
  /** Ports that were written and are no longer wanted. */
  readonly deletes: readonly ServiceKey[];
}

export class ServiceChangeTracker {
  /** What was last written (the shadow), per service. */
  private readonly written = new Map<string, readonly ServicePort[]>();
  /** What the service should become, only while it differs from `written`. */
  private readonly pending = new Map<string, readonly ServicePort[]>();
  /** The changes handed out by the last `changes()` and not committed yet. */
  private readonly inflight = new Map<string, readonly ServicePort[]>();
  /** Ports a failed write may have written all the same, per service (port key → port). */
  private readonly maybe = new Map<string, Map<string, ServicePort>>();

  /** Services with a change not yet written. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Takes what is already written elsewhere (the intent store after a restart) as the shadow. */
  seed(ports: readonly ServicePort[]): void {
    const byService = new Map<string, ServicePort[]>();
    for (const p of ports) {
      const id = `${p.namespace}/${p.name}`;
      byService.set(id, [...(byService.get(id) ?? []), p]);
    }
    for (const [id, list] of byService) this.written.set(id, canonical(list));
  }

  /** Records the desired ports of a service ([] when it is gone or has nothing to offload). */
  record(service: string, ports: readonly ServicePort[]): void {
    const wanted = canonical(ports);
    if (this.inflight.has(service) || this.maybe.has(service)) this.pending.set(service, wanted);
    else if (samePorts(wanted, this.written.get(service) ?? [])) this.pending.delete(service);
    else this.pending.set(service, wanted);
  }

  /** Marks every written service for rewriting (a periodic full sync). */
  markAllForResync(): void {
    for (const [id, ports] of this.written) if (!this.pending.has(id)) this.pending.set(id, ports);
  }

  /** What to write now: every pending service, with its upserts and deletes. */
  changes(): ServiceChange[] {
    const claimed = new Map<string, string>();
    for (const [id, ports] of this.written) if (!this.pending.has(id)) for (const p of ports) claimed.set(serviceKeyText(p), id);
    for (const [id, ports] of this.pending) for (const p of ports) claimed.set(serviceKeyText(p), id);
    const out: ServiceChange[] = [];
    this.inflight.clear();
    for (const [service, ports] of this.pending) {
      this.inflight.set(service, ports);
      const written = new Map((this.written.get(service) ?? []).map((p) => [serviceKeyText(p), p]));
      // Deletes also cover what a failed write may have left; upserts are judged by what is known written.
      const before = new Map(written);
      for (const [k, p] of this.maybe.get(service) ?? []) if (!before.has(k)) before.set(k, p);
      const after = new Set(ports.map(serviceKeyText));
      // A port whose content equals what was written still goes out when it is all that is
      // pending (a forced resync); otherwise only the ports that differ.
      const resync = samePorts(ports, this.written.get(service) ?? []);
      const upserts = ports.filter((p) => resync || !samePort(p, written.get(serviceKeyText(p))));
      const deletes = [...before.entries()]
        .filter(([k]) => !after.has(k) && (claimed.get(k) ?? service) === service)
        .map(([, p]) => ({ clusterIp: p.clusterIp, port: p.port, protocol: p.protocol }));
      out.push({ service, ports, upserts, deletes });
    }
    return out;
  }

  /** The change is written: it becomes the shadow, and stops being pending unless a newer one came. */
  commit(change: ServiceChange): void {
    if (change.ports.length === 0) this.written.delete(change.service);
    else this.written.set(change.service, change.ports);
    this.inflight.delete(change.service);
    this.maybe.delete(change.service);
    const newer = this.pending.get(change.service);
    if (newer === change.ports || (newer !== undefined && samePorts(newer, change.ports))) this.pending.delete(change.service);
  }

  /**
   * A change was not (wholly) written: it stays pending, and the ports it upserted may have
   * landed anyway, so the next change of the service deletes them if it no longer wants them.
   */
  failed(change: ServiceChange): void {
    if (change.upserts.length === 0) return;
    const maybe = this.maybe.get(change.service) ?? new Map<string, ServicePort>();
    for (const p of change.upserts) maybe.set(serviceKeyText(p), p);
    this.maybe.set(change.service, maybe);
  }

  /** Every written port (for tests and the operator's view). */
  writtenPorts(): ServicePort[] {
    return [...this.written.values()].flat();
  }
}

function canonical(ports: readonly ServicePort[]): readonly ServicePort[] {
  return [...ports]
    .map((p) => ({ ...p, endpoints: [...p.endpoints].sort((a, b) => a.ipv4 - b.ipv4 || a.port - b.port) }))
    .sort((a, b) => a.clusterIp - b.clusterIp || a.port - b.port || a.protocol.localeCompare(b.protocol));
}

/** Field by field, so that key order in objects (from JSON or the intent store) does not matter. */
function portText(p: ServicePort): string {
  const eps = p.endpoints.map((e) => [e.ipv4, e.port, e.node, e.ready, e.serving, e.terminating].join(','));
  return [p.namespace, p.name, p.portName, p.clusterIp, p.port, p.protocol, eps.join(';')].join('|');
}

function samePort(a: ServicePort, b: ServicePort | undefined): boolean {
  return b !== undefined && portText(a) === portText(b);
}

function samePorts(a: readonly ServicePort[], b: readonly ServicePort[]): boolean {
  return a.length === b.length && a.every((p, i) => portText(p) === portText(b[i]!));
}
