/**
 * A Kubernetes API in memory for in-process agents: Nodes, Services and EndpointSlices with one
 * growing resourceVersion, a bounded history of changes that watches replay from, and the
 * list/watch semantics the agent's informers expect — the library's own ListWatch with the
 * agent's guards (kube-informer.ts `listWatchInformer`) runs over it unchanged, only the
 * transport is memory instead of HTTP.
 *
 * Deterministic: deliveries are microtasks, watch timeouts and BOOKMARKs are on the injected
 * clock, uids and creation timestamps come from the resourceVersion and the clock; no socket,
 * no timer of its own, no randomness. Faults, as the process-mode stand-in (simulations/kube/)
 * has them:
 *
 * - `dropWatches('reset')`: every open watch fails (the informer restarts after its back-off);
 *   `dropWatches('close')`: every watch ends cleanly (the informer watches again at once);
 * - `expireWatches()`: the history is forgotten and every watch gets an ERROR 410 Expired — the
 *   informer must list again (`compact()` alone makes only the next watch from an old version
 *   learn it: an ERROR event, or HTTP 410 with `expiredWatch: 'http'`);
 * - `setOutage(true)`: watches fail and every list and watch is refused (connection refused)
 *   until `setOutage(false)`.
 *
 * Objects are changed as kubectl would (`apply`, `delete`); a bad object or a missing one gets a
 * Kubernetes `Status` error and changes nothing. Objects handed out are copies.
 *
 * @example
 * const kube = new MemoryKube({ clock });
 * kube.apply(nodeObject('node-1', '192.0.2.10', '10.244.1.0/24'));
 * kube.apply(service('web', '10.96.0.10', [{ name: 'http', port: 80, targetPort: 8080 }]));
 * agentTree({ ...deps, informers: (k) => kube.informers({ clock, ...k }) });
 * kube.expireWatches(); // every agent lists again
 */
