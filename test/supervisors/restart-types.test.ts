import { expect } from 'chai';
import { createActor, fromPromise } from 'xstate';
import { Supervisor, waitForEvent, type ExitKind, type RestartType, type Strategy } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

/** How a test makes the child exit, and the exit kind the supervisor must see. */
const EXITS: { how: string; kind: ExitKind; cause: (fleet: Fleet, id: string) => void }[] = [
  { how: 'a throwing action', kind: 'error', cause: (f, id) => f.send(id, 'CRASH') },
  { how: 'reaching a final state', kind: 'normal', cause: (f, id) => f.send(id, 'FINISH') },
  { how: 'being stopped from outside', kind: 'shutdown', cause: (f, id) => void f.current(id).stop() },
];

const RESTARTS: { restart: RestartType; restarted: Record<ExitKind, boolean> }[] = [
  { restart: 'permanent', restarted: { error: true, normal: true, shutdown: true } },
  { restart: 'transient', restarted: { error: true, normal: false, shutdown: false } },
  { restart: 'temporary', restarted: { error: false, normal: false, shutdown: false } },
];

const STRATEGIES: Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];

describe('supervisor restart types × strategy × exit', () => {
  for (const strategy of STRATEGIES) {
    for (const { restart, restarted } of RESTARTS) {
      for (const { how, kind, cause } of EXITS) {
        const expected = restarted[kind];
        it(`${strategy}: a ${restart} child exiting by ${how} is ${expected ? '' : 'not '}restarted`, async () => {
          const env = testEnv();
          const fleet = new Fleet();
          const sup = new Supervisor({
            id: 'sup',
            strategy,
            backoff: { initialMs: 0 },
            children: [fleet.spec('w', { restart })],
            ...env,
          });
          expect((await sup.start()).ok).to.equal(true);
          const childId = strategy === 'simple_one_for_one' ? 'w-1' : 'w';
          if (strategy === 'simple_one_for_one') expect(await sup.startChild(undefined)).to.deep.equal({ ok: true, childId });
          const exited = waitForEvent(sup, 'child_exited');

          cause(fleet, childId);
          const event = await exited;
          await flush();

          expect(event.exit, 'exit kind seen by the supervisor').to.equal(kind);
          expect(event.willRestart).to.equal(expected);
          expect(fleet.starts(childId), 'incarnations').to.equal(expected ? 2 : 1);
          const listed = sup.whichChildren().find((c) => c.id === childId);
          if (expected) expect(listed?.status).to.equal('running');
          else if (restart === 'temporary' || strategy === 'simple_one_for_one') expect(listed, 'forgotten').to.equal(undefined);
          else expect(listed?.status, 'kept, stopped').to.equal('stopped');
          await sup.stop();
        });
      }
    }
  }

  describe('exit detection for non-machine logic', () => {
    const cases = [
      { logic: 'a rejected fromPromise', make: () => fromPromise(() => Promise.reject(new Error('nope'))), kind: 'error' },
      { logic: 'a resolved fromPromise', make: () => fromPromise(() => Promise.resolve(42)), kind: 'normal' },
    ] as const;
    for (const { logic, make, kind } of cases) {
      it(`${logic} is seen as exit kind ${kind}`, async () => {
        const env = testEnv();
        const sup = new Supervisor({
          id: 'sup',
          strategy: 'one_for_one',
          children: [{ id: 'p', restart: 'temporary', start: () => createActor(make()) }],
          ...env,
        });
        const exited = waitForEvent(sup, 'child_exited');
        expect((await sup.start()).ok).to.equal(true);
        expect((await exited).exit).to.equal(kind);
      });
    }
  });
});
