/**
 * The Kubernetes API server stand-in: the real HTTP list/watch protocol for Nodes, Services,
 * EndpointSlices and Pods, served to the real @kubernetes/client-node, with knobs that make it
 * misbehave the way API servers do.
 *
 * - list: `GET <collection>` → `…List` with `metadata.resourceVersion`; `limit`/`continue`,
 *   `labelSelector`, `fieldSelector`.
 * - watch: `GET <collection>?watch=1&resourceVersion=N` → newline-delimited JSON events;
 *   `allowWatchBookmarks`, `timeoutSeconds`; a version older than the bounded history gets 410
 *   Expired, as an ERROR event (default) or as the HTTP status (`expiredWatch: 'http'`).
 * - create (POST collection), replace (PUT item), delete (DELETE item), get (GET item).
 * - knobs, under `/_standin/`: `drop-watches` (cut every open watch), `expire-watches` (send
 *   them a 410 ERROR), `stall?seconds=N` (hold requests and events), `outage?seconds=N` (close
 *   the listener and every connection), `compact` (forget the history), `stats`, `access` (the
 *   access log: who asked for which verb on which resource, access-log.ts).
 *
 * An optional admin listener serves the same API but is exempt from every knob, so a test (or
 * the local node) can keep changing objects while the main listener is away.
 *
 * @example
 * const api = new KubeApiStandin({ historySize: 100 });
 * const port = await api.listen('127.0.0.1', 0);
 * // … clients use http://127.0.0.1:<port> …
 * await api.close();
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { toError } from '../../core/result.js';
import { parseResourcePath, type ParsedPath } from './resources.js';
import { ObjectStore, status, type KubeObject, type Status } from './store.js';
import { send as json, StandinRequests, type RequestContext } from './requests.js';
import type { WatchStream } from './watch-stream.js';
import { AccessLog, requestAttributes, requestUser, type AccessSnapshot, type RequestAttributes } from './access-log.js';

export interface StandinOptions {
  /** Change events kept for watches to replay (older versions get 410). Default 1000. */
  readonly historySize?: number;
  /** Interval of BOOKMARKs on watches that allow them. Default 1000 ms. */
  readonly bookmarkIntervalMs?: number;
  /** Watch length when the client gives no timeoutSeconds. Default 1800 s. */
  readonly defaultWatchTimeoutS?: number;
  /** How a watch from a too-old version learns it: an ERROR event (default) or HTTP 410. */
  readonly expiredWatch?: 'event' | 'http';
  readonly clock?: Clock;
  /** Where the stand-in reports what it does (one line per request at most). */
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Bearer tokens and their users (kube-apiserver's --token-auth-file): on the main listener a
   * token not in the table is refused with 401. Without it every request is let in, and recorded
   * as `system:anonymous` or by a digest of its token (access-log.ts).
   */
  readonly tokens?: ReadonlyMap<string, string>;
  /** The access log (GET /_standin/access): distinct entries kept, and a hook per request. */
  readonly accessLog?: { readonly maxEntries?: number; readonly onRecord?: (attrs: RequestAttributes) => void };
}

export interface StandinStats {
  readonly resourceVersion: number;
  readonly oldestWatchable: number;
  readonly objects: Record<string, number>;
  readonly openWatches: Record<string, number>;
  /** Requests by verb and resource ("list services", "watch nodes"…), main listener only. */
  readonly requests: Record<string, number>;
  readonly stalled: boolean;
  readonly outage: boolean;
}

interface Listener {
  readonly server: Server;
  readonly sockets: Set<Socket>;
  host: string;
  port: number;
}

const MAX_BODY = 4 << 20;

export class KubeApiStandin {
  private readonly store: ObjectStore;
  private readonly clock: Clock;
  private readonly requests: StandinRequests;
  private readonly watches = new Set<WatchStream>();
  private readonly counts = new Map<string, number>();
  /** Who asked for what (verb × resource × API group, per user): see access-log.ts. */
  readonly access: AccessLog;
  private main: Listener | undefined;
  private admin: Listener | undefined;
  private stallUntil = 0;
  private stallTimer: TimerHandle | undefined;
  private stallWaiters: (() => void)[] = [];
  private outageTimer: TimerHandle | undefined;
  /** While the listener is closed, something must keep the process alive (clock timers are unref'd). */
  private keepAlive: NodeJS.Timeout | undefined;
  private closing = false;
  /** Can be changed at run time (`POST /_standin/config {"expiredWatch":"http"}`). */
  expiredWatch: 'event' | 'http';

