import { expect } from 'chai';
import { ChildSpecError, Supervisor, waitForEvent, type ChildSpec } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

async function pods() {
  const env = testEnv();
  const fleet = new Fleet();
  const seen: [string, unknown][] = [];
  const template: ChildSpec = {
    id: 'pod',
    restart: 'permanent',
    start: (ctx, args) => {
      seen.push([ctx.id, args]);
      if (args === 'broken') throw new Error('cannot start');
      return fleet.create(ctx.id);
    },
  };
  const sup = new Supervisor({
    id: 'pods',
    strategy: 'simple_one_for_one',
    backoff: { initialMs: 5, jitter: 0 },
    children: [template],
    ...env,
  });
  expect(await sup.start()).to.deep.equal({ ok: true });
  expect(sup.whichChildren(), 'the template is not a child').to.deep.equal([]);
  return { env, fleet, seen, sup };
}

describe('supervisor dynamic children', () => {
  describe('simple_one_for_one', () => {
    it('starts children from the template with args, generated or given ids', async () => {
      const { fleet, seen, sup } = await pods();
      expect(await sup.startChild({ ip: '10.0.0.1' })).to.deep.equal({ ok: true, childId: 'pod-1' });
      expect(await sup.startChild({ ip: '10.0.0.2' })).to.deep.equal({ ok: true, childId: 'pod-2' });
      expect(await sup.startChild({ ip: '10.0.0.3' }, 'pod-web')).to.deep.equal({ ok: true, childId: 'pod-web' });
      expect(seen).to.deep.equal([
        ['pod-1', { ip: '10.0.0.1' }],
        ['pod-2', { ip: '10.0.0.2' }],
        ['pod-web', { ip: '10.0.0.3' }],
      ]);
      expect(sup.whichChildren().map((c) => [c.id, c.status, c.dynamic])).to.deep.equal([
        ['pod-1', 'running', true],
        ['pod-2', 'running', true],
        ['pod-web', 'running', true],
      ]);
      expect(fleet.log).to.deep.equal(['acquire:pod-1', 'acquire:pod-2', 'acquire:pod-web']);
    });

    it('refuses a duplicate id with already_present and leaves the running child alone', async () => {
      const { fleet, sup } = await pods();
      await sup.startChild('a', 'pod-x');
      expect(await sup.startChild('b', 'pod-x')).to.deep.equal({ ok: false, reason: 'already_present', childId: 'pod-x' });
      expect(fleet.starts('pod-x')).to.equal(1);
      // A generated id skips over one that was given explicitly.
      await sup.startChild('c', 'pod-1');
      expect(await sup.startChild('d')).to.deep.equal({ ok: true, childId: 'pod-2' });
    });

    it('terminates a dynamic child: stopped and forgotten, so its id can be used again', async () => {
      const { fleet, sup } = await pods();
      await sup.startChild(1);
      await sup.startChild(2);
      expect(await sup.terminateChild('pod-1')).to.deep.equal({ ok: true, childId: 'pod-1' });
      expect(fleet.log).to.deep.equal(['acquire:pod-1', 'acquire:pod-2', 'release:pod-1']);
      expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['pod-2']);
      expect(await sup.terminateChild('pod-1')).to.deep.equal({ ok: false, reason: 'not_found', childId: 'pod-1' });
      expect(await sup.startChild(3, 'pod-1')).to.deep.equal({ ok: true, childId: 'pod-1' });
    });

    it('restarting one crashed dynamic child (with its args) does not touch the others', async () => {
      const { env, fleet, seen, sup } = await pods();
      await sup.startChild('one');
      await sup.startChild('two');
      await sup.startChild('three');
      const others = [fleet.current('pod-1'), fleet.current('pod-3')];
      fleet.log.length = 0;
      const restarted = waitForEvent(sup, 'child_restarted');
      fleet.send('pod-2', 'CRASH');
      await flush();
      await env.clock.advance(5);
      expect((await restarted).childId).to.equal('pod-2');
      expect(fleet.log).to.deep.equal(['release:pod-2', 'acquire:pod-2']);
      expect([fleet.current('pod-1'), fleet.current('pod-3')]).to.deep.equal(others);
      expect(seen.at(-1)).to.deep.equal(['pod-2', 'two']);
    });

    it('a failed dynamic start is reported and leaves no child behind', async () => {
      const { env, sup } = await pods();
      const outcome = await sup.startChild('broken');
      expect(outcome).to.include({ ok: false, reason: 'start_failed', childId: 'pod-1' });
      expect(sup.whichChildren()).to.deep.equal([]);
      expect(env.logs.reports('start_error')).to.have.length(1);
    });

    it('stop() stops every dynamic child', async () => {
      const { fleet, sup } = await pods();
      await sup.startChild(1);
      await sup.startChild(2);
      await sup.stop();
      expect(fleet.log.filter((l) => l.startsWith('release')).sort()).to.deep.equal(['release:pod-1', 'release:pod-2']);
    });
  });

  describe('other strategies', () => {
    async function withTwo() {
      const env = testEnv();
      const fleet = new Fleet();
      const sup = new Supervisor({
        id: 'sup',
        strategy: 'rest_for_one',
        backoff: { initialMs: 0 },
        children: [fleet.spec('a'), fleet.spec('b')],
        ...env,
      });
      await sup.start();
      return { env, fleet, sup };
    }

    it('startChild(spec) appends a child that then takes part in rest_for_one', async () => {
      const { fleet, sup } = await withTwo();
      expect(await sup.startChild(fleet.spec('late'))).to.deep.equal({ ok: true, childId: 'late' });
      expect(sup.whichChildren().map((c) => [c.id, c.dynamic])).to.deep.equal([
        ['a', false],
        ['b', false],
        ['late', true],
      ]);
      fleet.log.length = 0;
      fleet.send('b', 'CRASH');
      await flush(6);
      expect(fleet.log).to.deep.equal(['release:b', 'release:late', 'acquire:b', 'acquire:late']);
    });

    it('startChild refuses a duplicate id and an invalid spec, naming the field', async () => {
      const { fleet, sup } = await withTwo();
      expect(await sup.startChild(fleet.spec('a'))).to.deep.equal({ ok: false, reason: 'already_present', childId: 'a' });
      const invalid = await sup.startChild({ id: 'x', start: () => fleet.create('x'), restart: 'always' });
      if (invalid.ok || invalid.reason !== 'invalid_spec') throw new Error(`expected invalid_spec, got ${JSON.stringify(invalid)}`);
      const error = invalid.error as ChildSpecError;
      expect(error).to.be.instanceOf(ChildSpecError);
      expect(error.field).to.equal('restart');
    });

    it('terminateChild keeps the spec; restartChild starts it again; deleteChild removes it', async () => {
      const { fleet, sup } = await withTwo();
      expect(await sup.terminateChild('a')).to.deep.equal({ ok: true, childId: 'a' });
      expect(sup.whichChildren()[0]).to.include({ id: 'a', status: 'stopped' });
      expect(await sup.deleteChild('b')).to.deep.equal({ ok: false, reason: 'running', childId: 'b' });
      expect(await sup.restartChild('b')).to.deep.equal({ ok: false, reason: 'running', childId: 'b' });
      expect(await sup.restartChild('a')).to.deep.equal({ ok: true, childId: 'a' });
      expect(fleet.starts('a')).to.equal(2);
      expect(sup.inspect().children[0]?.restarts, 'a manual restart is not a supervisor restart').to.equal(0);
      await sup.terminateChild('a');
      expect(await sup.deleteChild('a')).to.deep.equal({ ok: true, childId: 'a' });
      expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['b']);
      for (const call of [sup.terminateChild('zz'), sup.restartChild('zz'), sup.deleteChild('zz')]) {
        expect(await call).to.deep.equal({ ok: false, reason: 'not_found', childId: 'zz' });
      }
    });

    it('refuses calls before start (not_running) and during stop (shutting_down)', async () => {
      const env = testEnv();
      const fleet = new Fleet();
      const slowToStop = fleet.spec('a', { trapShutdown: true, shutdown: 100 });
      const sup = new Supervisor({ id: 'sup', strategy: 'one_for_one', children: [slowToStop], ...env });
      expect(await sup.startChild(fleet.spec('b'))).to.deep.equal({ ok: false, reason: 'not_running' });
      expect(await sup.terminateChild('a')).to.deep.equal({ ok: false, reason: 'not_running', childId: 'a' });
      await sup.start();
      const stopping = sup.stop();
      expect(await sup.startChild(fleet.spec('b'))).to.deep.equal({ ok: false, reason: 'shutting_down' });
      expect(await sup.restartChild('a')).to.deep.equal({ ok: false, reason: 'shutting_down', childId: 'a' });
      expect(await sup.start()).to.deep.equal({ ok: false, reason: 'shutting_down' });
      await env.clock.advance(100);
      await stopping;
      expect(await sup.deleteChild('a')).to.deep.equal({ ok: false, reason: 'not_running', childId: 'a' });
    });
  });
});
