import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect } from '@nats-io/transport-node';
import { P4RuntimeClient, P4RuntimeError } from '../../p4/runtime-client.js';
import { FaultError } from '../../simulations/faults/fault-error.js';
import { startTcpProxy, type Endpoint, type PartitionMode, type TcpProxy } from '../../simulations/faults/tcp-proxy.js';
import { startNatsServer } from '../../simulations/nats-server.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An upstream that echoes what it reads and records every connection it sees. */
async function echoServer(listen: Endpoint): Promise<{ server: Server; sockets: Socket[]; endpoint: Endpoint; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => ('path' in listen ? server.listen(listen.path, r) : server.listen(0, '127.0.0.1', r)));
  const a = server.address();
  const endpoint: Endpoint = typeof a === 'object' && a ? { host: '127.0.0.1', port: a.port } : listen;
  return {
    server,
    sockets,
    endpoint,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** A client of the proxy that collects what it reads and how it ended. */
async function dial(address: string): Promise<{ socket: Socket; received: () => Buffer; ended: () => string | undefined }> {
  const m = /^(.+):(\d+)$/.exec(address);
  const socket = m && !address.startsWith('/') ? connect({ host: m[1]!, port: Number(m[2]) }) : connect({ path: address });
  const chunks: Buffer[] = [];
  let ended: string | undefined;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', (e: NodeJS.ErrnoException) => (ended ??= e.code ?? e.message));
  socket.on('close', () => (ended ??= 'closed'));
  // A proxy in `reset` may reset the connection before the client saw it established.
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', () => resolve());
  });
  return { socket, received: () => Buffer.concat(chunks), ended: () => ended };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('TCP fault proxy', function () {
  this.timeout(30_000);
  let dir: string;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'ioff-faults-'))));
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function setup(transport: 'tcp' | 'unix', name: string): Promise<{ proxy: TcpProxy; echo: Awaited<ReturnType<typeof echoServer>> }> {
    const echo = await echoServer(transport === 'tcp' ? { host: '127.0.0.1', port: 0 } : { path: join(dir, `${name}-up.sock`) });
    closers.push(() => echo.close());
    const proxy = await startTcpProxy({ listen: transport === 'tcp' ? { host: '127.0.0.1', port: 0 } : { path: join(dir, `${name}.sock`) }, upstream: echo.endpoint });
    closers.push(() => proxy.close());
    return { proxy, echo };
  }

  for (const transport of ['tcp', 'unix'] as const) {
    it(`passes bytes through unchanged over ${transport}, 8 MiB with backpressure`, async () => {
      const { proxy } = await setup(transport, 'pass');
      const c = await dial(proxy.address);
      const data = Buffer.alloc(8 << 20);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
      c.socket.write(data);
      await until('the echo', () => c.received().length === data.length, 10_000);
      expect(sha(c.received())).to.equal(sha(data));
      const s = proxy.stats();
      expect(s).to.include({ partition: 'none', accepted: 1, active: 1, bytesToUpstream: data.length, bytesToClient: data.length });
      c.socket.end();
      await until('the connection to go', () => proxy.stats().active === 0);
    });
  }

  it('blackhole: nothing flows and nothing closes, then the same connection resumes in order', async () => {
    const { proxy, echo } = await setup('tcp', 'hole');
    const c = await dial(proxy.address);
    c.socket.write('before;');
    await until('the first echo', () => c.received().toString() === 'before;');
    expect(proxy.partition('blackhole')).to.deep.equal({ ok: true, value: undefined });
    c.socket.write('during;');
    const late = await dial(proxy.address); // accepted, held: the upstream is not dialled
    late.socket.write('late;');
    await sleep(300);
    expect(c.received().toString(), 'no byte crosses').to.equal('before;');
    expect(echo.sockets.length, 'the held connection did not reach the upstream').to.equal(1);
    // The upstream closes its end meanwhile: the client must not learn it before the partition heals.
    echo.sockets[0]!.end();
    await sleep(200);
    expect(c.ended(), 'no FIN, no RST during the partition').to.equal(undefined);
    expect(proxy.stats()).to.include({ partition: 'blackhole', active: 2 });
    proxy.partition('none');
    await until('the held echo', () => late.received().toString() === 'late;');
    await until('the close to arrive', () => c.ended() !== undefined);
    expect(c.received().toString(), 'what was sent during the partition went first, then the close').to.match(/^before;(during;)?$/);
    expect(echo.sockets.length).to.equal(2);
    late.socket.destroy();
  });

  it('reset: open connections are reset, new ones accepted then reset, until none', async () => {
    const { proxy } = await setup('tcp', 'reset');
    const a = await dial(proxy.address);
    a.socket.write('x');
    await until('echo', () => a.received().length === 1);
    proxy.partition('reset');
    await until('the reset', () => a.ended() !== undefined);
    expect(a.ended()).to.equal('ECONNRESET');
    const b = await dial(proxy.address);
    await until('the refusal', () => b.ended() !== undefined);
    expect(b.ended()).to.equal('ECONNRESET');
    expect(proxy.stats()).to.include({ partition: 'reset', reset: 1, refused: 1, active: 0 });
    proxy.partition('none');
    const c = await dial(proxy.address);
    c.socket.write('again');
    await until('echo after healing', () => c.received().toString() === 'again');
    c.socket.destroy();
  });

  it('reset on a Unix socket closes the connections (a Unix socket has no RST)', async () => {
    const { proxy } = await setup('unix', 'ureset');
    const a = await dial(proxy.address);
    proxy.partition('reset');
    await until('the close', () => a.ended() !== undefined);
    const b = await dial(proxy.address);
    await until('the refusal', () => b.ended() !== undefined);
    expect(proxy.stats()).to.include({ reset: 1, refused: 1, active: 0 });
  });

  it('refuses bad input with a typed error and changes nothing', async () => {
    const { proxy } = await setup('tcp', 'bad');
    proxy.partition('blackhole');
    const r = proxy.partition('sideways' as PartitionMode);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect([r.error.code, r.error.field]).to.deep.equal(['INVALID_ARGUMENT', 'mode']);
    expect(proxy.stats().partition).to.equal('blackhole');
    proxy.partition('none');
    const bad: [unknown, unknown, string][] = [
      [{ host: '127.0.0.1', port: 70_000 }, { host: '127.0.0.1', port: 1 }, 'listen.port'],
      [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 }, 'upstream.port'],
      [{ host: '', port: 0 }, { host: '127.0.0.1', port: 1 }, 'listen.host'],
      [{ path: 'x'.repeat(200) }, { host: '127.0.0.1', port: 1 }, 'listen.path'],
      [{ host: '127.0.0.1', port: 0 }, 'nats://x', 'upstream'],
    ];
    for (const [listen, upstream, field] of bad) {
      const e = await startTcpProxy({ listen: listen as Endpoint, upstream: upstream as Endpoint }).then(
        (p) => (closers.push(() => p.close()), undefined),
        (x: unknown) => x,
      );
      expect(e, field).to.be.instanceOf(FaultError);
      expect([(e as FaultError).code, (e as FaultError).field]).to.deep.equal(['INVALID_ARGUMENT', field]);
    }
    // A port someone holds: LISTEN_FAILED.
    const busy = Number(proxy.address.split(':')[1]);
    const e = await startTcpProxy({ listen: { host: '127.0.0.1', port: busy }, upstream: { host: '127.0.0.1', port: 1 } }).catch((x: unknown) => x);
    expect((e as FaultError).code).to.equal('LISTEN_FAILED');
  });

  it('closes the client when the upstream cannot be reached, and removes its socket file on close', async () => {
    const path = join(dir, 'nowhere.sock');
    const proxy = await startTcpProxy({ listen: { path }, upstream: { path: join(dir, 'absent.sock') } });
    const c = await dial(proxy.address);
    await until('the close', () => c.ended() !== undefined);
    expect(proxy.stats()).to.include({ upstreamFailures: 1, active: 0 });
    expect(existsSync(path)).to.equal(true);
    await proxy.close();
    expect(existsSync(path)).to.equal(false);
    expect(proxy.partition('none').ok, 'a closed proxy refuses').to.equal(false);
  });

  it('carries a NATS connection, which finds a long blackhole with its keepalive and comes back after', async () => {
    const nats = await startNatsServer({ jetstream: false });
    closers.push(() => nats.stop());
    const proxy = await startTcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: nats.port } });
    closers.push(() => proxy.close());
    const responder = await natsConnect({ servers: nats.url });
    closers.push(() => responder.close());
    responder.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
    await responder.flush();
    const nc = await natsConnect({ servers: `nats://${proxy.address}`, pingInterval: 150, maxPingOut: 2, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    closers.push(() => nc.close());
    const seen: string[] = [];
    void (async () => {
      for await (const st of nc.status()) seen.push(st.type);
    })();
    expect(Buffer.from((await nc.request('echo', 'a', { timeout: 2000 })).data).toString()).to.equal('a');
    proxy.partition('blackhole');
    await until('the keepalive to give up', () => seen.includes('disconnect'), 5000);
    proxy.partition('none');
    await until('the reconnect', () => seen.includes('reconnect'), 5000);
    expect(Buffer.from((await nc.request('echo', 'b', { timeout: 2000 })).data).toString()).to.equal('b');
  });

  describe('in front of the P4 target (gRPC over HTTP/2)', () => {
    let target: TargetProcess;
    before(async () => (target = await startTarget()));
    after(async () => void (await target.stop()));

    const capable = async (c: P4RuntimeClient): Promise<unknown> => (await c.capabilities()).p4runtime_api_version;
    const failure = (p: Promise<unknown>): Promise<number | 'ok'> => p.then(() => 'ok' as const, (e: unknown) => (e instanceof P4RuntimeError ? e.code : -1));

    it('serves gRPC through a Unix socket, stalls calls in a blackhole until their deadline, and carries on after healing', async () => {
      const proxy = await startTcpProxy({ listen: { path: join(dir, 'p4rt-proxy.sock') }, upstream: { path: target.address.replace(/^unix:\/\//, '') } });
      closers.push(() => proxy.close());
      const c = new P4RuntimeClient(`unix://${proxy.address}`, undefined, { callMs: 1000 });
      closers.push(async () => c.close());
      expect(await capable(c)).to.equal('1.4.1');
      proxy.partition('blackhole');
      const t0 = Date.now();
      expect(await failure(c.capabilities()), 'DEADLINE_EXCEEDED').to.equal(4);
      expect(Date.now() - t0).to.be.at.least(950);
      expect(proxy.stats().active, 'the connection is still there').to.equal(1);
      proxy.partition('none');
      expect(await capable(c)).to.equal('1.4.1');
      expect(proxy.stats().accepted, 'on the same connection').to.equal(1);
    });

    it('fails gRPC calls fast while resetting, and the channel reconnects after', async () => {
      const tcpTarget = await startTarget({ transport: 'tcp' });
      closers.push(() => tcpTarget.stop());
      const [host, port] = tcpTarget.address.split(':');
      const proxy = await startTcpProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: host!, port: Number(port) } });
      closers.push(() => proxy.close());
      const c = new P4RuntimeClient(proxy.address, undefined, { callMs: 10_000 });
      closers.push(async () => c.close());
      expect(await capable(c)).to.equal('1.4.1');
      proxy.partition('reset');
      const t0 = Date.now();
      expect(await failure(c.capabilities()), 'UNAVAILABLE').to.equal(14);
      expect(Date.now() - t0, 'no waiting for the deadline').to.be.below(5000);
      proxy.partition('none');
      let answer: unknown;
      for (let i = 0; i < 40 && answer === undefined; i++) answer = await capable(c).catch(() => sleep(50).then(() => undefined));
      expect(answer).to.equal('1.4.1');
      expect(proxy.stats().refused + proxy.stats().reset).to.be.at.least(1);
    });
  });
});
