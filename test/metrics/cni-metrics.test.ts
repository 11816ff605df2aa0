/**
 * CNI ADD/DEL latency: the agent's real CNI gRPC server on a Unix socket (a temp directory of
 * this test), called as the plugin calls it, with a backend whose answers and delays the test
 * sets, and the agent's metrics registry. Each request is in the histogram exactly once, by
 * method and result, and its time covers the backend's.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCniServer, type CniBackendPort, type CniServer } from '../../actors/agent/cni-server.js';
import { CniMetrics, newRegistry } from '../../actors/metrics/index.js';
import { unaryCall } from '../../cni/grpc-client.js';
import { encodeAddRequest, encodeDelRequest } from '../../cni/wire.js';
import { silentLogs } from '../../core/logger.js';
import { err, ok } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import { byLabel, helpTexts, parseExposition, valueOf } from './support.js';

const ref = { containerId: 'c0ffee', netns: '/var/run/netns/ioff-test-pod', ifname: 'eth0', podNamespace: 'default', podName: 'web-1', network: 'k8s' };
const addressing = { ips: [{ address: 0x0af40005, prefixLength: 24, gateway: 0x0af40001 }], routes: [], mtu: 0 };
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Node's timers may fire a fraction of a millisecond before performance.now() says the delay
 * passed, so the backend measures the time it really took, and the test compares with that. */
const timed = async (ms: number, into: number[]) => {
  const t0 = performance.now();
  await wait(ms);
  into.push((performance.now() - t0) / 1000);
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('metrics: CNI request latency (the agent\'s CNI server)', function () {
  this.timeout(20_000);
  let dir: string;
  let server: CniServer;
  const registry = newRegistry();
  let addOutcome: 'ok' | 'unavailable' = 'ok';
  const addOkTimes: number[] = [];
  const delTimes: number[] = [];
  const backend: CniBackendPort = {
    prepare: () => Promise.resolve(ok(undefined)),
    add: async () => {
      const okNow = addOutcome === 'ok';
      await timed(40, okNow ? addOkTimes : []);
      return okNow
        ? ok({ ifname: 'eth0', mac: '02:00:00:00:00:05', sandbox: ref.netns, portId: 5 })
        : err(new BusError('UNAVAILABLE', 'the manager does not answer'));
    },
    del: async () => {
      await timed(20, delTimes);
      return ok(undefined);
    },
    check: () => Promise.resolve(ok(undefined)),
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ioff-cni-metrics-'));
    server = await startCniServer({ socketPath: join(dir, 'run', 'cni.sock'), backend, logger: silentLogs().root, observer: new CniMetrics(registry) });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (method: string, bytes: Uint8Array) => unaryCall(server.socketPath, `/infra.v1.CniBackend/${method}`, bytes, 5000);

  it('times each ADD and DEL from request to reply, by result; malformed requests are counted under their typed code', async () => {
    const started = performance.now();
    for (let i = 0; i < 3; i++) await call('Add', encodeAddRequest({ ...ref, containerId: `c${i}`, ...addressing }));
    addOutcome = 'unavailable';
    await call('Add', encodeAddRequest({ ...ref, containerId: 'c9', ...addressing }));
    for (let i = 0; i < 2; i++) await call('Del', encodeDelRequest({ ...ref, containerId: `c${i}` }));
    await call('Add', encodeAddRequest({ ...ref, containerId: 'bad', ips: [], routes: [], mtu: 0 })); // IPAM gave no address
    await call('Del', Buffer.from([0x0a, 0xff])); // a length past the end
    const elapsed = (performance.now() - started) / 1000;

    const text = await registry.metrics();
    const s = parseExposition(text);
    const name = 'infra_offload_cni_request_duration_seconds';
    expect(byLabel(s, `${name}_count`, 'result', { method: 'add' })).to.deep.equal({ ok: 3, UNAVAILABLE: 1, INVALID_ARGUMENT: 1 });
    expect(byLabel(s, `${name}_count`, 'result', { method: 'del' })).to.deep.equal({ ok: 2, MALFORMED: 1 });
    // The backend's time for each ADD is inside its sample, and nothing is counted that did not happen.
    const addOk = valueOf(s, `${name}_sum`, { method: 'add', result: 'ok' })!;
    expect(addOkTimes).to.have.length(3);
    expect(addOk).to.be.at.least(sum(addOkTimes)).and.below(elapsed);
    expect(valueOf(s, `${name}_bucket`, { method: 'add', result: 'ok', le: '0.025' })).to.equal(0);
    expect(valueOf(s, `${name}_bucket`, { method: 'add', result: 'ok', le: '+Inf' })).to.equal(3);
    expect(delTimes).to.have.length(2);
    expect(valueOf(s, `${name}_sum`, { method: 'del', result: 'ok' })).to.be.at.least(sum(delTimes));
    expect(valueOf(s, `${name}_sum`, { method: 'del', result: 'MALFORMED' })).to.be.below(0.02);
    expect(helpTexts(text).get(name)).to.match(/from the request reaching its gRPC socket to the reply/);
  });
});
