import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor } from 'xstate';
import { sessionLogic, type SessionInput, type SessionRef } from '../../actors/manager/session/session.js';
import type { WriteCounts } from '../../actors/manager/session/session-io.js';
import { systemClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { desiredSet } from '../../p4/desired.js';
import { ip, mac, tcp } from '../../p4/frames.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';
import { exact, info, p4infoJson, render, SEL, T } from '../support/session-render.js';


const DESIRED = render(100, 20, 5);

/** The hardware session against the target as a separate process. */
describe('hardware session', function () {
  this.timeout(60_000);
  let dir: string;
  let target: TargetProcess;
  let admin: TargetAdminClient;
  const synced: { counts: WriteCounts; kind: string }[] = [];
  let desired = desiredSet(DESIRED);
  const sessions: SessionRef[] = [];

  function startSession(electionId: bigint, resyncMs = 60_000): SessionRef {
    const input: SessionInput = {
      address: target.address,
      deviceId: 1,
      electionId,
      p4infoJson,
      desired: () => desired,
      volatileTables: new Set(info.tables.filter((t) => t.addOnMiss).map((t) => t.id)),
      profileIds: [SEL],
      resyncMs,
      batchSize: 500,
      backoff: { initialMs: 50, maxMs: 500 },
      random: seededRandom(3),
      logger: silentLogs().root,
      onSynced: (counts, kind) => synced.push({ counts, kind }),
    };
    const s = createActor(sessionLogic, { input, clock: systemClock });
    s.subscribe({ error: (e) => console.error('session failed', e) });
    s.start();
    sessions.push(s);
    return s;
  }

  async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const stats = async () => (await admin.stats()) as { writeRpcs: number; inserts: number; modifies: number; deletes: number; updatesFailed: number; learned: number; tableEntries: number; pipelineCommits: number };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'infra-session-'));
    target = await startTarget({ socketPath: join(dir, 'p4rt.sock') });
    admin = new TargetAdminClient(target.address);
  });
  after(async () => {
    for (const s of sessions) s.stop();
    admin.close();
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('programs a fresh target with the whole desired state, in dependency order, without errors', async () => {
    const s = startSession(1n);
    await until('first reconcile', () => synced.length === 1);
    expect(synced[0]!.counts).to.deep.include({ insert: DESIRED.length, modify: 0, delete: 0 });
    const st = await stats();
    expect(st).to.deep.include({ inserts: DESIRED.length, updatesFailed: 0, pipelineCommits: 0 });
    expect(s.getSnapshot().value).to.deep.equal({ connected: 'ready' });
  });

  it('a manager restart with no intent change writes zero updates and keeps learned connections', async () => {
    // A connection through a VIP, learned in both directions by the data plane.
    const syn = tcp({ src: mac('02:00:00:00:00:05'), dst: mac('02:00:00:00:00:01'), srcIp: ip('10.244.0.15'), dstIp: ip('10.96.0.1'), sport: 40000, dport: 80, flags: 'S' });
    const out = await admin.process(7, syn);
    expect(out.dropped, out.dropReason).to.equal(false);
    const before = await stats();
    expect(before.learned).to.be.greaterThan(0);
    sessions.shift()!.stop();
    synced.length = 0;
    startSession(2n);
    await until('reconcile after restart', () => synced.length === 1);
    const after = await stats();
    expect(synced[0]!.counts).to.deep.include({ insert: 0, modify: 0, delete: 0, writes: 0 });
    expect(after.writeRpcs - before.writeRpcs, 'writes counted at the target').to.equal(0);
    expect(after.learned, 'learned connections kept').to.equal(before.learned);
  });

  it('writes only the difference when the intent changes, and repairs drift on resync', async () => {
    const before = await stats();
    desired = desiredSet(render(101, 20, 6));
    sessions[0]!.send({ type: 'desired.changed' });
    await until('sync', () => synced.some((x) => x.kind === 'sync'));
    const after = await stats();
    // One more pod (2 entries), one more member per service (20) and 20 group modifications.
    expect(after.inserts - before.inserts).to.equal(2 + 20);
    expect(after.modifies - before.modifies).to.equal(20);
    expect(after.updatesFailed).to.equal(0);
    // Drift: another role's primary deletes a pod entry behind the manager's back.
    const intruder = new P4RuntimeClient(target.address);
    const st = intruder.openStream();
    st.send({ arbitration: { device_id: 1, role: { name: 'ops' }, election_id: { high: 0, low: 1 } } });
    await st.next();
    await intruder.write({ device_id: 1, role: 'ops', election_id: { high: 0, low: 1 }, updates: [{ type: 'DELETE', entity: { table_entry: { table_id: T('ipv4_to_port'), match: [exact(1, ip('10.244.0.10'), 4)] } } }] });
    st.close();
    intruder.close();
    sessions.shift()!.stop();
    synced.length = 0;
    startSession(3n, 300);
    await until('a resync repairs the drift', async () => synced.length >= 2 || (synced.length === 1 && synced[0]!.counts.insert === 1));
    const repaired = synced.find((x) => x.counts.insert === 1);
    expect(repaired, JSON.stringify(synced)).to.not.equal(undefined);
  });

  it('re-programs a wiped target (target restart) in full, in dependency order, without errors', async () => {
    await target.stop();
    synced.length = 0;
    target = await startTarget({ socketPath: join(dir, 'p4rt.sock') });
    admin.close();
    admin = new TargetAdminClient(target.address);
    await until('reconcile on the new target', () => synced.some((x) => x.counts.insert > 0), 20_000);
    const st = await stats();
    expect(st.inserts).to.equal(desired.size);
    expect(st.updatesFailed).to.equal(0);
  });

  it('after writes the target refused (UNAVAILABLE per update), reconciles again by itself within the backoff, without a change or a resync', async () => {
    // The target refuses every update for a while; a change makes the session write (and fail).
    await admin.setFaults({ failPerMille: 1000, failCode: 14, seed: 5 });
    sessions.shift()!.stop();
    synced.length = 0;
    desired = desiredSet(render(102, 20, 6));
    const s = startSession(5n, 600_000);
    await until('degraded', () => JSON.stringify(s.getSnapshot().value).includes('degraded'));
    const refused = Number((await admin.stats()).injectedFailures ?? 0);
    expect(refused, 'updates refused').to.be.greaterThan(0);
    // Faults off: nothing changes in the intent and the resync is 10 minutes away.
    await admin.setFaults({});
    const off = Date.now();
    await until('ready again', () => JSON.stringify(s.getSnapshot().value).includes('ready'), 5000);
    expect(Date.now() - off, 'repaired within the backoff (max 500 ms here, with jitter)').to.be.below(2000);
    expect((await stats()).updatesFailed, 'no duplicate or missing entry on the way').to.equal(0);
    // The target holds exactly the desired state: a new session finds nothing to write.
    sessions.shift()!.stop();
    synced.length = 0;
    startSession(6n, 600_000);
    await until('reconcile of a fresh session', () => synced.length === 1);
    expect(synced[0]!.counts).to.deep.include({ insert: 0, modify: 0, delete: 0, writes: 0 });
  });
});
