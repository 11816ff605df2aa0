import { expect } from 'chai';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import { startLocalNode, type LocalNode } from '../../simulations/local-node.js';
import type { LogLine } from '../../simulations/processes.js';

interface Seen {
  at: number;
  proc: string;
  msg: string;
  epoch?: number;
}

/**
 * Two managers for one node, a target and an agent, all separate processes: one leads, the other
 * stands by without touching the device; kill -9 of the leader hands over within a bound, and
 * the old leader's election id is refused by the target.
 */
describe('leadership hand-over between two managers', function () {
  this.timeout(60_000);
  const HEARTBEAT = 100;
  /** TTL (3 heartbeats) + a heartbeat to notice + connect, arbitrate, pull and reconcile. */
  const BOUND_MS = 2500;
  let node: LocalNode;
  const seen: Seen[] = [];

  before(async () => {
    node = await startLocalNode({
      // The fuzzer/test client speaks for every identity at once, so the bus runs without mTLS here;
      // test/security/ and test/simulations/local-node.test.ts cover the secured node.
      tls: false,
      managers: 2,
      heartbeatMs: HEARTBEAT,
      restartAfterMs: null,
      onLog: (proc, l: LogLine | string) => {
        if (typeof l === 'string') return;
        seen.push({ at: Date.now(), proc, msg: l.msg, ...(typeof l.epoch === 'number' ? { epoch: l.epoch } : {}) });
      },
    });
  });
  after(async () => {
    const codes = await node.stop();
    expect(codes.agent).to.equal(0);
    expect(codes.target).to.equal(0);
  });

  async function until<T>(what: string, find: () => T | undefined, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const x = find();
      if (x !== undefined) return x;
      if (Date.now() > end) throw new Error(`timed out: ${what}\n${seen.map((s) => `${s.proc}: ${s.msg}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('one manager leads and programs the target; the other stands by and never writes', async () => {
    const leader = await until('a leader reconciles', () => seen.find((s) => s.msg === 'reconciled'));
    await new Promise((r) => setTimeout(r, 10 * HEARTBEAT));
    const leaders = new Set(seen.filter((s) => s.msg.startsWith('leader:')).map((s) => s.proc));
    const writers = new Set(seen.filter((s) => s.msg === 'reconciled').map((s) => s.proc));
    expect([...leaders]).to.deep.equal([leader.proc]);
    expect([...writers]).to.deep.equal([leader.proc]);
  });

  it('kill -9 of the leader: the standby leads within the bound with a higher epoch; the old epoch is refused', async () => {
    const old = seen.find((s) => s.msg.startsWith('leader:'))!;
    const victim = node.managers.find((m) => m.name === old.proc)!;
    const survivor = node.managers.find((m) => m !== victim)!;
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    const next = await until('the standby leads', () => seen.find((s) => s.proc === survivor.name && s.msg.startsWith('leader:')));
    const programmed = await until('the new leader reconciles', () => seen.find((s) => s.proc === survivor.name && s.msg === 'reconciled'));
    expect(next.epoch).to.be.greaterThan(old.epoch!);
    console.log(`      hand-over: leader after ${next.at - killedAt} ms, target reprogrammed after ${programmed.at - killedAt} ms (bound ${BOUND_MS} ms)`);
    expect(programmed.at - killedAt, 'hand-over time').to.be.below(BOUND_MS);
    // A client still holding the old epoch (the dead leader, had it only been cut off) is refused.
    const client = new P4RuntimeClient(node.targetAddress!);
    const stream = client.openStream();
    stream.send({ arbitration: { device_id: 1, election_id: { high: 0, low: old.epoch } } });
    const answer = (await stream.next()) as { arbitration?: { status?: { code?: number } } } | undefined;
    expect(answer?.arbitration?.status?.code, 'not primary').to.not.equal(0);
    const refused = await client.write({ device_id: 1, election_id: { high: 0, low: old.epoch }, updates: [] }).then(
      () => 'accepted',
      (e: { code: number }) => e.code,
    );
    expect(refused).to.equal(7); // PERMISSION_DENIED
    stream.close();
    client.close();
  });
});
