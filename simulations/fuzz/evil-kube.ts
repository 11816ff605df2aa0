/**
 * A malicious Kubernetes API for the agent's informers (issue 11): an HTTP server that answers
 * list and watch requests with hostile bodies — malformed JSON (wrong types, huge numbers, deep
 * nesting ~100k, truncated lines, invalid UTF-8, lines of several MB, objects without metadata,
 * kinds that do not match the collection, garbage resourceVersions, not JSON at all, error
 * statuses with garbage bodies) — and, once `setGood(true)`, forwards every request to a
 * well-behaved API (the stand-in of simulations/kube/), watches included, so the agent must
 * converge on what that one serves.
 *
 * Request i gets hostility `order[i mod n]` (a seeded permutation of KUBE_HOSTILITIES) and its
 * own seeded Random: the same seed gives the same answers to the same sequence of requests.
 *
 * @example
 * const evil = new EvilKube({ seed: 3, upstream: `http://127.0.0.1:${standinPort}` });
 * const port = await evil.listen('127.0.0.1', 0);
 * // … an agent watches http://127.0.0.1:<port> …
 * evil.setGood(true);
 * await evil.close();
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { seededRandom, type Random } from '../../core/random.js';
import { shuffled } from './evil-target.js';

export const KUBE_HOSTILITIES = [
  'wrong-types',
  'huge-numbers',
  'deep-nesting',
  'truncated',
  'invalid-utf8',
  'huge-line',
  'missing-metadata',
  'kind-mismatch',
  'bad-resource-version',
  'not-json',
  'error-status',
  'event-garbage',
] as const;

export type KubeHostility = (typeof KUBE_HOSTILITIES)[number];

export interface EvilKubeOptions {
  readonly seed: number;
  /** The well-behaved API requests are forwarded to in good mode (http://host:port). */
  readonly upstream: string;
  /** Only these, in a seeded order (default all). */
  readonly hostilities?: readonly KubeHostility[];
  /** Size of `huge-line` lines (default 4 MiB). */
  readonly hugeLineBytes?: number;
  /** Depth of `deep-nesting` (default 100,000). */
  readonly depth?: number;
  /**
   * The upstream's current resourceVersion. In good mode a watch from a version the upstream
   * never issued (not a decimal, or above this) gets 410 Expired, as a real API server refuses a
   * version it cannot serve; without it the client would watch the good server from a version
   * the hostile one made up, and miss every object older than that.
   */
  readonly upstreamVersion?: () => number;
}

export interface EvilKubeStats {
  requests: number;
  lists: number;
  watches: number;
  forwarded: number;
  byHostility: Record<string, number>;
  /** resourceVersions the client asked for while hostile (garbage ones show up here). */
  resourceVersions: string[];
}

interface Target {
  readonly kind: string;
  readonly listKind: string;
  readonly apiVersion: string;
}

