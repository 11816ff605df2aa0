import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../../simulations/kube/client.js';
import { binCommand } from '../../simulations/processes.js';
import { startStandin, type StandinProcess } from '../../simulations/kube/standin-process.js';
import type { KubeObject } from '../../simulations/kube/store.js';
import { endpoints, eventually, service, slice, sleep } from './support.js';

interface WatchEvent {
  type: string;
  object: KubeObject & { code?: number; reason?: string };
}

interface OpenWatch {
  readonly status: number;
  readonly events: WatchEvent[];
  /** 'end' when the server ended the response, 'error' when the connection broke. */
  readonly closed: Promise<'end' | 'error'>;
  abort(): void;
}

/** A raw watch over node:http, to see exactly what the server writes and how it ends. */
function watch(base: string, path: string): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    const req = get(base + path, (res: IncomingMessage) => {
      const events: WatchEvent[] = [];
      let buffer = '';
      const closed = new Promise<'end' | 'error'>((done) => {
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
            events.push(JSON.parse(buffer.slice(0, i)) as WatchEvent);
            buffer = buffer.slice(i + 1);
          }
        });
        res.on('end', () => done('end'));
        res.on('error', () => done('error'));
        res.on('aborted', () => done('error'));
      });
      resolve({ status: res.statusCode ?? 0, events, closed, abort: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

function names(events: readonly WatchEvent[]): string[] {
  return events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`);
}

const SVC = '/api/v1/namespaces/default/services';
const EPS = '/apis/discovery.k8s.io/v1/endpointslices';

/** The API stand-in as a separate process, spoken to over HTTP only. */
describe('kube API stand-in (separate process)', function () {
  this.timeout(20_000);
  let api: StandinProcess;
  let kube: KubeClient;
  const open: OpenWatch[] = [];

  before(async () => {
    api = await startStandin({ args: ['--history', '20', '--bookmark-interval-ms', '200'] });
    kube = new KubeClient(api.url);
  });
  afterEach(() => {
    for (const w of open.splice(0)) w.abort();
  });
  after(async () => {
    expect(await api.stop()).to.equal(0);
  });

  async function track(path: string, base = api.url): Promise<OpenWatch> {
    const w = await watch(base, path);
    open.push(w);
    return w;
  }

  it('creates, replaces, gets, lists and deletes with resourceVersions and typed errors', async () => {
    const created = await kube.apply(service('crud', '10.96.1.1', [{ port: 80 }]));
    expect(created.ok && created.value.action).to.equal('created');
    const rv1 = created.ok ? Number(created.value.object.metadata?.resourceVersion) : 0;
    expect(rv1).to.be.greaterThan(0);
    const again = await kube.apply(service('crud', '10.96.1.1', [{ port: 80 }]));
    expect(again.ok && again.value.action, 'a no-op apply changes nothing').to.equal('unchanged');
    const changed = await kube.apply(service('crud', '10.96.1.1', [{ port: 81 }]));
    expect(changed.ok && Number(changed.value.object.metadata?.resourceVersion)).to.be.greaterThan(rv1);
    const list = await kube.list('svc', { namespace: 'default' });
    expect(list.ok && list.value.items.map((o) => o.metadata?.name)).to.include('crud');
    expect(list.ok && Number(list.value.resourceVersion)).to.be.at.least(rv1 + 1);
    // Optimistic concurrency: a stale resourceVersion is a 409 Conflict.
    const stale = await fetch(`${api.url}${SVC}/crud`, {
      method: 'PUT',
      body: JSON.stringify({ ...service('crud', '10.96.1.1', [{ port: 82 }]), metadata: { name: 'crud', resourceVersion: String(rv1) } }),
    });
    expect(stale.status).to.equal(409);
    expect(((await stale.json()) as { reason: string }).reason).to.equal('Conflict');
    const dup = await fetch(api.url + SVC, { method: 'POST', body: JSON.stringify(service('crud', '10.96.1.1', [{ port: 80 }])) });
    expect(dup.status).to.equal(409);
    expect((await kube.delete('services', 'default', 'crud')).ok).to.equal(true);
    const gone = await kube.get('services', 'default', 'crud');
    expect(!gone.ok && gone.error.code).to.equal(404);
    expect((await fetch(`${api.url}${SVC}/x`, { method: 'PATCH' })).status).to.equal(405);
  });

  it('filters lists by label and field selector and pages with limit/continue', async () => {
    for (const n of ['a', 'b', 'c']) expect((await kube.apply(slice(`sel-${n}`, n === 'c' ? 'other' : 'sel', endpoints(1), [{ port: 80 }]))).ok).to.equal(true);
    const byLabel = await kube.list('endpointslices', { labelSelector: 'kubernetes.io/service-name=sel' });
    expect(byLabel.ok && byLabel.value.items.map((o) => o.metadata?.name)).to.deep.equal(['sel-a', 'sel-b']);
    const notin = await kube.list('endpointslices', { labelSelector: 'kubernetes.io/service-name notin (sel)' });
    expect(notin.ok && notin.value.items.map((o) => o.metadata?.name)).to.deep.equal(['sel-c']);
    const byName = await kube.list('endpointslices', { fieldSelector: 'metadata.name=sel-b' });
    expect(byName.ok && byName.value.items.length).to.equal(1);
    const page1 = (await (await fetch(`${api.url}${EPS}?limit=2`)).json()) as { items: KubeObject[]; metadata: { continue?: string; resourceVersion: string } };
    expect(page1.items).to.have.length(2);
    expect(page1.metadata.continue).to.be.a('string');
    const page2 = (await (await fetch(`${api.url}${EPS}?limit=2&continue=${page1.metadata.continue!}`)).json()) as { items: KubeObject[]; metadata: { continue?: string } };
    expect(page2.items.map((o) => o.metadata?.name)).to.deep.equal(['sel-c']);
    expect(page2.metadata.continue).to.equal(undefined);
    // A continue token from an older snapshot is 410 Expired.
    await kube.apply(slice('sel-d', 'sel', endpoints(1), [{ port: 80 }]));
    expect((await fetch(`${api.url}${EPS}?limit=2&continue=${page1.metadata.continue!}`)).status).to.equal(410);
    expect((await fetch(`${api.url}${EPS}?labelSelector=${encodeURIComponent('a in (b')}`)).status).to.equal(400);
  });

  it('watches with newline-delimited events, selectors on both sides of a change, BOOKMARKs and timeoutSeconds', async () => {
    const start = await kube.list('endpointslices');
    const rv = start.ok ? start.value.resourceVersion : '';
    const label = encodeURIComponent('kubernetes.io/service-name=watched');
    const w = await track(`${EPS}?watch=1&resourceVersion=${rv}&labelSelector=${label}&allowWatchBookmarks=true&timeoutSeconds=2`);
    expect(w.status).to.equal(200);
    await kube.apply(slice('w-1', 'watched', endpoints(1), [{ port: 80 }]));
    await kube.apply(slice('w-1', 'watched', endpoints(2), [{ port: 80 }]));
    await kube.apply(slice('w-1', 'elsewhere', endpoints(2), [{ port: 80 }])); // leaves the selection
    await kube.apply(slice('w-1', 'watched', endpoints(2), [{ port: 80 }])); // comes back
    await kube.delete('endpointslices', 'default', 'w-1');
    expect(await w.closed).to.equal('end');
    expect(names(w.events)).to.deep.equal(['ADDED w-1', 'MODIFIED w-1', 'DELETED w-1', 'ADDED w-1', 'DELETED w-1']);
    const bookmarks = w.events.filter((e) => e.type === 'BOOKMARK');
    expect(bookmarks.length, 'a BOOKMARK every 200 ms and one at the end').to.be.at.least(3);
    expect(Object.keys(bookmarks[0]!.object).sort()).to.deep.equal(['apiVersion', 'kind', 'metadata']);
    const last = bookmarks[bookmarks.length - 1]!.object.metadata?.resourceVersion;
    const now = await kube.list('endpointslices');
    expect(now.ok && now.value.resourceVersion).to.equal(last);
  });

  it('replays from a resourceVersion, and without one sends the current objects as ADDED', async () => {
    const before = await kube.list('services');
    const rv = before.ok ? before.value.resourceVersion : '';
    await kube.apply(service('replay', '10.96.1.2', [{ port: 80 }]));
    const fromRv = await track(`/api/v1/services?watch=true&resourceVersion=${rv}&timeoutSeconds=1`);
    const fromNow = await track(`/api/v1/services?watch=true&timeoutSeconds=1`);
    await Promise.all([fromRv.closed, fromNow.closed]);
    expect(names(fromRv.events)).to.deep.equal(['ADDED replay']);
    expect(names(fromNow.events)).to.include('ADDED replay');
    await kube.delete('svc', 'default', 'replay');
  });

  it('answers a version older than the history with 410 Expired: as an ERROR event, or as HTTP 410', async () => {
    const old = await kube.list('services');
    const rv = old.ok ? old.value.resourceVersion : '';
    for (let i = 0; i < 25; i++) await kube.apply(service('churn', '10.96.1.3', [{ port: 1000 + i }])); // history: 20
    const asEvent = await track(`/api/v1/services?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`);
    expect(asEvent.status).to.equal(200);
    expect(await asEvent.closed).to.equal('end');
    // Nothing after the ERROR, not even a BOOKMARK: its version would cancel the client's relist.
    expect(asEvent.events.map((e) => [e.type, e.object.code, e.object.reason])).to.deep.equal([['ERROR', 410, 'Expired']]);
    expect((await kube.knob('config', { expiredWatch: 'http' })).ok).to.equal(true);
    const asStatus = await track(`/api/v1/services?watch=1&resourceVersion=${rv}`);
    expect(asStatus.status).to.equal(410);
    await kube.knob('config', { expiredWatch: 'event' });
    // compact forgets everything: even the current version's predecessor is gone.
    const cur = await kube.list('services');
    await kube.apply(service('churn', '10.96.1.3', [{ port: 999 }]));
    await kube.knob('compact');
    const compacted = await track(`/api/v1/services?watch=1&resourceVersion=${cur.ok ? cur.value.resourceVersion : ''}`);
    await compacted.closed;
    expect(compacted.events[0]?.object.code).to.equal(410);
    await kube.delete('svc', 'default', 'churn');
  });

  it('knobs: drop-watches breaks or ends watches, expire-watches sends 410, stall holds requests', async () => {
    const broken = await track('/api/v1/nodes?watch=1');
    const ended = await track('/api/v1/pods?watch=1');
    const adminWatch = await track('/api/v1/nodes?watch=1', api.adminUrl);
    await eventually(async () => {
      const s = await kube.stats();
      return s.ok && (s.value.openWatches as Record<string, number>).nodes === 1;
    });
    expect((await kube.knob('drop-watches', { mode: 'reset' })).ok).to.equal(true);
    expect(await broken.closed).to.equal('error');
    expect(await ended.closed).to.equal('error');
    const clean = await track('/api/v1/pods?watch=1');
    await sleep(50);
    await kube.knob('drop-watches', { mode: 'close' });
    expect(await clean.closed).to.equal('end');
    const expiring = await track('/api/v1/services?watch=1');
    await sleep(50);
    await kube.knob('expire-watches');
    expect(await expiring.closed).to.equal('end');
    expect(expiring.events.map((e) => e.object.code)).to.deep.equal([410]);
    expect(adminWatch.events.every((e) => e.type === 'BOOKMARK' || e.type === 'ADDED'), 'the admin listener is exempt').to.equal(true);
    await kube.knob('stall', { seconds: 1 });
    const t0 = Date.now();
    expect((await kube.list('nodes')).ok).to.equal(true);
    expect(Date.now() - t0).to.be.at.least(800);
  });

  it('goes away for N seconds (connection refused), keeps its objects, and the admin port keeps working', async () => {
    const w = await track('/api/v1/services?watch=1');
    const admin = new KubeClient(api.adminUrl);
    expect((await kube.knob('outage', { seconds: 1 })).ok).to.equal(true);
    expect(await w.closed).to.equal('error');
    const refused = await kube.list('services');
    expect(!refused.ok && refused.error.code).to.equal(503);
    expect((await admin.apply(service('during', '10.96.1.4', [{ port: 80 }]))).ok, 'changed during the outage').to.equal(true);
    await eventually(async () => (await kube.list('services')).ok, 3000, 'the main port back');
    const after = await kube.get('services', 'default', 'during');
    expect(after.ok).to.equal(true);
    await admin.delete('svc', 'default', 'during');
  });

  it('kubectl-lite applies and deletes a multi-document YAML file over HTTP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubectl-lite-'));
    try {
      const file = join(dir, 'app.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: v1\nkind: Service\nmetadata: { name: cli, namespace: default }\nspec: { clusterIP: 10.96.1.5, ports: [{ name: http, port: 80 }] }',
          'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: cli-1, namespace: default, labels: { kubernetes.io/service-name: cli } }\naddressType: IPv4\nports: [{ name: http, port: 8080 }]\nendpoints: [{ addresses: [10.244.9.1] }]',
        ].join('\n---\n'),
      );
      const run = async (...args: string[]): Promise<{ code: number | null; out: string }> => {
        const { command, args: pre } = binCommand('kubectl-lite');
        const child = spawn(command, [...pre, '--server', api.url, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
        return { code, out };
      };
      expect(await run('apply', '-f', file)).to.deep.equal({ code: 0, out: 'service/cli created\nendpointslice.discovery.k8s.io/cli-1 created\n' });
      expect((await run('apply', '-f', file)).out).to.equal('service/cli unchanged\nendpointslice.discovery.k8s.io/cli-1 unchanged\n');
      expect((await kube.get('eps', 'default', 'cli-1')).ok).to.equal(true);
      expect(await run('delete', '-f', file)).to.deep.equal({ code: 0, out: 'service/cli deleted\nendpointslice.discovery.k8s.io/cli-1 deleted\n' });
      const missing = await run('delete', 'svc', 'cli');
      expect(missing.code).to.equal(1);
      expect(missing.out).to.match(/NotFound/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
