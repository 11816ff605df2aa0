import { expect } from 'chai';
import { createActor, createMachine, fromPromise, setup, type AnyActor } from 'xstate';
import { settle } from '../../core/clock.js';
import { Supervisor, type ChildSpec, type SupervisorEvent } from '../../supervisors/index.js';
import { flush, testEnv } from './helpers.js';

/**
 * xstate rethrows an error that no observer handled inside `setTimeout(fn)` (1 ms). A 1 ms timer
 * created afterwards fires after it, so awaiting one is the shortest wait that proves it did not
 * happen.
 */
async function letXstateRethrow(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  await settle();
}

const throwingAction = setup({
  actions: {
    boom: () => {
      throw new Error('action threw');
    },
  },
}).createMachine({ on: { GO: { actions: 'boom' } } });

const throwingEntry = createMachine({
  entry: () => {
    throw new Error('entry threw');
  },
});

const invokesRejecting = createMachine({
  invoke: { src: fromPromise(() => Promise.reject(new Error('invoked child rejected'))) },
});

/** How each case provokes the failure once the supervisor runs. */
interface Case {
  name: string;
  spec: (actors: AnyActor[]) => ChildSpec;
  provoke?: (actors: AnyActor[]) => void;
  intensity?: number;
  /** The failure shows up as a failed start rather than as an exit. */
  atStart?: boolean;
}

const keep = (actors: AnyActor[], actor: AnyActor): AnyActor => (actors.push(actor), actor);

const CASES: Case[] = [
  {
    name: 'a throwing action',
    spec: (actors) => ({ id: 'c', start: () => keep(actors, createActor(throwingAction)) }),
    provoke: (actors) => actors.at(-1)?.send({ type: 'GO' }),
  },
  { name: 'a throwing entry action during start', spec: () => ({ id: 'c', start: () => createActor(throwingEntry) }), atStart: true },
  {
    name: 'a rejected promise actor',
    spec: () => ({ id: 'c', start: () => createActor(fromPromise(() => Promise.reject(new Error('rejected')))) }),
  },
  { name: 'an invoked child that errors with no onError', spec: () => ({ id: 'c', start: () => createActor(invokesRejecting) }) },
  {
    name: 'repeated crashes up to escalation of a root with no onEscalate',
    spec: (actors) => ({ id: 'c', start: () => keep(actors, createActor(throwingAction)) }),
    provoke: (actors) => actors.at(-1)?.send({ type: 'GO' }),
    intensity: 0,
  },
];

describe('supervisor crash safety: a child never takes the process down', () => {
  const uncaught: unknown[] = [];
  let savedExceptions: NodeJS.UncaughtExceptionListener[] = [];
  let savedRejections: NodeJS.UnhandledRejectionListener[] = [];
  const record = (error: unknown): void => void uncaught.push(error);

  // Mocha's own handlers would fail the test on their own; take them out so the control case can
  // observe a real crash, and count what reaches the process instead.
  beforeEach(() => {
    uncaught.length = 0;
    savedExceptions = process.listeners('uncaughtException');
    savedRejections = process.listeners('unhandledRejection');
    process.removeAllListeners('uncaughtException');
    process.removeAllListeners('unhandledRejection');
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterEach(() => {
    process.removeAllListeners('uncaughtException');
    process.removeAllListeners('unhandledRejection');
    for (const l of savedExceptions) process.on('uncaughtException', l);
    for (const l of savedRejections) process.on('unhandledRejection', l);
  });

  it('control: an unsupervised actor with a throwing entry action does crash (the harness sees it)', async () => {
    createActor(throwingEntry).start();
    await letXstateRethrow();
    expect(uncaught.map((e) => (e as Error).message)).to.deep.equal(['entry threw']);
  });

  for (const c of CASES) {
    it(`survives ${c.name}`, async () => {
      const env = testEnv();
      const actors: AnyActor[] = [];
      const events: SupervisorEvent[] = [];
      const sup = new Supervisor({
        id: 'sup',
        strategy: 'one_for_one',
        intensity: c.intensity ?? 3,
        backoff: { initialMs: 0 },
        children: [c.spec(actors)],
        ...env,
      });
      sup.onEvent((e) => events.push(e));
      const started = await sup.start();
      c.provoke?.(actors);
      await flush();
      await env.clock.runAll();
      await letXstateRethrow();
      expect(uncaught, 'nothing reached the process').to.deep.equal([]);
      if (c.atStart) {
        expect(started).to.include({ ok: false, reason: 'start_failed' });
      } else {
        const exits = events.filter((e) => e.type === 'child_exited');
        expect(exits.length, 'the supervisor saw the exit').to.be.greaterThan(0);
        expect(exits.every((e) => e.exit === 'error')).to.equal(true);
      }
      await sup.stop();
    });
  }

  it('survives throwing event listeners and a throwing onEscalate, and logs them', async () => {
    const env = testEnv();
    const actors: AnyActor[] = [];
    const sup = new Supervisor({
      id: 'sup',
      strategy: 'one_for_one',
      intensity: 0,
      children: [{ id: 'c', start: () => keep(actors, createActor(throwingAction)) }],
      onEscalate: () => {
        throw new Error('onEscalate threw');
      },
      ...env,
    });
    sup.onEvent(() => {
      throw new Error('listener threw');
    });
    await sup.start();
    actors[0]?.send({ type: 'GO' });
    await flush();
    await letXstateRethrow();
    expect(uncaught).to.deep.equal([]);
    expect(sup.status).to.equal('failed');
    const messages = env.logs.lines.map((l) => l.msg);
    expect(messages).to.include('supervisor event listener threw');
    expect(messages).to.include('onEscalate threw');
  });
});
