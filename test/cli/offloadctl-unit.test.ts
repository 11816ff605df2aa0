import { expect } from 'chai';
import { parseInvocation, type Invocation } from '../../cli/offloadctl/args.js';
import { describeFailure, runCommand, type CtlClient } from '../../cli/offloadctl/commands.js';
import { operatorName } from '../../cli/offloadctl/main.js';
import { cell, duration, formatTable } from '../../cli/offloadctl/table.js';
import { err, ok } from '../../core/result.js';
import { BusError, NoRespondersError, RemoteError, TimeoutError } from '../../messages/errors.js';
import type { LeadershipReply } from '../../protocol/ctl.js';
import type { StateSummary } from '../../protocol/sync.js';

const BASE = ['--insecure', '--node', 'node-1'];

function invocation(argv: string[]): Invocation {
  const r = parseInvocation(argv);
  if (!r.ok) throw r.error;
  if ('help' in r.value) throw new Error('help');
  return r.value;
}

function usageError(argv: string[]): string {
  const r = parseInvocation(argv);
  if (r.ok) throw new Error(`accepted: ${argv.join(' ')}`);
  expect(r.error.name).to.equal('UsageError');
  return r.error.message;
}

const summary = (role: 'manager' | 'agent', digest: string): StateSummary => ({
  node: 'node-1',
  role,
  instanceId: `${role}1`,
  revision: 3,
  pods: 1,
  services: 1,
  endpoints: 2,
  hasHost: true,
  digest,
  requestsServed: 5,
  requestsRejected: 0,
});

const leadership: LeadershipReply = {
  node: 'node-1',
  instanceId: 'manager1',
  leader: true,
  holder: 'manager1',
  epoch: 2,
  leaseRevision: 9,
  renewedAgoMs: 50,
  hasSession: true,
  sessionState: 'connected.ready',
  connected: true,
  primary: true,
  ready: true,
  target: 'unix:///run/p4.sock',
  deviceId: 1,
  reconciles: 1,
  lastError: '',
  lastSync: undefined,
  intentRevision: 3,
};

/** A client answering from a table of replies by role and op (anything else: no responders). */
function fakeClient(replies: Record<string, unknown>): CtlClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    request: (role, method) => {
      asked.push(`${role}.${method.op}`);
      const r = replies[`${role}.${method.op}`];
      if (r instanceof BusError) return Promise.resolve(err(r));
      if (r === undefined) return Promise.resolve(err(new NoRespondersError(`infra.v1.node-1.ctl.${role}.${method.op}`)));
      return Promise.resolve(ok(r as never));
    },
  };
}

