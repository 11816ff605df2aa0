/**
 * The API stand-in's access log: for every request, the attributes Kubernetes RBAC authorizes —
 * user, verb, API group, resource, namespace and name (or the non-resource path) — recorded when
 * the request arrives, as kube-apiserver's audit log does at its RequestReceived stage. Tests
 * compare what a process really asked for with what its ClusterRoles grant (test/deploy/).
 *
 * Verbs follow kube-apiserver's request-info rules: GET of a collection is `list`, with
 * `watch=1|true` it is `watch`, GET of one object is `get`; POST `create`, PUT `update`, PATCH
 * `patch`, DELETE of one object `delete`, of a collection `deletecollection`. A list or watch
 * whose field selector is exactly `metadata.name=X` is authorized as a request for the name X
 * (RBAC `resourceNames` can then grant it), so it is recorded with that name.
 *
 * Users come from `Authorization: Bearer <token>`: with a token table (kube-apiserver's
 * --token-auth-file, as a map), a known token is its user and an unknown one is refused (401);
 * without a table a token is recorded by a digest; no header is `system:anonymous`.
 *
 * Bounded: entries are aggregated by their attributes (with a count), at most `maxEntries`
 * distinct ones; what does not fit is only counted in `dropped`.
 *
 * @example
 * const log = new AccessLog();
 * log.record(requestAttributes('GET', new URL('http://x/api/v1/services?watch=1'), parsed, 'system:anonymous', 'main'));
 * log.entries(); // [{ user: 'system:anonymous', verb: 'watch', apiGroup: '', resource: 'services', count: 1, … }]
 */
import { createHash } from 'node:crypto';
import type { ParsedPath } from './resources.js';

export type Listener = 'main' | 'admin';

/** What RBAC sees of one request. */
export interface RequestAttributes {
  readonly listener: Listener;
  readonly user: string;
  readonly verb: string;
  /** Resource requests: the API group ('' for core), version and plural resource. */
  readonly apiGroup?: string;
  readonly apiVersion?: string;
  readonly resource?: string;
  /** Undefined: all namespaces (or a cluster-scoped resource). */
  readonly namespace?: string;
  /** The object's name: from the path, or from a `metadata.name=X` field selector of a list/watch. */
  readonly name?: string;
  /** Set instead of the resource fields for anything else (/version, /healthz, /api…). */
  readonly nonResourceURL?: string;
}

export interface AccessEntry extends RequestAttributes {
  readonly count: number;
  /** Order of the first and the last such request (1-based, over all requests recorded). */
  readonly first: number;
  readonly last: number;
}

export interface AccessSnapshot {
  readonly entries: readonly AccessEntry[];
  /** Requests recorded in all. */
  readonly total: number;
  /** Requests whose attributes did not fit in `maxEntries` distinct entries. */
  readonly dropped: number;
}

/** The user a request authenticates as, or `undefined` when its token is refused (401). */
export function requestUser(authorization: string | undefined, tokens?: ReadonlyMap<string, string>): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return 'system:anonymous';
  const token = m[1]!;
  if (tokens) return tokens.get(token);
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 12)}`;
}

/** The RBAC verb of a resource request. */
export function requestVerb(method: string, url: URL, path: ParsedPath): string {
  const watching = url.searchParams.get('watch');
  switch (method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      if (watching === '1' || watching === 'true') return 'watch';
      return path.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return path.name === undefined ? 'deletecollection' : 'delete';
    default:
      return method.toLowerCase();
  }
}

/** Everything RBAC would authorize a request by; `path` undefined for a non-resource URL. */
export function requestAttributes(method: string, url: URL, path: ParsedPath | undefined, user: string, listener: Listener): RequestAttributes {
  if (!path) return { listener, user, verb: method.toLowerCase(), nonResourceURL: url.pathname };
  const verb = requestVerb(method, url, path);
  const selected = verb === 'list' || verb === 'watch' ? /^metadata\.name=([^,=]+)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1] : undefined;
  const name = path.name ?? selected;
  return {
    listener,
    user,
    verb,
    apiGroup: path.resource.group,
    apiVersion: path.resource.version,
    resource: path.resource.plural,
    ...(path.namespace !== undefined ? { namespace: path.namespace } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

const FIELDS = ['listener', 'user', 'verb', 'apiGroup', 'apiVersion', 'resource', 'namespace', 'name', 'nonResourceURL'] as const;

export class AccessLog {
  private readonly byKey = new Map<string, { attrs: RequestAttributes; count: number; first: number; last: number }>();
  private total = 0;
  private dropped = 0;

  constructor(
    private readonly maxEntries = 10_000,
    /** Called for every request recorded (e.g. to print a JSON line). */
    private readonly onRecord?: (attrs: RequestAttributes) => void,
  ) {}

  record(attrs: RequestAttributes): void {
    this.total++;
    this.onRecord?.(attrs);
    const key = FIELDS.map((f) => attrs[f] ?? '\u0000').join('\u0001');
    const e = this.byKey.get(key);
    if (e) {
      e.count++;
      e.last = this.total;
    } else if (this.byKey.size < this.maxEntries) {
      this.byKey.set(key, { attrs, count: 1, first: this.total, last: this.total });
    } else {
      this.dropped++;
    }
  }

  entries(): AccessEntry[] {
    return [...this.byKey.values()].map((e) => ({ ...e.attrs, count: e.count, first: e.first, last: e.last }));
  }

  snapshot(): AccessSnapshot {
    return { entries: this.entries(), total: this.total, dropped: this.dropped };
  }

  clear(): void {
    this.byKey.clear();
    this.total = 0;
    this.dropped = 0;
  }
}
