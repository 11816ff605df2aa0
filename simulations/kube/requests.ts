/**
 * The API stand-in's verbs on a resource path: list (with limit/continue and selectors), watch,
 * get, create, replace and delete. Everything here is synchronous on purpose: a watch is
 * registered and its history replayed in the same turn, so no change can slip between the two.
 *
 * @example
 * const verbs = new StandinRequests({ store, clock, bookmarkIntervalMs: 1000, defaultWatchTimeoutS: 1800,
 *   expiredWatch: () => 'event', stalled: () => false, watches });
 * verbs.handle({ req, res, url, path: parseResourcePath(url.pathname)!, admin: false, body: undefined });
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../core/clock.js';
import type { Result } from '../../core/result.js';
import { RESOURCES, apiVersionOf, type ParsedPath, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, fieldsOf, type Matcher } from './selectors.js';
import { status, type KubeObject, type ObjectStore, type Status } from './store.js';
import { WatchStream, type WatchFilter } from './watch-stream.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly path: ParsedPath;
  /** On the admin listener: exempt from knobs. */
  readonly admin: boolean;
  readonly body: KubeObject | undefined;
}

export interface RequestDeps {
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly bookmarkIntervalMs: number;
  readonly defaultWatchTimeoutS: number;
  readonly expiredWatch: () => 'event' | 'http';
  readonly stalled: () => boolean;
  /** Open watches; a watch removes itself when it ends. */
  readonly watches: Set<WatchStream>;
}

interface ContinueToken {
  readonly rv: number;
  readonly offset: number;
}

export class StandinRequests {
  constructor(private readonly deps: RequestDeps) {}

  resources(): readonly ResourceType[] {
    return RESOURCES;
  }

  handle(ctx: RequestContext): void {
    const { req, url, path } = ctx;
    const watch = url.searchParams.get('watch');
    switch (req.method) {
      case 'GET':
        if (watch === '1' || watch === 'true') return this.watch(ctx);
        return path.name === undefined ? this.list(ctx) : this.get(ctx);
      case 'POST':
        if (path.name !== undefined) return send(ctx.res, 405, status(405, 'MethodNotAllowed', 'POST goes to the collection'));
        return reply(ctx.res, 201, this.deps.store.create(path.resource, path.namespace, ctx.body ?? {}));
      case 'PUT':
        if (path.name === undefined) return send(ctx.res, 405, status(405, 'MethodNotAllowed', 'PUT goes to an object'));
        return reply(ctx.res, 200, this.deps.store.update(path.resource, path.namespace, path.name, ctx.body ?? {}));
      case 'DELETE':
        if (path.name === undefined) return send(ctx.res, 405, status(405, 'MethodNotAllowed', 'deleting a collection is not supported'));
        return reply(ctx.res, 200, this.deps.store.delete(path.resource, path.namespace, path.name));
      default:
        return send(ctx.res, 405, status(405, 'MethodNotAllowed', `${req.method ?? ''} is not supported here (no PATCH)`));
    }
  }

  private get({ res, path }: RequestContext): void {
    const o = this.deps.store.get(path.resource, path.namespace ?? (path.resource.namespaced ? 'default' : undefined), path.name!);
    if (!o) return send(res, 404, status(404, 'NotFound', `${path.resource.plural} "${path.name}" not found`));
    send(res, 200, o);
  }

  private list({ res, url, path }: RequestContext): void {
    const { store } = this.deps;
    const r = path.resource;
    const match = selectors(url, path);
    if (!match.ok) return send(res, 400, match.error);
    const all = store.list(r, path.namespace).filter((o) => matches(match.value, o));
    let offset = 0;
    const cont = url.searchParams.get('continue');
    if (cont) {
      const token = parseContinue(cont);
      if (!token) return send(res, 400, status(400, 'BadRequest', 'invalid continue token'));
      // Pages must come from one snapshot; a store that moved on cannot give one.
      if (token.rv !== store.resourceVersion) {
        return send(res, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.'));
      }
      offset = token.offset;
    }
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const end = Number.isInteger(limit) && limit > 0 ? Math.min(all.length, offset + limit) : all.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(store.resourceVersion) };
    if (end < all.length) {
      metadata.continue = Buffer.from(JSON.stringify({ rv: store.resourceVersion, offset: end })).toString('base64url');
      metadata.remainingItemCount = all.length - end;
    }
    send(res, 200, { kind: r.listKind, apiVersion: apiVersionOf(r), metadata, items: all.slice(offset, end) });
  }

  private watch(ctx: RequestContext): void {
    const { res, url, path } = ctx;
    const { store, clock, watches } = this.deps;
    const match = selectors(url, path);
    if (!match.ok) return send(res, 400, match.error);
    const rvText = url.searchParams.get('resourceVersion') ?? '';
    const since = rvText === '' || rvText === '0' ? undefined : Number(rvText);
    if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0)) {
      return send(res, 400, status(400, 'BadRequest', `invalid resourceVersion "${rvText.slice(0, 40)}"`));
    }
    const timeoutS = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    const allow = url.searchParams.get('allowWatchBookmarks');
    const filter: WatchFilter = { resource: path.resource, namespace: path.namespace, labels: match.value.labels, fields: match.value.fields };
    const stream = new WatchStream(res, {
      filter,
      clock,
      bookmarks: allow === 'true' || allow === '1',
      bookmarkIntervalMs: this.deps.bookmarkIntervalMs,
      timeoutMs: (Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : this.deps.defaultWatchTimeoutS) * 1000,
      currentVersion: () => store.resourceVersion,
      stalled: this.deps.stalled,
      admin: ctx.admin,
      onClose: (w) => watches.delete(w),
    });
    if (since === undefined) {
      watches.add(stream);
      return stream.openWithObjects(store.list(path.resource, path.namespace));
    }
    const events = store.eventsSince(path.resource, since);
    if (!events.ok) {
      if (this.deps.expiredWatch() === 'http') return send(res, 410, events.error);
      stream.open([]);
      return stream.expire(events.error);
    }
    watches.add(stream);
    stream.open(events.value);
  }
}

interface Selection {
  readonly labels: Matcher;
  readonly fields: Matcher;
}

/** The request's selectors; a watch or list of one named object selects it by name. */
function selectors(url: URL, path: ParsedPath): Result<Selection, Status> {
  const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
  const byName = path.name === undefined ? '' : `metadata.name=${path.name}`;
  const fieldText = [url.searchParams.get('fieldSelector') ?? '', byName].filter((s) => s !== '').join(',');
  const fields = parseFieldSelector(fieldText);
  if (!labels.ok) return { ok: false, error: status(400, 'BadRequest', labels.error) };
  if (!fields.ok) return { ok: false, error: status(400, 'BadRequest', fields.error) };
  return { ok: true, value: { labels: labels.value, fields: fields.value } };
}

function matches(s: Selection, o: KubeObject): boolean {
  return s.labels(o.metadata?.labels ?? {}) && s.fields(fieldsOf(o));
}

function parseContinue(text: string): ContinueToken | undefined {
  try {
    const t = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    return Number.isSafeInteger(t.rv) && Number.isSafeInteger(t.offset) && t.offset! >= 0 ? (t as ContinueToken) : undefined;
  } catch {
    return undefined;
  }
}

function reply(res: ServerResponse, okCode: number, r: Result<KubeObject, Status>): void {
  if (r.ok) send(res, okCode, r.value);
  else send(res, r.error.code, r.error);
}

/** Writes a JSON response (an object, a list or a Status). */
export function send(res: ServerResponse, code: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
