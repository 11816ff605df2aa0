/**
 * The API stand-in's object store: objects by resource, namespace and name, one global
 * resourceVersion counter (as etcd has), and a bounded history of change events from which
 * watches replay. A watch from a resourceVersion older than the history covers gets 410 Expired
 * and must list again, exactly as with a real API server after etcd compaction.
 *
 * An update that changes nothing (same labels, spec, status…) is not a change: no new
 * resourceVersion, no event — as the real server treats a no-op PUT.
 *
 * @example
 * const store = new ObjectStore({ historySize: 1000 });
 * const r = store.create(services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: {} });
 * store.eventsSince(services, 0); // { ok: true, value: [ADDED web] }
 */
import { randomUUID } from 'node:crypto';
import { err, ok, type Result } from '../../core/result.js';
import { apiVersionOf, type ResourceType } from './resources.js';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object, as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

/** A Kubernetes `Status` (the body of every error, and of ERROR watch events). */
export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly reason: string;
  readonly message: string;
  readonly code: number;
}

export function status(code: number, reason: string, message: string): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code };
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ChangeEvent {
  readonly rv: number;
  readonly type: ChangeType;
  readonly resource: ResourceType;
  /** The object after the change (for DELETED: its last state, with the deletion's version). */
  readonly object: KubeObject;
  /** The object before the change (MODIFIED only): selectors need it to see objects leave. */
  readonly previous?: KubeObject;
}

export interface StoreOptions {
  /** Change events kept for watches to replay; older resourceVersions get 410. Default 1000. */
  readonly historySize?: number;
}

/** Fields the server owns: ignored when deciding whether an update changes anything. */
const SERVER_META = ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields'];

