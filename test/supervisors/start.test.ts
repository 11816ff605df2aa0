import { expect } from 'chai';
import { createActor, createMachine } from 'xstate';
import {
  InvalidStartableError,
  StartFailedError,
  Supervisor,
  type ChildSpec,
  type StartContext,
  type Startable,
} from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

/** Ways for the third child's start to fail, and the error the caller must get back. */
const FAILURES: { how: string; start: (ctx: StartContext, fleet: Fleet) => Startable | Promise<Startable>; error: [string, string] }[] = [
  {
    how: 'the start function throws',
    start: () => {
      throw new Error('no config');
    },
    error: ['Error', 'no config'],
  },
  {
    how: 'the start function rejects',
    start: () => Promise.reject(new RangeError('port taken')),
    error: ['RangeError', 'port taken'],
  },
  {
    how: 'an entry action throws during start',
    start: () =>
      createActor(
        createMachine({
          entry: () => {
            throw new Error('entry failed');
          },
        }),
      ),
    error: ['Error', 'entry failed'],
  },
  {
    how: 'the context factory throws',
    start: () =>
      createActor(
        createMachine({
          context: () => {
            throw new Error('bad input');
          },
        }),
      ),
    error: ['Error', 'bad input'],
  },
  {
    how: 'start returns something that is not an actor',
    start: () => ({ nope: true }) as unknown as Startable,
    error: ['InvalidStartableError', "start() of child 'c' returned neither an xstate actor nor a Supervisor"],
  },
  {
    how: 'a child supervisor fails its own start',
    start: (ctx, fleet) =>
      new Supervisor({
        ...ctx,
        strategy: 'one_for_one',
        children: [fleet.spec('c1'), { id: 'c2', start: () => Promise.reject(new Error('deep')) }],
      }),
    error: ['StartFailedError', "supervisor 'c' failed to start child 'c2'"],
  },
];

describe('supervisor start: order and rollback', () => {
  for (const { how, start, error } of FAILURES) {
    it(`rolls back the started children in reverse order when ${how}`, async () => {
      const env = testEnv();
      const fleet = new Fleet();
      const sup = new Supervisor({
        id: 'sup',
        strategy: 'one_for_one',
        children: [fleet.spec('a'), fleet.spec('b'), { id: 'c', start: (ctx) => start(ctx, fleet) }, fleet.spec('d')],
        ...env,
      });
      const outcome = await sup.start();
      expect(outcome).to.include({ ok: false, reason: 'start_failed', childId: 'c' });
      const failed = outcome as { error: Error };
      expect([failed.error.name, failed.error.message]).to.deep.equal(error);
      const own = fleet.log.filter((l) => !l.includes(':c'));
      expect(own).to.deep.equal(['acquire:a', 'acquire:b', 'release:b', 'release:a']);
      expect(fleet.starts('d'), 'children after the failed one never start').to.equal(0);
      expect(sup.status).to.equal('failed');
      const report = env.logs.reports('start_error').find((r) => r.supervisor === 'sup');
      expect(report).to.deep.include({ offender: { id: 'c', restart: 'permanent', type: 'worker' }, reason: error[1] });
    });
  }

  it('keeps the cause of a nested failed start', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const inner = (ctx: StartContext): Supervisor =>
      new Supervisor({ ...ctx, strategy: 'one_for_one', children: [{ id: 'bad', start: () => Promise.reject(new Error('deep')) }] });
    const children: ChildSpec[] = [fleet.spec('a'), { id: 'inner', type: 'supervisor', start: inner }];
    const sup = new Supervisor({ id: 'sup', strategy: 'one_for_one', children, ...env });
    const outcome = await sup.start();
    if (outcome.ok || outcome.reason !== 'start_failed') throw new Error(`expected start_failed, got ${JSON.stringify(outcome)}`);
    const error = outcome.error as StartFailedError;
    expect(error).to.be.instanceOf(StartFailedError);
    expect(error.childId).to.equal('bad');
    expect((error.cause as Error).message).to.equal('deep');
    expect(new InvalidStartableError('x')).to.be.instanceOf(TypeError);
  });

  it('awaits an async start before starting the next child', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const slow: ChildSpec = {
      id: 'slow',
      start: async (ctx) => {
        await ctx.clock.sleep(100);
        fleet.log.push('slow ready');
        return fleet.create('slow');
      },
    };
    const sup = new Supervisor({ id: 'sup', strategy: 'one_for_one', children: [slow, fleet.spec('next')], ...env });
    let done = false;
    const starting = sup.start().then((r) => {
      done = r.ok;
    });
    await env.clock.advance(99);
    expect(fleet.log).to.deep.equal([]);
    await env.clock.advance(1);
    await starting;
    expect(done).to.equal(true);
    expect(fleet.log).to.deep.equal(['slow ready', 'acquire:slow', 'acquire:next']);
  });

  it('can start again after a failed start, and refuses a second start while running', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    let broken = true;
    const sup = new Supervisor({
      id: 'sup',
      strategy: 'one_for_one',
      children: [fleet.spec('a'), { id: 'b', start: (ctx) => (broken ? Promise.reject(new Error('not yet')) : fleet.create(ctx.id)) }],
      ...env,
    });
    expect((await sup.start()).ok).to.equal(false);
    broken = false;
    expect(await sup.start()).to.deep.equal({ ok: true });
    expect(await sup.start()).to.deep.equal({ ok: false, reason: 'running' });
    expect(sup.whichChildren().map((c) => c.status)).to.deep.equal(['running', 'running']);
  });

  it('a child already in its final state after start is started, then exits normally', async () => {
    const env = testEnv();
    const sup = new Supervisor({
      id: 'sup',
      strategy: 'one_for_one',
      children: [
        {
          id: 'once',
          restart: 'transient',
          start: () => createActor(createMachine({ initial: 'end', states: { end: { type: 'final' } } })),
        },
      ],
      ...env,
    });
    const events: string[] = [];
    sup.onEvent((e) => events.push(e.type === 'child_exited' ? `exited:${e.exit}` : e.type));
    expect(await sup.start()).to.deep.equal({ ok: true });
    await flush();
    expect(events).to.deep.equal(['child_started', 'exited:normal']);
    expect(sup.whichChildren()[0]?.status).to.equal('stopped');
  });
});
