/**
 * The agent's informers, built from @kubernetes/client-node exactly as `makeInformer` builds
 * them (`new ListWatch(path, new Watch(kc), list, false, labelSelector)`), with three additions
 * the library leaves to its user:
 *
 * - Watches ask for BOOKMARKs and a `timeoutSeconds`, and a watch silent for longer than that
 *   (plus a grace) is ended as failed: a stalled server or a half-open connection would
 *   otherwise hang the informer forever (the library sets no deadline on a watch).
 * - Lists have a deadline on the injected clock and follow `continue` pages, so 10,000 services
 *   are not one huge response.
 * - The transport tells its source when a list has been applied and when a watch opened, which is
 *   how the agent knows its view is complete and when to reset its back-off.
 *
 * The node informer uses ListWatch directly because makeInformer takes no field selector.
 *
 * The transport is a seam (`listWatchInformer`): the same ListWatch and the same guards run over
 * the library's HTTP Watch here, and over simulations/inproc/memory-kube.ts in the in-process
 * simulator (no sockets, deliveries in microtasks, every timer on the injected clock).
 *
 * @example
 * const api = new KubeApi({ server: 'http://127.0.0.1:6443', clock, watchTimeoutSeconds: 300, idleGraceMs: 10_000, requestTimeoutMs: 10_000, pageSize: 500 });
 * const src = new KubeSource({ ..., open: api.services() });
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  ListWatch,
  Observable,
  Watch,
  type ConfigurationOptions,
  type KubernetesListObject,
  type KubernetesObject,
  type ObservableMiddleware,
  type V1EndpointSlice,
  type V1Node,
  type V1Service,
} from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { InformerHooks, InformerLike, OpenInformer } from './kube-source.js';

export interface KubeApiOptions {
  /** The API server, e.g. https://10.0.0.1:6443 or the stand-in's http://127.0.0.1:PORT. */
  readonly server: string;
  readonly clock: Clock;
  /** Asked of the server for every watch; it ends the watch then and the informer re-watches. */
  readonly watchTimeoutSeconds: number;
  /** Silence tolerated past watchTimeoutSeconds before a watch counts as dead. */
  readonly idleGraceMs: number;
  /** Deadline of one list page. */
  readonly requestTimeoutMs: number;
  /** Items per list page. */
  readonly pageSize: number;
  /** Bearer token file (re-read every minute) and the server's CA bundle. */
  readonly tokenFile?: string;
  readonly caFile?: string;
}

/** A watch that said nothing, not even a BOOKMARK, for longer than the server was asked to keep it. */
export class WatchIdleError extends Error {
  override readonly name = 'WatchIdleError';
}

/** A list page that did not come back in time. */
export class ListTimeoutError extends Error {
  override readonly name = 'ListTimeoutError';
}

/**
 * A bearer token read from a file and read again at most every minute (a projected
 * ServiceAccount token is rotated in place). Unlike the library's own `tokenFile` provider it
 * trims the file, as client-go does: a token written with a trailing newline would otherwise be
 * an illegal header value and fail every request.
 */
class TokenFileAuth {
  private token = '';
  private readAt = -Infinity;

  constructor(private readonly now: () => number) {}

  isAuthProvider(user: { authProvider?: { name?: string } }): boolean {
    return user.authProvider?.name === TOKEN_FILE_PROVIDER;
  }

  async applyAuthentication(user: { authProvider?: { config?: Record<string, string> } }, opts: { headers?: Record<string, unknown> }): Promise<void> {
    if (this.now() - this.readAt > 60_000) {
      this.token = (await readFile(user.authProvider?.config?.file ?? '', 'utf8')).trim();
      this.readAt = this.now();
    }
    opts.headers = { ...opts.headers, Authorization: `Bearer ${this.token}` };
  }
}

const TOKEN_FILE_PROVIDER = 'infra-offload-token-file';

/**
 * A KubeConfig for one API server: anonymous, or with a bearer token file (re-read every
 * minute) and a CA bundle for https — what a pod's ServiceAccount mounts.
 */