const TARGETS: Record<string, Target> = {
  services: { kind: 'Service', listKind: 'ServiceList', apiVersion: 'v1' },
  endpointslices: { kind: 'EndpointSlice', listKind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1' },
  nodes: { kind: 'Node', listKind: 'NodeList', apiVersion: 'v1' },
};

/**
 * The hostile body of one answer, as chunks (watch: newline-delimited events; list: one document).
 *
 * @example
 * const { status, chunks } = hostileAnswer('deep-nesting', seededRandom(1), { watch: true, resource: 'services' });
 */
export function hostileAnswer(
  kind: KubeHostility,
  random: Random,
  o: { readonly watch: boolean; readonly resource: string; readonly hugeLineBytes?: number; readonly depth?: number },
): { status: number; chunks: Buffer[] } {
  const t = TARGETS[o.resource] ?? TARGETS.services!;
  const b = (s: string): Buffer => Buffer.from(s, 'utf8');
  const depth = o.depth ?? 100_000;
  const name = `evil-${random.int(0, 9999)}`;
  const goodObject = (): Record<string, unknown> => ({
    kind: t.kind,
    apiVersion: t.apiVersion,
    metadata: { name, namespace: 'default', resourceVersion: hostileVersion(random), uid: `u-${name}` },
    spec: { clusterIP: '10.96.9.9', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  });
  const event = (type: unknown, object: unknown): string => JSON.stringify({ type, object });
  const list = (items: unknown, metadata: unknown = { resourceVersion: hostileVersion(random) }): string =>
    JSON.stringify({ kind: t.listKind, apiVersion: t.apiVersion, metadata, items });
  // One body per hostility: for watches a few lines, for lists one document.
  const lines = (watchLines: string[], listBody: string | Buffer): Buffer[] =>
    o.watch ? watchLines.map((l) => b(l + '\n')) : [typeof listBody === 'string' ? b(listBody) : listBody];
  switch (kind) {
    case 'wrong-types': {
      const bad = { kind: 7, apiVersion: [], metadata: { name: 5, namespace: {}, resourceVersion: { x: 1 }, labels: 'x', ownerReferences: 'no' }, spec: { clusterIP: 12, ports: 'all', selector: [] }, endpoints: 'none', addressType: 4 };
      return { status: 200, chunks: lines([event(42, 'object'), event('ADDED', bad), event(['MODIFIED'], { metadata: null }), event('DELETED', [1, 2])], random.next() < 0.5 ? list({ a: 1 }, 'meta') : list([1, 'x', null, [], bad])) };
    }
    case 'huge-numbers': {
      const n = `1${'0'.repeat(random.int(20, 400))}`;
      const raw = `{"kind":"${t.kind}","apiVersion":"${t.apiVersion}","metadata":{"name":"${name}","namespace":"default","resourceVersion":${n},"generation":1e999},"spec":{"clusterIP":"10.96.9.9","ports":[{"port":${n},"targetPort":-1e308,"protocol":"TCP"}]},"endpoints":[{"addresses":["10.244.0.1"]}],"ports":[{"port":1e400}]}`;
      return { status: 200, chunks: lines([`{"type":"ADDED","object":${raw}}`], `{"kind":"${t.listKind}","apiVersion":"${t.apiVersion}","metadata":{"resourceVersion":"${n}"},"items":[${raw}]}`) };
    }
    case 'deep-nesting': {
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      const deepObj = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      return { status: 200, chunks: lines([`{"type":"ADDED","object":${deep}}`, `{"type":"MODIFIED","object":{"metadata":{"name":"x","labels":${deepObj}}}}`], `{"kind":"${t.listKind}","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"x","annotations":${deepObj}}},${deep}]}`) };
    }
    case 'truncated': {
      const full = o.watch ? event('ADDED', goodObject()) : list([goodObject(), goodObject()]);
      const cut = full.slice(0, random.int(1, full.length - 1));
      return { status: 200, chunks: [b(cut)] };
    }
    case 'invalid-utf8': {
      const obj = b(o.watch ? event('ADDED', goodObject()) : list([goodObject()]));
      const at = obj.indexOf(b(name));
      const bad = Buffer.concat([obj.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]), obj.subarray(at)]);
      return { status: 200, chunks: o.watch ? [bad, b('\n')] : [bad] };
    }
    case 'huge-line': {
      const size = o.hugeLineBytes ?? 4 << 20;
      const obj = goodObject();
      (obj.metadata as Record<string, unknown>).annotations = { big: 'x'.repeat(size) };
      // A watch line with no newline in sight for `size` bytes, then one that never ends.
      return { status: 200, chunks: o.watch ? [b(event('ADDED', obj) + '\n'), b('{"type":"ADDED","object":"' + 'y'.repeat(size))] : [b(list([obj]))] };
    }
    case 'missing-metadata': {
      const bare = { kind: t.kind, apiVersion: t.apiVersion, spec: { clusterIP: '10.96.9.9', ports: [{ port: 80 }] } };
      return { status: 200, chunks: lines([event('ADDED', bare), event('MODIFIED', { metadata: {} }), JSON.stringify({ type: 'ADDED' }), event('DELETED', null)], random.next() < 0.5 ? list([bare, {}, null]) : JSON.stringify({ kind: t.listKind, items: [bare] })) };
    }
    case 'kind-mismatch': {
      const pod = { kind: 'Pod', apiVersion: 'v1', metadata: { name, namespace: 'default', resourceVersion: hostileVersion(random) }, spec: { containers: [] } };
      const node = { kind: 'Node', apiVersion: 'v1', metadata: { name: 'node-a', resourceVersion: hostileVersion(random) }, spec: { podCIDR: 'garbage' } };
      return { status: 200, chunks: lines([event('ADDED', pod), event('ADDED', node), event('BOOKMARK', pod)], JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: hostileVersion(random) }, items: [pod, node] })) };
    }
    case 'bad-resource-version': {
      const versions = ['abc', '-1', '', '1e30', '18446744073709551616', '0x10', ' 7', '\u0000'];
      const v = versions[random.int(0, versions.length - 1)]!;
      const obj = goodObject();
      (obj.metadata as Record<string, unknown>).resourceVersion = v;
      return { status: 200, chunks: lines([event('ADDED', obj), event('BOOKMARK', { kind: t.kind, metadata: { resourceVersion: v } })], list([obj], { resourceVersion: v, continue: random.next() < 0.5 ? '\u0000garbage' : undefined })) };
    }
    case 'not-json': {
      const bytes = Buffer.alloc(random.int(1, 2048));
      random.bytes(bytes);
      const html = b('<html><body>502 Bad Gateway</body></html>\n');
      return { status: 200, chunks: random.next() < 0.5 ? [html] : [bytes] };
    }
    case 'error-status': {
      const codes = [410, 500, 429, 403, 401, 404, 503, 302];
      const status = codes[random.int(0, codes.length - 1)]!;
      const bodies = ['{"kind":"Status","code":"gone","status":7}', 'not a status', '', '{"kind":"Status","apiVersion":"v1","code":410,"reason":"Expired","message":' + JSON.stringify('m'.repeat(100_000)) + '}'];
      return { status, chunks: [b(bodies[random.int(0, bodies.length - 1)]!)] };
    }
    case 'event-garbage': {
      // Watch ERROR events with garbage, unknown event types, a 410 ERROR with wrong types.
      return {
        status: 200,
        chunks: lines(
          [event('ERROR', { kind: 'Status', code: '410' }), event('ERROR', 'x'), event('NOPE', goodObject()), event('ERROR', { code: 410, reason: 5, message: [] }), 'null', '[]', '""', '0'],
          JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410 }),
        ),
      };
    }
  }
}

