/**
 * RBAC derived from use. The real agent and manager processes run with the configurations the
 * renderer wrote for node-1 (only what cannot be the same on this machine is remapped: where
 * NATS, the API server and the target listen, and where the certificates are — the very files
 * the Secrets are generated from), against a real nats-server carrying the rendered
 * authorisation, the software P4 target with the rendered certificate, and the Kubernetes API
 * stand-in, which authenticates the agent by its ServiceAccount token and logs every request's
 * user, verb, API group, resource and name. A workload exercises every list and watch the agent
 * makes: its initial lists (paginated), watches, a watch expired with 410 (relist), dropped
 * watches, a compacted history. The ClusterRoles the rendered manifests bind to the agent's
 * ServiceAccount must grant exactly what it used — no more, no less, read-only — and the
 * manager, whose ServiceAccount has no role and no token, must not have asked anything.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { pino } from 'pino';
import { Bus } from '../../messages/bus.js';
import { ctlPrefix } from '../../messages/subjects.js';
import { ctlMethods } from '../../protocol/methods.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { ManagedProcess, type LogLine } from '../../simulations/processes.js';
import { KubeClient } from '../../simulations/kube/client.js';
import { nodeObject, service, slice } from '../../simulations/kube/objects.js';
import { KubeApiStandin } from '../../simulations/kube/server.js';
import type { KubeObject as StandinObject } from '../../simulations/kube/store.js';
import { grantKey, grantsOf, kustomize, rendered, requireKubectl, type Grant, type Rendered } from './support.js';
import { podSpecOf, type KubeObject } from './validate.js';

const NODE = 'node-1';
const TOKEN = 'test-token-of-the-agent-of-node-1';
const READ_VERBS = ['get', 'list', 'watch'];

function inNamespace(o: StandinObject, ns: string): StandinObject {
  return { ...o, metadata: { ...o.metadata, namespace: ns } };
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('deploy: RBAC derived from use (the real agent and manager against the API stand-in)', function () {
  this.timeout(60_000);
  let dir: string;
  let r: Rendered;
  let objects: KubeObject[];
  let nats: NatsServer | undefined;
  let api: KubeApiStandin | undefined;
  let operator: Bus | undefined;
  const procs: ManagedProcess[] = [];
  const logs: string[] = [];
  let agentUser: string;
  let agentSa: string;
  let adminUrl: string;

  /** Changes objects on the stand-in's admin listener (not logged as the agent's, never affected by knobs). */
  const admin = (): KubeClient => new KubeClient(adminUrl);

  async function apply(...list: StandinObject[]): Promise<void> {
    for (const o of list) {
      const a = await admin().apply(o);
      if (!a.ok) throw new Error(a.error.message);
    }
  }

  const onLog = (name: string, line: LogLine | string): void => {
    logs.push(`${name}: ${typeof line === 'string' ? line : JSON.stringify(line)}`);
  };

  /** The manager's services, asked as the operator (offloadctl's identity) over NATS. */
  async function managerServices(): Promise<string[]> {
    const reply = await operator!.request(`${ctlPrefix(NODE, 'manager')}.services`, ctlMethods.services, { node: NODE, limit: 100 }, { timeoutMs: 1000 });
    return reply.ok ? reply.value.services.map((s) => `${s.namespace}/${s.name} ${s.key} ${s.endpointCount}`).sort() : [];
  }

  before(async () => {
    await requireKubectl();
    r = await rendered('host');
    objects = await kustomize(join(r.out, 'k8s'));
    const ds = objects.find((o) => o.kind === 'DaemonSet' && o.metadata?.name === `infra-offload-agent-${NODE}`)!;
    agentSa = (podSpecOf(ds) as unknown as { serviceAccountName: string }).serviceAccountName;
    agentUser = `system:serviceaccount:${r.config.namespace}:${agentSa}`;
    dir = await mkdtemp(join(tmpdir(), 'ioff-deploy-rbac-'));
    const k8s = join(r.out, 'k8s');
    const tls = (secret: string): Record<string, string> => ({ caFile: join(k8s, 'nodes', NODE, 'tls', secret, 'ca.crt'), certFile: join(k8s, 'nodes', NODE, 'tls', secret, 'tls.crt'), keyFile: join(k8s, 'nodes', NODE, 'tls', secret, 'tls.key') });

    // nats-server with the rendered tls and authorization blocks (its own listen and store).
    const natsConf = (await readFile(join(k8s, 'nats/nats-server.conf'), 'utf8')).split('/etc/nats/tls').join(join(k8s, 'nats/tls'));
    nats = await startNatsServer({ extraConfig: natsConf.slice(natsConf.indexOf('\ntls {')) });

    api = new KubeApiStandin({ tokens: new Map([[TOKEN, agentUser]]), bookmarkIntervalMs: 200, historySize: 50 });
    const apiPort = await api.listen('127.0.0.1', 0);
    adminUrl = `http://127.0.0.1:${await api.listenAdmin('127.0.0.1', 0)}`;
    await apply(nodeObject('node-1', '192.0.2.11', '10.244.1.0/24'), nodeObject('node-2', '192.0.2.12', '10.244.2.0/24'));

    // The software target with node-1's rendered target certificate.
    const p4 = join(r.out, 'hosts', NODE, 'etc/infra-offload/certs/p4');
    let targetPort = 0;
    const target = new ManagedProcess({
      name: 'target',
      bin: 'target',
      args: ['--listen', '127.0.0.1:0', '--tls-cert', join(p4, `target.${NODE}.crt`), '--tls-key', join(p4, `target.${NODE}.key`), '--tls-ca', join(p4, 'ca.crt'), '--log-level', 'warn'],
      onLog: (name, line) => {
        const ready = typeof line === 'object' ? (line as unknown as { ready?: boolean; port?: number }) : undefined;
        if (ready?.ready && ready.port) targetPort = ready.port;
        onLog(name, line);
      },
    });
    procs.push(target);
    target.start();
    await eventually('the target listening', () => targetPort > 0);

    // The rendered configurations, remapped only where this machine differs from a node.
    const agent = parse(await readFile(join(k8s, 'nodes', NODE, 'agent.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    agent.nats = { ...agent.nats, servers: [nats.url], tls: tls('agent-bus') };
    agent.kube = { ...agent.kube, server: `http://127.0.0.1:${apiPort}`, tokenFile: join(dir, 'token'), pageSize: 2, watchTimeoutSeconds: 5, idleGraceMs: 1000, backoff: { initialMs: 100, maxMs: 500 }, syncDelayMs: 20, maxSyncDelayMs: 200 };
    delete agent.kube.caFile; // plain http to the stand-in
    agent.health = { listen: '127.0.0.1:0' };
    agent.heartbeat = { intervalMs: 200, missedBeats: 3 };
    delete agent.pods; // no TAP pool here: the pod path never calls the API
    await writeFile(join(dir, 'token'), `${TOKEN}\n`);
    await writeFile(join(dir, 'agent.yaml'), stringify(agent));
    const manager = parse(await readFile(join(k8s, 'nodes', NODE, 'manager.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    manager.nats = { ...manager.nats, servers: [nats.url], tls: tls('manager-bus') };
    manager.p4 = { ...manager.p4, target: `127.0.0.1:${targetPort}`, tls: { ...tls('manager-p4'), serverName: `target.${NODE}` } };
    manager.health = { listen: '127.0.0.1:0' };
    manager.heartbeat = { intervalMs: 200, missedBeats: 3 };
    await writeFile(join(dir, 'manager.yaml'), stringify(manager));
    for (const name of ['manager', 'agent']) {
      const p = new ManagedProcess({ name, bin: name, args: ['--config', join(dir, `${name}.yaml`)], onLog });
      procs.push(p);
      p.start();
    }
    const op = r.certs.paths.identity({ kind: 'operator', name: 'offloadctl' });
    operator = await Bus.connect({
      servers: [nats.url],
      name: 'rbac-test',
      logger: pino({ level: 'silent' }),
      timeoutMs: 1000,
      tls: { caFile: r.certs.paths.busCa.cert, certFile: op.cert, keyFile: op.key },
      inboxPrefix: '_INBOX_ctl_offloadctl',
    });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(logs.filter((l) => !l.includes('agent state sync failed')).slice(-60).join('\n'));
  });

  after(async () => {
    await operator?.close();
    for (const p of procs.reverse()) await p.stop(3000);
    await api?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the workload through the agent to the manager, relisting and re-watching on the way', async () => {
    const web = [{ name: 'http', port: 80, targetPort: 8080 }];
    const http = [{ name: 'http', port: 8080 }];
    await apply(
      service('web', '10.96.0.10', web),
      slice('web-1', 'web', [{ ip: '10.244.1.5' }, { ip: '10.244.2.5' }], http),
      inNamespace(service('dns', '10.96.0.53', [{ name: 'dns', port: 53, protocol: 'UDP' }]), 'kube-system'),
      inNamespace(slice('dns-1', 'dns', [{ ip: '10.244.1.53' }], [{ name: 'dns', port: 53, protocol: 'UDP' }]), 'kube-system'),
      inNamespace(service('api', '10.96.0.20', web), 'team-a'),
      inNamespace(slice('api-1', 'api', [{ ip: '10.244.2.20' }], http), 'team-a'),
    );
    await eventually('the manager has the three services', async () => (await managerServices()).length === 3, 30_000);
    expect(await managerServices()).to.deep.equal(['default/web 10.96.0.10:80/TCP 2', 'kube-system/dns 10.96.0.53:53/UDP 1', 'team-a/api 10.96.0.20:80/TCP 1']);

    // A watch expired with 410: the informers list again (paginated: pageSize 2).
    const lists = (): number => api!.accessLog().entries.filter((e) => e.listener === 'main' && e.verb === 'list').reduce((n, e) => n + e.count, 0);
    const before = lists();
    expect((await admin().knob('expire-watches')).ok).to.equal(true);
    await eventually('relisted after 410', () => lists() >= before + 3);
    await apply(slice('web-1', 'web', [{ ip: '10.244.1.5' }, { ip: '10.244.2.5' }, { ip: '10.244.2.6' }], http));
    await eventually('the scaled service reached the manager', async () => (await managerServices()).includes('default/web 10.96.0.10:80/TCP 3'));

    // Dropped watches, then a compacted history: re-watch, then 410 and relist.
    expect((await admin().knob('drop-watches')).ok).to.equal(true);
    expect((await admin().delete('services', 'team-a', 'api')).ok).to.equal(true);
    await eventually('the deleted service left the manager', async () => (await managerServices()).length === 2);
    expect((await admin().knob('compact')).ok).to.equal(true);
    expect((await admin().knob('drop-watches')).ok).to.equal(true);
    await apply(inNamespace(service('late', '10.96.0.30', web), 'team-b'), inNamespace(slice('late-1', 'late', [{ ip: '10.244.1.30' }], http), 'team-b'));
    await eventually('a service made after the compaction reached the manager', async () => (await managerServices()).includes('team-b/late 10.96.0.30:80/TCP 1'));
  });

  it('the ClusterRoles grant the agent exactly what it used — read-only — and the manager nothing', () => {
    const log = api!.accessLog();
    const main = log.entries.filter((e) => e.listener === 'main');
    expect(log.dropped).to.equal(0);
    // Every request came from the agent, with its ServiceAccount token: the manager (no token,
    // no role) asked nothing, and nothing was anonymous.
    expect([...new Set(main.map((e) => e.user))]).to.deep.equal([agentUser]);
    expect(main.filter((e) => e.nonResourceURL !== undefined).map((e) => e.nonResourceURL), 'non-resource URLs').to.deep.equal([]);
    const used = [...new Set(main.map((e) => grantKey({ apiGroup: e.apiGroup ?? '', resource: e.resource ?? '', verb: e.verb, name: e.resource === 'nodes' ? (e.name ?? '') : '' })))].sort();
    // What the workload must have made it do (so that "exactly" is about something).
    expect(used).to.deep.equal(['list core/nodes/node-1', 'list core/services', 'list discovery.k8s.io/endpointslices', 'watch core/nodes/node-1', 'watch core/services', 'watch discovery.k8s.io/endpointslices']);
    expect(main.some((e) => e.resource === 'nodes' && e.name !== NODE), 'another node read').to.equal(false);

    const granted = grantsOf(objects, r.config.namespace, agentSa);
    expect(granted.filter((g) => !READ_VERBS.includes(g.verb)), 'write verbs').to.deep.equal([]);
    expect(granted.filter((g) => [g.apiGroup, g.resource, g.verb, g.name].includes('*')), 'wildcards').to.deep.equal([]);
    expect([...new Set(granted.map(grantKey))].sort(), 'granted vs used').to.deep.equal(used);
    for (const sa of ['infra-offload-manager', 'infra-offload-nats']) expect(grantsOf(objects, r.config.namespace, sa), sa).to.deep.equal([]);
    // Every node's agent gets the same, for its own Node.
    for (const node of r.config.nodes) {
      const keys = [...new Set(grantsOf(objects, r.config.namespace, `infra-offload-agent-${node.name}`).map(grantKey))].sort();
      expect(keys).to.deep.equal(used.map((k) => k.replace(`nodes/${NODE}`, `nodes/${node.name}`)).sort());
    }
  });

  it('the comparison bites: one extra verb, one missing resource, one write', () => {
    const used = new Set(grantsOf(objects, r.config.namespace, agentSa).map(grantKey));
    const tweak = (f: (rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[]) => void): Grant[] => {
      const copy = structuredClone(objects);
      const role = copy.find((o) => o.kind === 'ClusterRole' && o.metadata?.name === 'infra-offload-agent')!;
      f(role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]);
      return grantsOf(copy, r.config.namespace, agentSa);
    };
    const extra = tweak((rules) => rules[0]!.verbs.push('get'));
    expect(extra.map(grantKey).filter((k) => !used.has(k))).to.deep.equal(['get core/services']);
    const missing = tweak((rules) => rules.splice(1, 1));
    expect([...used].filter((k) => !missing.map(grantKey).includes(k))).to.deep.equal(['list discovery.k8s.io/endpointslices', 'watch discovery.k8s.io/endpointslices']);
    const write = tweak((rules) => rules[0]!.verbs.push('update'));
    expect(write.filter((g) => !READ_VERBS.includes(g.verb)).map(grantKey)).to.deep.equal(['update core/services']);
  });
});
