import { expect } from 'chai';
import { runRoot, Supervisor, type ChildSpec, type RootOptions } from '../../supervisors/index.js';
import { Fleet, flush, testEnv } from './helpers.js';

function setup(children: (fleet: Fleet) => ChildSpec[], intensity = 3) {
  const env = testEnv();
  const fleet = new Fleet();
  const sup = new Supervisor({
    id: 'root',
    strategy: 'one_for_one',
    intensity,
    backoff: { initialMs: 0 },
    children: children(fleet),
    ...env,
  });
  const codes: number[] = [];
  const options: RootOptions = {
    logger: env.logger,
    exit: (code) => codes.push(code),
    signals: false,
    catchUncaught: false,
    clock: env.clock,
  };
  const fatal = () => env.logs.lines.filter((l) => l.level === 60);
  return { env, fleet, sup, codes, options, fatal };
}

describe('runRoot', () => {
  it('starts the tree; on escalation logs the report at fatal and exits 1', async () => {
    const { fleet, sup, codes, options, fatal } = setup((f) => [f.spec('a'), f.spec('b')], 0);
    const root = await runRoot(sup, options);
    expect(root.started).to.deep.equal({ ok: true });
    expect(codes).to.deep.equal([]);
    fleet.send('b', 'CRASH');
    await flush();
    expect(codes).to.deep.equal([1]);
    expect(fatal()).to.have.length(1);
    expect(fatal()[0]).to.deep.include({
      supervisor: 'root',
      context: 'reached_max_restart_intensity',
      reason: 'reached_max_restart_intensity',
      offender: { id: 'b', restart: 'permanent', type: 'worker' },
    });
    expect(fleet.log.at(-1), 'children were stopped before exiting').to.equal('release:a');
  });

  it('on SIGTERM (handler invoked directly) stops the tree in reverse order and exits 0', async () => {
    const { fleet, sup, codes, options } = setup((f) => [f.spec('a'), f.spec('b')]);
    const before = process.listeners('SIGTERM');
    const root = await runRoot(sup, { ...options, signals: true });
    const added = process.listeners('SIGTERM').filter((l) => !before.includes(l));
    expect(added, 'one SIGTERM handler installed').to.have.length(1);
    fleet.log.length = 0;

    added[0]?.('SIGTERM');
    await flush();

    expect(codes).to.deep.equal([0]);
    expect(fleet.log).to.deep.equal(['release:b', 'release:a']);
    expect(sup.status).to.equal('stopped');
    expect(process.listeners('SIGTERM'), 'handlers removed on exit').to.deep.equal(before);
    root.dispose();
  });

  it('a second signal during a slow stop exits 1 at once; exit is called only once', async () => {
    const { env, sup, codes, options } = setup((f) => [f.spec('slow', { trapShutdown: true, shutdown: 1000 })]);
    const root = await runRoot(sup, options);
    const first = root.handleSignal('SIGTERM');
    await flush();
    await root.handleSignal('SIGINT');
    expect(codes).to.deep.equal([1]);
    await env.clock.advance(1000);
    await first;
    expect(codes).to.deep.equal([1]);
  });

  it('exits 1 when the stop takes longer than stopTimeoutMs', async () => {
    const { env, sup, codes, options, fatal } = setup((f) => [f.spec('slow', { trapShutdown: true, shutdown: 'infinity' })]);
    const root = await runRoot(sup, { ...options, stopTimeoutMs: 500 });
    const stopping = root.handleSignal('SIGTERM');
    await env.clock.advance(500);
    await stopping;
    expect(codes).to.deep.equal([1]);
    expect(fatal()[0]?.msg).to.equal('stop timed out');
    root.dispose();
  });

  it('on a failed start logs a fatal start_error and exits 1', async () => {
    const { sup, codes, options, fatal } = setup((f) => [f.spec('a'), { id: 'bad', start: () => Promise.reject(new Error('no socket')) }]);
    const root = await runRoot(sup, options);
    expect(root.started).to.include({ ok: false, reason: 'start_failed', childId: 'bad' });
    expect(codes).to.deep.equal([1]);
    expect(fatal()[0]).to.deep.include({ context: 'start_error', reason: 'no socket', offender: { id: 'bad' } });
  });

  it('turns an uncaught exception or unhandled rejection into a fatal report and exit 1', async () => {
    for (const kind of ['uncaughtException', 'unhandledRejection'] as const) {
      const { sup, codes, options, fatal } = setup((f) => [f.spec('a')]);
      const listeners = (): unknown[] => process.listeners(kind as 'uncaughtException');
      const before = listeners();
      const root = await runRoot(sup, { ...options, catchUncaught: true });
      const added = listeners().filter((l) => !before.includes(l));
      expect(added, `${kind} handler installed`).to.have.length(1);
      root.handleFatal(kind, new Error(`${kind} escaped`));
      expect(codes, kind).to.deep.equal([1]);
      expect(fatal()[0], kind).to.deep.include({ context: kind, reason: `${kind} escaped` });
      expect(listeners(), `${kind} handler removed`).to.deep.equal(before);
      await sup.stop();
    }
  });
});