describe('offloadctl (units)', () => {
  describe('command line', () => {
    it('parses global options anywhere, command options and the output format', () => {
      const inv = invocation(['tables', ...BASE, '--table', 'service_lb', '--limit', '20', '-o', 'json', '--server', 'nats://10.0.0.1:4222']);
      expect(inv).to.deep.include({ node: 'node-1', output: 'json', tls: undefined, servers: ['nats://10.0.0.1:4222'], timeoutMs: 10_000 });
      expect(inv.command).to.deep.equal({ name: 'tables', table: 'service_lb', limit: 20 });
      expect(invocation([...BASE, 'tree', 'agent']).command).to.deep.equal({ name: 'tree', roles: ['agent'] });
      expect(invocation([...BASE, 'tree']).command).to.deep.equal({ name: 'tree', roles: ['manager', 'agent'] });
      const tls = invocation(['--tls-ca', 'ca', '--tls-cert', 'c', '--tls-key', 'k', '--node', 'a.b', 'health']);
      expect(tls.tls).to.deep.equal({ caFile: 'ca', certFile: 'c', keyFile: 'k' });
      expect(parseInvocation(['--help']).ok).to.equal(true);
      expect(invocation(BASE.concat('pods')).servers).to.deep.equal(['nats://127.0.0.1:4222']);
      const fromEnv = parseInvocation([...BASE, 'pods'], { NATS_URL: 'nats://h:1,nats://h:2' });
      expect(fromEnv.ok && 'servers' in fromEnv.value && fromEnv.value.servers).to.deep.equal(['nats://h:1', 'nats://h:2']);
      expect(invocation([...BASE, 'pods']).command).to.deep.equal({ name: 'pods', limit: 0 });
    });

    it('refuses mistakes with a message (exit 2)', () => {
      expect(usageError([...BASE])).to.match(/no command/);
      expect(usageError([...BASE, 'frobnicate'])).to.match(/unknown command "frobnicate"/);
      expect(usageError([...BASE, 'tables', '--bogus'])).to.match(/bogus/);
      expect(usageError(['--insecure', 'tables'])).to.match(/--node NODE is required/);
      expect(usageError(['--insecure', '--node', 'Bad_Node', 'tables'])).to.match(/not a DNS-1123 subdomain/);
      expect(usageError(['--node', 'n', 'tables'])).to.match(/--tls-ca, --tls-cert and --tls-key \(or --insecure/);
      expect(usageError(['--node', 'n', '--tls-ca', 'x', 'tables'])).to.match(/go together/);
      expect(usageError([...BASE, 'tables', '--limit', '0'])).to.match(/--limit must be an integer from 1 to 10000/);
      expect(usageError([...BASE, 'tables', '--limit', '1e3'])).to.match(/--limit/);
      expect(usageError([...BASE, 'services', '--table', 'x'])).to.match(/--table applies to tables and flows/);
      expect(usageError([...BASE, 'tree', 'target'])).to.match(/neither manager nor agent/);
      expect(usageError([...BASE, 'health', '-o', 'yaml'])).to.match(/-o must be table or json/);
      expect(usageError([...BASE, '--server', 'http://x/y', 'health'])).to.match(/--server/);
      expect(usageError([...BASE, '--inbox-prefix', 'a.b', 'health'])).to.match(/one subject token/);
    });
  });

  it('formats aligned tables with a header row, escaping control characters', () => {
    expect(formatTable(['id', 'status'], [['bus', 'running'], ['intent', 'restarting']])).to.equal('ID      STATUS\nbus     running\nintent  restarting');
    expect(formatTable(['a', 'b', 'c'], [['├─ x', '', 'z']])).to.equal('A     B  C\n├─ x     z');
    expect(cell('evil\u001b[2Jname\n')).to.equal('evil\\x1b[2Jname\\x0a');
    expect([duration(850), duration(12_345), duration(245_000), duration(7_380_000)]).to.deep.equal(['850 ms', '12.3 s', '4 min 5 s', '2 h 3 min']);
  });

  it("takes the operator's name from the certificate subject", () => {
    expect(operatorName('CN=offloadctl')).to.equal('offloadctl');
    expect(operatorName('O=infra\nCN=ops-anna')).to.equal('ops-anna');
    expect(operatorName('CN=agent.node-1')).to.equal(undefined);
  });

  describe('commands', () => {
    it('health: one row per component; healthy when every one answers and the session is ready', async () => {
      const client = fakeClient({ 'manager.state': summary('manager', 'abc'), 'agent.state': summary('agent', 'abc'), 'manager.leadership': leadership });
      const out = await runCommand({ name: 'health' }, 'node-1', client);
      expect(out.failed).to.equal(false);
      const lines = out.text.split('\n');
      expect(lines[0]).to.match(/^COMPONENT\s+STATUS\s+INSTANCE\s+DETAIL$/);
      expect(lines[1]).to.match(/^manager\s+ok\s+manager1\s+revision 3, 1 pod, 1 service, 2 endpoints, host yes, digest abc \(same intent as the agent\)/);
      expect(lines[3]).to.match(/^leadership\s+ok\s+manager1\s+leader, epoch 2, session connected\.ready/);
      expect(out.json).to.deep.include({ healthy: true });
    });

    it('health: a process that does not answer or a session that is not ready fails it (exit 1)', async () => {
      const client = fakeClient({ 'manager.state': summary('manager', 'abc'), 'manager.leadership': { ...leadership, ready: false, sessionState: 'backoff', lastError: 'connect ECONNREFUSED' } });
      const out = await runCommand({ name: 'health' }, 'node-1', client);
      expect(out.failed).to.equal(true);
      expect(out.text).to.match(/^agent\s+down\s+-\s+no agent answers for node node-1/m);
      expect(out.text).to.match(/^leadership\s+degraded\s+.*last error: connect ECONNREFUSED/m);
      expect(out.errors).to.have.length(1);
    });

    it('pods and tree ask both processes and report each failure', async () => {
      const client = fakeClient({ 'manager.pods': { node: 'node-1', role: 'manager', count: 0, pods: [], hasPool: false, portCount: 0, ports: [], omitted: 0, host: undefined } });
      const out = await runCommand({ name: 'pods', limit: 0 }, 'node-1', client);
      expect(client.asked.sort()).to.deep.equal(['agent.pods', 'manager.pods']);
      expect(out.failed).to.equal(true);
      expect(out.text).to.match(/^manager \(intent\): 0 pod interfaces$/m);
      expect((out.json as { agent: { error: string } }).agent.error).to.match(/no agent answers/);
      const tree = await runCommand({ name: 'tree', roles: ['agent'] }, 'node-1', client);
      expect(Object.keys(tree.json as object)).to.deep.equal(['agent']);
    });

    it('says failures plainly', () => {
      expect(describeFailure('manager', 'n', 'tables', new RemoteError('UNAVAILABLE', 'the P4Runtime session is connecting'))).to.equal(
        'manager of n refused tables: UNAVAILABLE: the P4Runtime session is connecting',
      );
      expect(describeFailure('agent', 'n', 'pods', new TimeoutError('s', 1000))).to.match(/^the agent of n did not answer pods in time/);
      expect(describeFailure('agent', 'n', 'pods', new BusError('UNAVAILABLE', 'Permissions Violation for Publish to "x"'))).to.match(/does not let this identity ask pods/);
    });
  });
});
