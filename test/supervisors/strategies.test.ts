import { expect } from 'chai';
import { Supervisor, waitForEvent, type ChildSpec, type Strategy } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

async function threeWorkers(strategy: Strategy, specs?: (fleet: Fleet) => ChildSpec[]) {
  const env = testEnv();
  const fleet = new Fleet();
  const sup = new Supervisor({
    id: 'sup',
    strategy,
    intensity: 5,
    backoff: { initialMs: 10, jitter: 0 },
    children: specs ? specs(fleet) : [fleet.spec('a'), fleet.spec('b'), fleet.spec('c')],
    ...env,
  });
  expect((await sup.start()).ok).to.equal(true);
  expect(fleet.log).to.deep.equal(['acquire:a', 'acquire:b', 'acquire:c']);
  fleet.log.length = 0;
  const first = { a: fleet.current('a'), b: fleet.current('b'), c: fleet.current('c') };
  /** Crashes `id` and waits until the restart that follows has completed. */
  const crashAndRestart = async (id: string, last: string): Promise<void> => {
    const restarted = waitForEvent(sup, 'child_restarted', (e) => e.childId === last);
    fleet.send(id, 'CRASH');
    await flush();
    await env.clock.advance(10);
    await restarted;
  };
  return { env, fleet, sup, first, crashAndRestart };
}

describe('supervisor strategies', () => {
  it('one_for_one restarts only the failed child; its siblings keep their actors', async () => {
    const { fleet, sup, first, crashAndRestart } = await threeWorkers('one_for_one');
    await crashAndRestart('b', 'b');
    expect(fleet.log).to.deep.equal(['release:b', 'acquire:b']);
    expect(fleet.current('a')).to.equal(first.a);
    expect(fleet.current('c')).to.equal(first.c);
    expect(fleet.current('b')).not.to.equal(first.b);
    expect(sup.whichChildren().map((c) => c.status)).to.deep.equal(['running', 'running', 'running']);
  });

  it('one_for_all stops the others in reverse order, then restarts all in start order', async () => {
    const { fleet, sup, first, crashAndRestart } = await threeWorkers('one_for_all');
    await crashAndRestart('b', 'c');
    // release:b comes from the crash itself (its invoked resource is cleaned up).
    expect(fleet.log).to.deep.equal(['release:b', 'release:c', 'release:a', 'acquire:a', 'acquire:b', 'acquire:c']);
    for (const id of ['a', 'b', 'c'] as const) expect(fleet.current(id), id).not.to.equal(first[id]);
    expect(sup.inspect().restarts, 'one restart, not three').to.equal(1);
  });

  it('rest_for_one restarts the failed child and the later ones; earlier ones keep the same actor', async () => {
    const { fleet, first, crashAndRestart } = await threeWorkers('rest_for_one');
    await crashAndRestart('b', 'c');
    expect(fleet.log).to.deep.equal(['release:b', 'release:c', 'acquire:b', 'acquire:c']);
    expect(fleet.current('a')).to.equal(first.a);
    expect(fleet.starts('a')).to.equal(1);
    expect(fleet.current('b')).not.to.equal(first.b);
    expect(fleet.current('c')).not.to.equal(first.c);
  });

  it('rest_for_one: a failure of the last child restarts only that child', async () => {
    const { fleet, first, crashAndRestart } = await threeWorkers('rest_for_one');
    await crashAndRestart('c', 'c');
    expect(fleet.log).to.deep.equal(['release:c', 'acquire:c']);
    expect([fleet.current('a'), fleet.current('b')]).to.deep.equal([first.a, first.b]);
  });

  it('siblings stopped by the supervisor are not failures: no exit events, one intensity tick', async () => {
    const { env, fleet, sup } = await threeWorkers('one_for_all');
    const exits: string[] = [];
    sup.onEvent((e) => e.type === 'child_exited' && exits.push(e.childId));
    // intensity 5: two one_for_all rounds take down 6 children but count as 2 restarts.
    for (let round = 0; round < 2; round++) {
      fleet.send('a', 'CRASH');
      await flush();
      await env.clock.advance(1000);
    }
    expect(exits).to.deep.equal(['a', 'a']);
    expect(sup.status).to.equal('running');
    expect(sup.inspect().restarts).to.equal(2);
  });

  it('one_for_all drops a temporary sibling instead of restarting it', async () => {
    const { fleet, sup, crashAndRestart } = await threeWorkers('one_for_all', (f) => [
      f.spec('a'),
      f.spec('b', { restart: 'temporary' }),
      f.spec('c'),
    ]);
    await crashAndRestart('a', 'c');
    expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['a', 'c']);
    expect(fleet.starts('b')).to.equal(1);
  });

  it('one_for_all leaves a child that was deliberately terminated stopped', async () => {
    const { fleet, sup, crashAndRestart } = await threeWorkers('one_for_all');
    expect(await sup.terminateChild('c')).to.deep.equal({ ok: true, childId: 'c' });
    await crashAndRestart('a', 'b');
    await flush();
    expect(sup.whichChildren().map((c) => `${c.id}:${c.status}`)).to.deep.equal(['a:running', 'b:running', 'c:stopped']);
    expect(fleet.starts('c')).to.equal(1);
  });
});