  constructor(private readonly options: StandinOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.expiredWatch = options.expiredWatch ?? 'event';
    this.store = new ObjectStore({ historySize: options.historySize ?? 1000 });
    this.access = new AccessLog(options.accessLog?.maxEntries, options.accessLog?.onRecord);
    this.requests = new StandinRequests({
      store: this.store,
      clock: this.clock,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
      defaultWatchTimeoutS: options.defaultWatchTimeoutS ?? 1800,
      expiredWatch: () => this.expiredWatch,
      stalled: () => this.stalled,
      watches: this.watches,
    });
    this.store.subscribe((e) => {
      for (const w of this.watches) w.offer(e);
    });
  }

  get stalled(): boolean {
    return this.clock.now() < this.stallUntil;
  }

  get outage(): boolean {
    return this.outageTimer !== undefined;
  }

  /** Listens for API clients; returns the port (pass 0 for a free one). */
  async listen(host: string, port: number): Promise<number> {
    this.main = await this.open(host, port, false);
    return this.main.port;
  }

  /** Listens for tests and tools on a second port that no knob affects. */
  async listenAdmin(host: string, port: number): Promise<number> {
    this.admin = await this.open(host, port, true);
    return this.admin.port;
  }

  /** Cuts every open watch of the main listener: 'reset' breaks the connection, 'close' ends it cleanly. */
  dropWatches(mode: 'reset' | 'close' = 'reset'): number {
    const victims = [...this.watches].filter((w) => !w.admin);
    for (const w of victims) {
      if (mode === 'close') w.end();
      else w.destroy();
    }
    return victims.length;
  }

  /** Sends every open watch of the main listener a 410 ERROR event and ends it. */
  expireWatches(): number {
    const victims = [...this.watches].filter((w) => !w.admin);
    for (const w of victims) w.expire(status(410, 'Expired', `too old resource version: ${this.store.oldestWatchable}`));
    return victims.length;
  }

  /** Forgets the event history: every watch from an older version now gets 410. */
  compact(): void {
    this.store.compact();
  }

  /** Holds new requests and watch events of the main listener for `ms`; they resume after. */
  stall(ms: number): void {
    this.stallUntil = Math.max(this.stallUntil, this.clock.now() + ms);
    if (this.stallTimer) this.clock.clearTimeout(this.stallTimer);
    this.stallTimer = this.clock.setTimeout(() => this.unstall(), this.stallUntil - this.clock.now());
  }

  /** Closes the main listener and every connection on it for `ms`, then listens again on the same port. */
  async goAway(ms: number): Promise<void> {
    const main = this.main;
    if (!main) return;
    if (this.outageTimer) this.clock.clearTimeout(this.outageTimer);
    this.outageTimer = this.clock.setTimeout(() => void this.comeBack(), ms);
    this.keepAlive ??= setInterval(() => undefined, 60_000);
    if (!main.server.listening) return;
    const closed = new Promise<void>((resolve) => main.server.close(() => resolve()));
    for (const w of [...this.watches]) if (!w.admin) w.destroy();
    for (const s of main.sockets) s.destroy();
    await closed;
  }

  stats(): StandinStats {
    const objects: Record<string, number> = {};
    const openWatches: Record<string, number> = {};
    for (const r of this.requests.resources()) objects[r.plural] = this.store.list(r).length;
    for (const w of this.watches) if (!w.admin) openWatches[w.resource.plural] = (openWatches[w.resource.plural] ?? 0) + 1;
    return {
      resourceVersion: this.store.resourceVersion,
      oldestWatchable: this.store.oldestWatchable,
      objects,
      openWatches,
      requests: Object.fromEntries(this.counts),
      stalled: this.stalled,
      outage: this.outage,
    };
  }

