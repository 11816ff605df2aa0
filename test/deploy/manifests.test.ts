/**
 * The Kubernetes manifests without a cluster: every kustomization of deploy/k8s and every
 * rendered instance (host mode with NATS in the cluster, split mode, host mode with an external
 * NATS) goes through `kubectl kustomize`, and every object through the validation of
 * test/deploy/validate.ts (OpenAPI schema with kubernetes-models, unknown fields, the API
 * server's own rules, references). Broken manifests are caught, case by case.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { POD } from '../../deploy/config/layout.js';
import { kustomize, NO_KUBECTL, rendered, requireKubectl } from './support.js';
import { podSpecOf, validateObjects, type KubeObject } from './validate.js';

const run = promisify(execFile);
const TEMPLATES = ['base', 'agent', 'manager', 'nats', 'overlays/host', 'overlays/host/node', 'overlays/split', 'overlays/split/node'];

interface Container {
  name: string;
  command?: string[];
  securityContext?: Record<string, unknown> & { capabilities?: { add?: string[]; drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string; readOnly?: boolean }[];
  livenessProbe?: { httpGet?: { host?: string; port?: number; path?: string } };
  readinessProbe?: { httpGet?: { host?: string; port?: number; path?: string } };
  env?: { name: string; value?: string }[];
}

function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`no ${kind} ${name} among ${objects.map((x) => `${String(x.kind)}/${x.metadata?.name ?? ''}`).join(', ')}`);
  return o;
}

function containers(o: KubeObject): { init: Container[]; main: Container[] } {
  const spec = podSpecOf(o) as unknown as { initContainers?: Container[]; containers?: Container[] };
  return { init: spec.initContainers ?? [], main: spec.containers ?? [] };
}

/** True when `path` is at or under one of the container's mounts. */
function mounted(c: Container, path: string): boolean {
  return (c.volumeMounts ?? []).some((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
}

describe('deploy: Kubernetes manifests render and validate without a cluster', function () {
  this.timeout(60_000);
  before(requireKubectl);

  it('every kustomization of deploy/k8s renders, and every object validates', async () => {
    const all = await Promise.all(TEMPLATES.map((dir) => kustomize(join('deploy/k8s', dir))));
    for (const [i, objects] of all.entries()) {
      expect(objects.length, TEMPLATES[i]).to.be.greaterThan(0);
      expect(await validateObjects(objects), TEMPLATES[i]).to.deep.equal([]);
    }
  });

  it('renders each instance into a complete, valid set: host mode with NATS in the cluster', async () => {
    const { out, config } = await rendered('host');
    const objects = await kustomize(join(out, 'k8s'));
    expect(await validateObjects(objects, { references: true })).to.deep.equal([]);
    const kinds = (kind: string): string[] => objects.filter((o) => o.kind === kind).map((o) => o.metadata?.name ?? '').sort();
    expect(kinds('DaemonSet')).to.deep.equal(['infra-offload-agent-node-1', 'infra-offload-agent-node-2', 'infra-offload-manager-node-1', 'infra-offload-manager-node-2']);
    expect(kinds('StatefulSet')).to.deep.equal(['infra-offload-nats']);
    expect(kinds('ServiceAccount')).to.deep.equal(['infra-offload-agent-node-1', 'infra-offload-agent-node-2', 'infra-offload-manager', 'infra-offload-nats']);
    expect(objects.filter((o) => o.metadata?.namespace !== undefined).every((o) => o.metadata?.namespace === config.namespace)).to.equal(true);

    for (const node of config.nodes) {
      const agent = find(objects, 'DaemonSet', `infra-offload-agent-${node.name}`);
      const affinity = JSON.stringify((podSpecOf(agent) as unknown as { affinity: unknown }).affinity);
      expect(affinity).to.include(`"values":["${node.name}"]`);
      const { init, main } = containers(agent);
      const a = main.find((c) => c.name === 'agent')!;
      // Only what the code needs: NET_ADMIN and SYS_ADMIN, everything else dropped.
      expect(a.securityContext?.capabilities).to.deep.equal({ drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN'] });
      expect(a.securityContext?.privileged).to.equal(undefined);
      expect(a.livenessProbe?.httpGet).to.deep.include({ host: '127.0.0.1', port: config.health.agentPort, path: '/healthz' });
      expect(a.readinessProbe?.httpGet).to.deep.include({ host: '127.0.0.1', port: config.health.agentPort, path: '/readyz' });
      expect(a.volumeMounts?.find((m) => m.mountPath === '/run/netns')?.mountPropagation).to.equal('HostToContainer');
      const install = init.find((c) => c.name === 'install-node')!;
      expect(install.securityContext?.privileged).to.equal(true);
      expect(install.volumeMounts?.find((m) => m.mountPath === '/run/netns')?.mountPropagation).to.equal('Bidirectional');
      // Every file the rendered agent configuration names is mounted where the agent looks.
      const agentYaml = parse(await readFile(join(out, 'k8s/nodes', node.name, 'agent.yaml'), 'utf8')) as {
        nats: { tls: Record<string, string> };
        kube: { tokenFile: string; caFile: string };
        pods: { stateDir: string; socket: string };
      };
      for (const path of [...Object.values(agentYaml.nats.tls), agentYaml.pods.stateDir, agentYaml.pods.socket, POD.agentConfig]) {
        expect(mounted(a, path), `${path} is not mounted in the agent container`).to.equal(true);
      }
      expect(a.command).to.deep.equal(['node', '/opt/infra-offload/dist/bin/agent.js', '--config', POD.agentConfig]);
      expect((podSpecOf(agent) as unknown as { automountServiceAccountToken: boolean }).automountServiceAccountToken, 'the agent needs its token').to.equal(true);
      // The init container's configuration: the node's pool, and the network list mounted where the script reads it.
      const pool = find(objects, 'ConfigMap', (objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith(`infra-offload-pool-${node.name}-`))?.metadata?.name) ?? '?');
      expect(pool.data).to.deep.equal({ POOL_PREFIX: config.pool.prefix, POOL_SIZE: String(config.pool.size), GATEWAY_NETNS: config.pool.gatewayNetns });
      expect(mounted(install, install.env!.find((e) => e.name === 'CNI_CONFLIST')!.value!)).to.equal(true);

      const manager = find(objects, 'DaemonSet', `infra-offload-manager-${node.name}`);
      const m = containers(manager).main[0]!;
      expect(m.securityContext).to.deep.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(m.securityContext?.capabilities?.add).to.equal(undefined);
      expect((podSpecOf(manager) as unknown as { automountServiceAccountToken: boolean }).automountServiceAccountToken, 'the manager reads no API').to.equal(false);
      const managerYaml = parse(await readFile(join(out, 'k8s/nodes', node.name, 'manager.yaml'), 'utf8')) as { nats: { tls: Record<string, string> }; p4: { tls: Record<string, string> } };
      for (const [k, path] of [...Object.entries(managerYaml.nats.tls), ...Object.entries(managerYaml.p4.tls)]) {
        if (k !== 'serverName') expect(mounted(m, path), `${path} is not mounted in the manager container`).to.equal(true);
      }
      expect(m.livenessProbe?.httpGet?.port).to.equal(config.health.managerPort);
    }
    // The script the init container runs is the one in deploy/k8s.
    const scripts = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('infra-offload-scripts-'));
    expect((scripts?.data as Record<string, string>)['install-node.sh']).to.equal(await readFile('deploy/k8s/base/install-node.sh', 'utf8'));
    // What the pods run exists in this repository (dist/bin/X.js is built from bin/X.ts).
    for (const o of objects.filter((x) => podSpecOf(x))) {
      const { init, main } = containers(o);
      for (const c of [...init, ...main]) {
        for (const arg of c.command ?? []) {
          const m = /^\/opt\/infra-offload\/dist\/(.+)\.js$/.exec(arg);
          if (m) expect(existsSync(`${m[1]}.ts`), `${arg}: no ${m[1]}.ts`).to.equal(true);
          const s = /^\/opt\/infra-offload\/scripts\/(.+)$/.exec(arg);
          if (s) expect(existsSync(`deploy/k8s/base/${s[1]}`), arg).to.equal(true);
        }
      }
    }
    const nats = find(objects, 'StatefulSet', 'infra-offload-nats');
    expect(JSON.stringify((podSpecOf(nats) as unknown as { affinity: unknown }).affinity)).to.include(`"values":["${config.nats.node}"]`);
    expect(mounted(containers(nats).main[0]!, POD.natsConfig)).to.equal(true);
    expect(JSON.stringify(nats)).to.include('"image":"nats:2.10.24-alpine"');
    expect(JSON.stringify(find(objects, 'DaemonSet', 'infra-offload-agent-node-1'))).to.include('"image":"registry.example.com/infra-offload:0.1.0"');
  });

  it('renders split mode: agents only (managers, NATS and targets on the ACCs)', async () => {
    const { out } = await rendered('split');
    const objects = await kustomize(join(out, 'k8s'));
    expect(await validateObjects(objects, { references: true })).to.deep.equal([]);
    const workloads = objects.filter((o) => podSpecOf(o)).map((o) => `${String(o.kind)}/${o.metadata?.name ?? ''}`).sort();
    expect(workloads).to.deep.equal(['DaemonSet/infra-offload-agent-node-1', 'DaemonSet/infra-offload-agent-node-2']);
    expect(objects.some((o) => o.kind === 'Secret' && o.metadata?.name?.includes('manager'))).to.equal(false);
  });

  it('renders host mode with an external NATS: no StatefulSet, the include for it', async () => {
    const { out } = await rendered('external');
    const objects = await kustomize(join(out, 'k8s'));
    expect(await validateObjects(objects, { references: true })).to.deep.equal([]);
    expect(objects.some((o) => o.kind === 'StatefulSet')).to.equal(false);
    expect(await readFile(join(out, 'nats/etc/infra-offload/nats-auth.conf'), 'utf8')).to.include('user: "CN=manager.node-2"');
  });

  it('catches broken objects (one mistake per case)', async () => {
    const { out } = await rendered('host');
    const objects = await kustomize(join(out, 'k8s'));
    const agentIndex = objects.findIndex((o) => o.kind === 'DaemonSet' && o.metadata?.name === 'infra-offload-agent-node-1');
    type Spec = { spec: { template: { spec: Record<string, unknown> & { containers: Container[] & Record<string, unknown>[]; volumes: Record<string, unknown>[] } }; selector: { matchLabels: Record<string, string> } } };
    const cases: { what: string; says: RegExp; mutate: (ds: Spec, all: KubeObject[]) => void }[] = [
      { what: 'a typo in a field name', says: /unknown field spec\.template\.spec\.hostNetwrok/, mutate: (ds) => (ds.spec.template.spec.hostNetwrok = true) },
      { what: 'a typo deep in a container', says: /unknown field .*containers\[0\]\.securityContext\.capabilites/, mutate: (ds) => (ds.spec.template.spec.containers[0]!.securityContext = { capabilites: { add: ['NET_ADMIN'] } }) },
      { what: 'a string where a number goes', says: /schema: .*must be integer/, mutate: (ds) => ((ds.spec.template.spec.containers[0] as unknown as { ports: unknown }).ports = [{ containerPort: 'http' }]) },
      { what: 'a container without a name', says: /schema: .*containers\/0 must have required property name/, mutate: (ds) => delete (ds.spec.template.spec.containers[0] as Partial<Container>).name },
      { what: 'an unknown enum value', says: /schema: .*must be equal to one of the allowed values/, mutate: (ds) => (ds.spec.template.spec.dnsPolicy = 'HostFirst') },
      { what: 'a selector its template does not match', says: /does not match the template's labels/, mutate: (ds) => (ds.spec.selector.matchLabels['infra-offload/node'] = 'node-2') },
      { what: 'a mount of a volume that does not exist', says: /mounts bus-tls, which is not a volume/, mutate: (ds) => (ds.spec.template.spec.volumes = ds.spec.template.spec.volumes.filter((v) => v.name !== 'bus-tls')) },
      { what: 'Bidirectional propagation unprivileged', says: /Bidirectional mount propagation of netns needs a privileged container/, mutate: (ds) => ((ds.spec.template.spec.initContainers as Container[])[0]!.securityContext = {}) },
      { what: 'allowPrivilegeEscalation false with SYS_ADMIN', says: /allowPrivilegeEscalation false is refused/, mutate: (ds) => (ds.spec.template.spec.containers[0]!.securityContext = { allowPrivilegeEscalation: false, capabilities: { add: ['SYS_ADMIN'] } }) },
      { what: 'a ConfigMap that is not in the manifests', says: /volume config: ConfigMap infra-offload\/infra-offload-agent-config-node-1-[a-z0-9]+ is not in the manifests/, mutate: (_ds, all) => all.splice(all.findIndex((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('infra-offload-agent-config-node-1-')), 1) },
      { what: 'a bad label value', says: /is not a valid label value/, mutate: (ds) => ((ds as unknown as KubeObject).metadata!.labels!['infra-offload/node'] = 'node 1') },
      { what: 'an object defined twice', says: /defined twice/, mutate: (ds, all) => all.push(structuredClone(ds)) },
    ];
    for (const c of cases) {
      const all = structuredClone(objects);
      c.mutate(all[agentIndex] as unknown as Spec, all);
      const problems = await validateObjects(all, { references: true });
      expect(problems.map((p) => `${p.object}: ${p.message}`).join('\n'), c.what).to.match(c.says);
    }
  });

  it('says how to install kubectl where it is missing (a failure, never a skip)', async () => {
    const script = "import('./test/deploy/support.ts').then((m) => m.requireKubectl()).then(() => console.log('found'), (e) => console.log(e.message))";
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, PATH: '/nonexistent' }, timeout: 30_000 });
    expect(stdout).to.include(NO_KUBECTL);
  });

  it('catches broken kustomizations: bad YAML, a patch on a path that is not there', async () => {
    const { out } = await rendered('split');
    const dir = await mkdtemp(join(tmpdir(), 'ioff-deploy-broken-'));
    try {
      await cp(join(out, 'k8s'), join(dir, 'k8s'), { recursive: true });
      const ds = join(dir, 'k8s/lib/agent/daemonset.yaml');
      const good = await readFile(ds, 'utf8');
      await writeFile(ds, good.replace('  selector:\n', '  selector:\n   - oops: [\n'));
      const yamlError = await kustomize(join(dir, 'k8s')).then(() => 'rendered', (e: Error) => e.message);
      expect(yamlError).to.match(/MalformedYAMLError: .*daemonset\.yaml/s);
      await writeFile(ds, good.replace('affinity:', 'affinityy:'));
      const patchError = await kustomize(join(dir, 'k8s')).then(() => 'rendered', (e: Error) => e.message);
      expect(patchError).to.match(/replace operation does not apply: doc is missing path: \/spec\/template\/spec\/affinity/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
