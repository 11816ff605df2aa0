/**
 * Issue 11, the P4Runtime slice: the software target (its own process) fuzzed with 3,000 semantic
 * Write updates whose statuses an independent switch model predicts, and 2,000 malformed
 * WriteRequest/ReadRequest byte strings; the state read back after every batch must equal the
 * model's; the process stays up; a seed replays identically.
 */
import { expect } from 'chai';
import { fuzzP4Info, runP4rtFuzz, planDigest, type P4rtFuzzReport } from '../../simulations/fuzz/p4rt-fuzz.js';
import { SwitchModel } from '../../simulations/fuzz/p4rt-model.js';

const SEED = 20261127;
const shown = (xs: readonly unknown[]): string => JSON.stringify(xs.slice(0, 5), null, 1);

describe('fuzzing the software target’s P4Runtime service', function () {
  this.timeout(90_000);

  it('replays a seed identically, and another seed differently', () => {
    expect(planDigest(SEED, 600, 200)).to.equal(planDigest(SEED, 600, 200));
    expect(planDigest(SEED + 1, 600, 200)).to.not.equal(planDigest(SEED, 600, 200));
  });

  it('the model predicts from the spec, independently of the target', () => {
    const { info } = fuzzP4Info();
    const m = new SwitchModel(info);
    const t = info.tableByName('MainControlImpl.ipv4_to_port');
    const p = info.actionProfiles[0]!.id;
    const entry = (port: Uint8Array): Record<string, unknown> => ({
      table_entry: { table_id: t.id, match: [{ field_id: 1, exact: { value: Uint8Array.of(10, 244, 0, 1) } }], action: { action: { action_id: t.actionRefs[0]!.id, params: [{ param_id: 1, value: port }, { param_id: 2, value: Uint8Array.of(2, 0, 0, 0, 0, 1) }] } } },
    });
    const member = { action_profile_member: { action_profile_id: p, member_id: 1, action: { action_id: info.actionByName('MainControlImpl.lb_reject').id } } };
    const codes = [
      m.apply({ type: 'INSERT', entity: entry(Uint8Array.of(0, 0, 7)) }), // zero-padded: accepted
      m.apply({ type: 'INSERT', entity: entry(Uint8Array.of(7)) }), // ALREADY_EXISTS
      m.apply({ type: 'MODIFY', entity: entry(Uint8Array.of(1, 0, 0, 0, 0)) }), // 33 bits: OUT_OF_RANGE
      m.apply({ type: 'DELETE', entity: entry(Uint8Array.of(9)) }), // DELETE needs only the key
      m.apply({ type: 'DELETE', entity: entry(Uint8Array.of(9)) }), // NOT_FOUND
      m.apply({ type: 'INSERT', entity: member }),
      m.apply({ type: 'INSERT', entity: { action_profile_group: { action_profile_id: p, group_id: 1, members: [{ member_id: 1, weight: 1 }, { member_id: 2, weight: 1 }], max_size: 4 } } }),
      m.apply({ type: 'INSERT', entity: { action_profile_group: { action_profile_id: p, group_id: 1, members: [{ member_id: 1, weight: 1 }], max_size: 4 } } }),
      m.apply({ type: 'DELETE', entity: member }), // in use: FAILED_PRECONDITION
    ].map((x) => x.code);
    expect(codes).to.deep.equal([0, 6, 11, 0, 5, 0, 3, 0, 9]);
    expect(m.snapshot()).to.have.length(2);
  });

  describe('3,000 semantic updates and 2,000 malformed requests', () => {
    let report: P4rtFuzzReport;
    before(async () => {
      report = await runP4rtFuzz({ seed: SEED, updates: 3000, malformed: 2000 });
      const { mismatches, stateDiffs, malformedFailures, probeFailures, ...numbers } = report;
      console.log(JSON.stringify({ ...numbers, mismatches: mismatches.length, stateDiffs: stateDiffs.length, malformedFailures: malformedFailures.length, probeFailures: probeFailures.length }));
    });

    it('covers every fault and the interesting statuses', () => {
      expect(report.updates).to.equal(3000);
      expect(Object.keys(report.byFault).length, JSON.stringify(report.byFault)).to.be.greaterThan(25);
      for (const code of [0, 3, 5, 6, 8, 9, 11]) expect(report.byPredicted[code] ?? 0, `status ${code}: ${JSON.stringify(report.byPredicted)}`).to.be.greaterThan(10);
    });

    it('every Write status is the one the model predicts', () => {
      expect(report.mismatches, shown(report.mismatches)).to.deep.equal([]);
    });

    it('the target holds exactly what the model holds after every batch and malformed chunk', () => {
      expect(report.stateDiffs, shown(report.stateDiffs)).to.deep.equal([]);
    });

    it('every malformed request gets a status within its deadline, and the process stays up', () => {
      expect(report.malformed).to.equal(2000);
      expect(report.malformedFailures, shown(report.malformedFailures)).to.deep.equal([]);
      expect(report.probeFailures, shown(report.probeFailures)).to.deep.equal([]);
      expect(report.alive).to.equal(true);
      expect(report.rssEndKiB - report.rssStartKiB, 'RSS growth (KiB)').to.be.lessThan(200 * 1024);
    });
  });
});
