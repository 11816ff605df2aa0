import { expect } from 'chai';
import { Supervisor, waitForEvent, type SupervisorReport } from '../../supervisors/index.js';
import { Fleet, flush, testEnv, type TestEnv } from './helpers.js';

/** Crashes `id` and lets the (immediate) restart or escalation that follows complete. */
async function crash(env: TestEnv, fleet: Fleet, id: string): Promise<void> {
  fleet.send(id, 'CRASH');
  await flush();
  await env.clock.advance(0);
}

describe('supervisor restart intensity', () => {
  it('past `intensity` restarts within `period` it stops its children in reverse order and escalates', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const escalations: SupervisorReport[] = [];
    const sup = new Supervisor({
      id: 'sup',
      strategy: 'one_for_one',
      intensity: 2,
      period: 5000,
      backoff: { initialMs: 0 },
      children: [fleet.spec('a'), fleet.spec('b'), fleet.spec('c')],
      onEscalate: (r) => escalations.push(r),
      ...env,
    });
    await sup.start();
    const escalated = waitForEvent(sup, 'escalated');

    await crash(env, fleet, 'b');
    await crash(env, fleet, 'b');
    expect(sup.status, 'two restarts are within intensity 2').to.equal('running');
    fleet.log.length = 0;
    await crash(env, fleet, 'b');

    const event = await escalated;
    expect(sup.status).to.equal('failed');
    expect(fleet.log).to.deep.equal(['release:b', 'release:c', 'release:a']);
    expect(sup.whichChildren().every((c) => c.status === 'stopped')).to.equal(true);
    const expected: SupervisorReport = {
      supervisor: 'sup',
      context: 'reached_max_restart_intensity',
      reason: 'reached_max_restart_intensity',
      offender: { id: 'b', restart: 'permanent', type: 'worker' },
      error: { name: 'Error', message: 'b crashed' },
    };
    expect(escalations).to.deep.equal([expected]);
    expect(event.report).to.deep.equal(expected);
    const logged = env.logs.reports('reached_max_restart_intensity');
    expect(logged).to.have.length(1);
    expect(logged[0]).to.include({ level: 50, supervisor: 'sup', reason: 'reached_max_restart_intensity' });
    expect(logged[0]?.offender).to.deep.equal(expected.offender);
  });

  it('intensity 0 gives up on the first failure', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const sup = new Supervisor({ id: 'sup', strategy: 'one_for_one', intensity: 0, children: [fleet.spec('a')], ...env });
    await sup.start();
    await crash(env, fleet, 'a');
    expect(sup.status).to.equal('failed');
    expect(fleet.starts('a')).to.equal(1);
  });

  it('restarts further apart than `period` do not add up', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const sup = new Supervisor({
      id: 'sup',
      strategy: 'one_for_one',
      intensity: 1,
      period: 1000,
      backoff: { initialMs: 0 },
      children: [fleet.spec('a')],
      ...env,
    });
    await sup.start();
    for (let i = 0; i < 5; i++) {
      await crash(env, fleet, 'a');
      await env.clock.advance(1000);
    }
    expect(sup.status).to.equal('running');
    expect(fleet.starts('a')).to.equal(6);
    // …but two within the period exceed intensity 1.
    await crash(env, fleet, 'a');
    await crash(env, fleet, 'a');
    expect(sup.status).to.equal('failed');
  });

  describe('escalation through nested supervisors', () => {
    function tree(env: TestEnv, fleet: Fleet, rootIntensity: number, onEscalate?: (r: SupervisorReport) => void) {
      const inners: Supervisor[] = [];
      const root = new Supervisor({
        id: 'root',
        strategy: 'one_for_one',
        intensity: rootIntensity,
        backoff: { initialMs: 0 },
        children: [
          fleet.spec('sibling'),
          {
            id: 'inner',
            type: 'supervisor',
            start: (ctx) => {
              const inner = new Supervisor({
                id: 'inner',
                strategy: 'one_for_one',
                intensity: 1,
                backoff: { initialMs: 0 },
                children: [fleet.spec('x'), fleet.spec('y')],
                clock: ctx.clock,
                random: ctx.random,
                logger: ctx.logger,
              });
              inners.push(inner);
              return inner;
            },
          },
        ],
        ...(onEscalate ? { onEscalate } : {}),
        ...env,
      });
      return { root, inners };
    }

    it('a child supervisor that reaches its intensity is restarted by its parent', async () => {
      const env = testEnv();
      const fleet = new Fleet();
      const { root, inners } = tree(env, fleet, 3);
      expect((await root.start()).ok).to.equal(true);
      const sibling = fleet.current('sibling');
      const rootSaw = waitForEvent(root, 'child_exited', (e) => e.childId === 'inner');
      const innerRestarted = waitForEvent(root, 'child_restarted', (e) => e.childId === 'inner');

      await crash(env, fleet, 'x');
      fleet.log.length = 0;
      await crash(env, fleet, 'x');
      await innerRestarted;

      const exit = await rootSaw;
      expect(exit.exit).to.equal('error');
      expect(exit.error).to.deep.equal({ name: 'MaxRestartIntensityError', message: 'reached_max_restart_intensity' });
      expect(inners).to.have.length(2);
      expect(inners[0]?.status).to.equal('failed');
      expect(inners[1]?.status).to.equal('running');
      // The inner supervisor stopped y before giving up; the new one started x and y afresh.
      expect(fleet.log).to.deep.equal(['release:x', 'release:y', 'acquire:x', 'acquire:y']);
      expect(fleet.starts('x')).to.equal(3);
      expect(fleet.current('sibling'), 'one_for_one: the sibling is untouched').to.equal(sibling);
      const innerInfo = root.inspect().children.find((c) => c.id === 'inner');
      expect(innerInfo).to.include({ status: 'running', restarts: 1 });
      expect(innerInfo?.lastError).to.include({ name: 'MaxRestartIntensityError' });
      expect(env.logs.reports('reached_max_restart_intensity').map((r) => r.supervisor)).to.deep.equal(['inner']);
    });

    it('when the parent gives up too, the escalation reaches the root onEscalate', async () => {
      const env = testEnv();
      const fleet = new Fleet();
      const escalations: SupervisorReport[] = [];
      const { root } = tree(env, fleet, 0, (r) => escalations.push(r));
      await root.start();
      fleet.log.length = 0;

      await crash(env, fleet, 'x');
      await crash(env, fleet, 'x');
      await flush();

      expect(root.status).to.equal('failed');
      expect(escalations).to.have.length(1);
      expect(escalations[0]).to.deep.include({
        supervisor: 'root',
        offender: { id: 'inner', restart: 'permanent', type: 'supervisor' },
        error: { name: 'MaxRestartIntensityError', message: 'reached_max_restart_intensity' },
      });
      // x restarted once inside `inner`; then inner stops y, and root (giving up) stops sibling.
      expect(fleet.log).to.deep.equal(['release:x', 'acquire:x', 'release:x', 'release:y', 'release:sibling']);
    });
  });
});
