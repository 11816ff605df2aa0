/**
 * Bisection of a P4Runtime batch after which the target's tables differ from the switch model: a
 * misprediction is planted in the model (a successful MODIFY of an action-profile member is
 * predicted but not applied), the fuzz run against the real target sees the tables differ after
 * one batch, and bisection by replay against fresh targets must name exactly the planted update;
 * saved, the regression case fails against the target while the planted model is its oracle and
 * passes once the model is right.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../core/random.js';
import { fromJsonSafe, loadCorpus, type P4rtBatchCorpusCase } from '../../simulations/fuzz/corpus.js';
import { checkBatchCase, predictBatch } from '../../simulations/fuzz/p4rt-bisect.js';
import { fuzzP4Info, planBatches, runP4rtFuzz, type P4rtFuzzReport } from '../../simulations/fuzz/p4rt-fuzz.js';
import { SwitchModel, type Update } from '../../simulations/fuzz/p4rt-model.js';
import { P4rtRawReplayer } from '../../simulations/fuzz/replay-p4rt.js';
import { saveP4rtFindings } from '../../simulations/fuzz/save-findings.js';

const SEED = 7;
const UPDATES = 600;
const plant = (u: Update): boolean => u.type === 'MODIFY' && u.entity.action_profile_member !== undefined;

describe('bisecting a P4Runtime batch whose tables differ from the model', function () {
  this.timeout(120_000);
  let report: P4rtFuzzReport;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ioff-bisect-'));
    report = await runP4rtFuzz({ seed: SEED, updates: UPDATES, malformed: 0, plant });
    console.log(`      ${JSON.stringify(report.stateDiffs)}`);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('the planted misprediction shows as tables that differ after one batch; every status was still right', () => {
    expect(report.stateDiffs).to.have.length(1);
    expect(report.stateDiffs[0]!.after).to.match(/^batch \d+$/);
    expect(report.mismatches).to.deep.equal([]);
    expect(report.alive).to.equal(true);
  });

  it('bisection by replay against fresh targets names exactly the planted update', () => {
    const d = report.stateDiffs[0]!;
    expect(d.bisection).to.deep.include({ confirmed: true, minimal: true });
    expect(d.culprits).to.have.length(1);
    expect(d.culprits[0]).to.match(/^#\d+ MODIFY M /);
    // Independently: the updates of that batch whose planted misprediction is visible in the tables.
    const b = Number(d.after.split(' ')[1]);
    const { info } = fuzzP4Info();
    const batches = planBatches(info, seededRandom(SEED), UPDATES, 40, { plant });
    const before = new SwitchModel(info, { plant });
    for (const x of batches.slice(0, b)) for (const p of x) before.apply(p.update);
    const visible = batches[b]!.map((p, i) => ({ p, i })).filter(({ p }) => {
      const planted = before.clone();
      planted.apply(p.update);
      const plain = new SwitchModel(info);
      for (const x of batches.slice(0, b)) for (const q of x) plain.apply(q.update);
      // The plain model's history diverged from the planted one only where the plant hid a
      // change, and batches before b showed none: compare what this update does.
      const realBefore = plain.snapshot().join('\n');
      plain.apply(p.update);
      return plain.snapshot().join('\n') !== realBefore && planted.snapshot().join('\n') === before.snapshot().join('\n');
    });
    expect(visible.map((v) => v.i)).to.include(Number(/^#(\d+)/.exec(d.culprits[0]!)![1]));
    for (const v of visible) expect(plant(v.p.update), `#${v.i} ${v.p.update.type}`).to.equal(true);
  });

  it('saves the culprit as a regression case that fails against the target, and passes with the model right', async () => {
    const notes = await saveP4rtFindings(dir, SEED, report.findings, () => P4rtRawReplayer.start(), { maxAttempts: 50 });
    expect(notes.join('\n')).to.match(/saved p4rt\//);
    const [saved] = await loadCorpus<P4rtBatchCorpusCase>(join(dir, 'p4rt'));
    const entry = saved!.entry;
    expect(entry.kind).to.equal('batch');
    expect(entry.batch).to.have.length(1);
    expect(entry.found).to.deep.include({ class: 'state', reproduced: true });
    expect(await checkBatchCase(entry)).to.match(/tables differ/);
    const { info } = fuzzP4Info();
    const right = new SwitchModel(info);
    for (const phase of entry.setup) for (const u of phase) right.apply(fromJsonSafe(u) as Update);
    const expected = predictBatch(right, entry.batch.map((u) => fromJsonSafe(u) as Update));
    expect(await checkBatchCase({ ...entry, expected })).to.equal(undefined);
  });
});
