import { expect } from 'chai';
import { createActor, fromPromise } from 'xstate';
import { agentRegistryLogic } from '../../actors/manager/agent-registry.js';
import { managerLinkLogic } from '../../actors/agent/manager-link.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import type { Heartbeat, Hello, HelloReply } from '../../protocol/node.js';

const NODE = 'node-1';
const logger = silentLogs().root;
const beat = (role: 'agent' | 'manager', instanceId: string, seq: number): Heartbeat => ({
  node: NODE,
  role,
  instanceId,
  seq,
  sentAtMs: 0,
  stateRevision: 0,
});

describe('agent registry and manager link on an injected clock', () => {
  it('registry: pulls state once per agent instance, declares the agent lost after missed beats', async () => {
    const clock = new ManualClock();
    const pulls: string[] = [];
    const registry = createActor(
      agentRegistryLogic.provide({ actors: { pullState: fromPromise(async ({ input }) => void pulls.push(input.instanceId)) } }),
      { clock, input: { node: NODE, managerInstanceId: 'm1', heartbeatIntervalMs: 100, missedBeats: 3, logger } },
    );
    registry.start();
    expect(registry.getSnapshot().value).to.equal('waiting');
    for (let seq = 1; seq <= 5; seq++) {
      registry.send({ type: 'agent.heartbeat', heartbeat: beat('agent', 'a1', seq) });
      await clock.advance(100);
    }
    expect(pulls, 'one pull for one instance, not one per heartbeat').to.deep.equal(['a1']);
    expect(registry.getSnapshot().value).to.deep.equal({ connected: { liveness: 'alive', sync: 'synced' } });
    registry.send({ type: 'agent.heartbeat', heartbeat: beat('agent', 'a2', 1) });
    await clock.advance(10);
    expect(pulls, 'a restarted agent is pulled again').to.deep.equal(['a1', 'a2']);
    await clock.advance(289); // the a2 heartbeat came at t=500: lost at 500 + 3 × 100
    expect(registry.getSnapshot().value).to.not.equal('lost');
    await clock.advance(2);
    expect(registry.getSnapshot().value).to.equal('lost');
    const replies: HelloReply[] = [];
    const hello: Hello = { node: NODE, role: 'agent', instanceId: 'a2', startedAtMs: 0, version: 't', nodeIp: 0, podCidr: '' };
    registry.send({ type: 'agent.hello', hello, stateRevision: 4, reply: (r) => r.ok && replies.push(r.value) });
    await clock.advance(1);
    expect(replies[0]).to.deep.include({ instanceId: 'm1', stateRevision: 4, heartbeatIntervalMs: 100 });
    registry.stop();
  });

  it('registry: retries a failed pull on the heartbeat interval', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const registry = createActor(
      agentRegistryLogic.provide({
        actors: {
          pullState: fromPromise(async () => {
            if (++attempts < 3) throw new Error('agent busy');
          }),
        },
      }),
      { clock, input: { node: NODE, managerInstanceId: 'm1', heartbeatIntervalMs: 100, missedBeats: 30, logger } },
    );
    registry.start();
    registry.send({ type: 'agent.heartbeat', heartbeat: beat('agent', 'a1', 1) });
    await clock.advance(250);
    expect(attempts).to.equal(3);
    expect(registry.getSnapshot().value).to.deep.equal({ connected: { liveness: 'alive', sync: 'synced' } });
    registry.stop();
  });

  it('link: retries hello with backoff, re-registers when the manager restarts or goes silent', async () => {
    const clock = new ManualClock();
    let answers = 0;
    let managerInstance = 'm1';
    const link = createActor(
      managerLinkLogic.provide({
        actors: {
          sayHello: fromPromise<HelloReply, void>(async () => {
            if (++answers <= 2) throw new Error('no responders');
            return { node: NODE, instanceId: managerInstance, stateRevision: 0, resyncRequested: true, heartbeatIntervalMs: 100 };
          }),
        },
      }),
      { clock, input: { node: NODE, heartbeatIntervalMs: 100, missedBeats: 3, logger } },
    );
    link.start();
    await clock.advance(700); // fails at 0 and 200 (backoff 200, 400), answered at 600
    expect(answers).to.equal(3);
    expect(link.getSnapshot().value).to.deep.equal({ linked: 'alive' });
    link.send({ type: 'manager.heartbeat', heartbeat: beat('manager', 'm1', 1) });
    await clock.advance(250);
    link.send({ type: 'manager.heartbeat', heartbeat: beat('manager', 'm1', 2) });
    await clock.advance(250);
    expect(link.getSnapshot().value, 'each heartbeat restarts the loss timer').to.deep.equal({ linked: 'alive' });
    managerInstance = 'm2';
    link.send({ type: 'manager.heartbeat', heartbeat: beat('manager', 'm2', 1) });
    await clock.advance(1);
    expect(answers, 'a new manager instance gets a new hello').to.equal(4);
    expect(link.getSnapshot().context.managerInstanceId).to.equal('m2');
    await clock.advance(301);
    expect(answers, 'a silent manager gets a new hello').to.equal(5);
    link.stop();
  });
});
