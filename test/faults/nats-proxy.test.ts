import { Kvm } from '@nats-io/kv';
import { connect, headers, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { seededRandom } from '../../core/random.js';
import { startNatsProxy, TRANSPARENT, type MessageFaults, type NatsProxy } from '../../simulations/faults/nats-proxy.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const text = (b: Uint8Array): string => Buffer.from(b).toString();
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * The NATS proxy between the real client (@nats-io/transport-node, as messages/bus.ts uses it)
 * and a real nats-server with JetStream. Publishers go through the proxy; a subscriber connected
 * straight to the server sees what got through.
 */
describe('NATS fault proxy', function () {
  this.timeout(60_000);
  let nats: NatsServer;
  let proxy: NatsProxy;
  const conns: NatsConnection[] = [];
  const statuses = new Map<NatsConnection, string[]>();

  before(async () => (nats = await startNatsServer({ jetstream: true })));
  after(() => nats.stop());
  beforeEach(async () => {
    proxy = await startNatsProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: nats.port }, random: seededRandom(1) });
  });
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
    await proxy.close();
  });

  async function client(via: 'proxy' | 'direct', extra: Partial<NodeConnectionOptions> = {}): Promise<NatsConnection> {
    const nc = await connect({ servers: via === 'proxy' ? `nats://${proxy.address}` : nats.url, reconnectTimeWait: 100, maxReconnectAttempts: -1, noAsyncTraces: true, ...extra });
    conns.push(nc);
    const seen: string[] = [];
    statuses.set(nc, seen);
    void (async () => {
      for await (const s of nc.status()) seen.push(s.type);
    })();
    return nc;
  }

  /** A direct subscriber collecting the payloads of `subject` as text. */
  async function collector(subject: string): Promise<{ got: string[]; at: number[] }> {
    const nc = await client('direct');
    const got: string[] = [];
    const at: number[] = [];
    nc.subscribe(subject, { callback: (_e, m) => void (got.push(text(m.data)), at.push(Date.now())) });
    await nc.flush();
    return { got, at };
  }

  const set = (f: Partial<MessageFaults>): void => {
    const r = proxy.setMessageFaults({ ...TRANSPARENT, ...f });
    expect(r.ok, JSON.stringify(r)).to.equal(true);
  };

  it('is transparent: requests and JetStream KV operations pass, nothing is faulted', async () => {
    const responder = await client('direct');
    responder.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
    await responder.flush();
    const nc = await client('proxy');
    for (let i = 0; i < 50; i++) expect(text((await nc.request('echo', `r${i}`, { timeout: 2000 })).data)).to.equal(`r${i}`);
    const kv = await new Kvm(nc).create('proxy_kv', { history: 1 });
    const r1 = await kv.put('lease', 'a');
    expect(text((await kv.get('lease'))!.value)).to.equal('a');
    const r2 = await kv.update('lease', 'b', r1);
    expect(r2).to.be.greaterThan(r1);
    const stale = await kv.update('lease', 'c', r1).then(() => 'updated', () => 'refused');
    expect(stale, 'compare-and-set still refuses a stale revision').to.equal('refused');
    await kv.delete('lease');
    expect((await kv.get('lease'))?.operation).to.equal('DEL');
    const s = proxy.stats();
    expect(s.messages).to.include({ dropped: 0, duplicated: 0, reordered: 0, delayed: 0, opaqueBytes: 0 });
    expect(s.messages.messagesToServer).to.be.at.least(55);
    expect(s.messages.messagesToClient).to.be.at.least(55);
    expect(s.messages.controlLines, 'INFO, CONNECT, SUB, PING/PONG').to.be.at.least(4);
    expect(statuses.get(nc)).to.not.include('disconnect');
  });

  it('drop 1.0 on PUB: requests time out, publishes vanish; the connection stays, and recovers when the drop stops', async () => {
    const responder = await client('direct');
    responder.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
    const sink = await collector('lost');
    const nc = await client('proxy');
    set({ dropP: 1, directions: 'toServer' });
    const r = await nc.request('echo', 'x', { timeout: 300 }).then(() => 'answered', (e: Error) => e.name);
    expect(r).to.match(/Timeout|RequestError/);
    for (let i = 0; i < 10; i++) nc.publish('lost', `m${i}`);
    await nc.flush(); // PING/PONG are control lines: they pass
    await sleep(100);
    expect(sink.got).to.deep.equal([]);
    expect(proxy.stats().messages.dropped).to.equal(11);
    set({});
    expect(text((await nc.request('echo', 'back', { timeout: 2000 })).data)).to.equal('back');
    expect(statuses.get(nc)).to.not.include('disconnect');
  });

  it('duplicate 1.0 doubles every delivery, in order', async () => {
    const sink = await collector('twice');
    const nc = await client('proxy');
    set({ duplicateP: 1 });
    for (let i = 0; i < 10; i++) nc.publish('twice', `m${i}`);
    await nc.flush();
    await until('20 deliveries', () => sink.got.length === 20);
    expect(sink.got).to.deep.equal(Array.from({ length: 10 }, (_, i) => [`m${i}`, `m${i}`]).flat());
    expect(proxy.stats().messages.duplicated).to.equal(10);
  });

  it('reordering swaps a message with the next one: two publishes arrive the other way round', async () => {
    const sink = await collector('order');
    const nc = await client('proxy');
    set({ reorderP: 1, directions: 'toServer' });
    nc.publish('order', 'first');
    nc.publish('order', 'second');
    await nc.flush();
    await until('both', () => sink.got.length === 2);
    expect(sink.got).to.deep.equal(['second', 'first']);
    expect(proxy.stats().messages.reordered).to.equal(1);
  });

  it('delays messages and keeps their order, with jitter', async () => {
    const sink = await collector('slow');
    const nc = await client('proxy');
    set({ delayMs: 150, delayJitterMs: 100 });
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) nc.publish('slow', `m${i}`);
    await until('30 deliveries', () => sink.got.length === 30);
    expect(sink.got).to.deep.equal(Array.from({ length: 30 }, (_, i) => `m${i}`));
    expect(sink.at[0]! - t0).to.be.at.least(145);
    expect(proxy.stats().messages.delayed).to.equal(30);
  });

  it('replays: the same seed drops the same messages', async () => {
    const survivors = async (seed: number): Promise<string[]> => {
      const p = await startNatsProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: nats.port }, random: seededRandom(seed) });
      try {
        p.setMessageFaults({ ...TRANSPARENT, dropP: 0.5, reorderP: 0.2, directions: 'toServer' });
        const sink = await collector(`replay${seed}`);
        const nc = await connect({ servers: `nats://${p.address}`, noAsyncTraces: true });
        for (let i = 0; i < 100; i++) nc.publish(`replay${seed}`, `m${i}`);
        await nc.flush();
        // Every message not dropped arrives (one set aside for reordering waits up to 100 ms for a partner).
        await until('the survivors', () => p.stats().messages.messagesToServer === 100 && sink.got.length === 100 - p.stats().messages.dropped);
        await nc.close();
        return [...sink.got];
      } finally {
        await p.close();
      }
    };
    const a = await survivors(11);
    const b = await survivors(11);
    expect(a.length).to.be.within(30, 70);
    expect(b).to.deep.equal(a);
  });

  it('carries payloads of 64 KiB to 1 MiB, with headers, split across reads, both ways, under delay and reordering', async () => {
    const receiver = await client('proxy');
    const got: { hash: string; h: string | undefined }[] = [];
    receiver.subscribe('big', { callback: (_e, m) => void got.push({ hash: sha(m.data), h: m.headers?.get('X-Case') }) });
    receiver.subscribe('big.echo', { callback: (_e, m) => void m.respond(m.data) });
    await receiver.flush();
    const sender = await client('proxy');
    set({ delayMs: 2, delayJitterMs: 10, reorderP: 0.3 });
    const sizes = [64 * 1024, 64 * 1024 + 1, 300_000, 1_000_000];
    // Random bytes: a payload may hold CRLF and whole protocol lines, which must not confuse the framing.
    const payloads = sizes.map((n, i) => Buffer.from(seededRandom(100 + i).bytes(new Uint8Array(n))));
    payloads[0]!.write('\r\nPUB big 1\r\nx\r\n', 1000, 'latin1');
    payloads.forEach((p, i) => {
      const h = headers();
      h.set('X-Case', String(i));
      sender.publish('big', p, { headers: h });
    });
    await until('every payload', () => got.length === payloads.length, 10_000);
    expect(got.map((g) => g.hash).sort()).to.deep.equal(payloads.map(sha).sort());
    expect(got.map((g) => g.h).sort()).to.deep.equal(['0', '1', '2', '3']);
    const reply = await sender.request('big.echo', payloads[2], { timeout: 5000 });
    expect(sha(reply.data)).to.equal(sha(payloads[2]!));
    expect(proxy.stats().messages.opaqueBytes, 'framing understood throughout').to.equal(0);
    expect(statuses.get(sender)).to.not.include('disconnect');
  });

  it('blackhole stalls requests without closing; healing delivers what waited on the same connection', async () => {
    const responder = await client('direct');
    responder.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
    const sink = await collector('held');
    await responder.flush();
    const nc = await client('proxy');
    proxy.partition('blackhole');
    const r = await nc.request('echo', 'x', { timeout: 300 }).then(() => 'answered', (e: Error) => e.name);
    expect(r).to.match(/Timeout/);
    nc.publish('held', 'during');
    await sleep(200);
    expect(sink.got).to.deep.equal([]);
    proxy.partition('none');
    await until('the held publish', () => sink.got.length === 1);
    expect(text((await nc.request('echo', 'y', { timeout: 2000 })).data)).to.equal('y');
    expect(statuses.get(nc), 'the client never noticed a disconnect').to.not.include('disconnect');
    expect(proxy.stats().accepted).to.equal(1);
  });

  it("a long blackhole is found by the client's keepalive; it reconnects once the partition heals", async () => {
    const responder = await client('direct');
    responder.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
    await responder.flush();
    const nc = await client('proxy', { pingInterval: 150, maxPingOut: 2 });
    proxy.partition('blackhole');
    await until('the client to see its connection stale', () => statuses.get(nc)!.includes('disconnect'), 5000);
    expect(proxy.stats().active, 'the reconnect attempt is held, not refused').to.be.at.least(1);
    proxy.partition('none');
    await until('the reconnect', () => statuses.get(nc)!.includes('reconnect'), 5000);
    expect(text((await nc.request('echo', 'z', { timeout: 2000 })).data)).to.equal('z');
  });

  it('reset disconnects the client and refuses it until healed', async () => {
    const nc = await client('proxy');
    proxy.partition('reset');
    await until('the disconnect', () => statuses.get(nc)!.includes('disconnect'));
    await until('reconnect attempts refused', () => proxy.stats().refused >= 2);
    expect(statuses.get(nc)).to.not.include('reconnect');
    proxy.partition('none');
    await until('the reconnect', () => statuses.get(nc)!.includes('reconnect'));
    await nc.flush();
  });

  it('refuses a bad fault setting with a typed error and keeps the one in force', () => {
    set({ dropP: 0.25 });
    const r = proxy.setMessageFaults({ ...TRANSPARENT, dropP: 2 });
    expect(r.ok).to.equal(false);
    if (!r.ok) expect([r.error.code, r.error.field]).to.deep.equal(['INVALID_ARGUMENT', 'dropP']);
    expect(proxy.stats().faults.dropP).to.equal(0.25);
  });
});
