/**
 * HTTP/2 anomalies (rapid reset, CONTINUATION flood, SETTINGS and PING floods, window overflow,
 * malformed frames) against our two gRPC listeners, each a separate process: the software P4
 * target (bin/target) and the agent's CNI backend (simulations/fuzz/cni-server-process.ts).
 * Oracle: same PID alive, valid requests keep succeeding within 2 s, attacks' final requests
 * answered on connections the server keeps, RSS growth bounded, and — regression — connections
 * the server gave up on are closed rather than held forever.
 */
import { rmSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { seededRandom } from '../../core/random.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';
import { startCniServerProcess, type CniServerProcess } from '../../simulations/fuzz/cni-server-process.js';
import { ATTACK_KINDS, ATTACK_VARIANTS, CONNECTION_PREFACE, FRAME, FrameReader, http2Attack, type AttackKind } from '../../simulations/fuzz/http2-anomalies.js';
import {
  attackSeed,
  cniFuzzTarget,
  openSockets,
  p4rtFuzzTarget,
  processAlive,
  replayAttack,
  runHttp2Fuzz,
  sendAttack,
  socketsClosed,
  type Http2FuzzReport,
  type Http2FuzzTarget,
} from '../../simulations/fuzz/http2-fuzz.js';

const SHAPE = { path: '/p4.v1.P4Runtime/Capabilities' };
/** Rounds per kind, and at least one of every variant. */
const ROUNDS = 3;
const RSS_BOUND_KB = 200 * 1024;
/**
 * A connection the server gave up on (GOAWAY for a connection error) must be closed within this
 * long: the servers' keepalive (10 s + 5 s timeout, see the report) plus slack.
 */
const RECLAIM_MS = 20_000;
/** Attacks after which node:http2 stops reading and, without keepalive, holds the socket forever. */
const LEAKY: readonly [AttackKind, number][] = [
  ['rapid-reset', 0],
  ['continuation-flood', 3],
  ['malformed', 8],
  ['malformed', 11],
];

function summary(report: Http2FuzzReport): string {
  const kinds = Object.entries(report.kinds)
    .map(([k, s]) => `${k}: ${s.attacks} attacks ${s.frames} frames ${s.durationMs} ms rss ${s.rssGrowthKb >= 0 ? '+' : ''}${s.rssGrowthKb} KiB, probes ${s.probesOk} ok (max ${s.probeMaxMs} ms)`)
    .join('\n  ');
  return `${report.target}: ${report.durationMs} ms, rss ${report.rssStartKb} → ${report.rssEndKb} KiB\n  ${kinds}`;
}

describe('HTTP/2 anomalies against our gRPC listeners (issue 11)', function () {
  this.timeout(60_000);
  let dir: string;
  let target: TargetProcess;
  let cni: CniServerProcess;
  /** Sockets the leaky attacks left in each server, and when. */
  const leaks = new Map<number, { sockets: Set<string>; at: number }>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'infra-h2fuzz-'));
    [target, cni] = await Promise.all([startTarget(), startCniServerProcess({ socketPath: join(dir, 'cni', 'cni.sock') })]);
    // The leak regression runs first, so the servers have the whole file's time to let go.
    for (const t of [p4rtFuzzTarget(target), cniFuzzTarget(cni)]) leaks.set(t.pid, await leakyAttacks(t));
  });
  after(async () => {
    await Promise.all([target?.stop(), cni?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('replays: a seed gives the same bytes, and the frames are what the attack says', () => {
    for (const kind of ATTACK_KINDS) {
      for (let round = 0; round < ATTACK_VARIANTS[kind].length; round++) {
        const a = http2Attack(kind, round, seededRandom(attackSeed(3, kind, round)), SHAPE);
        const b = replayAttack(kind, round, attackSeed(3, kind, round), SHAPE);
        expect(Buffer.concat(b.chunks).equals(Buffer.concat(a.chunks)), `${kind} round ${round}`).to.equal(true);
        expect(a.variant).to.equal(ATTACK_VARIANTS[kind][round]);
      }
    }
    const other = http2Attack('rapid-reset', 0, seededRandom(attackSeed(4, 'rapid-reset', 0)), SHAPE);
    const first = http2Attack('rapid-reset', 0, seededRandom(attackSeed(3, 'rapid-reset', 0)), SHAPE);
    expect(Buffer.concat(other.chunks).equals(Buffer.concat(first.chunks))).to.equal(false);

    // Rapid reset: the preface, then N HEADERS each followed by its RST_STREAM, then a request.
    const bytes = Buffer.concat(first.chunks);
    expect(bytes.subarray(0, CONNECTION_PREFACE.length).equals(CONNECTION_PREFACE)).to.equal(true);
    const types: number[] = [];
    const streams: number[] = [];
    new FrameReader((f) => {
      types.push(f.type);
      streams.push(f.streamId);
    }).push(bytes.subarray(CONNECTION_PREFACE.length));
    expect(types.length).to.equal(first.frames);
    const n = Number(/^(\d+) streams/.exec(first.note)?.[1]);
    expect(n).to.be.within(1000, 2500);
    expect(types.filter((t) => t === FRAME.RST_STREAM)).to.have.length(n);
    expect(types.filter((t) => t === FRAME.HEADERS)).to.have.length(n + 1);
    expect(types[1]).to.equal(FRAME.HEADERS);
    expect(types[2]).to.equal(FRAME.RST_STREAM);
    expect(streams[1]).to.equal(streams[2]);
    expect(streams.at(-1)).to.equal(first.finalStream);
  });

  it('the attack runner sees a connection kept open without an answer, and one the server closes', async () => {
    const servers: Server[] = [];
    const listen = async (onConnection: (s: import('node:net').Socket) => void): Promise<string> => {
      const server = createServer(onConnection);
      servers.push(server);
      const path = join(dir, `raw-${servers.length}.sock`);
      await new Promise<void>((res) => server.listen(path, res));
      return `unix://${path}`;
    };
    try {
      const silent = await listen((s) => s.resume());
      const closing = await listen((s) => s.destroy());
      const attack = replayAttack('ping-flood', 1, 1, SHAPE); // ends with a request
      const held = await sendAttack(silent, attack, { probeDeadlineMs: 300 });
      expect(held).to.include({ closedBy: 'client', final: 'unanswered', complete: true });
      const cut = await sendAttack(closing, attack, { probeDeadlineMs: 300 });
      expect(cut.closedBy).to.equal('server');
    } finally {
      for (const s of servers) s.close();
    }
  });

  const fuzz = async (t: Http2FuzzTarget): Promise<Http2FuzzReport> => {
    const report = await runHttp2Fuzz({ target: t, seed: 11, rounds: ROUNDS, allVariants: true, stallMs: 500, holdMs: 100, rssBoundKb: RSS_BOUND_KB });
    console.log(`      ${summary(report)}`);
    expect(report.failures, JSON.stringify(report.failures, null, 1)).to.deep.equal([]);
    expect(report.alive).to.equal(true);
    expect(processAlive(t.pid)).to.equal(true);
    for (const kind of ATTACK_KINDS) {
      const k = report.kinds[kind]!;
      expect(k.attacks, kind).to.equal(Math.max(ROUNDS, ATTACK_VARIANTS[kind].length));
      expect(Object.keys(k.variants), kind).to.have.members([...ATTACK_VARIANTS[kind]]);
      expect(k.probesOk, kind).to.be.at.least(2 * k.attacks);
      expect(k.rssGrowthKb, kind).to.be.below(RSS_BOUND_KB);
    }
    return report;
  };

  it('the P4 target (bin/target, its own process) survives every kind and keeps answering', async () => {
    await fuzz(p4rtFuzzTarget(target));
    expect(target.child.exitCode).to.equal(null);
  });

  it('the CNI backend (its own process) survives every kind and keeps answering', async () => {
    await fuzz(cniFuzzTarget(cni));
    expect(cni.child.exitCode).to.equal(null);
  });

  it('the oracle notices a dead process', async () => {
    const victim = await startCniServerProcess({ socketPath: join(dir, 'victim', 'cni.sock') });
    try {
      const t = cniFuzzTarget(victim);
      let killed = false;
      const report = await runHttp2Fuzz({
        target: {
          ...t,
          probe: async (ms) => {
            if (!killed) {
              killed = true;
              victim.child.kill('SIGKILL');
              await new Promise((res) => victim.child.once('exit', res));
            }
            return t.probe(ms);
          },
        },
        seed: 1,
        rounds: 2,
        kinds: ['ping-flood'],
      });
      expect(report.alive).to.equal(false);
      expect(report.failures.map((f) => f.what)).to.include.members(['probe-failed', 'process-exited']);
      expect(report.kinds['ping-flood']!.attacks).to.equal(1);
    } finally {
      await victim.stop();
    }
  });

  it('regression: connections a server gave up on (GOAWAY after a connection error) are closed, not held forever', async () => {
    for (const t of [p4rtFuzzTarget(target), cniFuzzTarget(cni)]) {
      const leak = leaks.get(t.pid)!;
      const left = await socketsClosed(t.pid, leak.sockets, Math.max(0, leak.at + RECLAIM_MS - performance.now()));
      expect(left, `${t.label}: ${left.length} of ${leak.sockets.size} attack connections still open ${RECLAIM_MS} ms after the attacks`).to.deep.equal([]);
    }
  });

  it('both processes stop cleanly (exit 0) after all that', async () => {
    expect(await target.stop()).to.equal(0);
    expect(await cni.stop()).to.equal(0);
  });
});

/**
 * Runs the attacks after which node:http2 stops reading the socket, closes our side of each,
 * and returns the server's sockets they left open (checked at the end of the file).
 */
async function leakyAttacks(t: Http2FuzzTarget): Promise<{ sockets: Set<string>; at: number }> {
  const before = openSockets(t.pid);
  for (const [kind, round] of LEAKY) {
    const attack = replayAttack(kind, round, attackSeed(5, kind, round), { path: t.path });
    await sendAttack(t.address, attack, { stallMs: 300, holdMs: 100 });
  }
  await new Promise((res) => setTimeout(res, 100));
  const sockets = new Set([...openSockets(t.pid)].filter((s) => !before.has(s)));
  return { sockets, at: performance.now() };
}
