/**
 * The Kubernetes resources the API stand-in serves, and the URL paths they live under. Shared by
 * the stand-in (routing) and the HTTP client (building paths from an object's apiVersion/kind),
 * so that both sides agree on every path by construction.
 *
 * @example
 * const r = resourceFor('discovery.k8s.io/v1', 'EndpointSlice'); // the endpointslices resource
 * collectionPath(r!, 'default'); // "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
 */

export interface ResourceType {
  /** API group; '' is the core group (served under /api/v1). */
  readonly group: string;
  readonly version: string;
  /** Lowercase plural, the path segment: "services". */
  readonly plural: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  /** Names kubectl accepts on the command line. */
  readonly aliases: readonly string[];
}

export const RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', listKind: 'NodeList', namespaced: false, aliases: ['node', 'no'] },
  {
    group: '',
    version: 'v1',
    plural: 'services',
    kind: 'Service',
    listKind: 'ServiceList',
    namespaced: true,
    aliases: ['service', 'svc'],
  },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', listKind: 'PodList', namespaced: true, aliases: ['pod', 'po'] },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    namespaced: true,
    aliases: ['endpointslice', 'eps'],
  },
];

/** "v1" for the core group, "discovery.k8s.io/v1" otherwise. */
export function apiVersionOf(r: ResourceType): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

function groupPrefix(r: ResourceType): string {
  return r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
}

/** The resource an object of this apiVersion and kind belongs to. */
export function resourceFor(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/** The resource a command-line name (plural, singular, short name or Kind) stands for. */
export function resourceByName(name: string): ResourceType | undefined {
  const n = name.toLowerCase();
  return RESOURCES.find((r) => r.plural === n || r.kind.toLowerCase() === n || r.aliases.includes(n));
}

/** The collection: all namespaces when `namespace` is undefined (or the resource is cluster-scoped). */
export function collectionPath(r: ResourceType, namespace?: string): string {
  if (!r.namespaced || namespace === undefined) return `${groupPrefix(r)}/${r.plural}`;
  return `${groupPrefix(r)}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`;
}

export function itemPath(r: ResourceType, namespace: string | undefined, name: string): string {
  return `${collectionPath(r, r.namespaced ? (namespace ?? 'default') : undefined)}/${encodeURIComponent(name)}`;
}

/** What a request path addresses. */
export interface ParsedPath {
  readonly resource: ResourceType;
  /** Set for namespaced paths; undefined means all namespaces (or a cluster-scoped resource). */
  readonly namespace: string | undefined;
  /** Set when the path names one object. */
  readonly name: string | undefined;
}

/**
 * Parses /api/v1/[namespaces/NS/]PLURAL[/NAME] and /apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME].
 * Returns undefined for anything else (a 404 for the server).
 */
export function parseResourcePath(pathname: string): ParsedPath | undefined {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    rest = parts.slice(1);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    rest = parts.slice(2);
  } else {
    return undefined;
  }
  const version = rest[0]!;
  let namespace: string | undefined;
  let tail = rest.slice(1);
  if (tail[0] === 'namespaces' && tail.length >= 3) {
    namespace = tail[1];
    tail = tail.slice(2);
  }
  if (tail.length < 1 || tail.length > 2) return undefined;
  const resource = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === tail[0]);
  if (!resource) return undefined;
  if (namespace !== undefined && !resource.namespaced) return undefined;
  return { resource, namespace, name: tail[1] };
}
