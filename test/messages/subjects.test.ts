import { expect } from 'chai';
import { nodeToken, parseSubject, prefix, subjects } from '../../messages/subjects.js';

describe('subject scheme', () => {
  it('puts every subject under its node, with dots in node names mapped reversibly', () => {
    expect(subjects.manager('node-1', 'pod.add')).to.equal('infra.v1.node-1.manager.pod.add');
    expect(subjects.agent('node-1', 'sync')).to.equal('infra.v1.node-1.agent.sync');
    expect(subjects.events('ip-10-0-0-1.ec2.internal', 'heartbeat')).to.equal('infra.v1.ip-10-0-0-1_ec2_internal.events.heartbeat');
    expect(prefix('a.b', 'ctl')).to.equal('infra.v1.a_b.ctl');
    expect(parseSubject('infra.v1.ip-10-0-0-1_ec2_internal.manager.pod.add')).to.deep.equal({
      node: 'ip-10-0-0-1.ec2.internal',
      side: 'manager',
      op: 'pod.add',
    });
  });

  it('refuses node names and operations that would escape the namespace', () => {
    for (const bad of ['*', '>', 'a b', 'A', '', 'x.*']) expect(() => nodeToken(bad), bad).to.throw(/node/);
    expect(() => subjects.manager('node-1', '>')).to.throw(/invalid operation/);
    expect(() => subjects.manager('node-1', 'a..b')).to.throw(/invalid operation/);
    expect(parseSubject('infra.v1.node-1.other.x')).to.equal(undefined);
    expect(parseSubject('infra.v2.node-1.manager.x')).to.equal(undefined);
  });
});
