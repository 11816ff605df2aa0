import { expect } from 'chai';
import { seededRandom, type Random } from '../../core/random.js';
import { backoffDelay, DEFAULT_BACKOFF, RestartWindow, Supervisor, waitForEvent } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

/** Crashes the child `times` times and returns how long each restart waited on the clock. */
async function restartDelays(seed: number, times: number, pauseMs = 0): Promise<number[]> {
  const env = testEnv(seed);
  const fleet = new Fleet();
  const sup = new Supervisor({ id: 'sup', strategy: 'one_for_one', intensity: 100, period: 60_000, children: [fleet.spec('w')], ...env });
  await sup.start();
  const delays: number[] = [];
  for (let i = 0; i < times; i++) {
    const restarted = waitForEvent(sup, 'child_restarted');
    const crashedAt = env.clock.now();
    fleet.send('w', 'CRASH');
    await flush();
    await env.clock.runAll();
    delays.push((await restarted).at - crashedAt);
    await env.clock.advance(pauseMs);
  }
  await sup.stop();
  return delays;
}

describe('supervisor restart backoff', () => {
  describe('backoffDelay', () => {
    const noJitter = { initialMs: 10, maxMs: 500, jitter: 0 };
    const table: [k: number, ms: number][] = [
      [1, 10],
      [2, 20],
      [3, 40],
      [4, 80],
      [5, 160],
      [6, 320],
      [7, 500],
      [30, 500],
    ];
    for (const [k, ms] of table) {
      it(`restart #${k} without jitter waits ${ms} ms (doubling, capped at maxMs)`, () => {
        expect(backoffDelay(noJitter, k, seededRandom(1))).to.equal(ms);
      });
    }

    it('jitter stays within ±jitter of the base delay and is deterministic per seed', () => {
      const options = { initialMs: 100, maxMs: 10_000, jitter: 0.2 };
      const draw = (random: Random): number[] => Array.from({ length: 50 }, (_, i) => backoffDelay(options, (i % 5) + 1, random));
      const a = draw(seededRandom(7));
      expect(draw(seededRandom(7))).to.deep.equal(a);
      expect(draw(seededRandom(8))).not.to.deep.equal(a);
      a.forEach((ms, i) => {
        const base = 100 * 2 ** (i % 5);
        expect(ms, `draw ${i}`).to.be.within(base * 0.8, base * 1.2);
      });
      expect(new Set(a).size, 'jitter actually varies the delay').to.be.greaterThan(10);
    });

    it('initialMs 0 means immediate, and draws nothing from the random source', () => {
      let draws = 0;
      const counting: Random = { ...seededRandom(1), next: () => (draws++, 0.5) };
      expect(backoffDelay({ initialMs: 0, maxMs: 5000, jitter: 0.5 }, 3, counting)).to.equal(0);
      expect(draws).to.equal(0);
    });

    it('counts restarts within a sliding period', () => {
      const window = new RestartWindow(1000);
      expect([window.record(0), window.record(500), window.record(999)]).to.deep.equal([1, 2, 3]);
      expect(window.count(1000), 'the one at 0 aged out').to.equal(2);
      expect(window.count(2000)).to.equal(0);
    });
  });

  describe('in a supervisor (injected clock and random)', () => {
    it('restart delays grow per restart of the child and match the formula for the seed', async () => {
      const delays = await restartDelays(42, 6);
      const random = seededRandom(42);
      const expected = [1, 2, 3, 4, 5, 6].map((k) => backoffDelay(DEFAULT_BACKOFF, k, random));
      expect(delays).to.deep.equal(expected);
      for (let i = 1; i < delays.length; i++) expect(delays[i], `restart ${i + 1}`).to.be.greaterThan(delays[i - 1] ?? 0);
    });

    it('is deterministic for a given seed and differs for another', async () => {
      const first = await restartDelays(3, 5);
      expect(await restartDelays(3, 5)).to.deep.equal(first);
      expect(await restartDelays(4, 5)).not.to.deep.equal(first);
    });

    it('starts again from initialMs once earlier restarts leave the period', async () => {
      const delays = await restartDelays(5, 3, 60_000);
      for (const [i, ms] of delays.entries()) expect(ms, `restart ${i + 1}`).to.be.within(8, 12);
    });
  });
});
