import { expect } from 'chai';
import { createActor, createMachine, fromCallback, fromPromise, setup } from 'xstate';
import type { Clock } from '../../core/clock.js';
import { SHUTDOWN_EVENT, Supervisor, type ChildSpec, type Shutdown } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

/**
 * A worker that holds a resource. With `handles`, SHUTDOWN_EVENT moves it to `draining`, where a
 * cleanup takes `cleanupMs` on the injected clock before the machine reaches its final state.
 */
function trapper(log: string[], name: string, clock: Clock, opts: { handles: boolean; cleanupMs?: number; throws?: boolean }) {
  return setup({
    actors: {
      resource: fromCallback(() => {
        log.push(`acquire:${name}`);
        return () => void log.push(`release:${name}`);
      }),
      cleanup: fromPromise(async () => {
        await clock.sleep(opts.cleanupMs ?? 0);
        log.push(`cleanup:${name}`);
      }),
    },
    actions: {
      noted: () => {
        log.push(`shutdown-event:${name}`);
        if (opts.throws) throw new Error('cannot shut down');
      },
    },
  }).createMachine({
    invoke: { src: 'resource' },
    initial: 'serving',
    states: {
      serving: {
        on: opts.handles
          ? { [SHUTDOWN_EVENT.type]: { target: 'draining', actions: 'noted' } }
          : { [SHUTDOWN_EVENT.type]: { actions: () => void log.push(`ignored:${name}`) } },
      },
      draining: { invoke: { src: 'cleanup', onDone: 'stopped' } },
      stopped: { type: 'final' },
    },
  });
}

async function oneChild(extra: Partial<ChildSpec>, behaviour: { handles: boolean; cleanupMs?: number; throws?: boolean }) {
  const env = testEnv();
  const log: string[] = [];
  const sup = new Supervisor({
    id: 'sup',
    strategy: 'one_for_one',
    children: [{ id: 't', start: (ctx) => createActor(trapper(log, 't', ctx.clock, behaviour)), ...extra }],
    ...env,
  });
  expect((await sup.start()).ok).to.equal(true);
  let stoppedAt: number | undefined;
  const stop = (): Promise<unknown> =>
    sup.stop().then((r) => {
      stoppedAt = env.clock.now();
      return r;
    });
  return { env, log, sup, stop, stoppedAt: () => stoppedAt };
}

