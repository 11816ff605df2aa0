/** The tree observer: one hook on a supervisor sees its events and those of every supervisor below it. */
import { expect } from 'chai';
import { Supervisor, SupervisorOptionsError, waitForEvent, type SupervisorEvent } from '../../supervisors/index.js';
import { Fleet, flush, testEnv, type TestEnv } from './helpers.js';

/** What an observer keeps of an event: who emitted it, what, about which child. */
function brief(e: SupervisorEvent): string {
  const child = 'childId' in e ? `:${e.childId}` : '';
  const exit = e.type === 'child_exited' ? `(${e.exit})` : '';
  return `${e.supervisor}/${e.type}${child}${exit}`;
}

async function crash(env: TestEnv, fleet: Fleet, id: string): Promise<void> {
  fleet.send(id, 'CRASH');
  await flush();
  await env.clock.advance(0);
  await flush();
}

describe('supervisor tree observer', () => {
  it("sees the root's own events in order, each naming the supervisor and the child", async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const seen: string[] = [];
    const sup = new Supervisor({
      id: 'root',
      strategy: 'rest_for_one',
      backoff: { initialMs: 0 },
      children: [fleet.spec('a'), fleet.spec('b')],
      observer: (e) => seen.push(brief(e)),
      ...env,
    });
    await sup.start();
    await crash(env, fleet, 'a');
    expect(seen).to.deep.equal([
      'root/child_started:a',
      'root/child_started:b',
      'root/child_exited:a(error)',
      'root/child_stopped:b',
      'root/child_started:a',
      'root/child_restarted:a',
      'root/child_started:b',
      'root/child_restarted:b',
    ]);
    await sup.stop();
    expect(seen.slice(-3)).to.deep.equal(['root/child_stopped:b', 'root/child_stopped:a', 'root/stopped']);
  });

  it('sees nested and dynamically added supervisors (before they start), their escalation and their restarted incarnation', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const seen: SupervisorEvent[] = [];
    const inner = (id: string) => ({
      id,
      type: 'supervisor' as const,
      start: () => new Supervisor({ id, strategy: 'one_for_one', intensity: 1, backoff: { initialMs: 0 }, children: [fleet.spec(`${id}-w`)], ...env }),
    });
    const root = new Supervisor({
      id: 'root',
      strategy: 'one_for_one',
      backoff: { initialMs: 0 },
      children: [inner('inner')],
      observer: (e) => seen.push(e),
      ...env,
    });
    await root.start();
    expect(seen.map(brief)).to.deep.equal(['inner/child_started:inner-w', 'root/child_started:inner']);

    // A supervisor added later (as the manager's leader subtree is) is observed too.
    expect((await root.startChild(inner('late'))).ok).to.equal(true);
    expect(seen.map(brief).slice(-2)).to.deep.equal(['late/child_started:late-w', 'root/child_started:late']);

    // Two crashes exceed intensity 1: the inner supervisor escalates, its parent restarts it.
    seen.length = 0;
    const restarted = waitForEvent(root, 'child_restarted', (e) => e.childId === 'inner');
    await crash(env, fleet, 'inner-w');
    await crash(env, fleet, 'inner-w');
    await restarted;
    const kinds = seen.map(brief);
    expect(kinds).to.deep.equal([
      'inner/child_exited:inner-w(error)',
      'inner/child_started:inner-w',
      'inner/child_restarted:inner-w',
      'inner/child_exited:inner-w(error)',
      'inner/escalated',
      'root/child_exited:inner(error)',
      'inner/child_started:inner-w', // the new incarnation, observed before it started
      'root/child_started:inner',
      'root/child_restarted:inner',
    ]);
    const escalated = seen.find((e) => e.type === 'escalated');
    expect(escalated?.type === 'escalated' && escalated.report.offender.id).to.equal('inner-w');

    // The new incarnation is observed, and only once.
    seen.length = 0;
    await crash(env, fleet, 'inner-w');
    expect(seen.map(brief)).to.deep.equal(['inner/child_exited:inner-w(error)', 'inner/child_started:inner-w', 'inner/child_restarted:inner-w']);
    await root.stop();
  });

  it('observe() on a running tree reaches running child supervisors; its undo stops every event', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const root = new Supervisor({
      id: 'root',
      strategy: 'one_for_one',
      backoff: { initialMs: 0 },
      children: [{ id: 'inner', type: 'supervisor', start: () => new Supervisor({ id: 'inner', strategy: 'one_for_one', backoff: { initialMs: 0 }, children: [fleet.spec('w')], ...env }) }],
      ...env,
    });
    await root.start();
    const seen: string[] = [];
    const listener = (e: SupervisorEvent) => void seen.push(brief(e));
    const off = root.observe(listener);
    root.observe(listener); // the same function twice is one observer
    await crash(env, fleet, 'w');
    expect(seen).to.deep.equal(['inner/child_exited:w(error)', 'inner/child_started:w', 'inner/child_restarted:w']);
    off();
    await crash(env, fleet, 'w');
    expect(seen).to.have.length(3);
    await root.stop();
  });

  it('a nested supervisor given the same observer sees each event once', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const seen: string[] = [];
    const observer = (e: SupervisorEvent) => void seen.push(brief(e));
    const root = new Supervisor({
      id: 'root',
      strategy: 'one_for_one',
      children: [{ id: 'inner', type: 'supervisor', start: () => new Supervisor({ id: 'inner', strategy: 'one_for_one', backoff: { initialMs: 0 }, children: [fleet.spec('w')], observer, ...env }) }],
      observer,
      ...env,
    });
    await root.start();
    await crash(env, fleet, 'w');
    expect(seen).to.deep.equal(['inner/child_started:w', 'root/child_started:inner', 'inner/child_exited:w(error)', 'inner/child_started:w', 'inner/child_restarted:w']);
    await root.stop();
  });

  it('a throwing observer is reported and changes nothing; a bad observer is a typed options error', async () => {
    const env = testEnv();
    const fleet = new Fleet();
    const sup = new Supervisor({
      id: 'root',
      strategy: 'one_for_one',
      backoff: { initialMs: 0 },
      children: [fleet.spec('a')],
      observer: () => {
        throw new Error('observer bug');
      },
      ...env,
    });
    expect(await sup.start()).to.deep.equal({ ok: true });
    await crash(env, fleet, 'a');
    expect(sup.status).to.equal('running');
    expect(fleet.starts('a')).to.equal(2);
    expect(env.logs.lines.filter((l) => l.msg === 'supervisor observer threw').length).to.be.greaterThan(0);
    await sup.stop();

    const made = Supervisor.create({ id: 'x', strategy: 'one_for_one', children: [], observer: 'nope' as never });
    expect(made.ok).to.equal(false);
    if (!made.ok) {
      expect(made.error).to.be.instanceOf(SupervisorOptionsError);
      expect(made.error.field).to.equal('observer');
    }
  });
});