export function kubeConfigFor(server: string, auth: { readonly tokenFile?: string; readonly caFile?: string; readonly clock?: Clock } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (auth.tokenFile) kc.addAuthenticator(new TokenFileAuth(auth.clock ? () => auth.clock!.now() : () => Date.now()));
  kc.loadFromOptions({
    // skipTLSVerify only lets the library accept http:// (it refuses plaintext otherwise).
    clusters: [{ name: 'cluster', server, skipTLSVerify: server.startsWith('http://'), ...(auth.caFile ? { caFile: auth.caFile } : {}) }],
    users: [auth.tokenFile ? { name: 'agent', authProvider: { name: TOKEN_FILE_PROVIDER, config: { file: auth.tokenFile } } } : { name: 'agent' }],
    contexts: [{ name: 'agent', cluster: 'cluster', user: 'agent' }],
    currentContext: 'agent',
  });
  return kc;
}

/** What a watch is made over: the library's Watch (HTTP) has this shape, and so does memory-kube's. */
export interface WatchTransport {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}

/** The guards every watch gets (see the top of this file). */
export interface WatchGuardOptions {
  readonly clock: Clock;
  /** Asked of the server for every watch; it ends the watch then and the informer re-watches. */
  readonly watchTimeoutSeconds: number;
  /** Silence tolerated past watchTimeoutSeconds before a watch counts as dead. */
  readonly idleGraceMs: number;
}

/**
 * An informer as makeInformer builds one (the library's ListWatch, not started), over any
 * transport: `list` gives the whole list (it may register its requests in `pending`, aborted
 * when the informer stops), `transport` the watches, each guarded (dead-man timer, BOOKMARKs,
 * timeoutSeconds, one `done`) and reported to the source's hooks.
 *
 * @example
 * const open = listWatchInformer<V1Service>('/api/v1/services', memoryWatch, () => memoryList(), { clock, watchTimeoutSeconds: 300, idleGraceMs: 10_000 });
 */
export function listWatchInformer<T extends KubernetesObject>(
  path: string,
  transport: WatchTransport,
  list: (pending: Set<AbortController>) => Promise<KubernetesListObject<T>>,
  guard: WatchGuardOptions,
  fieldSelector?: string,
): OpenInformer<T> {
  return (hooks: InformerHooks): InformerLike<T> => {
    const lists = new Set<AbortController>();
    const watch = new GuardedWatch(transport, guard, hooks);
    // ListWatch calls nothing of its Watch but watch(): the guarded transport is one.
    const lw = new ListWatch<T>(path, watch as unknown as Watch, () => list(lists), false, undefined, fieldSelector);
    const stop = async (): Promise<void> => {
      await lw.stop();
      // ListWatch aborts only its latest watch (and no list): end everything we handed out.
      watch.abortAll();
      for (const ac of lists) ac.abort(new Error('informer stopped'));
    };
    return { on: lw.on.bind(lw), start: () => lw.start(), stop };
  };
}

type ListPage<T extends KubernetesObject> = (options: ConfigurationOptions<ObservableMiddleware>, cont: string | undefined) => Promise<KubernetesListObject<T>>;

export class KubeApi {
  private readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;

  constructor(private readonly options: KubeApiOptions) {
    this.kc = kubeConfigFor(options.server, options);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.discovery = this.kc.makeApiClient(DiscoveryV1Api);
  }

  /** This node's Node object only (field selector metadata.name). */
  node(name: string): OpenInformer<V1Node> {
    const fieldSelector = `metadata.name=${name}`;
    return this.informer<V1Node>('/api/v1/nodes', (o, c) => this.core.listNode({ fieldSelector, limit: this.options.pageSize, _continue: c }, o), fieldSelector);
  }

  services(): OpenInformer<V1Service> {
    return this.informer<V1Service>('/api/v1/services', (o, c) =>
      this.core.listServiceForAllNamespaces({ limit: this.options.pageSize, _continue: c }, o),
    );
  }

  endpointSlices(): OpenInformer<V1EndpointSlice> {
    return this.informer<V1EndpointSlice>('/apis/discovery.k8s.io/v1/endpointslices', (o, c) =>
      this.discovery.listEndpointSliceForAllNamespaces({ limit: this.options.pageSize, _continue: c }, o),
    );
  }