import type { KubernetesListObject, KubernetesObject, V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { err, ok, type Result } from '../../core/result.js';
import { listWatchInformer, type WatchGuardOptions, type WatchTransport } from '../../actors/agent/kube-informer.js';
import type { OpenInformer } from '../../actors/agent/kube-source.js';
import type { InformerFactory } from '../../actors/agent/kube-watchers.js';
import { apiVersionOf, collectionPath, parseResourcePath, RESOURCES, type ResourceType } from '../kube/resources.js';
import { status, type KubeObject, type Status } from '../kube/store.js';

export interface MemoryKubeOptions {
  readonly clock: Clock;
  /** Change events kept for watches to replay; a watch from an older version gets 410. Default 1000. */
  readonly historySize?: number;
  /** How a watch from a too-old version learns it: an ERROR event (kube-apiserver's way; the default) or HTTP 410. */
  readonly expiredWatch?: 'event' | 'http';
  /** A BOOKMARK on every open watch that asked for them, every this many ms (0, the default: none). */
  readonly bookmarkIntervalMs?: number;
}

type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface ChangeEvent {
  readonly rv: number;
  readonly type: ChangeType;
  readonly resource: ResourceType;
  readonly object: KubeObject;
}

/** Whose informers these are: once `killed` (an Incarnation of incarnation.ts), its watches end silently and its lists never answer. */
export interface KubeClientLife {
  readonly killed: boolean;
}

/** Requests by verb and resource ("list nodes": 3), refused ones included. */
export type KubeRequestCounts = Record<string, number>;

/** The resources served: what the agent watches. */
const SERVED = new Set(['Node', 'Service', 'EndpointSlice']);

/** Fields the server owns: ignored when deciding whether an update changes anything. */
const SERVER_META = ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields'];

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** What a refused connection looks like to the informer (node-fetch's error carries the errno code). */
function refused(): Error {
  return Object.assign(new Error('request to memory-kube failed, reason: connect ECONNREFUSED'), { code: 'ECONNREFUSED', errno: 'ECONNREFUSED' });
}

export class MemoryKube {
  private rv = 1;
  private readonly objects = new Map<string, KubeObject>();
  private history: ChangeEvent[] = [];
  private compactedRv = 0;
  private readonly open = new Set<MemoryWatch>();
  private down = false;
  private readonly historySize: number;
  /** Requests by verb and resource, e.g. `list services`, `watch nodes`. */
  readonly requests: KubeRequestCounts = {};

  constructor(private readonly options: MemoryKubeOptions) {
    this.historySize = Math.max(1, options.historySize ?? 1000);
  }

  /** The current global resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Open watches now. */
  get openWatches(): number {
    return this.open.size;
  }

  /** Whether the API is refusing connections (`setOutage`). */
  get outage(): boolean {
    return this.down;
  }

  /**
   * Creates the object or replaces it (kubectl apply): a change bumps the resourceVersion and is
   * told to every matching watch; the same content again is no change.
   */
  apply(body: KubeObject): Result<KubeObject, Status> {
    const checked = this.check(body);
    if (!checked.ok) return checked;
    const { resource, namespace, name } = checked.value;
    const k = key(resource, namespace, name);
    const previous = this.objects.get(k);
    if (previous && sameContent(previous, { ...body, metadata: { ...body.metadata, ...(namespace !== undefined ? { namespace } : {}) } })) return ok(clone(previous));
    this.rv++;
    const meta = previous?.metadata;
    const metadata = {
      ...body.metadata,
      uid: meta?.uid ?? uidOf(this.rv),
      creationTimestamp: meta?.creationTimestamp ?? new Date(this.options.clock.now()).toISOString(),
      resourceVersion: String(this.rv),
    };
    if (namespace !== undefined) metadata.namespace = namespace;
    else delete metadata.namespace;
    const object = clone({ ...body, apiVersion: apiVersionOf(resource), kind: resource.kind, metadata });
    this.objects.set(k, object);
    this.record({ rv: this.rv, type: previous ? 'MODIFIED' : 'ADDED', resource, object });
    return ok(clone(object));
  }

  /** Deletes an object (404 NotFound when there is none). */
  delete(kind: string, namespace: string | undefined, name: string): Result<KubeObject, Status> {
    const resource = RESOURCES.find((r) => r.kind === kind && SERVED.has(r.kind));
    if (!resource) return err(status(404, 'NotFound', `the server could not find the requested resource (kind ${kind})`));
    const k = key(resource, resource.namespaced ? (namespace ?? 'default') : undefined, name);
    const previous = this.objects.get(k);
    if (!previous) return err(status(404, 'NotFound', `${resource.plural} "${name}" not found`));
    this.objects.delete(k);
    this.rv++;
    // DELETED carries the last state of the object, at the version of the deletion.
    const object = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(this.rv) } };
    this.record({ rv: this.rv, type: 'DELETED', resource, object });
    return ok(clone(object));
  }

  /** One object, a copy. */
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const resource = RESOURCES.find((r) => r.kind === kind);
    if (!resource) return undefined;
    const o = this.objects.get(key(resource, resource.namespaced ? (namespace ?? 'default') : undefined, name));
    return o && clone(o);
  }

  /** Forgets the change history (an etcd compaction): a watch from an older version gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /** Ends every open watch: with an error (`reset`: the informer backs off) or cleanly (`close`: it watches again). */
  dropWatches(mode: 'reset' | 'close' = 'reset'): void {
    for (const w of [...this.open]) w.end(mode === 'reset' ? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) : null);
  }

  /** Forgets the history and tells every open watch 410 Expired: every informer lists again. */
  expireWatches(): void {
    this.compact();
    for (const w of [...this.open]) {
      w.send('ERROR', status(410, 'Expired', 'The resourceVersion for the provided watch is too old.'));
      w.end(null);
    }
  }

  /** An outage: open watches fail, and lists and watches are refused until `setOutage(false)`. */
  setOutage(on: boolean): void {
    this.down = on;
    if (on) for (const w of [...this.open]) w.end(refused());
  }

  /**
   * The agent's informers over this API (a factory for agentTree's `informers`), with the
   * agent's guards: `watchTimeoutSeconds` asked of every watch, a watch silent past it plus
   * `idleGraceMs` counted as dead, both on `clock`.
   *
   * `life`, when given, is the agent's Incarnation: after its kill, its watches end silently on
   * their next delivery and its lists are never answered (a dead process reads nothing).
   *
   * @example
   * agentTree({ ...deps, informers: (k) => kube.informers({ clock, ...k }) });
   */
  informers(guard: WatchGuardOptions, life?: KubeClientLife): InformerFactory {
    const transport: WatchTransport = { watch: (path, query, callback, done) => Promise.resolve(this.watch(path, query, callback, done, life)) };
    const informer = <T extends KubernetesObject>(kind: string, name?: string): OpenInformer<T> => {
      const resource = RESOURCES.find((r) => r.kind === kind)!;
      const selector = name === undefined ? undefined : `metadata.name=${name}`;
      const list = (): Promise<KubernetesListObject<T>> => (life?.killed ? new Promise(() => undefined) : this.list<T>(resource, name));
      return listWatchInformer<T>(collectionPath(resource), transport, list, guard, selector);
    };
    return {
      node: (name) => informer<V1Node>('Node', name),
      services: () => informer<V1Service>('Service'),
      endpointSlices: () => informer<V1EndpointSlice>('EndpointSlice'),
    };
  }

  /** A list at the current version (one page: memory has no size to page for). */
  private list<T extends KubernetesObject>(resource: ResourceType, name: string | undefined): Promise<KubernetesListObject<T>> {
    return Promise.resolve().then(() => {
      this.count('list', resource);
      if (this.down) throw refused();
      const prefix = `${resource.plural}/`;
      const items = [...this.objects.entries()]
        .filter(([k, o]) => k.startsWith(prefix) && (name === undefined || o.metadata?.name === name))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, o]) => clone(o));
      return { apiVersion: apiVersionOf(resource), kind: resource.listKind, metadata: { resourceVersion: String(this.rv) }, items } as unknown as KubernetesListObject<T>;
    });
  }

  /** Opens a watch as the HTTP transport would: refused, expired, or replaying then live. */
  private watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
    life: KubeClientLife | undefined,
  ): AbortController {
    const controller = new AbortController();
    if (life?.killed) return controller;
    const parsed = parseResourcePath(path);
    const resource = parsed && SERVED.has(parsed.resource.kind) && parsed.name === undefined ? parsed.resource : undefined;
    const fail = (e: unknown): AbortController => {
      queueMicrotask(() => done(e));
      return controller;
    };
    if (!resource) return fail(Object.assign(new Error('Not Found'), { statusCode: 404 }));
    this.count('watch', resource);
    if (this.down) return fail(refused());
    const selector = typeof query.fieldSelector === 'string' ? /^metadata\.name=(.+)$/.exec(query.fieldSelector)?.[1] : undefined;
    const from = Number(query.resourceVersion ?? '');
    const timeoutSeconds = Number(query.timeoutSeconds ?? 0);
    const w = new MemoryWatch(resource, selector, callback, done, this.options.clock, () => this.open.delete(w), life);
    controller.signal.addEventListener('abort', () => w.abort(), { once: true });
    const since = query.resourceVersion === undefined || query.resourceVersion === '' || !Number.isFinite(from) || from <= 0 ? this.rv : from;
    if (since < this.compactedRv) {
      if (this.options.expiredWatch === 'http') return fail(Object.assign(new Error('Gone'), { statusCode: 410 }));
      w.send('ERROR', status(410, 'Expired', `too old resource version: ${since} (${this.compactedRv})`));
      w.end(null);
      return controller;
    }
    this.open.add(w);
    for (const e of this.history) if (e.rv > since && e.resource === resource) w.tell(e);
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) w.endAfter(timeoutSeconds * 1000);
    const every = this.options.bookmarkIntervalMs ?? 0;
    if (every > 0 && query.allowWatchBookmarks === true) w.bookmarkEvery(every, () => this.rv);
    return controller;
  }

  private record(event: ChangeEvent): void {
    this.history.push(event);
    if (this.history.length > this.historySize) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    for (const w of this.open) if (w.resource === event.resource) w.tell(event);
  }

  private count(verb: string, resource: ResourceType): void {
    const k = `${verb} ${resource.plural}`;
    this.requests[k] = (this.requests[k] ?? 0) + 1;
  }

  private check(body: KubeObject): Result<{ resource: ResourceType; namespace: string | undefined; name: string }, Status> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return err(status(400, 'BadRequest', 'the body is not an object'));
    const resource = RESOURCES.find((r) => r.kind === body.kind && SERVED.has(r.kind));
    if (!resource) return err(status(400, 'BadRequest', `kind ${String(body.kind)} is not served`));
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(resource)) {
      return err(status(400, 'BadRequest', `apiVersion ${String(body.apiVersion)} sent to ${apiVersionOf(resource)} ${resource.plural}`));
    }
    const name = body.metadata?.name;
    if (typeof name !== 'string' || !NAME.test(name)) return err(status(422, 'Invalid', `metadata.name: Invalid value: ${JSON.stringify(name ?? null)}`));
    const ns = body.metadata?.namespace;
    if (ns !== undefined && (typeof ns !== 'string' || !NAME.test(ns))) return err(status(422, 'Invalid', `metadata.namespace: Invalid value: ${JSON.stringify(ns)}`));
    return ok({ resource, namespace: resource.namespaced ? (ns ?? 'default') : undefined, name });
  }
}

