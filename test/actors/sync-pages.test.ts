/**
 * Full-state sync in pages (actors/sync-pages.ts): a state larger than one NATS message and one
 * page's item cap arrives whole, every page encoded through the wire codec within its limits; a
 * pull sees one snapshot however the state changes meanwhile; a lost snapshot restarts the pull.
 */
import { expect } from 'chai';
import { pullFullState, SyncSnapshots } from '../../actors/sync-pages.js';
import { ManualClock } from '../../core/clock.js';
import { ok, type Result } from '../../core/result.js';
import { seededRandom } from '../../core/random.js';
import type { BusError } from '../../messages/errors.js';
import type { PodInterface, ServicePort } from '../../protocol/intent.js';
import { agentMethods } from '../../protocol/methods.js';
import { MAX_SYNC_ITEMS, type FullState, type SyncPage, type SyncRequest } from '../../protocol/sync.js';

const NODE = 'node-1';
const NATS_MAX_PAYLOAD = 1024 * 1024;
const base = { node: NODE, from: 'manager' as const, instanceId: 'puller01' };

function pod(i: number): PodInterface {
  return {
    node: NODE,
    namespace: 'default',
    name: `pod-${i}`,
    containerId: `c${i.toString(16).padStart(12, '0')}`,
    interfaceName: `P4TAP_${i}`,
    portId: 2 + i,
    ipv4: 0x0af40000 + 2 + i,
    mac: 0x020000000000 + i,
  };
}

function svc(i: number, endpoints: number): ServicePort {
  return {
    clusterIp: 0x0a600000 + 1 + i,
    port: 80,
    protocol: 'TCP',
    namespace: 'default',
    name: `svc-${i}`,
    portName: 'http',
    endpoints: Array.from({ length: endpoints }, (_, e) => ({ ipv4: 0x0a800000 + i * 64 + e, port: 8080, node: `node-${e % 7}`, ready: true, serving: true, terminating: false })),
  };
}

function bigState(revision = 7): FullState {
  return {
    node: NODE,
    revision,
    host: { node: NODE, interfaceName: 'P4TAP_1', portId: 1, ipv4: 0xc000020a, mac: 0x02fe00000002, nodeIp: 0xc000020a, podCidr: '10.244.0.0/16' },
    pods: Array.from({ length: 5000 }, (_, i) => pod(i)),
    // 10,000 service ports of 10 endpoints (the issue-5 scale) and one at the per-service cap.
    services: [...Array.from({ length: 10_000 }, (_, i) => svc(i, 10)), svc(10_000, 16_384)],
  };
}

/** A responder whose every page crosses the wire codec, as the bus would carry it. */
function responder(snapshots: SyncSnapshots, state: () => FullState, sizes: number[] = []) {
  const method = agentMethods.sync;
  return async (request: SyncRequest): Promise<Result<SyncPage, BusError>> => {
    const decoded = method.request.decode(method.request.encode(request));
    if (!decoded.ok) return decoded;
    const page = await snapshots.page(decoded.value, () => Promise.resolve(ok(state())));
    if (!page.ok) return page;
    const bytes = method.response.encode(page.value);
    sizes.push(bytes.length);
    return method.response.decode(bytes);
  };
}

