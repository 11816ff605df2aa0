import { expect } from 'chai';
import { afterStep, decideLease, INITIAL_VIEW, parseLeaseRecord, type LeaseView, type Observation } from '../../actors/manager/lease.js';

const TTL = 3000;

/** A tiny in-memory CAS register standing in for the KV key, to drive the decision function. */
class Register {
  revision = 0;
  value: Observation = { present: false };
  write(expected: number | 'absent', record: { holder: string; epoch: number; renewedAtMs: number }): { ok: true; revision: number } | { ok: false } {
    const current = this.value.present ? this.revision : 'absent';
    if (current !== expected) return { ok: false };
    this.revision += 1;
    this.value = { present: true, revision: this.revision, record };
    return { ok: true, revision: this.revision };
  }
}

function tick(reg: Register, me: string, view: LeaseView, now: number): LeaseView {
  const { step, view: v } = decideLease(me, view, reg.value, now, TTL);
  if (step.op === 'wait') return v;
  const outcome = reg.write(step.op === 'create' ? 'absent' : step.revision, step.record);
  return afterStep(v, step, outcome, now);
}

describe('manager leadership lease (decision function)', () => {
  it('the first contender creates epoch 1; the other waits while it renews', () => {
    const reg = new Register();
    let a = tick(reg, 'a', INITIAL_VIEW, 0);
    let b = tick(reg, 'b', INITIAL_VIEW, 0);
    expect([a.leading, a.epoch, b.leading]).to.deep.equal([true, 1, false]);
    for (let t = 1000; t <= 20_000; t += 1000) {
      a = tick(reg, 'a', a, t);
      b = tick(reg, 'b', b, t);
      expect(a.leading && !b.leading, `t=${t}`).to.equal(true);
    }
  });

  it('a fresh contender that finds a delete marker bids above the marker’s revision (a clean stop, then every manager restarted)', () => {
    const { step } = decideLease('mgr-new', INITIAL_VIEW, { present: false, revision: 41 }, 0, TTL);
    expect(step).to.deep.include({ op: 'create' });
    expect(step.op === 'create' && step.record.epoch).to.equal(42);
    // Never written at all: epoch 1, as before.
    const first = decideLease('mgr-new', INITIAL_VIEW, { present: false }, 0, TTL).step;
    expect(first.op === 'create' && first.record.epoch).to.equal(1);
  });

  it('a standby takes over only after a whole TTL without renewal, with a higher epoch', () => {
    const reg = new Register();
    let a = tick(reg, 'a', INITIAL_VIEW, 0);
    let b = tick(reg, 'b', INITIAL_VIEW, 500);
    a = tick(reg, 'a', a, 1000); // last renewal at 1000; then a dies
    for (let t = 1500; t < 1000 + TTL + 500; t += 500) {
      b = tick(reg, 'b', b, t);
      expect(b.leading, `too early at ${t}`).to.equal(false);
    }
    b = tick(reg, 'b', b, 1000 + TTL + 500);
    expect(b.leading).to.equal(true);
    expect(b.epoch).to.be.greaterThan(a.epoch);
  });

  it('a leader that cannot renew steps down no later than a standby can take over', () => {
    const reg = new Register();
    let a = tick(reg, 'a', INITIAL_VIEW, 0);
    // a is partitioned from the KV: its reads fail, it only re-decides from its own view.
    const partitioned = decideLease('a', a, { present: true, revision: reg.revision, record: { holder: 'b', epoch: 9, renewedAtMs: 0 } }, TTL, TTL);
    expect(partitioned.view.leading).to.equal(false);
    a = { ...a, lastRenewedAtMs: 0 };
    const selfCheck = decideLease('a', a, reg.value, TTL, TTL);
    // It still holds the record, so it tries to renew (and leads again only if the CAS succeeds).
    expect(selfCheck.step.op).to.equal('renew');
    expect(selfCheck.view.leading).to.equal(false);
  });

  it('two standbys racing for an expired lease: exactly one wins, no livelock', () => {
    const reg = new Register();
    tick(reg, 'a', INITIAL_VIEW, 0);
    let b = tick(reg, 'b', INITIAL_VIEW, 0);
    let c = tick(reg, 'c', INITIAL_VIEW, 0);
    b = tick(reg, 'b', b, TTL + 10);
    c = tick(reg, 'c', c, TTL + 10);
    expect([b.leading, c.leading].filter(Boolean)).to.have.length(1);
    for (let t = TTL + 1000; t < 5 * TTL; t += 1000) {
      b = tick(reg, 'b', b, t);
      c = tick(reg, 'c', c, t);
      expect([b.leading, c.leading].filter(Boolean), `t=${t}`).to.have.length(1);
    }
  });

  it('epochs only grow, even past an unreadable record', () => {
    const reg = new Register();
    const a = tick(reg, 'a', tick(reg, 'a', INITIAL_VIEW, 0), 1000);
    expect(a.epoch).to.equal(1);
    reg.value = { present: true, revision: 7, record: undefined };
    reg.revision = 7;
    let b = tick(reg, 'b', INITIAL_VIEW, 2000);
    b = tick(reg, 'b', b, 2000 + TTL);
    expect(b.leading).to.equal(true);
    expect(b.epoch).to.be.greaterThan(7);
    expect(parseLeaseRecord(new TextEncoder().encode('{"holder":1}'))).to.equal(undefined);
    expect(parseLeaseRecord(new TextEncoder().encode('{"holder":"x","epoch":2,"renewedAtMs":5}'))).to.deep.equal({ holder: 'x', epoch: 2, renewedAtMs: 5 });
  });
});
