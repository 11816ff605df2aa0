import { expect } from 'chai';
import {
  ChildSpecError,
  DEFAULT_WORKER_SHUTDOWN_MS,
  Supervisor,
  SupervisorOptionsError,
  validateChildSpec,
  validateChildSpecs,
  type SupervisorOptions,
} from '../../supervisors/index.js';
import { Fleet } from './helpers.js';

const start = () => new Fleet().create('x');

describe('child specs and supervisor options as validated data', () => {
  it('merges defaults: permanent worker, 5000 ms shutdown, no trapping', () => {
    const r = validateChildSpec({ id: 'w', start });
    expect(r.ok).to.equal(true);
    expect(r.ok && r.value).to.deep.include({
      id: 'w',
      restart: 'permanent',
      type: 'worker',
      shutdown: DEFAULT_WORKER_SHUTDOWN_MS,
      trapShutdown: false,
    });
  });

  it("defaults a supervisor child's shutdown to 'infinity'", () => {
    const r = validateChildSpec({ id: 's', start, type: 'supervisor' });
    expect(r.ok && r.value.shutdown).to.equal('infinity');
  });

  it('keeps every valid explicit value', () => {
    const spec = { id: 'w', start, restart: 'transient', type: 'worker', shutdown: 'brutal_kill', trapShutdown: true } as const;
    const r = validateChildSpec(spec);
    expect(r.ok && r.value).to.deep.equal(spec);
    expect(validateChildSpec({ id: 'w', start, shutdown: 0 }).ok, 'shutdown 0').to.equal(true);
  });

  const INVALID: [name: string, spec: unknown, field: string][] = [
    ['not an object', 42, 'spec'],
    ['null', null, 'spec'],
    ['missing id', { start }, 'id'],
    ['empty id', { id: '', start }, 'id'],
    ['numeric id', { id: 7, start }, 'id'],
    ['missing start', { id: 'w' }, 'start'],
    ['start not a function', { id: 'w', start: 'go' }, 'start'],
    ['unknown restart', { id: 'w', start, restart: 'always' }, 'restart'],
    ['unknown type', { id: 'w', start, type: 'daemon' }, 'type'],
    ['negative shutdown', { id: 'w', start, shutdown: -1 }, 'shutdown'],
    ['NaN shutdown', { id: 'w', start, shutdown: Number.NaN }, 'shutdown'],
    ['unknown shutdown word', { id: 'w', start, shutdown: 'kill' }, 'shutdown'],
    ['non-boolean trapShutdown', { id: 'w', start, trapShutdown: 'yes' }, 'trapShutdown'],
  ];
  for (const [name, spec, field] of INVALID) {
    it(`rejects ${name}, naming field '${field}'`, () => {
      const r = validateChildSpec(spec);
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.error).to.be.instanceOf(ChildSpecError);
      expect(r.error.name).to.equal('ChildSpecError');
      expect(r.error.field).to.equal(field);
    });
  }

  it('rejects duplicate ids in a list, with the index of the duplicate', () => {
    const r = validateChildSpecs([{ id: 'a', start }, { id: 'b', start }, { id: 'a', start }]);
    expect(r.ok).to.equal(false);
    expect(!r.ok && [r.error.field, r.error.index, r.error.message]).to.deep.equal(['id', 2, "duplicate child id 'a'"]);
  });

  const base: SupervisorOptions = { id: 'sup', strategy: 'one_for_one', children: [] };
  const BAD_OPTIONS: [name: string, options: SupervisorOptions, field: string][] = [
    ['empty id', { ...base, id: '' }, 'id'],
    ['unknown strategy', { ...base, strategy: 'all_for_one' as never }, 'strategy'],
    ['negative intensity', { ...base, intensity: -1 }, 'intensity'],
    ['fractional intensity', { ...base, intensity: 1.5 }, 'intensity'],
    ['zero period', { ...base, period: 0 }, 'period'],
    ['negative backoff', { ...base, backoff: { initialMs: -5 } }, 'backoff.initialMs'],
    ['jitter above 1', { ...base, backoff: { jitter: 1.5 } }, 'backoff.jitter'],
    ['simple_one_for_one without a template', { ...base, strategy: 'simple_one_for_one' }, 'children'],
    ['a bad child', { ...base, children: [{ id: 'w', start, restart: 'never' as never }] }, 'restart'],
  ];
  for (const [name, options, field] of BAD_OPTIONS) {
    it(`Supervisor.create refuses ${name} (field '${field}'), and the constructor throws the same`, () => {
      const made = Supervisor.create(options);
      expect(made.ok).to.equal(false);
      if (made.ok) return;
      expect(made.error.field).to.equal(field);
      expect(made.error).to.satisfy((e: unknown) => e instanceof SupervisorOptionsError || e instanceof ChildSpecError);
      expect(() => new Supervisor(options)).to.throw(made.error.constructor as new () => Error, made.error.message);
    });
  }
});
