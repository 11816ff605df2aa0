/**
 * offloadctl against a real local node (nats-server with mutual TLS and per-identity
 * permissions, the software P4 target, the manager and the agent as processes): a pod and a
 * service registered over the bus as the agent would, then the CLI run as a child process with
 * the operator's certificates, as an operator runs it.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { subjects } from '../../messages/subjects.js';
import { parseIpv4, parseMac } from '../../messages/validate.js';
import type { ChangeReply, PodInterface, ServicePort } from '../../protocol/intent.js';
import { changeReplyCodec } from '../../protocol/intent.js';
import { managerMethods } from '../../protocol/methods.js';
import { startLocalNode, type BusCredentials, type LocalNode } from '../../simulations/local-node.js';
import { binCommand, type LogLine } from '../../simulations/processes.js';

const NODE = 'node-1';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[]): Promise<Run> {
  const { command, args: base } = binCommand('offloadctl');
  const child = spawn(command, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

function ip(text: string): number {
  return parseIpv4(text)!;
}

describe('offloadctl: the operator view of a local node', function () {
  this.timeout(60_000);
  let node: LocalNode;
  let agent: Bus;
  let operator: BusCredentials;
  let tlsArgs: string[];
  const ctl = (...args: string[]): Promise<Run> => run([...tlsArgs, '--node', NODE, ...args]);
  const json = async (...args: string[]): Promise<Record<string, unknown>> => {
    const r = await ctl(...args, '-o', 'json');
    expect(r.code, `offloadctl ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  const pod: PodInterface = {
    node: NODE,
    namespace: 'default',
    name: 'web-0',
    containerId: 'c0ffee0',
    interfaceName: 'P4TAP_2',
    portId: 2,
    ipv4: ip('10.244.0.10'),
    mac: parseMac('02:00:00:00:00:0a')!,
  };
  const service: ServicePort = {
    namespace: 'default',
    name: 'web',
    portName: 'http',
    clusterIp: ip('10.96.0.16'),
    port: 80,
    protocol: 'TCP',
    endpoints: [
      { ipv4: pod.ipv4, port: 8080, node: NODE, ready: true, serving: true, terminating: false },
      { ipv4: ip('10.244.1.5'), port: 8080, node: 'node-2', ready: true, serving: true, terminating: false },
    ],
  };

  before(async () => {
    let synced: () => void = () => undefined;
    const agentSynced = new Promise<void>((resolve) => (synced = resolve));
    const onLog = (proc: string, line: LogLine | string): void => {
      if (proc === 'manager' && typeof line === 'object' && line.msg === 'agent state synced') synced();
    };
    node = await startLocalNode({ node: NODE, kube: false, heartbeatMs: 200, logLevel: 'info', onLog });
    operator = node.credentials({ kind: 'operator', name: 'offloadctl' })!;
    tlsArgs = ['--server', node.nats.url, '--tls-ca', operator.tls.caFile, '--tls-cert', operator.tls.certFile, '--tls-key', operator.tls.keyFile];
    // The manager makes its intent what the agent holds once it has pulled the agent's state:
    // register only after that pull, as the agent's own changes arrive after its hello.
    await Promise.race([agentSynced, new Promise((_, reject) => setTimeout(() => reject(new Error('the manager never pulled the agent')), 30_000))]);
    const creds = node.credentials({ kind: 'agent', node: NODE })!;
    agent = await Bus.connect({ servers: node.nats.url, name: 'test-agent', logger: silentLogs().root, tls: creds.tls, inboxPrefix: creds.inboxPrefix, timeoutMs: 5000 });
    const programmed: ChangeReply[] = [];
    const sub = agent.subscribe(subjects.events(NODE, 'programmed'), changeReplyCodec, (r) => r.ok && programmed.push(r.value));
    await agent.connection.flush();
    const added = await agent.request(subjects.manager(NODE, managerMethods.podAdd.op), managerMethods.podAdd, pod);
    expect(added.ok, JSON.stringify(added)).to.equal(true);
    const upserted = await agent.request(subjects.manager(NODE, managerMethods.serviceUpsert.op), managerMethods.serviceUpsert, { node: NODE, service });
    if (!upserted.ok) throw upserted.error;
    const deadline = Date.now() + 10_000;
    while (!programmed.some((p) => p.revision >= upserted.value.revision)) {
      if (Date.now() > deadline) throw new Error('the change never reached the target');
      await new Promise((r) => setTimeout(r, 20));
    }
    sub.stop();
  });

  after(async () => {
    await agent?.close();
    await node?.stop();
  });

  it('tables -o json: the pod and the service as the device holds them, read back through the manager', async () => {
    const doc = await json('tables');
    type Entry = { match: Record<string, string>; action: string; params: Record<string, string>; groupId?: number };
    const tables = doc.tables as { name: string; count: number; entries: Entry[] }[];
    const entries = (name: string): Entry[] => tables.find((t) => t.name === name)?.entries ?? [];
    expect(entries('ipv4_to_port')).to.deep.include({ match: { 'hdr.ipv4.dst_addr': '10.244.0.10' }, action: 'set_dest_mac_port', params: { port: '2', dmac: '02:00:00:00:00:0a' } });
    expect(entries('arp_to_port')).to.deep.include({ match: { 'hdr.arp.tpa': '10.244.0.10' }, action: 'set_port', params: { port: '2' } });
    const lb = entries('service_lb');
    expect(lb).to.have.length(1);
    expect(lb[0]!.match).to.deep.equal({ 'hdr.ipv4.dst_addr': '10.96.0.16', 'hdr.ipv4.protocol': 'tcp', 'meta.l4_dst_port': '80' });
    const profile = (doc.profiles as { name: string; members: { id: number; action: string; params: Record<string, string> }[]; groups: { id: number; members: number[] }[] }[])[0]!;
    const group = profile.groups.find((g) => g.id === lb[0]!.groupId)!;
    const endpoints = profile.members.filter((m) => group.members.includes(m.id)).map((m) => `${m.params.ep_ip}:${m.params.ep_port}`);
    expect(endpoints.sort()).to.deep.equal(['10.244.0.10:8080', '10.244.1.5:8080']);
    // Learned connections are counted apart (none: no traffic went through).
    expect((doc.learned as { name: string; count: number }[]).map((t) => [t.name, t.count])).to.deep.equal([
      ['ct_forward', 0],
      ['ct_reverse', 0],
    ]);
    expect(doc.omitted).to.equal(0);
  });

  it('tables: human-readable, with a header row per table; --table and --limit narrow it and say what is left out', async () => {
    const r = await ctl('tables');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ipv4_to_port: 1 entry \(capacity \d+\)$/m);
    expect(r.stdout).to.match(/^DST_ADDR\s+ACTION\s+PARAMS$/m);
    expect(r.stdout).to.match(/^10\.244\.0\.10\s+set_dest_mac_port\s+port=2 dmac=02:00:00:00:00:0a$/m);
    expect(r.stdout).to.match(/^learned connections: 0 /m);
    const one = await ctl('tables', '--table', 'arp_to_port', '--limit', '1');
    expect(one.code, one.stderr).to.equal(0);
    expect(one.stdout).to.not.match(/ipv4_to_port/);
    expect(one.stdout).to.match(/^\d+ more entries not shown \(raise --limit\)$/m);
    const flows = await json('flows');
    expect((flows.learned as unknown[]).length).to.equal(2);
    expect(flows.tables).to.deep.equal([]);
  });

  it('services: endpoints with their member ids and the group', async () => {
    const doc = await json('services');
    const svc = (doc.services as { key: string; groupId: number; endpoints: { address: string; memberId: number; state: string }[] }[])[0]!;
    expect(svc.key).to.equal('10.96.0.16:80/TCP');
    expect(svc.groupId).to.be.greaterThan(0);
    expect(svc.endpoints.map((e) => [e.address, e.state])).to.deep.equal([
      ['10.244.0.10:8080', 'active'],
      ['10.244.1.5:8080', 'active'],
    ]);
    expect(svc.endpoints.every((e) => e.memberId > 1)).to.equal(true);
    const text = await ctl('services');
    expect(text.stdout).to.match(/^SERVICE\s+CLUSTER IP:PORT\s+GROUP\s+ENDPOINT\s+NODE\s+STATE\s+MEMBER\s+READY$/m);
    expect(text.stdout).to.match(/^default\/web \(http\)\s+10\.96\.0\.16:80\/TCP\s+\d+\s+10\.244\.0\.10:8080\s+node-1\s+active\s+\d+\s+yes$/m);
  });

  it('pods: the manager lists the pod; the agent (no pool here) says so', async () => {
    const doc = await json('pods');
    const manager = doc.manager as { pods: { namespace: string; name: string; containerId: string; portId: number; ipv4: string; mac: string }[] };
    expect(manager.pods).to.have.length(1);
    expect(manager.pods[0]).to.include({ namespace: 'default', name: 'web-0', containerId: 'c0ffee0', portId: 2, ipv4: '10.244.0.10', mac: '02:00:00:00:00:0a' });
    expect(doc.agent).to.include({ role: 'agent', hasPool: false });
    const text = await ctl('pods');
    expect(text.stdout).to.match(/^POD\s+CONTAINER\s+PORT\s+INTERFACE\s+IP\s+MAC$/m);
    expect(text.stdout).to.match(/^default\/web-0\s+c0ffee0\s+2\s+P4TAP_2\s+10\.244\.0\.10\s+02:00:00:00:00:0a$/m);
  });

  it('tree: both supervision trees with statuses and restart counts', async () => {
    const doc = await json('tree');
    type Node = { id: string; status: string; restarts: number; strategy: string; state: string; children: Node[] };
    const flat = (n: Node, out: Node[] = []): Node[] => (out.push(n), n.children.forEach((c) => flat(c, out)), out);
    const manager = flat((doc.manager as { root: Node }).root);
    const agentTree = flat((doc.agent as { root: Node }).root);
    expect(manager.map((n) => n.id)).to.include.members(['manager', 'bus', 'lease', 'leadership', 'leader', 'intent', 'registry', 'heartbeat', 'server', 'ctl', 'session']);
    expect(agentTree.map((n) => n.id)).to.include.members(['agent', 'bus', 'intent', 'link', 'heartbeat', 'server', 'ctl']);
    for (const n of [...manager, ...agentTree]) expect(n.status, n.id).to.equal('running');
    expect(manager.find((n) => n.id === 'leader')!.strategy).to.equal('rest_for_one');
    expect(manager.find((n) => n.id === 'session')!.state).to.equal('connected.ready');
    expect(manager.every((n) => typeof n.restarts === 'number')).to.equal(true);
    const text = await ctl('tree', 'manager');
    expect(text.stdout).to.match(/^ID\s+KIND\s+STATUS\s+STRATEGY\s+RESTARTS\s+STATE/m);
    expect(text.stdout).to.match(/^│?\s*[└├]─ session\s+worker\s+running\s+0\s+connected\.ready$/m);
    expect(text.stdout).to.not.match(/^agent of/m);
  });

  it('leadership and health: the leader, its epoch and a ready session', async () => {
    const doc = await json('leadership');
    expect(doc).to.include({ leader: true, hasSession: true, connected: true, primary: true, ready: true });
    expect(doc.holder).to.equal(doc.instanceId);
    expect(doc.epoch).to.be.greaterThan(0);
    const health = await ctl('health');
    expect(health.code, health.stdout + health.stderr).to.equal(0);
    expect(health.stdout.split('\n')[0]).to.match(/^COMPONENT\s+STATUS\s+INSTANCE\s+DETAIL$/);
    expect(health.stdout).to.match(/^manager\s+ok\s/m);
    expect(health.stdout).to.match(/^agent\s+ok\s/m);
    expect(health.stdout).to.match(new RegExp(`^leadership\\s+ok\\s+${String(doc.instanceId)}\\s+leader, epoch ${String(doc.epoch)}`, 'm'));
  });

  it('fails clearly: a bad flag or node name (exit 2), a node nobody serves or a bad certificate (exit 1)', async () => {
    const flag = await ctl('tables', '--frobnicate');
    expect(flag.code).to.equal(2);
    expect(flag.stderr).to.match(/offloadctl: .*frobnicate/);
    expect(flag.stderr).to.match(/^usage: offloadctl/m);
    const badName = await run([...tlsArgs, '--node', 'Not_A_Node', 'health']);
    expect(badName.code).to.equal(2);
    expect(badName.stderr).to.match(/--node: "Not_A_Node" is not a DNS-1123 subdomain/);
    const absent = await run([...tlsArgs, '--node', 'node-9', '--timeout', '1000', 'services']);
    expect(absent.code).to.equal(1);
    expect(absent.stderr).to.match(/no manager answers for node node-9|did not answer/);
    const wrongCert = await run(['--server', node.nats.url, '--tls-ca', operator.tls.caFile, '--tls-cert', operator.tls.caFile, '--tls-key', operator.tls.keyFile, '--node', NODE, 'health']);
    expect(wrongCert.code).to.equal(1);
    expect(wrongCert.stderr).to.match(/^offloadctl: .+/);
    const unknownTable = await ctl('tables', '--table', 'no_such_table');
    expect(unknownTable.code).to.equal(1);
    expect(unknownTable.stderr).to.match(/NOT_FOUND: no table or action profile "no_such_table"/);
  });

  it('a server that accepts and never answers (a firewall, a stuck proxy): exit 1 within --timeout, not minutes later', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const r = await run(['--server', `nats://127.0.0.1:${port}`, '--insecure', '--node', NODE, '--timeout', '1500', 'health']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/cannot connect to nats:\/\/127\.0\.0\.1:\d+: timeout/);
      expect(Date.now() - started, 'ms until the process exited').to.be.below(6000);
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });
});