describe('full-state sync in pages', function () {
  this.timeout(60_000);

  it('a state of 5,000 pods and 10,001 service ports (one with 16,384 endpoints) arrives whole, in pages under NATS max_payload', async function () {
    const state = bigState();
    const sizes: number[] = [];
    const snapshots = new SyncSnapshots({ clock: new ManualClock(), random: seededRandom(1) });
    const pulled = await pullFullState(responder(snapshots, () => state, sizes), base);
    expect(pulled.ok, pulled.ok ? '' : pulled.error.message).to.equal(true);
    if (!pulled.ok) return;
    expect(pulled.value.pods.length).to.equal(5000);
    expect(pulled.value.services.length).to.equal(10_001);
    expect(pulled.value).to.deep.equal(state);
    expect(sizes.length, 'pages').to.be.greaterThan(3);
    expect(Math.max(...sizes), 'largest page in bytes').to.be.below(NATS_MAX_PAYLOAD);
  });

  it('never puts more than MAX_SYNC_ITEMS items of a kind in a page', async function () {
    const state: FullState = { node: NODE, revision: 1, host: undefined, pods: Array.from({ length: MAX_SYNC_ITEMS * 2 + 5 }, (_, i) => pod(i)), services: [] };
    const snapshots = new SyncSnapshots({ clock: new ManualClock(), random: seededRandom(2), pageBytes: 64 * 1024 * 1024 });
    const pages: SyncPage[] = [];
    const ask = responder(snapshots, () => state);
    const pulled = await pullFullState(async (r) => {
      const p = await ask(r);
      if (p.ok) pages.push(p.value);
      return p;
    }, base);
    expect(pulled.ok && pulled.value.pods.length).to.equal(MAX_SYNC_ITEMS * 2 + 5);
    expect(pages.map((p) => p.state.pods.length)).to.deep.equal([MAX_SYNC_ITEMS, MAX_SYNC_ITEMS, 5]);
  });

  it('a pull sees the snapshot of its first page, whatever changes meanwhile', async function () {
    let current = bigState(1);
    const snapshots = new SyncSnapshots({ clock: new ManualClock(), random: seededRandom(3) });
    const ask = responder(snapshots, () => current);
    let pages = 0;
    const pulled = await pullFullState(async (r) => {
      const p = await ask(r);
      // After the first page the responder's state moves on: a pod goes, the revision grows.
      if (++pages === 1) current = { ...current, revision: 2, pods: current.pods.slice(1) };
      return p;
    }, base);
    expect(pulled.ok).to.equal(true);
    if (!pulled.ok) return;
    expect(pulled.value.revision).to.equal(1);
    expect(pulled.value.pods.length).to.equal(5000);
    expect(pages).to.be.greaterThan(1);
  });

  it('a snapshot lost mid-pull (expired or the responder restarted) starts the pull again, from a new snapshot', async function () {
    const clock = new ManualClock();
    let current = bigState(1);
    const snapshots = new SyncSnapshots({ clock, random: seededRandom(4), ttlMs: 1000 });
    const ask = responder(snapshots, () => current);
    let pages = 0;
    const pulled = await pullFullState(async (r) => {
      if (++pages === 2) {
        await clock.advance(5000); // the puller stalled: the responder let the snapshot go
        current = { ...current, revision: 9 };
      }
      return ask(r);
    }, base);
    expect(pulled.ok).to.equal(true);
    if (pulled.ok) expect(pulled.value.revision, 'the second, complete snapshot').to.equal(9);
  });

  it('gives up with the error after the attempts when the snapshot is lost every time', async function () {
    const clock = new ManualClock();
    const snapshots = new SyncSnapshots({ clock, random: seededRandom(5), ttlMs: 10 });
    const ask = responder(snapshots, () => bigState());
    const pulled = await pullFullState(async (r) => {
      if (r.snapshot) await clock.advance(100);
      return ask(r);
    }, base, 2);
    expect(pulled.ok).to.equal(false);
    if (!pulled.ok) expect(pulled.error.code).to.equal('NOT_FOUND');
  });

  it('refuses requests that do not name a held snapshot or a place in it, with typed errors', async function () {
    const snapshots = new SyncSnapshots({ clock: new ManualClock(), random: seededRandom(6) });
    const ask = responder(snapshots, () => bigState());
    const cases: [string, SyncRequest, string][] = [
      ['an offset without a snapshot', { ...base, snapshot: 0, offset: 10 }, 'INVALID_ARGUMENT'],
      ['an unknown snapshot', { ...base, snapshot: 12345, offset: 0 }, 'NOT_FOUND'],
    ];
    for (const [what, request, code] of cases) {
      const r = await ask(request);
      expect(r.ok ? 'ok' : r.error.code, what).to.equal(code);
    }
    const first = await ask({ ...base });
    expect(first.ok).to.equal(true);
    if (!first.ok) return;
    const past = await ask({ ...base, snapshot: first.value.snapshot, offset: first.value.total + 1 });
    expect(past.ok ? 'ok' : past.error.code, 'an offset past the end').to.equal('INVALID_ARGUMENT');
  });

  it('the codec refuses a page whose items do not fit its total', function () {
    const method = agentMethods.sync;
    const page: SyncPage = { state: { node: NODE, revision: 1, host: undefined, pods: [pod(1), pod(2)], services: [] }, snapshot: 5, offset: 0, total: 1, more: false };
    const decoded = method.response.decode(method.response.encode(page));
    expect(decoded.ok).to.equal(false);
    if (!decoded.ok) expect(decoded.error.field).to.equal('total');
    const last: SyncPage = { ...page, total: 3, more: false };
    const short = method.response.decode(method.response.encode(last));
    expect(short.ok ? 'accepted' : short.error.field, 'a last page that ends before the total').to.equal('total');
  });
});