/** One open watch: events in order, each in a microtask; its end after them. */
class MemoryWatch {
  private ended = false;
  private aborted = false;
  private timers: TimerHandle[] = [];

  constructor(
    readonly resource: ResourceType,
    private readonly name: string | undefined,
    private readonly callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    private readonly done: (err: unknown) => void,
    private readonly clock: Clock,
    private readonly onClose: () => void,
    private readonly life: KubeClientLife | undefined,
  ) {}

  /** A change, if it concerns this watch (its resource, and its name under a field selector). */
  tell(e: ChangeEvent): void {
    if (this.name === undefined || e.object.metadata?.name === this.name) this.send(e.type, e.object);
  }

  send(type: string, object: unknown): void {
    if (this.life?.killed) this.abort();
    if (this.ended) return;
    const copy = clone(object);
    queueMicrotask(() => {
      if (!this.aborted) this.callback(type, copy, { type, object: copy });
    });
  }

  /** The server ends the watch: `null` cleanly, an error as a broken connection. */
  end(error: unknown): void {
    if (this.life?.killed) this.abort();
    if (this.ended) return;
    this.close();
    queueMicrotask(() => {
      if (!this.aborted) this.done(error);
    });
  }

  /** The client went away: nothing more is delivered. */
  abort(): void {
    this.aborted = true;
    this.close();
  }