export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<string, KubeObject>();
  private history: ChangeEvent[] = [];
  private readonly historySize: number;
  /** Every event at or below this version has left the history. */
  private compactedRv = 0;
  private readonly listeners = new Set<(e: ChangeEvent) => void>();

  constructor(options: StoreOptions = {}) {
    this.historySize = Math.max(1, options.historySize ?? 1000);
  }

  /** The current global resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch may still start from. */
  get oldestWatchable(): number {
    return this.compactedRv;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(r: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(key(r, namespace, name));
  }

  /** Objects of `r` (in one namespace, or all), sorted by namespace and name. */
  list(r: ResourceType, namespace?: string): KubeObject[] {
    const prefix = `${r.plural}/`;
    const out: KubeObject[] = [];
    for (const [k, o] of this.objects) {
      if (!k.startsWith(prefix)) continue;
      if (r.namespaced && namespace !== undefined && o.metadata?.namespace !== namespace) continue;
      out.push(o);
    }
    return out.sort((a, b) => key(r, a.metadata?.namespace, a.metadata?.name ?? '').localeCompare(key(r, b.metadata?.namespace, b.metadata?.name ?? '')));
  }

  create(r: ResourceType, namespace: string | undefined, body: KubeObject): Result<KubeObject, Status> {
    const checked = this.check(r, namespace, body);
    if (!checked.ok) return checked;
    const { name, ns } = checked.value;
    const k = key(r, ns, name);
    if (this.objects.has(k)) return err(status(409, 'AlreadyExists', `${r.plural} "${name}" already exists`));
    const object = this.stamp(r, body, ns, { uid: randomUUID(), creationTimestamp: new Date().toISOString() });
    this.objects.set(k, object);
    this.record({ rv: this.rv, type: 'ADDED', resource: r, object });
    return ok(object);
  }

  /** Replaces an object. A body carrying a resourceVersion must match the stored one (409). */
  update(r: ResourceType, namespace: string | undefined, name: string, body: KubeObject): Result<KubeObject, Status> {
    const checked = this.check(r, namespace, body);
    if (!checked.ok) return checked;
    if (checked.value.name !== name) return err(status(400, 'BadRequest', `the name in the body (${checked.value.name}) is not ${name}`));
    const k = key(r, checked.value.ns, name);
    const previous = this.objects.get(k);
    if (!previous) return err(status(404, 'NotFound', `${r.plural} "${name}" not found`));
    const wanted = body.metadata?.resourceVersion;
    if (wanted !== undefined && wanted !== '' && wanted !== previous.metadata?.resourceVersion) {
      return err(
        status(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`),
      );
    }
    const normalized = { ...body, metadata: { ...body.metadata, namespace: checked.value.ns } };
    if (sameContent(previous, normalized)) return ok(previous);
    const meta = previous.metadata ?? {};
    const object = this.stamp(r, body, checked.value.ns, { uid: meta.uid, creationTimestamp: meta.creationTimestamp });
    this.objects.set(k, object);
    this.record({ rv: this.rv, type: 'MODIFIED', resource: r, object, previous });
    return ok(object);
  }

  delete(r: ResourceType, namespace: string | undefined, name: string): Result<KubeObject, Status> {
    const k = key(r, r.namespaced ? (namespace ?? 'default') : undefined, name);
    const previous = this.objects.get(k);
    if (!previous) return err(status(404, 'NotFound', `${r.plural} "${name}" not found`));
    this.objects.delete(k);
    this.rv++;
    // DELETED carries the last state of the object, at the version of the deletion.
    const object = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(this.rv) } };
    this.record({ rv: this.rv, type: 'DELETED', resource: r, object });
    return ok(object);
  }

  /**
   * The events of `r` after `since`, oldest first; err when some of them have left the history
   * (the caller answers 410 Expired). `since` above the current version yields nothing yet.
   */
  eventsSince(r: ResourceType, since: number): Result<ChangeEvent[], Status> {
    if (since < this.compactedRv) {
      return err(status(410, 'Expired', `too old resource version: ${since} (${this.compactedRv})`));
    }
    return ok(this.history.filter((e) => e.rv > since && e.resource === r));
  }

  /** Drops the whole history (as an etcd compaction would): every older version now gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  private check(r: ResourceType, namespace: string | undefined, body: KubeObject): Result<{ name: string; ns: string | undefined }, Status> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return err(status(400, 'BadRequest', 'the body is not an object'));
    if (body.kind !== undefined && body.kind !== r.kind) return err(status(400, 'BadRequest', `kind ${String(body.kind)} sent to ${r.plural}`));
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(r)) {
      return err(status(400, 'BadRequest', `apiVersion ${String(body.apiVersion)} sent to ${apiVersionOf(r)} ${r.plural}`));
    }
    const name = body.metadata?.name;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
      return err(status(422, 'Invalid', `metadata.name: Invalid value: ${JSON.stringify(name ?? null)}`));
    }
    if (!r.namespaced) return ok({ name, ns: undefined });
    const bodyNs = body.metadata?.namespace;
    if (namespace !== undefined && bodyNs !== undefined && bodyNs !== namespace) {
      return err(status(400, 'BadRequest', `the namespace of the object (${bodyNs}) does not match the namespace of the request (${namespace})`));
    }
    return ok({ name, ns: namespace ?? bodyNs ?? 'default' });
  }

  private stamp(r: ResourceType, body: KubeObject, ns: string | undefined, keep: Partial<ObjectMeta>): KubeObject {
    this.rv++;
    const metadata: ObjectMeta = { ...body.metadata, ...keep, resourceVersion: String(this.rv) };
    if (ns !== undefined) metadata.namespace = ns;
    else delete metadata.namespace;
    // Deep copy: callers keep no reference into the store.
    return structuredClone({ ...body, apiVersion: apiVersionOf(r), kind: r.kind, metadata });
  }

  private record(event: ChangeEvent): void {
    this.history.push(event);
    if (this.history.length > this.historySize) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    for (const listener of [...this.listeners]) listener(event);
  }
}

function key(r: ResourceType, namespace: string | undefined, name: string): string {
  return r.namespaced ? `${r.plural}/${namespace ?? 'default'}/${name}` : `${r.plural}//${name}`;
}

function withoutServerFields(o: KubeObject): unknown {
  const metadata: Record<string, unknown> = { ...o.metadata };
  for (const f of SERVER_META) delete metadata[f];
  if (metadata.namespace === undefined) delete metadata.namespace;
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = o;
  return { metadata: canonical(metadata), rest: canonical(rest) };
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify(withoutServerFields(a)) === JSON.stringify(withoutServerFields(b));
}

/** Key-sorted copy, so that two objects that differ only in key order compare equal. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
  );
}
