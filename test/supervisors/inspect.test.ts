import { expect } from 'chai';
import { Supervisor, type SupervisorTree } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

describe('supervisor inspect()', () => {
  async function tree() {
    const env = testEnv();
    const fleet = new Fleet();
    const sup = new Supervisor({
      id: 'root',
      strategy: 'one_for_one',
      backoff: { initialMs: 100, jitter: 0 },
      children: [
        fleet.spec('a'),
        {
          id: 'inner',
          type: 'supervisor',
          start: (ctx) => new Supervisor({ ...ctx, strategy: 'one_for_all', children: [fleet.spec('x', { restart: 'transient' })] }),
        },
      ],
      ...env,
    });
    await sup.start();
    return { env, fleet, sup };
  }

  it('shows ids, statuses, state values, restart counts, last errors and nested children', async () => {
    const { env, fleet, sup } = await tree();
    fleet.send('x', 'WORK');
    await env.clock.advance(250);
    fleet.send('a', 'CRASH');
    await flush();
    const restarting = sup.inspect().children[0];
    expect(restarting).to.include({ id: 'a', status: 'restarting', restarts: 0 });
    expect(restarting && 'stateValue' in restarting, 'no actor, no state value').to.equal(false);
    await env.clock.advance(100);

    const expected: SupervisorTree = {
      id: 'root',
      kind: 'supervisor',
      strategy: 'one_for_one',
      status: 'running',
      restarts: 1,
      children: [
        {
          id: 'a',
          type: 'worker',
          restart: 'permanent',
          status: 'running',
          stateValue: 'idle',
          restarts: 1,
          lastError: { name: 'Error', message: 'a crashed', at: 250 },
          dynamic: false,
        },
        {
          id: 'inner',
          type: 'supervisor',
          restart: 'permanent',
          status: 'running',
          restarts: 0,
          dynamic: false,
          strategy: 'one_for_all',
          children: [
            { id: 'x', type: 'worker', restart: 'transient', status: 'running', stateValue: 'working', restarts: 0, dynamic: false },
          ],
        },
      ],
    };
    const seen = sup.inspect();
    expect(seen).to.deep.equal(expected);
    expect(JSON.parse(JSON.stringify(seen)), 'plain and serialisable').to.deep.equal(expected);
  });

  it('shows a stopped tree after stop()', async () => {
    const { sup } = await tree();
    await sup.stop();
    const seen = sup.inspect();
    expect(seen.status).to.equal('stopped');
    expect(seen.children.map((c) => [c.id, c.status, c.children])).to.deep.equal([
      ['a', 'stopped', undefined],
      ['inner', 'stopped', undefined],
    ]);
  });
});
