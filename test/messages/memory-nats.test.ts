import { expect } from 'chai';
import { ClosedConnectionError as NatsClosedError, InvalidSubjectError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { ok } from '../../core/result.js';
import { Bus, route, type BusOptions } from '../../messages/bus.js';
import { ConnectionClosedError, NoRespondersError, TimeoutError } from '../../messages/errors.js';
import { MemoryNats, MemoryNatsError, type NatsTraceEvent } from '../../messages/memory-nats.js';
import { prefix, subjects } from '../../messages/subjects.js';
import { managerMethods } from '../../protocol/methods.js';
import { heartbeatCodec, type Heartbeat, type Hello, type HelloReply } from '../../protocol/node.js';

const NODE = 'node-1';
const logger = silentLogs().root;
const hello: Hello = {
  node: NODE,
  role: 'agent',
  instanceId: 'a1',
  startedAtMs: 1,
  version: 't',
  nodeIp: 0x0a000001,
  podCidr: '10.244.0.0/24',
};
const helloReply = (h: Hello): HelloReply => ({ node: h.node, instanceId: 'm1', stateRevision: 7, resyncRequested: false, heartbeatIntervalMs: 1000 });
const beat = (seq: number, node = NODE): Heartbeat => ({ node, role: 'manager', instanceId: 'm1', seq, sentAtMs: seq, stateRevision: 0 });

interface World {
  readonly clock: ManualClock;
  readonly nats: MemoryNats;
  bus(name: string): Bus;
}

function world(seed = 1, trace?: (e: NatsTraceEvent) => void): World {
  const clock = new ManualClock(0);
  const nats = new MemoryNats({ clock, random: seededRandom(seed), ...(trace ? { trace } : {}) });
  return { clock, nats, bus: (name) => Bus.over(nats.connect(name), { servers: 'memory', name, logger, timeoutMs: 500 }) };
}

/** A manager serving hello on node-1, and an agent. */
function pair(w: World): { manager: Bus; agent: Bus; seen: Hello[] } {
  const manager = w.bus('manager');
  const agent = w.bus('agent');
  const seen: Hello[] = [];
  manager.serve(prefix(NODE, 'manager'), [
    route(managerMethods.hello, (h) => {
      seen.push(h);
      return ok(helloReply(h));
    }),
  ]);
  return { manager, agent, seen };
}

/** Lets every queued delivery and promise continuation run, without moving the clock. */
const settle = (w: World): Promise<void> => w.clock.advance(0);

function collect(nc: NatsConnection, subject: string, into: string[], queue?: string): void {
  nc.subscribe(subject, { ...(queue ? { queue } : {}), callback: (_e, m) => void into.push(m.subject) });
}

describe('MemoryNats (messages/memory-nats.ts)', () => {
  describe('request/reply through the real Bus', () => {
    it('carries a typed request through serve with the real codecs and clears its deadline', async () => {
      const w = world();
      const { agent, seen } = pair(w);
      const r = await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      if (r.ok) expect(r.value).to.deep.equal(helloReply(hello));
      expect(seen).to.deep.equal([hello]);
      expect(w.clock.pending(), 'no deadline timer left behind').to.equal(0);
      expect(w.clock.now(), 'no simulated time passed').to.equal(0);
    });

    it('gives each request its own deterministic inbox on the requester', async () => {
      const w = world();
      const { agent } = pair(w);
      const spy = w.nats.connect('spy');
      const replies: string[] = [];
      spy.subscribe(`${prefix(NODE, 'manager')}.>`, { callback: (_e, m) => void replies.push(m.reply ?? '') });
      await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
      await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
      expect(replies).to.deep.equal(['_INBOX.agent_2.1', '_INBOX.agent_2.2']);
    });

    it('answers an unknown operation with UNIMPLEMENTED and undecodable bytes with MALFORMED', async () => {
      const w = world();
      const { agent, manager } = pair(w);
      const unknown = await agent.requestBytes(subjects.manager(NODE, 'no.such.op'), new Uint8Array(0));
      expect(!unknown.ok && unknown.error.code).to.equal('UNIMPLEMENTED');
      const garbage = await agent.requestBytes(subjects.manager(NODE, 'hello'), Uint8Array.of(0x0a, 0xff, 0x01));
      expect(!garbage.ok && garbage.error.code).to.equal('MALFORMED');
      const again = await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
      expect(again.ok).to.equal(true);
      void manager;
    });

    it('times out on the injected clock, with the typed TimeoutError', async () => {
      const w = world();
      const server = w.bus('silent');
      const client = w.bus('client');
      server.connection.subscribe(subjects.manager(NODE, 'hello')); // interest, never an answer
      let settled = false;
      const pending = client.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello, { timeoutMs: 300 });
      void pending.then(() => (settled = true));
      await w.clock.advance(299);
      expect(settled, 'not before the deadline').to.equal(false);
      await w.clock.advance(1);
      expect(settled).to.equal(true);
      const r = await pending;
      expect(!r.ok && r.error).to.be.instanceOf(TimeoutError);
      expect(!r.ok && r.error.code).to.equal('DEADLINE_EXCEEDED');
      expect(w.clock.pending()).to.equal(0);
    });

    it('fails at once with NoRespondersError when nobody subscribes', async () => {
      const w = world();
      const client = w.bus('client');
      const r = await client.request(subjects.manager('node-2', 'hello'), managerMethods.hello, hello);
      expect(!r.ok && r.error).to.be.instanceOf(NoRespondersError);
      expect(!r.ok && r.error.code).to.equal('UNAVAILABLE');
      expect(w.clock.now()).to.equal(0);
      expect(w.nats.counters('client').noResponders).to.equal(1);
    });
  });

  describe('subjects, queue groups and order', () => {
    it('matches * and > as NATS does, a literal token containing * included', async () => {
      const w = world();
      const nc = w.nats.connect('sub');
      const pub = w.nats.connect('pub');
      const got: Record<string, string[]> = {};
      for (const s of ['a.*.c', 'a.>', '>', '*', 'a.b', 'a.*', '*.*.*.d', 'a*.b']) {
        got[s] = [];
        collect(nc, s, got[s]);
      }
      for (const s of ['a.b.c', 'a.b', 'a', 'x.y.z', 'a.b.c.d', 'a*.b']) pub.publish(s);
      await settle(w);
      expect(got).to.deep.equal({
        'a.*.c': ['a.b.c'],
        'a.>': ['a.b.c', 'a.b', 'a.b.c.d'],
        '>': ['a.b.c', 'a.b', 'a', 'x.y.z', 'a.b.c.d', 'a*.b'],
        '*': ['a'],
        'a.b': ['a.b'],
        'a.*': ['a.b'],
        '*.*.*.d': ['a.b.c.d'],
        'a*.b': ['a*.b'],
      });
    });

    it('stops matching an unsubscribed wildcard and keeps the others', async () => {
      const w = world();
      const nc = w.nats.connect('sub');
      const a: string[] = [];
      const b: string[] = [];
      const sa = nc.subscribe('x.>', { callback: (_e, m) => void a.push(m.subject) });
      collect(nc, 'x.*', b);
      nc.publish('x.1');
      await settle(w);
      sa.unsubscribe();
      nc.publish('x.2');
      await settle(w);
      expect(a).to.deep.equal(['x.1']);
      expect(b).to.deep.equal(['x.1', 'x.2']);
      expect(sa.isClosed()).to.equal(true);
    });

    it('gives each message to one member per queue group, round robin, and to every plain subscriber', async () => {
      const w = world();
      const members = ['m1', 'm2', 'm3'].map((n) => ({ n, nc: w.nats.connect(n), got: [] as string[] }));
      for (const m of members) collect(m.nc, 'work.*', m.got, 'workers');
      const other: string[] = [];
      collect(w.nats.connect('other'), 'work.>', other, 'auditors');
      const plain: string[] = [];
      collect(w.nats.connect('plain'), 'work.*', plain);
      const pub = w.nats.connect('pub');
      for (let i = 0; i < 6; i++) pub.publish(`work.${i}`);
      await settle(w);
      expect(members.map((m) => m.got)).to.deep.equal([
        ['work.0', 'work.3'],
        ['work.1', 'work.4'],
        ['work.2', 'work.5'],
      ]);
      expect(other).to.have.length(6);
      expect(plain).to.have.length(6);
    });

    it('serves iterator subscriptions and unsubscribe(max) as the client does', async () => {
      const w = world();
      const nc = w.nats.connect('it');
      const sub = nc.subscribe('i.*', { max: 2 });
      const pub = w.nats.connect('pub');
      for (const s of ['i.1', 'i.2', 'i.3']) pub.publish(s, s);
      const got: string[] = [];
      for await (const m of sub) got.push(m.string());
      expect(got).to.deep.equal(['i.1', 'i.2']);
      expect(sub.isClosed()).to.equal(true);
      const cb: string[] = [];
      const two = nc.subscribe('j', { callback: (_e, m) => void cb.push(m.json<{ n: number }>().n.toString()) });
      two.unsubscribe(1);
      pub.publish('j', JSON.stringify({ n: 1 }));
      pub.publish('j', JSON.stringify({ n: 2 }));
      await settle(w);
      expect(cb).to.deep.equal(['1']);
      expect(two.isClosed()).to.equal(true);
    });

    it('refuses bad subjects with the client’s InvalidSubjectError and changes nothing', async () => {
      const w = world();
      const nc = w.nats.connect('c');
      const got: string[] = [];
      collect(nc, '>', got);
      for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a\tb', 'a.*', 'a.>', '*', '>']) {
        expect(() => nc.publish(bad), JSON.stringify(bad)).to.throw(InvalidSubjectError);
      }
      for (const bad of ['', 'a..b', 'a.>.b', ' ', 'a. b']) {
        expect(() => nc.subscribe(bad), JSON.stringify(bad)).to.throw(InvalidSubjectError);
      }
      expect(() => nc.publish('a', undefined, { reply: 'r..x' })).to.throw(InvalidSubjectError);
      let rejected: unknown;
      await nc.request('a.*').catch((e: unknown) => (rejected = e));
      expect(rejected).to.be.instanceOf(InvalidSubjectError);
      const bus = Bus.over(nc, { servers: 'memory', name: 'c', logger });
      const r = bus.publish('a..b', heartbeatCodec, beat(1));
      expect(!r.ok && r.error.code).to.equal('UNAVAILABLE');
      await settle(w);
      expect(got).to.deep.equal([]);
      expect(w.nats.counters('c')).to.include({ sent: 0, delivered: 0 });
    });

    it('delivers asynchronously, in publish order per subscriber, each receiver with its own copy of the bytes', async () => {
      const w = world();
      const a = w.nats.connect('a');
      const b = w.nats.connect('b');
      const r1: Msg[] = [];
      const r2: Msg[] = [];
      const rx = w.nats.connect('rx');
      rx.subscribe('s.>', { callback: (_e, m) => void r1.push(m) });
      w.nats.connect('rx2').subscribe('s.>', { callback: (_e, m) => void r2.push(m) });
      const expected: string[] = [];
      const buf = new Uint8Array(1);
      for (let i = 0; i < 200; i++) {
        buf[0] = i;
        (i % 3 === 0 ? b : a).publish(`s.${i % 3 === 0 ? 'b' : 'a'}`, buf);
        expected.push(`s.${i % 3 === 0 ? 'b' : 'a'}:${i}`);
      }
      buf[0] = 255;
      expect(r1, 'nothing delivered synchronously').to.deep.equal([]);
      await settle(w);
      const seen = (ms: Msg[]): string[] => ms.map((m) => `${m.subject}:${m.data[0]}`);
      expect(seen(r1), 'the sender changed its buffer after publishing: not seen').to.deep.equal(expected);
      expect(seen(r2)).to.deep.equal(expected);
      r2[0]!.data[0] = 99; // one receiver's change does not show in another's copy
      expect(r1[0]!.data[0]).to.equal(0);
      expect(w.nats.counters('rx').delivered).to.equal(200);
    });
  });

  describe('closing', () => {
    it('rejects pending requests as a closed connection, ends subscriptions and refuses publishing', async () => {
      const w = world();
      const silent = w.nats.connect('silent');
      silent.subscribe(subjects.manager(NODE, 'hello'));
      const client = w.bus('client');
      const events = client.subscribe(subjects.events(NODE, 'heartbeat'), heartbeatCodec, () => undefined);
      const statuses: string[] = [];
      const watching = (async () => {
        for await (const s of client.connection.status()) statuses.push(s.type);
      })();
      const pending = client.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello, { timeoutMs: 10_000 });
      await settle(w);
      await client.connection.close();
      const r = await pending;
      expect(!r.ok && r.error).to.be.instanceOf(ConnectionClosedError);
      expect(await events.closed).to.equal(undefined);
      expect(await client.closed()).to.equal(undefined);
      expect(() => client.connection.publish('x')).to.throw(NatsClosedError);
      const p = client.publish(subjects.events(NODE, 'heartbeat'), heartbeatCodec, beat(1));
      expect(!p.ok && p.error).to.be.instanceOf(ConnectionClosedError);
      await watching;
      expect(statuses).to.deep.equal(['close']);
      expect(w.clock.pending(), 'the deadline timer is cleared').to.equal(0);
      await client.close(); // twice is fine
    });

    it('drains: what is already queued for its subscriptions is delivered before it closes', async () => {
      const w = world();
      const rx = w.bus('rx');
      const got: number[] = [];
      rx.subscribe(subjects.events(NODE, 'heartbeat'), heartbeatCodec, (v) => v.ok && got.push(v.value.seq));
      const tx = w.bus('tx');
      for (let i = 1; i <= 3; i++) tx.publish(subjects.events(NODE, 'heartbeat'), heartbeatCodec, beat(i));
      await rx.close();
      expect(got).to.deep.equal([1, 2, 3]);
      expect(rx.connection.isClosed()).to.equal(true);
      tx.publish(subjects.events(NODE, 'heartbeat'), heartbeatCodec, beat(4));
      await settle(w);
      expect(got).to.deep.equal([1, 2, 3]);
    });

    it('a served side that closes leaves no responders behind; serve.stop drains', async () => {
      const w = world();
      const { manager, agent } = pair(w);
      await manager.close();
      const r = await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
      expect(!r.ok && r.error).to.be.instanceOf(NoRespondersError);
      const again = w.bus('manager-2');
      const served = again.serve(prefix(NODE, 'manager'), [route(managerMethods.hello, (h) => ok(helloReply(h)))]);
      expect((await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello)).ok).to.equal(true);
      await served.stop();
      expect(await served.closed).to.equal(undefined);
      const after = await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
      expect(!after.ok && after.error).to.be.instanceOf(NoRespondersError);
    });
  });

  describe('faults', () => {
    it('drop: a manager that loses everything it receives makes requests time out', async () => {
      const w = world();
      const { agent, seen } = pair(w);
      expect(w.nats.setFaults('manager', { drop: 1 }).ok).to.equal(true);
      const pending = agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello, { timeoutMs: 200 });
      await w.clock.advance(200);
      const r = await pending;
      expect(!r.ok && r.error.code).to.equal('DEADLINE_EXCEEDED');
      expect(seen).to.deep.equal([]);
      expect(w.nats.counters('manager')).to.include({ dropped: 1, delivered: 0 });
      w.nats.setFaults('manager', {});
      expect((await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello)).ok).to.equal(true);
    });

    it('duplicate: a subscriber sees each message twice, as two independent copies', async () => {
      const w = world();
      const rx = w.nats.connect('rx');
      const got: Msg[] = [];
      rx.subscribe('e.x', { callback: (_e, m) => void got.push(m) });
      w.nats.setFaults('rx', { duplicate: 1 });
      w.nats.connect('tx').publish('e.x', Uint8Array.of(7));
      await settle(w);
      expect(got.map((m) => m.data[0])).to.deep.equal([7, 7]);
      got[0]!.data[0] = 1;
      expect(got[1]!.data[0]).to.equal(7);
      expect(w.nats.counters('rx')).to.include({ duplicated: 1, delivered: 2 });
    });

    it('duplicate on the sender: every subscriber gets it twice', async () => {
      const w = world();
      const a: string[] = [];
      const b: string[] = [];
      collect(w.nats.connect('a'), 'e.>', a);
      collect(w.nats.connect('b'), 'e.x', b);
      const tx = w.nats.connect('tx');
      w.nats.setFaults('tx', { duplicate: 1 });
      tx.publish('e.x');
      await settle(w);
      expect([a.length, b.length]).to.deep.equal([2, 2]);
    });

    it('delay: a message waits on the injected clock', async () => {
      const w = world();
      const got: string[] = [];
      collect(w.nats.connect('rx'), 'e.x', got);
      const tx = w.nats.connect('tx');
      w.nats.setFaults('tx', { delayMs: [100, 100] });
      tx.publish('e.x');
      await w.clock.advance(99);
      expect(got).to.deep.equal([]);
      await w.clock.advance(1);
      expect(got).to.deep.equal(['e.x']);
      expect(w.nats.counters('tx').delayed).to.equal(1);
    });

    it('reorder: a held message is overtaken by what is sent in the same turn', async () => {
      const w = world();
      const got: string[] = [];
      collect(w.nats.connect('rx'), 'e.*', got);
      const slow = w.nats.connect('slow');
      const fast = w.nats.connect('fast');
      w.nats.setFaults('slow', { reorder: 1 });
      slow.publish('e.first');
      fast.publish('e.second');
      fast.publish('e.third');
      await settle(w);
      expect(got).to.deep.equal(['e.second', 'e.third', 'e.first']);
    });

    it('cut/restore: requests time out (not "no responders") while cut, the status says so, and all is well after', async () => {
      const w = world();
      const { manager, agent } = pair(w);
      const seen: string[] = [];
      manager.observe({ disconnected: () => seen.push('disconnected'), reconnected: () => seen.push('reconnected') });
      w.nats.cut('manager');
      const pending = agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello, { timeoutMs: 100 });
      await w.clock.advance(100);
      const r = await pending;
      expect(!r.ok && r.error.code).to.equal('DEADLINE_EXCEEDED');
      expect(w.nats.counters('manager').blackholed).to.equal(1);
      // What the cut side sends is lost too.
      const got: string[] = [];
      collect(agent.connection, 'e.x', got);
      manager.connection.publish('e.x');
      await settle(w);
      expect(got).to.deep.equal([]);
      w.nats.restore('manager');
      await settle(w);
      expect(seen).to.deep.equal(['disconnected', 'reconnected']);
      expect((await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello)).ok).to.equal(true);
    });

    it('kill: the connection closes at once with an error, its subjects have no responders, the name can connect again', async () => {
      const w = world();
      const { manager, agent } = pair(w);
      expect(w.nats.kill('manager')).to.equal(1);
      const why = await manager.closed();
      expect(why).to.be.instanceOf(Error);
      expect(w.nats.connectionCount('manager')).to.equal(0);
      const r = await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello);
      expect(!r.ok && r.error).to.be.instanceOf(NoRespondersError);
      const back = w.bus('manager');
      back.serve(prefix(NODE, 'manager'), [route(managerMethods.hello, (h) => ok(helloReply(h)))]);
      expect((await agent.request(subjects.manager(NODE, 'hello'), managerMethods.hello, hello)).ok).to.equal(true);
    });

    it('keeps faults and partitions per name: a process that reconnects under its name stays faulty', async () => {
      const w = world();
      const got: string[] = [];
      collect(w.nats.connect('rx'), 'e.x', got);
      w.nats.setFaults('tx', { drop: 1 });
      w.nats.connect('tx').publish('e.x');
      w.nats.kill('tx');
      w.nats.connect('tx').publish('e.x');
      w.nats.setFaults('tx', {});
      w.nats.cut('tx');
      const late = Bus.over(w.nats.connect('tx'), { servers: 'memory', name: 'tx', logger });
      const seen: string[] = [];
      late.observe({ reconnected: () => seen.push('reconnected') });
      late.connection.publish('e.x');
      await settle(w);
      expect(got).to.deep.equal([]);
      expect(w.nats.counters('tx')).to.include({ sent: 3, dropped: 2, blackholed: 1 });
      w.nats.restore('tx');
      late.connection.publish('e.x');
      await settle(w);
      expect(got).to.deep.equal(['e.x']);
      expect(seen).to.deep.equal(['reconnected']);
    });

    it('refuses a bad fault spec with a typed error and keeps the faults in force', () => {
      const w = world();
      expect(w.nats.setFaults('x', { drop: 0.5 }).ok).to.equal(true);
      for (const bad of [{ drop: 2 }, { duplicate: -0.1 }, { reorder: Number.NaN }, { delayMs: [5, 1] as const }, { delayMs: [0.5, 1] as const }]) {
        const r = w.nats.setFaults('x', bad);
        expect(!r.ok && r.error, JSON.stringify(bad)).to.be.instanceOf(MemoryNatsError);
      }
      expect(w.nats.faults('x')).to.deep.equal({ drop: 0.5 });
      expect(() => w.nats.connect('')).to.throw(MemoryNatsError);
      expect(() => w.nats.cut('')).to.throw(MemoryNatsError);
      expect(w.nats.setFaults('', { drop: 1 }).ok).to.equal(false);
      expect(w.nats.allCounters().map((c) => c.name)).to.deep.equal(['x']);
    });
  });

  describe('determinism', () => {
    /** Three nodes exchanging hellos and heartbeats under every fault; returns the full event log. */
    async function scripted(seed: number): Promise<string[]> {
      const log: string[] = [];
      const w = world(seed, (e) => log.push(JSON.stringify(e)));
      const nodes = ['n-1', 'n-2', 'n-3'];
      const agents = nodes.map((node) => {
        const manager = w.bus(`manager ${node}`);
        manager.serve(prefix(node, 'manager'), [route(managerMethods.hello, (h) => ok(helloReply(h)))]);
        const agent = w.bus(`agent ${node}`);
        agent.subscribe(subjects.events(node, 'heartbeat'), heartbeatCodec, (v) => log.push(`hb ${node} ${v.ok ? v.value.seq : v.error.code} @${w.clock.now()}`));
        w.nats.setFaults(`agent ${node}`, { drop: 0.2, duplicate: 0.2, reorder: 0.3, delayMs: [0, 30] });
        return { node, manager, agent };
      });
      const results: Array<Promise<void>> = [];
      for (let round = 0; round < 20; round++) {
        for (const { node, manager, agent } of agents) {
          manager.publish(subjects.events(node, 'heartbeat'), heartbeatCodec, beat(round, node));
          results.push(
            agent
              .request(subjects.manager(node, 'hello'), managerMethods.hello, { ...hello, node }, { timeoutMs: 50 })
              .then((r) => void log.push(`hello ${node} ${round} ${r.ok ? 'ok' : r.error.code} @${w.clock.now()}`)),
          );
        }
        await w.clock.advance(10);
      }
      await w.clock.advance(200);
      await Promise.all(results);
      log.push(JSON.stringify(w.nats.allCounters()));
      return log;
    }

    it('the same seed gives the same log byte for byte; another seed another', async () => {
      const a = await scripted(7);
      const b = await scripted(7);
      const c = await scripted(8);
      expect(a.join('\n')).to.equal(b.join('\n'));
      expect(a.join('\n')).to.not.equal(c.join('\n'));
      const kinds = new Set(a.filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { kind?: string }).kind));
      for (const k of ['deliver', 'drop', 'duplicate', 'reorder', 'delay']) expect(kinds.has(k), k).to.equal(true);
      expect(a.some((l) => l.includes('DEADLINE_EXCEEDED'))).to.equal(true);
      expect(a.some((l) => / ok @/.test(l))).to.equal(true);
    });
  });

  describe('Bus.connect is untouched and Bus.over wraps any connection', () => {
    it('keeps the signature of Bus.connect', () => {
      type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
      const connectUnchanged: Same<typeof Bus.connect, (options: BusOptions) => Promise<Bus>> = true;
      const overAsAsked: Same<typeof Bus.over, (connection: NatsConnection, options: BusOptions) => Bus> = true;
      expect([connectUnchanged, overAsAsked]).to.deep.equal([true, true]);
      expect(Bus.connect.length).to.equal(1);
    });
  });

  describe('cost', () => {
    it('routes 100 nodes × 4 served prefixes with heartbeats and requests quickly', async () => {
      const w = world();
      const buses: Array<{ node: string; manager: Bus; agent: Bus }> = [];
      let beats = 0;
      for (let i = 0; i < 100; i++) {
        const node = `node-${i}`;
        const manager = w.bus(`manager ${node}`);
        const agent = w.bus(`agent ${node}`);
        manager.serve(prefix(node, 'manager'), [route(managerMethods.hello, (h) => ok(helloReply(h)))]);
        manager.serve(prefix(node, 'ctl'), []);
        agent.serve(prefix(node, 'agent'), []);
        agent.serve(`${prefix(node, 'ctl')}.agent`, []);
        agent.subscribe(subjects.events(node, 'heartbeat'), heartbeatCodec, () => beats++);
        buses.push({ node, manager, agent });
      }
      const started = performance.now();
      const rounds = 200;
      for (let round = 0; round < rounds; round++) {
        for (const { node, manager } of buses) manager.publish(subjects.events(node, 'heartbeat'), heartbeatCodec, beat(round, node));
      }
      await settle(w);
      const publishMs = performance.now() - started;
      const t2 = performance.now();
      const requests: Array<Promise<unknown>> = [];
      for (let round = 0; round < 20; round++) {
        for (const { node, agent } of buses) requests.push(agent.request(subjects.manager(node, 'hello'), managerMethods.hello, { ...hello, node }));
      }
      const answers = await Promise.all(requests);
      const requestMs = performance.now() - t2;
      expect(beats).to.equal(rounds * 100);
      expect(answers.every((r) => (r as { ok: boolean }).ok)).to.equal(true);
      console.log(
        `      ${rounds * 100} heartbeats in ${publishMs.toFixed(0)} ms (${((rounds * 100) / publishMs).toFixed(0)}/ms); ` +
          `${requests.length} typed requests in ${requestMs.toFixed(0)} ms`,
      );
      expect(publishMs).to.be.below(5000);
      expect(requestMs).to.be.below(5000);
    });
  });
});