  /** Ends every watch, closes both listeners and clears every timer. */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of [this.stallTimer, this.outageTimer]) if (t) this.clock.clearTimeout(t);
    this.outageTimer = undefined;
    clearInterval(this.keepAlive);
    this.unstall();
    for (const w of [...this.watches]) w.destroy();
    await Promise.all(
      [this.main, this.admin].map(async (l) => {
        if (!l) return;
        const closed = l.server.listening ? new Promise<void>((resolve) => l.server.close(() => resolve())) : Promise.resolve();
        for (const s of l.sockets) s.destroy();
        await closed;
      }),
    );
  }

  private async open(host: string, port: number, admin: boolean): Promise<Listener> {
    const server = createServer((req, res) => void this.handle(req, res, admin));
    const listener: Listener = { server, sockets: new Set(), host, port };
    server.on('connection', (s) => {
      listener.sockets.add(s);
      s.once('close', () => listener.sockets.delete(s));
    });
    await listenOn(server, host, port);
    const address = server.address();
    listener.port = typeof address === 'object' && address ? address.port : port;
    return listener;
  }

  private async comeBack(): Promise<void> {
    this.outageTimer = undefined;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    const main = this.main;
    if (!main || this.closing) return;
    try {
      await listenOn(main.server, main.host, main.port);
      this.log('outage over: listening again', { port: main.port });
    } catch (e) {
      this.log('cannot listen again after the outage', { err: toError(e).message });
    }
  }

  private unstall(): void {
    this.stallTimer = undefined;
    this.stallUntil = 0;
    const waiters = this.stallWaiters;
    this.stallWaiters = [];
    for (const w of waiters) w();
    for (const w of this.watches) w.flush();
  }

  private whenUnstalled(): Promise<void> {
    return this.stalled ? new Promise((resolve) => this.stallWaiters.push(resolve)) : Promise.resolve();
  }

  private async handle(req: IncomingMessage, res: ServerResponse, admin: boolean): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://standin');
      if (url.pathname.startsWith('/_standin/')) return await this.knob(req, res, url);
      if (!this.authenticate(req, url, admin)) return json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      if (!admin) await this.whenUnstalled();
      if (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez') return text(res, 200, 'ok');
      if (url.pathname === '/version') return json(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.0-standin' });
      const path = parseResourcePath(url.pathname);
      if (!path) return json(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
      const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req) : undefined;
      const ctx: RequestContext = { req, res, url, path, admin, body };
      if (!admin) this.count(req.method ?? 'GET', url, path);
      this.requests.handle(ctx);
    } catch (e) {
      const s = e instanceof BodyError ? e.status : status(500, 'InternalError', toError(e).message);
      if (!res.headersSent) json(res, s.code, s);
      else res.destroy();
    }
  }

  /** Records the request in the access log; false when its bearer token is refused (main listener only). */
  private authenticate(req: IncomingMessage, url: URL, admin: boolean): boolean {
    const user = requestUser(req.headers.authorization, this.options.tokens);
    const refused = user === undefined && !admin;
    const attrs = requestAttributes(req.method ?? 'GET', url, parseResourcePath(url.pathname), user ?? '(invalid token)', admin ? 'admin' : 'main');
    this.access.record(attrs);
    return !refused;
  }

  /** The access log so far (also GET /_standin/access). */
  accessLog(): AccessSnapshot {
    return this.access.snapshot();
  }

  private count(method: string, url: URL, path: ParsedPath): void {
    const watching = url.searchParams.get('watch');
    const verb =
      method === 'GET'
        ? watching === '1' || watching === 'true'
          ? 'watch'
          : path.name === undefined
            ? 'list'
            : 'get'
        : method.toLowerCase();
    const k = `${verb} ${path.resource.plural}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  private async knob(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.pathname.slice('/_standin/'.length);
    if (name === 'stats' && req.method === 'GET') return json(res, 200, this.stats());
    if (name === 'access' && req.method === 'GET') return json(res, 200, this.accessLog());
    if (req.method !== 'POST') return json(res, 405, status(405, 'MethodNotAllowed', `POST /_standin/${name}`));
    const body = ((await readBody(req)) ?? {}) as Record<string, unknown>;
    const param = (k: string): string | undefined => url.searchParams.get(k) ?? scalar(body[k]);
    const seconds = Number(param('seconds') ?? '0');
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) return json(res, 400, status(400, 'BadRequest', 'seconds: 0–3600'));
    switch (name) {
      case 'drop-watches':
        return json(res, 200, { dropped: this.dropWatches(param('mode') === 'close' ? 'close' : 'reset') });
      case 'expire-watches':
        return json(res, 200, { expired: this.expireWatches() });
      case 'compact':
        this.compact();
        return json(res, 200, { oldestWatchable: this.store.oldestWatchable });
      case 'stall':
        this.stall(seconds * 1000);
        return json(res, 200, { stalledForMs: seconds * 1000 });
      case 'outage':
        // Answer first: the caller may be on the main listener, which is about to go.
        json(res, 200, { outageForMs: seconds * 1000 });
        if (!res.writableFinished) await new Promise((resolve) => res.once('finish', resolve));
        await this.goAway(seconds * 1000);
        return;
      case 'config': {
        const mode = param('expiredWatch');
        if (mode !== undefined && mode !== 'event' && mode !== 'http') {
          return json(res, 400, status(400, 'BadRequest', 'expiredWatch: event | http'));
        }
        if (mode) this.expiredWatch = mode;
        return json(res, 200, { expiredWatch: this.expiredWatch });
      }
      default:
        return json(res, 404, status(404, 'NotFound', `no knob "${name}"`));
    }
  }

  private log(message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(message, fields);
  }
}

/** A knob parameter from a JSON body: numbers and strings only. */
function scalar(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

class BodyError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
  }
}

async function readBody(req: IncomingMessage): Promise<KubeObject | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BodyError(status(413, 'RequestEntityTooLarge', `body over ${MAX_BODY} bytes`));
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as KubeObject;
  } catch (e) {
    throw new BodyError(status(400, 'BadRequest', `the body is not JSON: ${toError(e).message}`));
  }
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function text(res: ServerResponse, code: number, value: string): void {
  res.writeHead(code, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(value) });
  res.end(value);
}
