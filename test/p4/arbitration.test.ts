import { expect } from 'chai';
import { Arbitration, type Notice, type UpdateOutcome } from '../../p4/target/arbitration.js';

function statuses(notices: Notice[]): Record<string, string> {
  return Object.fromEntries(notices.map((n) => [n.streamId, `${n.status}@${n.electionId ?? '-'}`]));
}
function ok(o: UpdateOutcome): Notice[] {
  if (!o.ok) throw new Error(`${o.status}: ${o.message}`);
  return o.notices;
}

describe('P4Runtime arbitration', () => {
  it('the highest election id is primary; everyone is told, with the high-water mark', () => {
    const arb = new Arbitration({ devices: [1] });
    expect(statuses(ok(arb.update('a', { deviceId: 1, role: '', electionId: 5n })))).to.deep.equal({ a: 'OK@5' });
    expect(statuses(ok(arb.update('b', { deviceId: 1, role: '', electionId: 3n })))).to.deep.equal({ a: 'OK@5', b: 'ALREADY_EXISTS@5' });
    expect(statuses(ok(arb.update('c', { deviceId: 1, role: '', electionId: 9n })))).to.deep.equal({
      a: 'ALREADY_EXISTS@9',
      b: 'ALREADY_EXISTS@9',
      c: 'OK@9',
    });
    expect(arb.checkWrite(1, '', 9n)).to.equal('OK');
    expect(arb.checkWrite(1, '', 5n)).to.equal('PERMISSION_DENIED');
    expect(arb.checkWrite(1, '', undefined)).to.equal('PERMISSION_DENIED');
    expect(arb.checkWrite(2, '', 9n)).to.equal('NOT_FOUND');
  });

  it('no backup is promoted when the primary leaves; an id at least as high takes over', () => {
    const arb = new Arbitration({ devices: [1] });
    ok(arb.update('a', { deviceId: 1, role: '', electionId: 10n }));
    ok(arb.update('b', { deviceId: 1, role: '', electionId: 7n }));
    expect(statuses(arb.close('a'))).to.deep.equal({ b: 'NOT_FOUND@10' });
    expect(arb.primary(1, '')).to.equal(undefined);
    expect(arb.checkWrite(1, '', 7n)).to.equal('PERMISSION_DENIED');
    expect(statuses(ok(arb.update('b', { deviceId: 1, role: '', electionId: 9n }))), 'below the mark').to.deep.equal({ b: 'NOT_FOUND@10' });
    expect(statuses(ok(arb.update('b', { deviceId: 1, role: '', electionId: 10n }))), 'equal takes over').to.deep.equal({ b: 'OK@10' });
    expect(arb.close('nobody')).to.deep.equal([]);
  });

  it('roles are arbitrated separately', () => {
    const arb = new Arbitration({ devices: [1] });
    ok(arb.update('a', { deviceId: 1, role: '', electionId: 10n }));
    ok(arb.update('b', { deviceId: 1, role: 'observer', electionId: 1n }));
    expect(arb.primary(1, '')).to.equal('a');
    expect(arb.primary(1, 'observer')).to.equal('b');
    expect(arb.checkWrite(1, 'observer', 1n)).to.equal('OK');
  });

  it('a client without an election id is a backup that never becomes primary', () => {
    const arb = new Arbitration({ devices: [1] });
    expect(statuses(ok(arb.update('r', { deviceId: 1, role: '', electionId: undefined })))).to.deep.equal({ r: 'NOT_FOUND@-' });
    expect(arb.checkWrite(1, '', undefined)).to.equal('PERMISSION_DENIED');
  });

  const errors: [string, (arb: Arbitration) => UpdateOutcome, string][] = [
    ['unknown device', (arb) => arb.update('x', { deviceId: 7, role: '', electionId: 1n }), 'NOT_FOUND'],
    ['device 0', (arb) => arb.update('x', { deviceId: 0, role: '', electionId: 1n }), 'NOT_FOUND'],
    ['duplicate election id', (arb) => (arb.update('a', { deviceId: 1, role: '', electionId: 4n }), arb.update('b', { deviceId: 1, role: '', electionId: 4n })), 'INVALID_ARGUMENT'],
    ['changing role', (arb) => (arb.update('a', { deviceId: 1, role: '', electionId: 4n }), arb.update('a', { deviceId: 1, role: 'r', electionId: 4n })), 'FAILED_PRECONDITION'],
    ['too many streams', (arb) => (arb.update('a', { deviceId: 1, role: '', electionId: 1n }), arb.update('b', { deviceId: 1, role: '', electionId: 2n })), 'RESOURCE_EXHAUSTED'],
  ];
  for (const [what, run, status] of errors) {
    it(`refuses ${what} with ${status}`, () => {
      const out = run(new Arbitration({ devices: [1], maxStreams: what === 'too many streams' ? 1 : 64 }));
      expect(out.ok ? 'OK' : out.status).to.equal(status);
    });
  }
});