describe('supervisor shutdown of children', () => {
  it('waits for the shutdown timeout, then forces a child that ignores SHUTDOWN_EVENT, exactly at the timeout', async () => {
    const { env, log, stop, stoppedAt } = await oneChild({ trapShutdown: true, shutdown: 1000 }, { handles: false });
    const stopping = stop();
    await env.clock.advance(999);
    expect(log).to.deep.equal(['acquire:t', 'ignored:t']);
    expect(stoppedAt(), 'still waiting at 999 ms').to.equal(undefined);
    await env.clock.advance(1);
    await stopping;
    expect(stoppedAt()).to.equal(1000);
    expect(log).to.deep.equal(['acquire:t', 'ignored:t', 'release:t']);
    expect(env.logs.reports('shutdown_error')[0]).to.include({ reason: 'killed', level: 40 });
  });

  it('finishes early when the child handles SHUTDOWN_EVENT by cleaning up and reaching a final state', async () => {
    const { env, log, sup, stop, stoppedAt } = await oneChild(
      { trapShutdown: true, shutdown: 1000 },
      { handles: true, cleanupMs: 100 },
    );
    const stopping = stop();
    await env.clock.advance(100);
    await stopping;
    expect(stoppedAt()).to.equal(100);
    expect(log).to.deep.equal(['acquire:t', 'shutdown-event:t', 'cleanup:t', 'release:t']);
    expect(env.logs.reports(), 'a clean shutdown is not reported').to.deep.equal([]);
    expect(sup.whichChildren()[0]?.status).to.equal('stopped');
    expect(env.clock.pending(), 'the timeout timer was cleared').to.equal(0);
  });

  it("runs an actor's delayed transitions on the injected clock when created with { clock: ctx.clock }", async () => {
    const env = testEnv();
    const log: string[] = [];
    const lingering = createMachine({
      initial: 'serving',
      states: {
        serving: { on: { [SHUTDOWN_EVENT.type]: 'lingering' } },
        lingering: { entry: () => void log.push('lingering'), after: { 300: 'closed' } },
        closed: { type: 'final', entry: () => void log.push('closed') },
      },
    });
    const sup = new Supervisor({
      id: 'sup',
      strategy: 'one_for_one',
      children: [{ id: 'l', trapShutdown: true, shutdown: 1000, start: (ctx) => createActor(lingering, { clock: ctx.clock }) }],
      ...env,
    });
    await sup.start();
    let stoppedAt: number | undefined;
    const stopping = sup.stop().then(() => (stoppedAt = env.clock.now()));
    await env.clock.advance(299);
    expect(log).to.deep.equal(['lingering']);
    await env.clock.advance(1);
    await stopping;
    expect([log, stoppedAt]).to.deep.equal([['lingering', 'closed'], 300]);
  });

  const immediate: { name: string; spec: Partial<ChildSpec> }[] = [
    { name: 'trapShutdown false', spec: { trapShutdown: false, shutdown: 1000 } },
    { name: "shutdown 'brutal_kill'", spec: { trapShutdown: true, shutdown: 'brutal_kill' } },
  ];
  for (const { name, spec } of immediate) {
    it(`stops at once, without sending SHUTDOWN_EVENT, with ${name}`, async () => {
      const { log, stop, stoppedAt } = await oneChild(spec, { handles: true, cleanupMs: 100 });
      await stop();
      expect(stoppedAt()).to.equal(0);
      expect(log).to.deep.equal(['acquire:t', 'release:t']);
    });
  }

  it("waits without a limit with shutdown 'infinity'", async () => {
    const shutdown: Shutdown = 'infinity';
    const { env, log, stop, stoppedAt } = await oneChild({ trapShutdown: true, shutdown }, { handles: true, cleanupMs: 3_600_000 });
    const stopping = stop();
    await env.clock.advance(3_599_999);
    expect(stoppedAt()).to.equal(undefined);
    await env.clock.advance(1);
    await stopping;
    expect(stoppedAt()).to.equal(3_600_000);
    expect(log.at(-1)).to.equal('release:t');
  });

  it('reports a child that fails while handling SHUTDOWN_EVENT, and still stops it', async () => {
    const { env, log, sup, stop } = await oneChild({ trapShutdown: true, shutdown: 1000 }, { handles: true, throws: true });
    await stop();
    expect(log).to.deep.equal(['acquire:t', 'shutdown-event:t', 'release:t']);
    expect(env.logs.reports('shutdown_error')[0]).to.include({ reason: 'cannot shut down' });
    expect(sup.status).to.equal('stopped');
  });

  it('stops children in reverse order, a child supervisor through its own stop()', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const sup = new Supervisor({
      id: 'root',
      strategy: 'one_for_one',
      children: [
        fleet.spec('w1'),
        {
          id: 'inner',
          type: 'supervisor',
          start: (ctx) =>
            new Supervisor({ ...ctx, strategy: 'one_for_one', children: [fleet.spec('x'), fleet.spec('y')] }),
        },
        fleet.spec('w2'),
      ],
      ...env,
    });
    await sup.start();
    expect(fleet.log).to.deep.equal(['acquire:w1', 'acquire:x', 'acquire:y', 'acquire:w2']);
    fleet.log.length = 0;
    await sup.stop();
    expect(fleet.log).to.deep.equal(['release:w2', 'release:y', 'release:x', 'release:w1']);
    expect(sup.inspect().children.map((c) => c.status)).to.deep.equal(['stopped', 'stopped', 'stopped']);
  });

  it('stop() called twice stops once; after that it is a no-op', async () => {
    const { env, log, sup } = await oneChild({ trapShutdown: true, shutdown: 1000 }, { handles: true, cleanupMs: 50 });
    const stopped: string[] = [];
    sup.onEvent((e) => e.type === 'stopped' && stopped.push(e.supervisor));
    const first = sup.stop();
    const second = sup.stop();
    await env.clock.advance(50);
    expect(await first).to.deep.equal({ ok: true });
    expect(await second).to.deep.equal({ ok: true });
    expect(await sup.stop()).to.deep.equal({ ok: true });
    expect(log.filter((l) => l.startsWith('shutdown-event'))).to.have.length(1);
    expect(stopped).to.deep.equal(['sup']);
  });

  it('stop() cancels a restart waiting out its backoff', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const sup = new Supervisor({
      id: 'sup',
      strategy: 'one_for_one',
      backoff: { initialMs: 1000, jitter: 0 },
      children: [fleet.spec('a'), fleet.spec('b')],
      ...env,
    });
    await sup.start();
    fleet.send('a', 'CRASH');
    await flush();
    expect(sup.whichChildren()[0]?.status).to.equal('restarting');
    expect(env.clock.pending()).to.equal(1);
    await sup.stop();
    expect(env.clock.pending(), 'backoff timer cleared').to.equal(0);
    await env.clock.advance(10_000);
    expect(fleet.starts('a')).to.equal(1);
    expect(sup.whichChildren().map((c) => c.status)).to.deep.equal(['stopped', 'stopped']);
  });
});
