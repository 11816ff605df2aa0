import { expect } from 'chai';
import { Supervisor, waitForEvent, type ChildSpec, type Strategy } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

function build(strategy: Strategy, children: (fleet: Fleet) => ChildSpec[], extra: { intensity?: number; initialMs?: number } = {}) {
  const env = testEnv();
  const fleet = new Fleet();
  const sup = new Supervisor({
    id: 'sup',
    strategy,
    intensity: extra.intensity ?? 5,
    backoff: { initialMs: extra.initialMs ?? 100, jitter: 0 },
    children: children(fleet),
    ...env,
  });
  return { env, fleet, sup };
}

/** A worker whose start takes `ms` on the injected clock. */
const slowSpec = (fleet: Fleet, id: string, ms: number): ChildSpec => ({
  id,
  start: async (ctx) => {
    await ctx.clock.sleep(ms);
    return fleet.create(ctx.id);
  },
});

describe('supervisor races', () => {
  it('an exit that arrives while later children are still starting is handled once start() is done', async () => {
    const { env, fleet, sup } = build('one_for_one', (f) => [f.spec('a'), slowSpec(f, 'b', 50)]);
    const starting = sup.start();
    await flush();
    fleet.send('a', 'CRASH');
    await env.clock.advance(50);
    expect(await starting).to.deep.equal({ ok: true });
    await env.clock.advance(100);
    expect(fleet.starts('a')).to.equal(2);
    expect(sup.whichChildren().map((c) => c.status)).to.deep.equal(['running', 'running']);
  });

  it('an exit that arrives while the supervisor is stopping is not restarted', async () => {
    const { env, fleet, sup } = build('one_for_one', (f) => [f.spec('a'), f.spec('b', { trapShutdown: true, shutdown: 1000 })]);
    await sup.start();
    const exits: string[] = [];
    sup.onEvent((e) => e.type === 'child_exited' && exits.push(e.childId));
    const stopping = sup.stop();
    await flush();
    fleet.send('a', 'CRASH');
    await env.clock.advance(1000);
    await stopping;
    await env.clock.runAll();
    expect(fleet.starts('a')).to.equal(1);
    expect(exits).to.deep.equal([]);
    expect(sup.status).to.equal('stopped');
  });

  it('stop() during start(): start resolves shutting_down and nothing is left running', async () => {
    const { env, fleet, sup } = build('one_for_one', (f) => [f.spec('a'), slowSpec(f, 'b', 50), f.spec('c')]);
    const starting = sup.start();
    await flush();
    const stopping = sup.stop();
    await env.clock.advance(50);
    expect(await starting).to.deep.equal({ ok: false, reason: 'shutting_down' });
    expect(await stopping).to.deep.equal({ ok: true });
    expect(fleet.log).to.deep.equal(['acquire:a', 'acquire:b', 'release:b', 'release:a']);
    expect(fleet.starts('c')).to.equal(0);
    expect(sup.status).to.equal('stopped');
  });

  it('rest_for_one: a failure upstream of a pending restart folds it into one restart', async () => {
    const { env, fleet, sup } = build('rest_for_one', (f) => [f.spec('a'), f.spec('b'), f.spec('c')]);
    await sup.start();
    fleet.send('c', 'CRASH');
    await env.clock.advance(50);
    fleet.send('a', 'CRASH');
    await flush();
    await env.clock.advance(50);
    expect(fleet.starts('c'), 'the first plan no longer restarts c at 100 ms').to.equal(1);
    await env.clock.advance(50);
    expect([fleet.starts('a'), fleet.starts('b'), fleet.starts('c')]).to.deep.equal([2, 2, 2]);
    expect(env.clock.pending()).to.equal(0);
    expect(sup.whichChildren().map((c) => c.status)).to.deep.equal(['running', 'running', 'running']);
  });

  it('terminateChild cancels that child’s pending restart', async () => {
    const { env, fleet, sup } = build('one_for_one', (f) => [f.spec('a')]);
    await sup.start();
    fleet.send('a', 'CRASH');
    await flush();
    expect(await sup.terminateChild('a')).to.deep.equal({ ok: true, childId: 'a' });
    expect(env.clock.pending()).to.equal(0);
    await env.clock.advance(1000);
    expect(fleet.starts('a')).to.equal(1);
    expect(sup.whichChildren()[0]?.status).to.equal('stopped');
  });

  it('a failed restart is retried with a longer backoff and counts toward the intensity', async () => {
    let failing = 0;
    const { env, fleet, sup } = build(
      'one_for_one',
      (f) => [{ id: 'a', start: (ctx) => (failing-- > 0 ? Promise.reject(new Error('still down')) : f.create(ctx.id)) }],
      { intensity: 3 },
    );
    await sup.start();
    failing = 2;
    const restarted = waitForEvent(sup, 'child_restarted');
    fleet.send('a', 'CRASH');
    await flush();
    await env.clock.runAll();
    const event = await restarted;
    // Delays 100 (fails), 200 (fails), 400 (succeeds).
    expect(event.at).to.equal(700);
    expect(env.logs.reports('start_error')).to.have.length(2);
    expect(sup.status).to.equal('running');

    failing = 10;
    fleet.send('a', 'CRASH');
    await flush();
    await env.clock.runAll();
    expect(sup.status, 'a restart that keeps failing ends in escalation').to.equal('failed');
  });

  it('one_for_all: a sibling whose restart fails takes the whole group down and up again', async () => {
    let bFails = 0;
    const { env, fleet, sup } = build('one_for_all', (f) => [
      f.spec('a'),
      { id: 'b', start: (ctx) => (bFails-- > 0 ? Promise.reject(new Error('b not ready')) : f.create(ctx.id)) },
      f.spec('c'),
    ]);
    await sup.start();
    bFails = 1;
    fleet.log.length = 0;
    fleet.send('c', 'CRASH');
    await flush();
    await env.clock.runAll();
    expect(fleet.log).to.deep.equal([
      'release:c',
      'release:b',
      'release:a',
      'acquire:a', // round 1: b fails to start, a goes down again
      'release:a',
      'acquire:a',
      'acquire:b',
      'acquire:c',
    ]);
    expect(sup.whichChildren().map((c) => c.status)).to.deep.equal(['running', 'running', 'running']);
  });
});