  private informer<T extends KubernetesObject>(path: string, page: ListPage<T>, fieldSelector?: string): OpenInformer<T> {
    return listWatchInformer<T>(path, new Watch(this.kc), (lists) => this.listAll(page, lists), this.options, fieldSelector);
  }

  /** Every page of a list, as one list at the first page's resourceVersion (a consistent snapshot). */
  private async listAll<T extends KubernetesObject>(page: ListPage<T>, pending: Set<AbortController>): Promise<KubernetesListObject<T>> {
    const first = await this.withDeadline((o) => page(o, undefined), pending);
    const items = [...first.items];
    for (let cont = first.metadata?._continue; cont; ) {
      const next = await this.withDeadline((o) => page(o, cont), pending);
      items.push(...next.items);
      cont = next.metadata?._continue;
    }
    // The library's cache throws (outside any handler) on an item without metadata: a failed list.
    if (!items.every((i) => isObject(i) && isObject(i.metadata))) throw new Error('malformed list: an item without metadata');
    return { ...first, items };
  }

  private async withDeadline<R>(call: (o: ConfigurationOptions<ObservableMiddleware>) => Promise<R>, pending: Set<AbortController>): Promise<R> {
    const ac = new AbortController();
    pending.add(ac);
    const { clock, requestTimeoutMs } = this.options;
    const timer = clock.setTimeout(() => ac.abort(new ListTimeoutError(`no list answer within ${requestTimeoutMs} ms`)), requestTimeoutMs);
    try {
      return await call({ middleware: [signalMiddleware(ac.signal)], middlewareMergeStrategy: 'append' });
    } catch (e) {
      throw ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : e;
    } finally {
      clock.clearTimeout(timer);
      pending.delete(ac);
    }
  }
}

/** Lets us abort a generated-client request (the library's own pattern: setHeaderMiddleware). */
function signalMiddleware(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (ctx) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
}

/**
 * The library's Watch with a dead-man timer, BOOKMARKs and timeoutSeconds, and exactly one
 * `done` per watch (ListWatch would otherwise restart twice). Watch has the same shape.
 */
class GuardedWatch {
  private readonly open = new Set<AbortController>();

  constructor(
    private readonly inner: WatchTransport,
    private readonly options: WatchGuardOptions,
    private readonly hooks: InformerHooks,
  ) {}

  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // ListWatch calls watch() right after applying a list (or with the one it holds).
    this.hooks.listed();
    const { clock, watchTimeoutSeconds, idleGraceMs } = this.options;
    const own = new AbortController();
    const idleMs = watchTimeoutSeconds * 1000 + idleGraceMs;
    let inner: AbortController | undefined;
    let idle: TimerHandle | undefined;
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      if (idle) clock.clearTimeout(idle);
      this.open.delete(own);
      inner?.abort();
      done(err);
    };
    const arm = (): void => {
      if (idle) clock.clearTimeout(idle);
      idle = clock.setTimeout(() => finish(new WatchIdleError(`watch ${path} silent for ${idleMs} ms`)), idleMs);
    };
    this.open.add(own);
    own.signal.addEventListener('abort', () => finish(new Error(`watch ${path} aborted`)), { once: true });
    arm();
    const onEvent = (phase: string, obj: unknown, raw?: unknown): void => {
      if (finished) return;
      arm();
      // The library applies the event to its cache in an async handler that rejects on a
      // malformed object (no metadata, null): that is a failed watch, restarted with back-off,
      // not an unhandled rejection that kills the agent (found by simulations/fuzz/evil-kube.ts).
      if (!isObject(obj) || (phase !== 'ERROR' && !isObject(obj.metadata))) return finish(new Error(`watch ${path}: malformed ${String(phase)} event`));
      try {
        const out: unknown = callback(phase, obj, raw);
        if (out instanceof Promise) out.catch((e: unknown) => finish(e));
      } catch (e) {
        finish(e);
      }
    };
    try {
      inner = await this.inner.watch(path, { ...query, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds }, onEvent, finish);
    } catch (e) {
      finish(e);
    }
    if (finished) inner?.abort();
    else this.hooks.watching();
    return own;
  }

  abortAll(): void {
    for (const ac of [...this.open]) ac.abort();
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
