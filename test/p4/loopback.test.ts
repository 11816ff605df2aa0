import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor } from 'xstate';
import { sessionLogic, type SessionInput, type SessionRef } from '../../actors/manager/session/session.js';
import { keyReadResponse, readAllRequest, type WriteCounts } from '../../actors/manager/session/session-io.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { desiredSet, diffEntities, type Keyed } from '../../p4/desired.js';
import { ip, mac, tcp } from '../../p4/frames.js';
import { decodeReadResponse, encodeWriteRequest, P4RuntimeClient, P4RuntimeError } from '../../p4/runtime-client.js';
import type { P4RuntimeLink, P4RuntimeLinkStream } from '../../p4/runtime-link.js';
import { LoopbackPath, loopbackLink, type LoopbackFrame, type LoopbackLink } from '../../p4/target/loopback.js';
import { modelDevice } from '../../p4/target/model-program.js';
import { P4RuntimeServer } from '../../p4/target/server.js';
import { info, p4infoJson, render, SEL, T } from '../support/session-render.js';

type Msg = Record<string, unknown>;

const DESIRED = render(100, 20, 5);
const DEADLINE_MS = 2000;

/** One node in this process: a target, the path to it, and sessions connecting through loopback links. */
class Node {
  readonly clock = new ManualClock(1_000_000);
  readonly path = new LoopbackPath();
  readonly links: LoopbackLink[] = [];
  readonly frames: string[] = [];
  readonly synced: { counts: WriteCounts; kind: string }[] = [];
  readonly states: string[] = [];
  readonly sessions: SessionRef[] = [];
  server: P4RuntimeServer;
  desired: ReadonlyMap<string, Keyed> = desiredSet(DESIRED);

  constructor() {
    this.server = this.newServer();
  }

  newServer(): P4RuntimeServer {
    return new P4RuntimeServer({ devices: [{ id: 1, ...modelDevice({ clock: this.clock }) }], logger: silentLogs().root, clock: this.clock });
  }

  /** What the session's `connect` does: a new link to whichever target runs now. */
  readonly connect = (): Promise<P4RuntimeLink> => {
    const link = loopbackLink(this.server, {
      clock: this.clock,
      path: this.path,
      deadlineMs: DEADLINE_MS,
      tap: (f: LoopbackFrame) => this.frames.push(`${this.clock.now()} ${f.method} ${f.direction} ${Buffer.from(f.bytes).toString('hex')}`),
    });
    this.links.push(link);
    return Promise.resolve(link);
  };

  start(electionId: bigint, resyncMs = 600_000): SessionRef {
    const input: SessionInput = {
      address: 'loopback',
      connect: this.connect,
      deviceId: 1,
      electionId,
      p4infoJson,
      desired: () => this.desired,
      volatileTables: new Set(info.tables.filter((t) => t.addOnMiss).map((t) => t.id)),
      profileIds: [SEL],
      resyncMs,
      batchSize: 500,
      backoff: { initialMs: 50, maxMs: 500 },
      random: seededRandom(3),
      logger: silentLogs().root,
      onSynced: (counts, kind) => this.synced.push({ counts, kind }),
    };
    const s = createActor(sessionLogic, { input, clock: this.clock });
    s.subscribe({ next: (snap) => this.states.push(`${this.clock.now()} ${JSON.stringify(snap.value)}`), error: (e) => console.error('session failed', e) });
    s.start();
    this.sessions.push(s);
    return s;
  }

  /** Moves simulated time in steps until `check` holds. */
  async until(what: string, check: () => boolean, maxMs = 60_000, stepMs = 10): Promise<void> {
    for (let waited = 0; ; waited += stepMs) {
      await this.clock.advance(0);
      if (check()) return;
      if (waited >= maxMs) throw new Error(`timed out waiting for ${what} (${this.states.slice(-3).join(' | ')})`);
      await this.clock.advance(stepMs);
    }
  }

