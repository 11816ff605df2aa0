/**
 * A small HTTP client for the Kubernetes API, as kubectl uses it: apply (create, or replace the
 * live object), delete, get, list — plus the stand-in's knobs. Tests, bin/kubectl-lite and the
 * local node change objects through this, over HTTP, never by reaching into the stand-in.
 *
 * Every call returns a Result; the error is the server's Status (or a local one for a network
 * failure), never a throw.
 *
 * @example
 * const kube = new KubeClient('http://127.0.0.1:6443');
 * await kube.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: {…} });
 * await kube.delete('services', 'default', 'web');
 * await kube.knob('outage', { seconds: 3 });
 */
import { err, ok, toError, type Result } from '../../core/result.js';
import { collectionPath, itemPath, resourceByName, resourceFor, type ResourceType } from './resources.js';
import { status, type KubeObject, type Status } from './store.js';
import type { AccessSnapshot } from './access-log.js';

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ListResult {
  readonly resourceVersion: string;
  readonly items: KubeObject[];
}

export type Knob = 'drop-watches' | 'expire-watches' | 'stall' | 'outage' | 'compact' | 'config';

export class KubeClient {
  constructor(
    readonly server: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Creates the object, or replaces the live one with it (kubectl apply, without three-way merge). */
  async apply(object: KubeObject): Promise<Result<{ action: ApplyAction; object: KubeObject }, Status>> {
    const r = this.resourceOf(object);
    if (!r.ok) return r;
    const ns = object.metadata?.namespace;
    const name = object.metadata?.name ?? '';
    const live = await this.call('GET', itemPath(r.value, ns, name));
    if (!live.ok && live.error.code !== 404) return live;
    if (!live.ok) {
      const created = await this.call('POST', collectionPath(r.value, r.value.namespaced ? (ns ?? 'default') : undefined), object);
      return created.ok ? ok({ action: 'created', object: created.value }) : created;
    }
    const rv = live.value.metadata?.resourceVersion;
    const body = { ...object, metadata: { ...object.metadata, resourceVersion: rv } };
    const replaced = await this.call('PUT', itemPath(r.value, ns, name), body);
    if (!replaced.ok) return replaced;
    const action = replaced.value.metadata?.resourceVersion === rv ? 'unchanged' : 'configured';
    return ok({ action, object: replaced.value });
  }

  /** Deletes one object by resource name ("services", "svc", "EndpointSlice"…). */
  async delete(resource: string, namespace: string | undefined, name: string): Promise<Result<KubeObject, Status>> {
    const r = resourceByName(resource);
    if (!r) return err(status(404, 'NotFound', `the server doesn't have a resource type "${resource}"`));
    return this.call('DELETE', itemPath(r, namespace, name));
  }

  /** Deletes the object a manifest describes. */
  async deleteObject(object: KubeObject): Promise<Result<KubeObject, Status>> {
    const r = this.resourceOf(object);
    if (!r.ok) return r;
    return this.call('DELETE', itemPath(r.value, object.metadata?.namespace, object.metadata?.name ?? ''));
  }

  async get(resource: string, namespace: string | undefined, name: string): Promise<Result<KubeObject, Status>> {
    const r = resourceByName(resource);
    if (!r) return err(status(404, 'NotFound', `the server doesn't have a resource type "${resource}"`));
    return this.call('GET', itemPath(r, namespace, name));
  }

  async list(resource: string, options: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Promise<Result<ListResult, Status>> {
    const r = resourceByName(resource);
    if (!r) return err(status(404, 'NotFound', `the server doesn't have a resource type "${resource}"`));
    const q = new URLSearchParams();
    if (options.labelSelector) q.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) q.set('fieldSelector', options.fieldSelector);
    const path = collectionPath(r, options.namespace) + (q.size > 0 ? `?${q.toString()}` : '');
    const l = await this.call('GET', path);
    if (!l.ok) return l;
    const list = l.value as { metadata?: { resourceVersion?: string }; items?: KubeObject[] };
    return ok({ resourceVersion: list.metadata?.resourceVersion ?? '', items: list.items ?? [] });
  }

  /** Turns one of the stand-in's knobs (POST /_standin/<knob>). */
  async knob(name: Knob, params: Record<string, string | number> = {}): Promise<Result<Record<string, unknown>, Status>> {
    return this.call('POST', `/_standin/${name}`, params);
  }

  /** The stand-in's counters (GET /_standin/stats). */
  async stats(): Promise<Result<Record<string, unknown>, Status>> {
    return this.call('GET', '/_standin/stats');
  }

  /** The stand-in's access log (GET /_standin/access): user × verb × resource × API group, counted. */
  async access(): Promise<Result<AccessSnapshot, Status>> {
    const r = await this.call('GET', '/_standin/access');
    return r.ok ? ok(r.value as unknown as AccessSnapshot) : r;
  }

  private resourceOf(object: KubeObject): Result<ResourceType, Status> {
    const r = resourceFor(String(object.apiVersion ?? ''), String(object.kind ?? ''));
    if (!r) return err(status(400, 'BadRequest', `no resource for apiVersion ${String(object.apiVersion)} kind ${String(object.kind)}`));
    if (!object.metadata?.name) return err(status(400, 'BadRequest', 'metadata.name is required'));
    return ok(r);
  }

  private async call(method: string, path: string, body?: unknown): Promise<Result<KubeObject, Status>> {
    let res: Response;
    try {
      res = await fetch(this.server + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      return err(status(503, 'ServiceUnavailable', `${method} ${path}: ${toError(e).message}`));
    }
    let value: unknown;
    try {
      value = await res.json();
    } catch (e) {
      return err(status(res.status, 'InternalError', `${method} ${path}: answer is not JSON: ${toError(e).message}`));
    }
    if (res.ok) return ok(value as KubeObject);
    const s = value as Partial<Status>;
    return err(status(res.status, s.reason ?? 'Unknown', s.message ?? `${method} ${path}: HTTP ${res.status}`));
  }
}
