/**
 * Rolling upgrade on real interfaces: the agent, then the standby manager, then the leader are
 * stopped gracefully (SIGTERM) and started again one at a time, as a DaemonSet rollout or a
 * package upgrade on the ACC would, while a TCP connection through a VIP keeps exchanging data.
 *
 * Nothing may be lost or rewritten: the connection sees every byte echoed; the target counts no
 * insert, modify, delete or failed update during the whole upgrade (each restarted process finds
 * its state and the target's intact, and the new leader's reconcile writes nothing); and the node
 * still works afterwards — the VIP and a pod added after the upgrade answer.
 *
 * One node: cross-node forwarding comes in a later issue; the simulator runs the same sequence
 * node by node.
 */
import { expect } from 'chai';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { KubeClient } from '../../simulations/kube/client.js';
import type { ManagedProcess } from '../../simulations/processes.js';
import { chatter, echoClient, echoServer } from '../../simulations/demo/workloads.js';
import { service, slice } from '../kube/support.js';
import { bootNode, portMapText, type BootedNode, type Pod } from './node-fixture.js';

interface Seen {
  readonly process: string;
  readonly msg: string;
  readonly at: number;
}

const VIP = '10.96.0.30';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rolling upgrade: agent and managers restarted one at a time', function () {
  this.timeout(120_000);
  const seen: Seen[] = [];
  let node: BootedNode;
  let client: Pod;
  let server: Pod;

  /** Resolves when `process` logs `msg` after `since`. */
  async function logged(process: string, msg: string, since: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!seen.some((s) => s.process === process && s.msg.startsWith(msg) && s.at >= since)) {
      if (Date.now() > deadline) throw new Error(`${process} did not log "${msg}" in ${timeoutMs} ms; last: ${JSON.stringify(seen.filter((s) => s.process === process).slice(-5))}`);
      await sleep(50);
    }
  }

  /** SIGTERM, wait for the exit and the start of the new process (ManagedProcess restarts it). */
  async function restart(p: ManagedProcess): Promise<number> {
    const starts = p.starts;
    const since = Date.now();
    p.kill('SIGTERM');
    await p.waitExit();
    for (let i = 0; i < 200 && p.starts === starts; i++) await sleep(25);
    expect(p.starts, `${p.name} was started again`).to.equal(starts + 1);
    return since;
  }

  const leaderName = (): string | undefined =>
    seen.filter((s) => s.msg.startsWith('leader: holding') || s.msg.startsWith('standby:')).reverse().find((s) => s.msg.startsWith('leader'))?.process;

  before(async function () {
    node = await bootNode({
      managers: 2,
      logLevel: 'info',
      onLog: (process, line) => {
        if (typeof line === 'object' && line !== null && 'msg' in line) seen.push({ process, msg: String(line.msg), at: Date.now() });
      },
    });
    client = await node.addPod('ru-c');
    server = await node.addPod('ru-s');
    const listening = node.spawnInPod(server, echoServer(7001));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('echo server did not start')), 5000);
      listening.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(timer), resolve()));
    });
    const kube = new KubeClient(node.node.kube!.adminUrl);
    expect((await kube.apply(service('upgrade', VIP, [{ name: 'echo', port: 93, targetPort: 7001 }]))).ok).to.equal(true);
    expect((await kube.apply(slice('upgrade-1', 'upgrade', [{ ip: server.ip, node: node.node.node, ready: true }], [{ name: 'echo', port: 7001 }]))).ok).to.equal(true);
    for (let attempt = 0; attempt < 60; attempt++) {
      if ((await node.inPod(client, echoClient(VIP, 93, 'up', 1000))).trim() === 'up') return;
      await sleep(250);
    }
    throw new Error(`the VIP never answered: ${await portMapText(node.node)}`);
  });

  after(async function () {
    await node?.close();
  });

  it('keeps an established connection through a VIP, writes nothing to the target and loses no state', async function () {
    const admin = new TargetAdminClient(node.node.targetAddress!);
    try {
      const leader = leaderName();
      expect(leader, 'one manager leads').to.be.oneOf(['manager', 'manager-2']);
      const [lead, standby] = leader === 'manager' ? node.node.managers : [...node.node.managers].reverse();
      const before = await admin.stats();

      const chat = node.spawnInPod(client, chatter(VIP, 93, 15_000));
      let out = '';
      chat.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const closed = new Promise<void>((resolve) => chat.on('close', () => resolve()));
      await sleep(1000);

      // 1. The agent: it recovers its pods from its state and registers again.
      const agentSince = await restart(node.node.agent);
      await logged('agent', 'registered with manager', agentSince);
      await sleep(500);
      // 2. The standby manager: it comes back as a standby (a standby logs nothing about the lease until it leads).
      const standbySince = await restart(standby!);
      await logged(standby!.name, 'manager running', standbySince);
      await sleep(500);
      // 3. The leader: the standby takes over, arbitrates higher and reconciles against the intact target.
      const leadSince = await restart(lead!);
      await logged(standby!.name, 'leader: holding', leadSince);
      await logged(standby!.name, 'reconciled', leadSince);
      await logged(lead!.name, 'manager running', leadSince);

      await closed;
      const summary = JSON.parse(out.trim()) as { sent: number; echoed: number; err: string };
      expect(summary.err, out).to.equal('');
      expect(summary.sent, out).to.be.greaterThan(150);
      expect(summary.echoed, 'every byte echoed across the upgrade').to.equal(summary.sent);

      const after = await admin.stats();
      const delta = (k: string) => Number(after[k] ?? 0) - Number(before[k] ?? 0);
      expect({ inserts: delta('inserts'), modifies: delta('modifies'), deletes: delta('deletes'), failed: delta('updatesFailed') }, 'writes at the target during the upgrade').to.deep.equal({
        inserts: 0,
        modifies: 0,
        deletes: 0,
        failed: 0,
      });
      expect(delta('readRpcs'), 'the new leader read the target back').to.be.greaterThan(0);
    } finally {
      admin.close();
    }

    // The node still works: a new connection to the VIP, and a pod added after the upgrade.
    expect((await node.inPod(client, echoClient(VIP, 93, 'after', 1000))).trim()).to.equal('after');
    const late = await node.addPod('ru-late');
    node.spawnInPod(late, echoServer(7003));
    let reply = '';
    for (let attempt = 0; attempt < 40 && reply !== 'late'; attempt++) {
      await sleep(250);
      reply = (await node.inPod(client, echoClient(late.ip, 7003, 'late', 1000))).trim();
    }
    expect(reply, await portMapText(node.node)).to.equal('late');
  });
});
