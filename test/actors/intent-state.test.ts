import { expect } from 'chai';
import { IntentState, serviceKey } from '../../actors/intent/intent-state.js';
import { baselineIntent } from '../../simulations/fuzz/bus-targets.js';

const NODE = 'node-1';

describe('intent state', () => {
  const base = baselineIntent(NODE);

  it('bumps the revision on a change and not on a repeat', () => {
    const s = new IntentState(NODE);
    const first = s.addPod(base.pods[0]!);
    expect(first).to.deep.equal({ ok: true, value: { revision: 1, changed: true } });
    expect(s.addPod(base.pods[0]!)).to.deep.equal({ ok: true, value: { revision: 1, changed: false } });
    expect(s.deletePod(NODE, 'absent')).to.deep.equal({ ok: true, value: { revision: 1, changed: false } });
    expect(s.deletePod(NODE, base.pods[0]!.containerId)).to.deep.equal({ ok: true, value: { revision: 2, changed: true } });
  });

  it('refuses an IP or a port owned by another container, and a request for another node', () => {
    const s = new IntentState(NODE);
    s.addPod(base.pods[0]!);
    const sameIp = s.addPod({ ...base.pods[1]!, ipv4: base.pods[0]!.ipv4 });
    expect(!sameIp.ok && [sameIp.error.code, sameIp.error.field]).to.deep.equal(['CONFLICT', 'interface.ipv4']);
    const samePort = s.addPod({ ...base.pods[1]!, portId: base.pods[0]!.portId });
    expect(!samePort.ok && [samePort.error.code, samePort.error.field]).to.deep.equal(['CONFLICT', 'interface.port_id']);
    const otherNode = s.addPod({ ...base.pods[1]!, node: 'node-2' });
    expect(!otherNode.ok && otherNode.error.code).to.equal('INVALID_ARGUMENT');
    expect(s.counts().pods).to.equal(1);
    expect(s.revision).to.equal(1);
  });

  it('moves a pod to a new address and frees the old one', () => {
    const s = new IntentState(NODE);
    s.addPod(base.pods[0]!);
    expect(s.addPod({ ...base.pods[0]!, ipv4: 0x0af400f0 }).ok).to.equal(true);
    expect(s.addPod({ ...base.pods[1]!, ipv4: base.pods[0]!.ipv4 }).ok, 'the old IP is free again').to.equal(true);
  });

  it('counts endpoints across upserts and deletes of services', () => {
    const s = new IntentState(NODE);
    const [web, dns] = base.services;
    s.upsertService(NODE, web!);
    s.upsertService(NODE, dns!);
    expect(s.counts()).to.deep.include({ services: 2, endpoints: 4 });
    s.upsertService(NODE, { ...web!, endpoints: web!.endpoints.slice(0, 1) });
    expect(s.counts()).to.deep.include({ services: 2, endpoints: 2 });
    s.deleteService(NODE, dns!);
    expect(s.counts()).to.deep.include({ services: 1, endpoints: 1 });
    expect(serviceKey(web!)).to.not.equal(serviceKey({ ...web!, protocol: 'UDP' }));
  });

  it('gives equal digests to equal intent whatever the order, and replaceAll converges', () => {
    const a = new IntentState(NODE);
    const b = new IntentState(NODE);
    a.setHost(base.host);
    for (const p of base.pods) a.addPod(p);
    for (const sv of base.services) a.upsertService(NODE, sv);
    for (const sv of [...base.services].reverse()) b.upsertService(NODE, { ...sv, endpoints: [...sv.endpoints].reverse() });
    for (const p of [...base.pods].reverse()) b.addPod(p);
    b.setHost(base.host);
    expect(a.digest()).to.equal(b.digest());
    const c = new IntentState(NODE);
    expect(c.replaceAll(a.fullState())).to.deep.include({ ok: true });
    expect(c.digest()).to.equal(a.digest());
    const again = c.replaceAll(a.fullState());
    expect(again.ok && again.value.changed).to.equal(false);
  });
});
