/**
 * Per-node NATS authorisation against the real nats-server, configured by deploy/nats from the
 * certificates deploy/certs generated for this run. Each refusal is observed where NATS reports
 * it: a denied publish only as an async PermissionViolationError status event on the client, a
 * denied subscription as the subscription closing with that error; the legitimate paths run in
 * the same server beside them.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { Kvm } from '@nats-io/kv';
import { ok } from '../../core/result.js';
import { route, type Bus } from '../../messages/bus.js';
import { ctlPrefix, nodeToken, prefix, subjects } from '../../messages/subjects.js';
import { ctlMethods, managerMethods } from '../../protocol/methods.js';
import { heartbeatCodec, type Hello } from '../../protocol/node.js';
import { openLeaseBucket } from '../../actors/manager/lease-keeper.js';
import { inboxPrefix } from '../../deploy/certs/identities.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { AGENT_A, AGENT_B, identityBus, MANAGER_A, makeTestPki, NODE_A, NODE_B, OPERATOR, statusErrors, within, type TestPki } from './support.js';

const hello = (node: string): Hello => ({ node, role: 'agent', instanceId: 'a1', startedAtMs: 1, version: 't', nodeIp: 0x0a000001, podCidr: '10.244.0.0/24' });
const summary = { node: NODE_A, role: 'manager' as const, instanceId: 'm1', revision: 3, pods: 0, services: 0, endpoints: 0, hasHost: false, digest: '', requestsServed: 0, requestsRejected: 0 };
const beat = (node: string) => ({ node, role: 'agent' as const, instanceId: 'a1', seq: 1, sentAtMs: 1, stateRevision: 0 });

describe('NATS per-node authorisation (real nats-server, verify_and_map)', function () {
  this.timeout(10_000);
  let pki: TestPki;
  let nats: NatsServer;
  let agentA: Bus;
  let agentB: Bus;
  let managerA: Bus;
  let operator: Bus;
  const hellos: Hello[] = [];

  before(async () => {
    pki = await makeTestPki();
    nats = await startNatsServer({ extraConfig: await readFile(pki.deployment.paths.natsConfig, 'utf8') });
    [agentA, agentB, managerA, operator] = await Promise.all([
      identityBus(nats.url, pki, AGENT_A),
      identityBus(nats.url, pki, AGENT_B),
      identityBus(nats.url, pki, MANAGER_A),
      identityBus(nats.url, pki, OPERATOR),
    ]);
    managerA.serve(prefix(NODE_A, 'manager'), [route(managerMethods.hello, (h) => (hellos.push(h), ok({ node: h.node, instanceId: 'm1', stateRevision: 1, resyncRequested: false, heartbeatIntervalMs: 1000 })))]);
    managerA.serve(ctlPrefix(NODE_A, 'manager'), [route(ctlMethods.state, () => ok(summary))]);
    await managerA.connection.flush();
  });
  after(async () => {
    await Promise.all([agentA, agentB, managerA, operator].filter(Boolean).map((b) => b.close()));
    await nats?.stop();
    await pki?.cleanup();
  });

  describe('legitimate paths', () => {
    it("agent A's request reaches manager A over mTLS and the reply comes back to agent A's own inbox", async () => {
      const r = await agentA.request(subjects.manager(NODE_A, 'hello'), managerMethods.hello, hello(NODE_A));
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      expect(hellos.at(-1)?.node).to.equal(NODE_A);
    });

    it('manager A keeps its lease in JetStream KV with nothing but its own key', async () => {
      const kv = await openLeaseBucket(managerA);
      const key = `${nodeToken(NODE_A)}.manager`;
      const rev = await kv.create(key, new TextEncoder().encode('lease-1'));
      expect((await kv.get(key))?.string()).to.equal('lease-1');
      const next = await kv.update(key, new TextEncoder().encode('lease-2'), rev);
      await kv.delete(key, { previousSeq: next });
      expect((await kv.get(key))?.operation).to.equal('DEL');
    });

    it("the operator reads manager A's ctl state and node A's events", async () => {
      const events: string[] = [];
      const sub = operator.subscribe(subjects.allEvents(), heartbeatCodec, (_v, subject) => events.push(subject));
      await operator.connection.flush();
      const r = await operator.request(`${ctlPrefix(NODE_A, 'manager')}.state`, ctlMethods.state, { node: NODE_A });
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      expect(agentA.publish(subjects.events(NODE_A, 'heartbeat'), heartbeatCodec, beat(NODE_A)).ok).to.equal(true);
      await within(waitUntil(() => events.length > 0), 2000, 'event at the operator');
      expect(events).to.deep.equal([subjects.events(NODE_A, 'heartbeat')]);
      sub.stop();
    });
  });

  describe('publishing outside its rights: refused, seen as an async status event', () => {
    it("agent A publishing into node B's events: PermissionViolationError, and node B's subscriber gets nothing", async () => {
      const errors = statusErrors(agentA.connection);
      const got: string[] = [];
      const sub = agentB.subscribe(subjects.events(NODE_B, 'heartbeat'), heartbeatCodec, (_v, s) => got.push(s));
      await agentB.connection.flush();
      expect(agentA.publish(subjects.events(NODE_B, 'heartbeat'), heartbeatCodec, beat(NODE_B)).ok, 'publish does not throw').to.equal(true);
      const e = await errors.next(/Publish to "infra\.v1\.node-b\.events\.heartbeat"/);
      expect(e.name).to.equal('PermissionViolationError');
      await agentB.connection.flush();
      expect(got).to.deep.equal([]);
      sub.stop();
    });

    const cases: { who: string; bus: () => Bus; subject: () => string }[] = [
      { who: "agent A asking node B's manager", bus: () => agentA, subject: () => subjects.manager(NODE_B, 'hello') },
      { who: "agent A asking its own node's agent (only the manager may)", bus: () => agentA, subject: () => subjects.agent(NODE_A, 'sync') },
      { who: "manager A writing node B's lease key", bus: () => managerA, subject: () => `$KV.infra_leases.${nodeToken(NODE_B)}.manager` },
      { who: 'manager A deleting the lease stream', bus: () => managerA, subject: () => '$JS.API.STREAM.DELETE.KV_infra_leases' },
      { who: "manager A forging a reply into agent B's inbox", bus: () => managerA, subject: () => `${inboxPrefix(AGENT_B)}.forged.1` },
      { who: 'the operator sending a write (pod.add) to manager A', bus: () => operator, subject: () => subjects.manager(NODE_A, 'pod.add') },
    ];
    for (const c of cases) {
      it(`${c.who}: PermissionViolationError for that subject`, async () => {
        const bus = c.bus();
        const errors = statusErrors(bus.connection);
        const subject = c.subject();
        bus.connection.publish(subject, new Uint8Array([1]));
        const e = await errors.next(new RegExp(`Publish to "${escape(subject)}"`));
        expect(e.name).to.equal('PermissionViolationError');
      });
    }

    it("manager A's KV write of node B's lease key fails (no silent success)", async () => {
      const kv = await new Kvm(managerA.connection).open('infra_leases');
      const failure = await kv.put(`${nodeToken(NODE_B)}.manager`, new Uint8Array([1]), { timeout: 500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure, 'put must fail').to.be.instanceOf(Error);
    });

    it('agent A cannot open the lease bucket at all (no JetStream rights)', async () => {
      const errors = statusErrors(agentA.connection);
      const failure = await openLeaseBucket(agentA).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure, 'open must fail').to.be.instanceOf(Error);
      expect((await errors.next(/Publish to "\$JS\.API\./)).name).to.equal('PermissionViolationError');
    });
  });

  describe('subscribing outside its rights: refused at once', () => {
    const denied: { who: string; bus: () => Bus; subject: () => string }[] = [
      { who: "agent A subscribing to node B's agent subjects", bus: () => agentA, subject: () => `${prefix(NODE_B, 'agent')}.>` },
      { who: "agent A subscribing to node B's events", bus: () => agentA, subject: () => `${prefix(NODE_B, 'events')}.>` },
      { who: "agent A serving node A's manager subjects", bus: () => agentA, subject: () => `${prefix(NODE_A, 'manager')}.>` },
      { who: "agent A reading agent B's replies", bus: () => agentA, subject: () => `${inboxPrefix(AGENT_B)}.>` },
      { who: "agent A reading manager A's replies", bus: () => agentA, subject: () => `${inboxPrefix(MANAGER_A)}.>` },
      { who: 'agent A reading the shared _INBOX', bus: () => agentA, subject: () => '_INBOX.>' },
      { who: 'agent A subscribing to everything', bus: () => agentA, subject: () => '>' },
      { who: "the operator reading agent A's replies", bus: () => operator, subject: () => `${inboxPrefix(AGENT_A)}.>` },
      { who: "the operator serving node A's manager subjects", bus: () => operator, subject: () => `${prefix(NODE_A, 'manager')}.>` },
      { who: "manager A listening on the JetStream API subjects", bus: () => managerA, subject: () => '$JS.API.>' },
    ];
    for (const c of denied) {
      it(`${c.who}: the subscription closes with PermissionViolationError`, async () => {
        const sub = c.bus().connection.subscribe(c.subject());
        const closed = await within(sub.closed, 2000, 'subscription refusal');
        expect(closed, 'closed with an error').to.be.instanceOf(Error);
        expect((closed as Error).name).to.equal('PermissionViolationError');
        expect((closed as Error).message).to.contain(`Subscription to "${c.subject()}"`);
      });
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\>]/g, '\\$&');
}

async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}