/** Hostile resourceVersions are far above any the stand-in issues in a test (see `upstreamVersion`). */
function hostileVersion(random: Random): string {
  return String(1_000_000_000_000 + random.int(0, 1_000_000));
}

export class EvilKube {
  readonly stats: EvilKubeStats = { requests: 0, lists: 0, watches: 0, forwarded: 0, byHostility: {}, resourceVersions: [] };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly order: KubeHostility[];
  private readonly upstream: URL;
  private good = false;

  constructor(private readonly options: EvilKubeOptions) {
    this.order = shuffled(seededRandom(options.seed), options.hostilities ?? KUBE_HOSTILITIES);
    this.upstream = new URL(options.upstream);
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  /** Good mode: forward everything upstream; open hostile connections are cut. */
  setGood(good: boolean): void {
    this.good = good;
    if (good) for (const s of this.sockets) s.destroy();
  }

  /** The hostility request `index` gets while hostile. */
  hostilityOf(index: number): KubeHostility {
    return this.order[index % this.order.length]!;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const index = this.stats.requests++;
    const url = new URL(req.url ?? '/', 'http://evil');
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    if (watch) this.stats.watches++;
    else this.stats.lists++;
    if (this.good) {
      const asked = url.searchParams.get('resourceVersion') ?? '';
      const known = asked === '' || (/^\d+$/.test(asked) && Number(asked) <= (this.options.upstreamVersion?.() ?? Infinity));
      if (watch && !known) return void res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${asked}` }));
      return this.forward(req, res);
    }
    const rv = url.searchParams.get('resourceVersion');
    if (rv !== null && this.stats.resourceVersions.length < 200) this.stats.resourceVersions.push(rv);
    const kind = this.hostilityOf(index);
    this.stats.byHostility[kind] = (this.stats.byHostility[kind] ?? 0) + 1;
    const resource = url.pathname.split('/').pop() ?? 'services';
    const random = seededRandom((this.options.seed * 7919 + index) | 0);
    const { status, chunks } = hostileAnswer(kind, random, { watch, resource, ...(this.options.hugeLineBytes ? { hugeLineBytes: this.options.hugeLineBytes } : {}), ...(this.options.depth ? { depth: this.options.depth } : {}) });
    res.writeHead(status, { 'content-type': 'application/json', ...(watch ? {} : { 'content-length': String(chunks.reduce((n, c) => n + c.length, 0)) }) });
    for (const c of chunks) res.write(c);
    // A watch is held open a little (or cut without a proper end), a list ends.
    if (!watch) return void res.end();
    const hold = random.int(0, 300);
    const abrupt = random.next() < 0.3;
    setTimeout(() => (abrupt ? res.socket?.destroy() : res.end()), hold).unref();
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    this.stats.forwarded++;
    const up = httpRequest({ host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.upstream.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  }
}
