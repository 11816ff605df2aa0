import { expect } from 'chai';
import { ok, err } from '../../core/result.js';
import { route, type Bus } from '../../messages/bus.js';
import { BusError } from '../../messages/errors.js';
import { prefix, subjects } from '../../messages/subjects.js';
import { managerMethods } from '../../protocol/methods.js';
import { heartbeatCodec, type Hello } from '../../protocol/node.js';
import type { PodInterface } from '../../protocol/intent.js';
import { natsFixture, type NatsFixture } from '../support/fixtures.js';

const NODE = 'node-1';
const hello: Hello = {
  node: NODE,
  role: 'agent',
  instanceId: 'a1',
  startedAtMs: 1,
  version: 't',
  nodeIp: 0x0a000001,
  podCidr: '10.244.0.0/24',
};
const pod: PodInterface = {
  node: NODE,
  namespace: 'default',
  name: 'web-1',
  containerId: 'c0ffee',
  interfaceName: 'P4TAP_2',
  portId: 2,
  ipv4: 0x0af40002,
  mac: 0x020000000002,
};

describe('bus over a real nats-server', () => {
  let nats: NatsFixture;
  let server: Bus;
  let client: Bus;
  const seen: Hello[] = [];

  before(async () => {
    nats = await natsFixture();
    server = await nats.bus('server');
    client = await nats.bus('client');
    server.serve(prefix(NODE, 'manager'), [
      route(managerMethods.hello, (h) => {
        seen.push(h);
        return ok({ node: h.node, instanceId: 'm1', stateRevision: 7, resyncRequested: true, heartbeatIntervalMs: 1000 });
      }),
      route(managerMethods.podAdd, (p) =>
        p.portId === 99 ? err(new BusError('CONFLICT', 'port taken', 'interface.port_id')) : ok({ revision: 1, changed: true }),
      ),
      route(managerMethods.podDelete, () => {
        throw new Error('boom');
      }),
    ]);
    await server.connection.flush();
  });
  after(async () => nats.close());

  it('carries a typed request and its typed reply', async () => {
    const r = await client.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
    expect(r.ok, JSON.stringify(r)).to.equal(true);
    if (!r.ok) return;
    expect(r.value).to.deep.equal({ node: NODE, instanceId: 'm1', stateRevision: 7, resyncRequested: true, heartbeatIntervalMs: 1000 });
    expect(seen.at(-1)).to.deep.equal(hello);
  });

  it('returns a handler error as the same typed code with its field', async () => {
    const r = await client.request(subjects.manager(NODE, 'pod.add'), managerMethods.podAdd, { ...pod, portId: 99 });
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.error.code).to.equal('CONFLICT');
    expect(r.error.field).to.equal('interface.port_id');
  });

  it('answers a throwing handler with INTERNAL and keeps serving', async () => {
    const r = await client.request(subjects.manager(NODE, 'pod.delete'), managerMethods.podDelete, { node: NODE, containerId: 'x' });
    expect(!r.ok && r.error.code).to.equal('INTERNAL');
    const again = await client.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
    expect(again.ok).to.equal(true);
  });

  it('rejects undecodable bytes with MALFORMED and bad fields with INVALID_ARGUMENT naming the field', async () => {
    const garbage = await client.requestBytes(subjects.manager(NODE, 'hello'), Uint8Array.of(0x0a, 0xff, 0x01));
    expect(!garbage.ok && garbage.error.code).to.equal('MALFORMED');
    const badMac = await client.request(subjects.manager(NODE, 'pod.add'), managerMethods.podAdd, { ...pod, mac: 0xffffffffffff });
    expect(!badMac.ok && badMac.error.code).to.equal('INVALID_ARGUMENT');
    expect(!badMac.ok && badMac.error.field).to.equal('interface.mac');
  });

  it('answers an unknown operation with UNIMPLEMENTED', async () => {
    const r = await client.requestBytes(subjects.manager(NODE, 'no.such.op'), new Uint8Array(0));
    expect(!r.ok && r.error.code).to.equal('UNIMPLEMENTED');
  });

  it('reports no responders and deadlines as typed errors', async () => {
    const none = await client.request(subjects.manager('node-2', 'hello'), managerMethods.hello, hello);
    expect(!none.ok && none.error.name).to.equal('NoRespondersError');
    const sub = server.connection.subscribe(subjects.manager('node-3', 'hello')); // never answers
    await server.connection.flush();
    const slow = await client.request(subjects.manager('node-3', 'hello'), managerMethods.hello, hello, { timeoutMs: 50 });
    sub.unsubscribe();
    expect(!slow.ok && slow.error.code).to.equal('DEADLINE_EXCEEDED');
  });

  it('publishes and subscribes typed events, delivering decode errors as values', async () => {
    const got: string[] = [];
    const sub = client.subscribe(subjects.events(NODE, 'heartbeat'), heartbeatCodec, (r) =>
      got.push(r.ok ? `hb ${r.value.seq}` : `error ${r.error.code}`),
    );
    await client.connection.flush();
    server.publish(subjects.events(NODE, 'heartbeat'), heartbeatCodec, {
      node: NODE,
      role: 'manager',
      instanceId: 'm1',
      seq: 3,
      sentAtMs: 10,
      stateRevision: 0,
    });
    server.connection.publish(subjects.events(NODE, 'heartbeat'), Uint8Array.of(0x08));
    await server.connection.flush();
    await client.connection.flush();
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    sub.stop();
    expect(got).to.deep.equal(['hb 3', 'error MALFORMED']);
  });

  it('keeps reconnecting when the server goes away and serves again when it returns', async function () {
    this.timeout(20_000);
    const { startNatsServer } = await import('../../simulations/nats-server.js');
    const { Bus } = await import('../../messages/bus.js');
    const { silentLogs } = await import('../../core/logger.js');
    const first = await startNatsServer({ jetstream: false });
    const port = first.port;
    const opts = { servers: first.url, logger: silentLogs().root, reconnectWaitMs: 50, timeoutMs: 500 };
    const a = await Bus.connect({ ...opts, name: 'a' });
    const b = await Bus.connect({ ...opts, name: 'b' });
    a.serve(prefix(NODE, 'manager'), [route(managerMethods.podAdd, () => ok({ revision: 2, changed: false }))]);
    await first.stop();
    const down = await b.request(subjects.manager(NODE, 'pod.add'), managerMethods.podAdd, pod, { timeoutMs: 200 });
    expect(down.ok).to.equal(false);
    const second = await startNatsServer({ jetstream: false, port });
    try {
      let r = await b.request(subjects.manager(NODE, 'pod.add'), managerMethods.podAdd, pod);
      for (let i = 0; i < 100 && !r.ok; i++) {
        await new Promise((res) => setTimeout(res, 50));
        r = await b.request(subjects.manager(NODE, 'pod.add'), managerMethods.podAdd, pod);
      }
      expect(r.ok, JSON.stringify(r)).to.equal(true);
    } finally {
      await a.close();
      await b.close();
      await second.stop();
    }
  });
});
