import { expect } from 'chai';
import { Writable } from 'node:stream';
import { ManualClock, OffsetClock } from '../../core/clock.js';
import { createLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';

describe('injected clock, seeded random and per-module logs', () => {
  it('fires manual timers in time order, ties in creation order, chaining through promises', async () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    const cancelled = clock.setTimeout(() => fired.push('never'), 5);
    clock.clearTimeout(cancelled);
    void clock.sleep(15).then(() => clock.setTimeout(() => fired.push('chained@25'), 10));
    await clock.advance(19);
    expect(fired).to.deep.equal(['a@10']);
    await clock.advance(20);
    expect(fired).to.deep.equal(['a@10', 'b@20', 'c@20', 'chained@25']);
    expect(clock.now()).to.equal(1039);
    expect(clock.pending()).to.equal(0);
  });

  it('keeps time order over thousands of timers set and cleared at random (the heap), and says when the next is due', async () => {
    const clock = new ManualClock(0);
    const r = seededRandom(3);
    const fired: [number, number][] = [];
    const handles: { h: ReturnType<ManualClock['setTimeout']>; due: number; id: number }[] = [];
    for (let id = 0; id < 3000; id++) {
      const due = r.int(0, 500);
      handles.push({ h: clock.setTimeout(() => fired.push([clock.now(), id]), due), due, id });
    }
    const cleared = new Set<number>();
    for (const x of handles) if (r.next() < 0.3) {
      clock.clearTimeout(x.h);
      cleared.add(x.id);
    }
    expect(clock.pending()).to.equal(3000 - cleared.size);
    const expected = handles.filter((x) => !cleared.has(x.id)).sort((a, b) => a.due - b.due || a.id - b.id);
    expect(clock.nextDue()).to.equal(expected[0]!.due);
    await clock.advance(500);
    expect(fired).to.deep.equal(expected.map((x) => [x.due, x.id]));
    expect(clock.pending()).to.equal(0);
    expect(clock.nextDue()).to.equal(undefined);
  });

  it('an offset view reads a stepped time and runs its timers on the shared clock', async () => {
    const clock = new ManualClock(10_000);
    const view = new OffsetClock(clock);
    view.jump(-4000);
    expect(view.now()).to.equal(6000);
    let at = 0;
    view.setTimeout(() => (at = clock.now()), 100);
    await clock.advance(100);
    expect(at).to.equal(10_100);
    expect(view.now()).to.equal(6100);
  });

  it('aborts a sleep through its signal', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const sleeping = clock.sleep(100, ac.signal);
    ac.abort(new Error('stop'));
    await sleeping.then(
      () => expect.fail('should reject'),
      (e: Error) => expect(e.message).to.equal('stop'),
    );
  });

  it('repeats a seeded sequence exactly and differs across seeds', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const seq = (r: typeof a): number[] => Array.from({ length: 20 }, () => r.int(0, 1_000_000));
    const sa = seq(a);
    expect(sa).to.deep.equal(seq(b));
    expect(sa).to.not.deep.equal(seq(c));
    expect(sa.every((x) => x >= 0 && x <= 1_000_000)).to.equal(true);
  });

  it('logs each module at its own level', () => {
    const lines: { module: string; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { module: string; msg: string });
        done();
      },
    });
    const logs = createLogs({ level: 'warn', modules: { bus: 'debug' } }, 'test', sink);
    logs.for('bus').debug('bus detail');
    logs.for('supervisor').info('hidden');
    logs.for('supervisor').warn('shown');
    expect(lines.map((l) => `${l.module}:${l.msg}`)).to.deep.equal(['bus:bus detail', 'supervisor:shown']);
  });
});