  stop(): void {
    for (const s of this.sessions.splice(0)) s.stop();
  }
}

const state = (s: SessionRef): string => JSON.stringify(s.getSnapshot().value);
const ready = (s: SessionRef): boolean => state(s) === '{"connected":"ready"}';

/**
 * The real session actor against a P4RuntimeServer in the same process, through the loopback
 * link, on a ManualClock: every step is driven by simulated time and microtasks only.
 */
describe('P4Runtime loopback link: the session against an in-process target', function () {
  this.timeout(20_000);
  const node = new Node();
  const counters = () => node.server.counters;
  const program = () => node.server.devices.get(1)!.program!;
  after(() => node.stop());

  it('arbitrates, pushes the pipeline and programs the desired state without simulated time passing', async () => {
    const t0 = node.clock.now();
    const s = node.start(1n);
    await node.until('first reconcile', () => node.synced.length === 1, 0);
    expect(node.clock.now(), 'microtasks only').to.equal(t0);
    expect(node.synced[0]!.counts).to.deep.include({ insert: DESIRED.length, modify: 0, delete: 0 });
    expect(counters()).to.deep.include({ inserts: DESIRED.length, updatesFailed: 0, pipelineCommits: 1 });
    expect(program().stats().tableEntries).to.be.greaterThan(0);
    expect(ready(s)).to.equal(true);
    expect(node.server.arbitration.primary(1, '')).to.not.equal(undefined);
  });

  it('a manager restart (new session, same target) writes zero updates and keeps learned connections', async () => {
    const syn = tcp({ src: mac('02:00:00:00:00:05'), dst: mac('02:00:00:00:00:01'), srcIp: ip('10.244.0.15'), dstIp: ip('10.96.0.1'), sport: 40000, dport: 80, flags: 'S' });
    const out = program().process(7, syn);
    expect(out.dropped, out.dropped ? out.reason : '').to.equal(false);
    const learned = program().stats().learned;
    expect(learned).to.be.greaterThan(0);
    const writes = counters().writeRpcs;
    node.stop();
    await node.clock.advance(0);
    expect(node.server.arbitration.primary(1, ''), 'the target saw the stream go').to.equal(undefined);
    node.synced.length = 0;
    const s = node.start(2n);
    await node.until('reconcile after restart', () => node.synced.length === 1, 0);
    expect(node.synced[0]!.counts).to.deep.include({ insert: 0, modify: 0, delete: 0, writes: 0 });
    expect(counters().writeRpcs - writes, 'writes counted at the target').to.equal(0);
    expect(counters().pipelineCommits, 'the running pipeline kept').to.equal(1);
    expect(program().stats().learned).to.equal(learned);
    expect(ready(s)).to.equal(true);
  });

  it('slow writes (SetFaults under the ManualClock) complete only as the clock advances, in order', async () => {
    const s = node.sessions[0]!;
    expect(node.server.setFaults(1, { writeDelayMs: 500 }).ok).to.equal(true);
    const before = { ...counters() };
    node.synced.length = 0;
    node.desired = desiredSet(render(101, 20, 6));
    const t0 = node.clock.now();
    s.send({ type: 'desired.changed' });
    await node.clock.advance(0);
    expect(counters().delayedWrites - before.delayedWrites, 'held').to.equal(1);
    await node.clock.advance(499);
    expect(counters().writeRpcs, 'nothing applied before the delay').to.equal(before.writeRpcs);
    await node.clock.advance(1);
    expect(counters().writeRpcs - before.writeRpcs, 'the first phase (members) at 500 ms').to.equal(1);
    await node.until('sync', () => node.synced.length === 1, 5000, 50);
    // Three phases (members, groups, entries), one Write each, one after the other.
    expect(node.clock.now() - t0).to.equal(1500);
    expect(counters().inserts - before.inserts).to.equal(2 + 20);
    expect(counters().modifies - before.modifies).to.equal(20);
    expect(counters().updatesFailed).to.equal(0);
    expect(node.server.setFaults(1, {}).ok).to.equal(true);
  });

  it('a write held past its deadline: DEADLINE_EXCEEDED on the injected clock, the held write abandoned, then recovery', async () => {
    const s = node.sessions[0]!;
    node.server.setFaults(1, { writeDelayMs: 3000 });
    const before = { ...counters() };
    node.synced.length = 0;
    node.desired = desiredSet(render(102, 20, 6));
    s.send({ type: 'desired.changed' });
    await node.clock.advance(DEADLINE_MS - 1);
    expect(state(s)).to.include('syncing');
    await node.clock.advance(1);
    expect(s.getSnapshot().context.lastError).to.match(/Deadline exceeded/);
    expect(state(s)).to.not.include('syncing');
    await node.clock.advance(1000);
    expect(counters().abandonedWrites - before.abandonedWrites, 'the caller gave up: not applied').to.be.at.least(1);
    expect(counters().writeRpcs).to.equal(before.writeRpcs);
    node.server.setFaults(1, {});
    // Reconnected writes may still queue behind abandoned ones; then it converges.
    await node.until('ready again', () => ready(s) && node.synced.length > 0, 20_000, 50);
    expect(counters().inserts - before.inserts).to.equal(2);
    expect(counters().updatesFailed).to.equal(0);
  });

  it('injected failures (seeded) are repaired by reconciling again, with no genuine failure on the way', async () => {
    const s = node.sessions[0]!;
    const seen = node.states.length;
    const before = { ...counters() };
    node.server.setFaults(1, { failPerMille: 500, failCode: 14, seed: 5 });
    node.synced.length = 0;
    node.desired = desiredSet(render(110, 20, 8));
    s.send({ type: 'desired.changed' });
    await node.until('converged with faults on', () => ready(s) && node.synced.some((x) => x.kind === 'reconcile'), 30_000, 50);
    expect(counters().injectedFailures - before.injectedFailures, 'updates refused').to.be.greaterThan(0);
    expect(node.states.slice(seen).some((x) => x.includes('degraded')), 'went through degraded').to.equal(true);
    expect(counters().updatesFailed, 'no duplicate or missing entry').to.equal(0);
    node.server.setFaults(1, {});
    // The target holds exactly the desired state: a new session finds nothing to write.
    node.stop();
    node.synced.length = 0;
    node.start(3n);
    await node.until('fresh reconcile', () => node.synced.length === 1, 0);
    expect(node.synced[0]!.counts).to.deep.include({ insert: 0, modify: 0, delete: 0, writes: 0 });
  });

  it('a target wipe (a new target, the old one stopped) is reprogrammed in full', async () => {
    const s = node.sessions[0]!;
    const old = node.server;
    node.server = node.newServer();
    node.synced.length = 0;
    await old.close(0);
    await node.until('reconcile on the new target', () => node.synced.length === 1 && ready(s), 5000);
    expect(node.states.some((x) => x.includes('backoff')), 'the session saw the connection drop').to.equal(true);
    expect(counters()).to.deep.include({ inserts: node.desired.size, updatesFailed: 0, pipelineCommits: 1 });
    expect(node.synced[0]!.counts.insert).to.equal(node.desired.size);
  });

  it('a cut path: the write runs into its deadline, the target sees nothing; restored, the session recovers', async () => {
    const s = node.sessions[0]!;
    const before = { ...counters() };
    const primary = node.server.arbitration.primary(1, '');
    node.path.cut();
    node.synced.length = 0;
    node.desired = desiredSet(render(111, 20, 8));
    s.send({ type: 'desired.changed' });
    await node.clock.advance(DEADLINE_MS);
    expect(s.getSnapshot().context.lastError).to.match(/Deadline exceeded/);
    await node.clock.advance(3000);
    expect(counters().writeRpcs, 'nothing reached the target').to.equal(before.writeRpcs);
    expect(ready(s)).to.equal(false);
    expect(node.server.arbitration.primary(1, ''), 'the old stream is still there (black hole, before keepalive)').to.equal(primary);
    node.path.restore();
    await node.until('recovered', () => ready(s) && node.synced.length > 0, 10_000);
    expect(counters().inserts - before.inserts).to.equal(2);
    expect(counters().updatesFailed).to.equal(0);
    expect(node.server.arbitration.primary(1, '')).to.not.equal(primary);
  });

  it('a path cut longer than the keepalive: the target drops the connection, then the session recovers', async () => {
    const s = node.sessions[0]!;
    node.path.cut();
    await node.clock.advance(15_000);
    expect(node.server.arbitration.primary(1, ''), 'keepalive: the stream is gone').to.equal(undefined);
    expect(ready(s), 'no write was due: the session did not notice').to.equal(true);
    node.path.restore();
    await node.until('stream ended and reconnected', () => ready(s) && node.server.arbitration.primary(1, '') !== undefined, 10_000);
    expect(s.getSnapshot().context.lastError).to.match(/keepalive/);
  });

  it('kill(): the manager side dies, the target sees its stream end at once', async () => {
    const s = node.sessions[0]!;
    const link = node.links[node.links.length - 1]!;
    const writes = counters().writeRpcs;
    link.kill();
    await node.clock.advance(0);
    // The session sees its stream fail and reconnects through a new link (the simulator would stop it).
    await node.until('reconnected', () => ready(s) && node.server.arbitration.primary(1, '') !== undefined, 10_000);
    expect(s.getSnapshot().context.lastError).to.match(/killed/);
    expect(counters().writeRpcs, 'nothing to write after the reconnect').to.equal(writes);
    const refused = await link.write({ device_id: 1, updates: [] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused, 'a killed link takes no calls').to.be.instanceOf(P4RuntimeError);
    expect((refused as P4RuntimeError).code, 'UNAVAILABLE').to.equal(14);
  });
});

/** The loopback carries the grpc client's bytes to the server's own code and gives what grpc gives. */
describe('P4Runtime loopback link: the same bytes and answers as grpc', function () {
  this.timeout(20_000);
  const clock = new ManualClock(0);
  const server = new P4RuntimeServer({ devices: [{ id: 1, ...modelDevice({ clock }) }], logger: silentLogs().root, clock });
  server.load(1, p4infoJson);
  const dir = mkdtempSync(join(tmpdir(), 'infra-loopback-'));
  let grpc: P4RuntimeClient;
  const frames: LoopbackFrame[] = [];
  const link = loopbackLink(server, { clock, tap: (f) => frames.push(f) });
  const entry = (n: number): Msg => (DESIRED[n * 2] as Msg);

  before(async () => {
    await server.listen(`unix://${join(dir, 'p4rt.sock')}`);
    grpc = new P4RuntimeClient(`unix://${join(dir, 'p4rt.sock')}`);
  });
  after(async () => {
    grpc.close();
    await server.close(100);
    rmSync(dir, { recursive: true, force: true });
  });

  async function arbitrate(c: P4RuntimeLink, low: number): Promise<P4RuntimeLinkStream> {
    const st = c.openStream();
    st.send({ arbitration: { device_id: 1, election_id: { high: 0, low } } });
    const m = await st.next();
    expect((m?.arbitration as { status?: { code?: number } }).status?.code ?? 0).to.equal(0);
    return st;
  }
  const failure = (p: Promise<unknown>): Promise<P4RuntimeError> =>
    p.then(
      () => expect.fail('should fail'),
      (e: unknown) => e as P4RuntimeError,
    );

  it('a Write carries exactly encodeWriteRequest\'s bytes', async () => {
    const st = await arbitrate(link, 1);
    const req = { device_id: 1, election_id: { high: 0, low: 1 }, updates: [0, 1, 2].map((n) => ({ type: 'INSERT', entity: entry(n) })) };
    frames.length = 0;
    await link.write(req);
    const sent = frames.filter((f) => f.method === 'Write' && f.direction === 'request');
    expect(sent).to.have.length(1);
    expect(Buffer.from(sent[0]!.bytes).equals(encodeWriteRequest(req))).to.equal(true);
    expect(frames.some((f) => f.method === 'Write' && f.direction === 'response')).to.equal(true);
    st.close();
    await clock.advance(0);
    expect(server.arbitration.primary(1, ''), 'the stream went').to.equal(undefined);
  });

  it('a deadline on the injected clock: DEADLINE_EXCEEDED, and the held write is abandoned on the target', async () => {
    const st = await arbitrate(link, 3);
    expect(server.setFaults(1, { writeDelayMs: 45_000 }).ok).to.equal(true);
    const before = { ...server.counters };
    let settled = false;
    const outcome = failure(link.write({ device_id: 1, election_id: { high: 0, low: 3 }, updates: [{ type: 'INSERT', entity: entry(50) }] })).finally(() => (settled = true));
    await clock.advance(29_999);
    expect(settled, 'the default deadline is 30 s').to.equal(false);
    await clock.advance(1);
    const e = await outcome;
    expect([e.code, e.message]).to.deep.equal([4, 'Deadline exceeded after 30000 ms']);
    await clock.advance(15_000);
    expect(server.counters.abandonedWrites - before.abandonedWrites, 'the caller gave up: dropped').to.equal(1);
    expect(server.counters.writeRpcs).to.equal(before.writeRpcs);
    expect(server.setFaults(1, {}).ok).to.equal(true);
    st.close();
  });

  it('answers as grpc does: per-update errors with details, reads, pipeline, stream errors', async () => {
    const results: Record<string, unknown>[] = [];
    for (const [c, low] of [[link, 5], [grpc, 6]] as const) {
      const st = await arbitrate(c, low);
      const dup = await failure(c.write({ device_id: 1, election_id: { high: 0, low }, updates: [{ type: 'INSERT', entity: entry(0) }, { type: 'INSERT', entity: entry(40) }] }));
      const denied = await failure(c.write({ device_id: 1, election_id: { high: 0, low: 99 }, updates: [] }));
      const unknownDevice = await failure(c.read({ device_id: 9, entities: [{ table_entry: { table_id: 0 } }] }));
      const read = await c.read({ device_id: 1, entities: [{ table_entry: { table_id: T('ipv4_to_port') } }] });
      const pipeline = await c.getPipeline({ device_id: 1, response_type: 'COOKIE_ONLY' });
      // The undo: leave the table as it was for the other client.
      await c.write({ device_id: 1, election_id: { high: 0, low }, updates: [{ type: 'DELETE', entity: { table_entry: { table_id: T('ipv4_to_port'), match: ((entry(40).table_entry as Msg).match) } } }] });
      st.close();
      const bad = c.openStream();
      bad.send({ packet: { payload: new Uint8Array([1]) } });
      await bad.next(1000);
      results.push({
        dup: [dup.code, dup.message, dup.details],
        denied: [denied.code, denied.message],
        unknownDevice: [unknownDevice.code, unknownDevice.message],
        read,
        pipeline,
        badStream: [bad.ended?.code, bad.ended?.message],
      });
      bad.close();
    }
    expect(results[0]).to.deep.equal(results[1]);
    expect((results[0]!.read as unknown[]).length, 'the three entries of the first test and the one the batch inserted').to.equal(4);
    const dup = results[0]!.dup as [number, string, { canonical_code: number }[]];
    expect(dup[0], 'UNKNOWN with per-update details').to.equal(2);
    expect(dup[2].map((d) => d.canonical_code)).to.deep.equal([6, 0]);
    expect((results[0]!.badStream as unknown[])[0], 'FAILED_PRECONDITION').to.equal(9);
  });
});

describe('P4Runtime readEach: each response message told as it arrives, undecoded (grpc and loopback alike)', function () {
  this.timeout(20_000);
  const clock = new ManualClock(0);
  // Three entities per ReadResponse, so that a read of the desired state is many messages.
  const server = new P4RuntimeServer({ devices: [{ id: 1, ...modelDevice({ clock }) }], logger: silentLogs().root, clock, readChunk: 3 });
  server.load(1, p4infoJson);
  const dir = mkdtempSync(join(tmpdir(), 'infra-loopback-read-'));
  const link = loopbackLink(server, { clock });
  let grpc: P4RuntimeClient;
  const all = readAllRequest(1, info.actionProfiles.map((p) => p.id));

  before(async () => {
    await server.listen(`unix://${join(dir, 'p4rt.sock')}`);
    grpc = new P4RuntimeClient(`unix://${join(dir, 'p4rt.sock')}`);
    const st = link.openStream();
    st.send({ arbitration: { device_id: 1, election_id: { high: 0, low: 1 } } });
    await st.next();
    for (const phase of diffEntities(desiredSet(DESIRED), [], { volatileTables: new Set() }).phases) await link.write({ device_id: 1, election_id: { high: 0, low: 1 }, updates: [...phase] });
    st.close();
  });
  after(async () => {
    grpc.close();
    await server.close(100);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const side of ['loopback', 'grpc'] as const) {
    it(`${side}: the messages, decoded in order, are the whole read; a throw from the reader fails the read with that error`, async () => {
      const c: P4RuntimeLink = side === 'grpc' ? grpc : link;
      const messages: Msg[][] = [];
      await c.readEach(all, (m) => messages.push(decodeReadResponse(m)));
      const whole = await c.read(all);
      expect(whole).to.have.length(DESIRED.length);
      expect(messages.length).to.equal(Math.ceil(DESIRED.length / 3));
      expect(messages.every((m) => m.length <= 3)).to.equal(true);
      expect(messages.flat()).to.deep.equal(whole);
      // Keyed from the bytes as reconcile keys them: every desired entity, equal in key and value.
      const read: Keyed[] = [];
      await c.readEach(all, (m) => keyReadResponse(m, read));
      const desired = desiredSet(DESIRED);
      expect(read.map((k) => [k.key, k.value]).sort()).to.deep.equal([...desired.values()].map((k) => [k.key, k.value]).sort());
      expect(read.map((k) => k.entity)).to.deep.equal(whole);

      const mine = new Error('the reader gave up');
      let told = 0;
      const failed = await c.readEach(all, () => {
        if (++told === 2) throw mine;
      }).then(
        () => expect.fail('should fail'),
        (e: unknown) => e,
      );
      expect(failed).to.equal(mine);
      expect(await c.read(all), 'the link reads on').to.have.length(DESIRED.length);
    });
  }
});

/** Same seed, same run: the bytes carried and the session's states, time-stamped, are identical. */
describe('P4Runtime loopback link: determinism', function () {
  this.timeout(20_000);

  async function run(): Promise<string[]> {
    const node = new Node();
    node.server.setFaults(1, { writeDelayMs: 20, failPerMille: 300, failCode: 8, seed: 11 });
    const s = node.start(1n);
    await node.until('converged', () => ready(s), 30_000, 5);
    node.path.cut();
    node.desired = desiredSet(render(100, 21, 5));
    s.send({ type: 'desired.changed' });
    await node.clock.advance(DEADLINE_MS + 500);
    node.path.restore();
    await node.until('recovered', () => ready(s) && node.synced.some((x) => x.counts.insert > 0 && x.counts.insert < 10), 30_000, 5);
    node.stop();
    await node.clock.advance(0);
    return [...node.states, ...node.frames];
  }

  it('replays byte for byte', async () => {
    const a = await run();
    const b = await run();
    expect(a.length).to.be.greaterThan(20);
    expect(a.some((l) => l.includes('degraded'))).to.equal(true);
    expect(b).to.deep.equal(a);
  });
});
