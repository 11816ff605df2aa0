import { expect } from 'chai';
import { agentTree, type AgentTree } from '../../actors/agent/tree.js';
import { managerTree, type ManagerTree } from '../../actors/manager/tree.js';
import { parseConfig } from '../../core/config.js';
import { systemClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { Bus } from '../../messages/bus.js';
import { agentConfigSchema, managerConfigSchema } from '../../actors/process-config.js';
import { waitForEvent, type SupervisorTree } from '../../supervisors/index.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { baselineIntent } from '../../simulations/fuzz/bus-targets.js';
import { seedBaseline, stateOf, waitForRegistration } from '../../simulations/fuzz/node-fuzz.js';

const NODE = 'node-1';

function restartsOf(tree: SupervisorTree): Record<string, number> {
  return Object.fromEntries(tree.children.map((c) => [c.id, c.restarts]));
}

/** Both trees in one process against a real nats-server: the wiring, and recovery by supervision. */
describe('manager and agent trees', function () {
  this.timeout(30_000);
  let nats: NatsServer;
  let manager: ManagerTree;
  let agent: AgentTree;
  let probe: Bus;

  before(async () => {
    nats = await startNatsServer();
    const raw = { node: { name: NODE, ip: '192.0.2.10', podCidr: '10.244.0.0/24' }, nats: { servers: [nats.url], insecure: true }, heartbeat: { intervalMs: 100 } };
    const mc = parseConfig(raw, managerConfigSchema);
    const ac = parseConfig(raw, agentConfigSchema);
    if (!mc.ok || !ac.ok) throw new Error('config');
    const common = { logs: silentLogs(), clock: systemClock, random: seededRandom(1) };
    manager = managerTree({ ...common, config: mc.value, instanceId: 'manager1' });
    agent = agentTree({ ...common, config: ac.value, instanceId: 'agent1' });
    expect(await manager.supervisor.start()).to.deep.equal({ ok: true });
    expect(await agent.supervisor.start()).to.deep.equal({ ok: true });
    probe = await Bus.connect({ servers: nats.url, name: 'probe', logger: silentLogs().root });
  });
  after(async () => {
    await probe.close();
    await agent.supervisor.stop();
    await manager.supervisor.stop();
    await nats.stop();
  });

  it('registers the agent, pulls its state and serves both sides', async () => {
    await waitForRegistration(probe, NODE);
    expect((await stateOf(probe, NODE, 'manager')).instanceId).to.equal('manager1');
    expect((await stateOf(probe, NODE, 'agent')).instanceId).to.equal('agent1');
    expect(manager.refs.registry?.getSnapshot().value).to.deep.equal({ connected: { liveness: 'alive', sync: 'synced' } });
    expect(manager.refs.epoch, 'the only manager leads').to.be.a('number');
    // The agent may have said hello before the manager won its lease: it retries with backoff.
    for (let i = 0; i < 100 && JSON.stringify(agent.refs.link?.getSnapshot().value) !== '{"linked":"alive"}'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(agent.refs.link?.getSnapshot().value).to.deep.equal({ linked: 'alive' });
  });

  it('restarts the bus and everything after it when the connection dies, and serves again', async () => {
    await seedBaseline(probe, NODE, baselineIntent(NODE));
    const before = await stateOf(probe, NODE, 'manager');
    const restarted = waitForEvent(manager.supervisor, 'child_restarted', (e) => e.childId === 'leadership');
    await manager.refs.bus!.connection.close();
    await restarted;
    const counts = restartsOf(manager.supervisor.inspect());
    expect(counts).to.deep.equal({ bus: 1, lease: 1, leadership: 1 });
    // The intent store restarted empty and pulled the agent's (empty) intent again: the agent owns pod intent.
    await waitForRegistration(probe, NODE);
    const after = await stateOf(probe, NODE, 'manager');
    expect(after.instanceId).to.equal(before.instanceId);
    expect(after.pods).to.equal(0);
    expect(restartsOf(agent.supervisor.inspect())).to.deep.equal({ bus: 0, intent: 0, link: 0, heartbeat: 0, server: 0, ctl: 0 });
  });
});