  endAfter(ms: number): void {
    this.timers.push(this.clock.setTimeout(() => this.end(null), ms));
  }

  bookmarkEvery(ms: number, rv: () => number): void {
    const tick = (): void => {
      if (this.ended) return;
      this.send('BOOKMARK', { kind: this.resource.kind, apiVersion: apiVersionOf(this.resource), metadata: { resourceVersion: String(rv()) } });
      this.timers.push(this.clock.setTimeout(tick, ms));
    };
    this.timers.push(this.clock.setTimeout(tick, ms));
  }

  private close(): void {
    this.ended = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers = [];
    this.onClose();
  }
}

function key(r: ResourceType, namespace: string | undefined, name: string): string {
  return r.namespaced ? `${r.plural}/${namespace ?? 'default'}/${name}` : `${r.plural}//${name}`;
}

/** A uid that is the same in every run: from the resourceVersion of the object's creation. */
function uidOf(rv: number): string {
  return `00000000-0000-4000-8000-${rv.toString(16).padStart(12, '0')}`;
}

function clone<T>(o: T): T {
  return structuredClone(o);
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify(withoutServerFields(a)) === JSON.stringify(withoutServerFields(b));
}

function withoutServerFields(o: KubeObject): unknown {
  const metadata: Record<string, unknown> = { ...o.metadata };
  for (const f of SERVER_META) delete metadata[f];
  if (metadata.namespace === undefined) delete metadata.namespace;
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = o;
  return { metadata: canonical(metadata), rest: canonical(rest) };
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
