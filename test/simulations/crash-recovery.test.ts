import { expect } from 'chai';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { startLocalNode, type LocalNode } from '../../simulations/local-node.js';
import { stateOf, waitForRegistration } from '../../simulations/fuzz/node-fuzz.js';

/** kill -9 of either process: it is restarted (as systemd would), and the pair finds each other again. */
describe('kill -9 of the manager or the agent process', function () {
  this.timeout(60_000);
  let local: LocalNode;
  let bus: Bus;
  const lines: string[] = [];

  before(async () => {
    local = await startLocalNode({
      // The fuzzer/test client speaks for every identity at once, so the bus runs without mTLS here;
      // test/security/ and test/simulations/local-node.test.ts cover the secured node.
      tls: false,
      heartbeatMs: 100,
      restartAfterMs: 100,
      onLog: (name, line) => lines.push(`${name}: ${typeof line === 'string' ? line : line.msg}`),
    });
    bus = await Bus.connect({ servers: local.nats.url, name: 'crash-test', logger: silentLogs().root });
    await waitForRegistration(bus, local.node);
  });
  after(async () => {
    await bus.close();
    expect(await local.stop()).to.deep.include({ manager: 0, agent: 0, target: 0 });
  });

  for (const victim of ['manager', 'agent'] as const) {
    it(`recovers from kill -9 of the ${victim}`, async () => {
      const other = victim === 'manager' ? 'agent' : 'manager';
      const before = { victim: await stateOf(bus, local.node, victim), other: await stateOf(bus, local.node, other) };
      const pid = local[victim].pid;
      const from = lines.length;
      local[victim].kill('SIGKILL');
      await local[victim].waitExit();
      // A new process, with a new instance id, answering again…
      let now = await stateOf(bus, local.node, victim);
      for (let i = 0; i < 100 && now.instanceId === before.victim.instanceId; i++) {
        await new Promise((r) => setTimeout(r, 50));
        now = await stateOf(bus, local.node, victim);
      }
      expect(now.instanceId).to.not.equal(before.victim.instanceId);
      expect(local[victim].pid).to.not.equal(pid);
      // …re-registered: the manager has pulled the agent's state of the current pair.
      await waitForRegistration(bus, local.node);
      const otherNow = await stateOf(bus, local.node, other);
      expect(otherNow.instanceId, `the ${other} was not restarted`).to.equal(before.other.instanceId);
      const expectLine = victim === 'manager' ? /agent: registered with manager/ : /manager: agent state synced/;
      // The peer notices on its own (heartbeats from a new instance), not only through our probe.
      const noticed = (): boolean => lines.slice(from).some((l) => expectLine.test(l));
      for (let i = 0; i < 100 && !noticed(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(noticed(), lines.slice(from).join('\n')).to.equal(true);
    });
  }
});
