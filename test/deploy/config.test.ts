/**
 * The one user-edited configuration and its renderer: every field checked with its name in the
 * message, a bad file exits 2 and changes nothing, the rendered configurations load with the
 * processes' own loaders, the TLS inputs hold the right identities, the rendered NATS
 * configurations pass nats-server's own check, and a second rendering changes nothing.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { agentConfigSchema, managerConfigSchema } from '../../actors/process-config.js';
import { loadConfigFile, parseConfig } from '../../core/config.js';
import { parseNetConf } from '../../cni/spec.js';
import { inspectTlsFiles } from '../../deploy/certs/check.js';
import { PLUGIN_TYPE } from '../../deploy/cni/bundle.js';
import { CNI_PLUGIN_TYPE } from '../../deploy/config/process-configs.js';
import { ensureCertificates, renderDeployment, writeDeployment } from '../../deploy/config/render.js';
import { offloadConfigSchema } from '../../deploy/config/schema.js';
import { EXAMPLE, SPLIT_EXAMPLE, exampleRaw, mustParse, renderCli, rendered } from './support.js';

const run = promisify(execFile);

/** path → sha256 and mode of every file under `dir` (to prove nothing changed). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[relative(dir, p)] = `${createHash('sha256').update(await readFile(p)).digest('hex')} ${((await stat(p)).mode & 0o777).toString(8)}`;
    }
  };
  await walk(dir);
  return out;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function set(raw: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(raw);
  const keys = path.split('.');
  let o: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

describe('deploy: the deployment configuration and its renderer', function () {
  this.timeout(60_000);

  it('accepts both examples, with the defaults filled in', async () => {
    const host = mustParse(await exampleRaw(EXAMPLE));
    expect(host.mode).to.equal('host');
    expect(host.nodes.map((n) => n.name)).to.deep.equal(['node-1', 'node-2']);
    expect(host.operators).to.deep.equal(['offloadctl']);
    const split = mustParse(await exampleRaw(SPLIT_EXAMPLE));
    expect(split.mode).to.equal('split');
    expect(split.nats.placement).to.equal('acc');
    const minimal = mustParse({ mode: 'host', image: 'x:1', kubernetes: { server: 'https://10.0.0.1:6443' }, nats: { placement: 'cluster', node: 'a' }, nodes: [{ name: 'a', ip: '10.0.0.2', podCidr: '10.244.0.0/24' }] });
    expect(minimal.pool).to.deep.equal({ size: 16, prefix: 'P4TAP_', gatewayNetns: 'infra-offload-gw' });
    expect(minimal.health).to.deep.equal({ agentPort: 9301, managerPort: 9302 });
  });

  it('names the field of every problem (table of broken files)', async () => {
    const host = await exampleRaw(EXAMPLE);
    const split = await exampleRaw(SPLIT_EXAMPLE);
    const nodes = host.nodes as Record<string, unknown>[];
    const cases: { what: string; raw: Record<string, unknown>; field: string; says?: RegExp }[] = [
      { what: 'unknown mode', raw: set(host, 'mode', 'hybrid'), field: 'mode' },
      { what: 'missing image', raw: set(host, 'image', undefined), field: 'image', says: /required/ },
      { what: 'image with a blank', raw: set(host, 'image', 'my image'), field: 'image' },
      { what: 'plain http API server', raw: set(host, 'kubernetes', { server: 'http://192.0.2.1:8080' }), field: 'kubernetes.server' },
      { what: 'bad node IP', raw: set(host, 'nodes', [{ ...nodes[0], ip: '300.1.1.1' }, nodes[1]]), field: 'nodes.0.ip' },
      { what: 'broadcast node IP', raw: set(host, 'nodes', [{ ...nodes[0], ip: '255.255.255.255' }, nodes[1]]), field: 'nodes.0.ip' },
      { what: 'typo in a node field', raw: set(host, 'nodes', [{ ...nodes[0], podCIDR: '10.9.0.0/24' }, nodes[1]]), field: 'nodes.0.podCIDR', says: /unknown field/ },
      { what: 'host bits in a pod CIDR', raw: set(host, 'nodes', [nodes[0], { ...nodes[1], podCidr: '10.244.2.1/24' }]), field: 'nodes.1.podCidr' },
      { what: 'overlapping pod CIDRs', raw: set(host, 'nodes', [nodes[0], { ...nodes[1], podCidr: '10.244.0.0/16' }]), field: 'nodes.1.podCidr', says: /overlaps nodes\.0\.podCidr/ },
      { what: 'a node listed twice', raw: set(host, 'nodes', [nodes[0], { ...nodes[1], name: 'node-1' }]), field: 'nodes.1.name', says: /twice/ },
      { what: 'two nodes with one IP', raw: set(host, 'nodes', [nodes[0], { ...nodes[1], ip: '192.0.2.11' }]), field: 'nodes.1.ip' },
      { what: 'NATS on a node that is not one', raw: set(host, 'nats', { placement: 'cluster', node: 'node-9' }), field: 'nats.node', says: /not one of nodes/ },
      { what: 'NATS in the cluster without its node', raw: set(host, 'nats', { placement: 'cluster' }), field: 'nats.node', says: /required/ },
      { what: 'NATS on ACCs in host mode', raw: set(host, 'nats', { placement: 'acc' }), field: 'nats.placement' },
      { what: 'external NATS without servers', raw: set(host, 'nats', { placement: 'external' }), field: 'nats.servers' },
      { what: 'split mode without an ACC address', raw: set(split, 'nodes', [{ name: 'node-1', ip: '192.0.2.11', podCidr: '10.244.1.0/24' }]), field: 'nodes.0.acc' },
      { what: 'an ACC address that is a host', raw: set(split, 'nodes', [{ name: 'node-1', ip: '192.0.2.11', podCidr: '10.244.1.0/24', acc: { address: '192.0.2.11' } }]), field: 'nodes.0.acc.address' },
      { what: 'pool size not a power of two', raw: set(host, 'pool', { size: 12 }), field: 'pool.size' },
      { what: 'interface names past IFNAMSIZ', raw: set(host, 'pool', { size: 4096, prefix: 'ABCDEFGHIJKL' }), field: 'pool.prefix', says: /15 characters/ },
      { what: 'MTU too small', raw: set(host, 'mtu', 100), field: 'mtu' },
      { what: 'a health port on NATS monitoring', raw: set(host, 'health', { agentPort: 8222 }), field: 'health.agentPort', says: /already/ },
      { what: 'two health ports alike', raw: set(host, 'health', { agentPort: 9400, managerPort: 9400 }), field: 'health.managerPort' },
      { what: 'unknown log level', raw: set(host, 'logging', { level: 'loud' }), field: 'logging.level' },
      { what: 'unknown top-level field', raw: set(host, 'nodeList', []), field: 'nodeList', says: /unknown field/ },
    ];
    for (const c of cases) {
      const r = parseConfig(c.raw, offloadConfigSchema, 'case');
      expect(r.ok, `${c.what}: accepted`).to.equal(false);
      if (r.ok) continue;
      const problem = r.error.problems.find((p) => p.field === c.field);
      expect(problem, `${c.what}: no problem names ${c.field} (got ${r.error.message})`).to.not.equal(undefined);
      if (c.says) expect(problem!.message, c.what).to.match(c.says);
    }
  });

  it('a bad file exits 2 naming the field and changes nothing in the output; --check writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-deploy-cli-'));
    try {
      const good = join(dir, 'offload.yaml');
      await cp(EXAMPLE, good);
      const out = join(dir, 'out');
      const first = await renderCli(['--config', good, '--out', out]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.include(`kubectl apply -k ${join(out, 'k8s')}`);
      const before = await snapshot(out);
      const raw = parse(await readFile(good, 'utf8')) as Record<string, unknown>;
      const nodes = raw.nodes as Record<string, unknown>[];
      await writeFile(good, stringify({ ...raw, nodes: [nodes[0], { ...nodes[1], podCidr: '10.244.1.128/25' }] }));
      const bad = await renderCli(['--config', good, '--out', out]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/nodes\.1\.podCidr: overlaps nodes\.0\.podCidr/);
      expect(await snapshot(out)).to.deep.equal(before);

      const fresh = join(dir, 'never');
      const foreign = join(dir, 'etc');
      await mkdir(foreign);
      await writeFile(join(foreign, 'hosts'), '127.0.0.1 localhost\n');
      const [check, usage, missing, refused] = await Promise.all([
        renderCli(['--config', EXAMPLE, '--check']),
        renderCli(['--config', EXAMPLE, '--check', '--out', fresh]),
        renderCli(['--config', join(dir, 'nope.yaml'), '--check']),
        renderCli(['--config', EXAMPLE, '--out', foreign]),
      ]);
      // A directory that is not an earlier rendering is refused before anything is made in it.
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/holds other files \(hosts\)/);
      expect(await readdir(foreign)).to.deep.equal(['hosts']);
      expect(check.code, check.stderr).to.equal(0);
      expect(check.stdout).to.match(/valid \(host mode, 2 nodes, NATS cluster\)/);
      expect(usage.code).to.equal(2);
      expect(usage.stderr).to.match(/exactly one of/);
      expect(await exists(fresh), 'created by --check').to.equal(false);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.match(/cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('renders configurations the manager and the agent load with their own loaders', async () => {
    for (const variant of ['host', 'split', 'external'] as const) {
      const { config, out } = await rendered(variant);
      for (const node of config.nodes) {
        const agentFile = join(out, 'k8s/nodes', node.name, 'agent.yaml');
        const agent = await loadConfigFile(agentFile, agentConfigSchema);
        expect(agent.ok, `${variant} ${agentFile}: ${agent.ok ? '' : agent.error.message}`).to.equal(true);
        if (!agent.ok) continue;
        expect(agent.value.node.name).to.equal(node.name);
        expect(agent.value.kube?.tokenFile).to.equal('/var/run/secrets/kubernetes.io/serviceaccount/token');
        expect(agent.value.pods?.mtu).to.equal(config.mtu);
        const managerFile = variant === 'split' ? join(out, 'acc', node.name, 'etc/infra-offload/manager.yaml') : join(out, 'k8s/nodes', node.name, 'manager.yaml');
        const manager = await loadConfigFile(managerFile, managerConfigSchema);
        expect(manager.ok, `${variant} ${managerFile}: ${manager.ok ? '' : manager.error.message}`).to.equal(true);
        if (!manager.ok) continue;
        // Agent and manager of a node dial the same NATS, each with its own inbox.
        expect(manager.value.nats.servers).to.deep.equal(agent.value.nats.servers);
        expect(manager.value.nats.inboxPrefix).to.equal(`_INBOX_manager_${node.name}`);
        expect(agent.value.nats.inboxPrefix).to.equal(`_INBOX_agent_${node.name}`);
        expect(manager.value.p4?.tls?.serverName).to.equal(`target.${node.name}`);
        const expected = { host: `tls://192.0.2.11:4222`, split: `tls://${node.acc?.address}:4222`, external: 'tls://nats.example.com:4222' }[variant];
        expect(agent.value.nats.servers).to.deep.equal([expected]);
        // The CNI network list: the plugin's own parser, the node's pod CIDR, the agent's socket.
        const list = JSON.parse(await readFile(join(out, 'k8s/nodes', node.name, '10-infra-offload.conflist'), 'utf8')) as { name: string; cniVersion: string; plugins: Record<string, unknown>[] };
        const conf = parseNetConf(JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] }));
        expect(conf.type).to.equal(PLUGIN_TYPE);
        expect(conf.agentSocket).to.equal(agent.value.pods?.socket);
        expect(conf.mtu).to.equal(config.mtu);
        expect(JSON.stringify(list.plugins[0]!.ipam)).to.include(node.podCidr);
      }
    }
    expect(CNI_PLUGIN_TYPE).to.equal(PLUGIN_TYPE);
  });

  it('puts each identity in its Secret inputs and ACC tree, never a CA key', async () => {
    const host = await rendered('host');
    for (const node of host.config.nodes) {
      const dir = join(host.out, 'k8s/nodes', node.name, 'tls');
      for (const [secret, cn] of [['agent-bus', `agent.${node.name}`], ['manager-bus', `manager.${node.name}`], ['manager-p4', `manager.${node.name}`]] as const) {
        const r = inspectTlsFiles({ caFile: join(dir, secret, 'ca.crt'), certFile: join(dir, secret, 'tls.crt'), keyFile: join(dir, secret, 'tls.key') }, { usage: 'client' });
        expect(r.ok, `${node.name} ${secret}: ${r.ok ? '' : r.error.message}`).to.equal(true);
        if (r.ok) expect(r.value.certificate?.subject).to.equal(`CN=${cn}`);
        expect((await stat(join(dir, secret, 'tls.key'))).mode & 0o077, 'key mode').to.equal(0);
      }
      const target = join(host.out, 'hosts', node.name, 'etc/infra-offload/certs/p4');
      const t = inspectTlsFiles({ caFile: join(target, 'ca.crt'), certFile: join(target, `target.${node.name}.crt`), keyFile: join(target, `target.${node.name}.key`) }, { usage: 'server' });
      expect(t.ok, t.ok ? '' : t.error.message).to.equal(true);
    }
    const nats = inspectTlsFiles({ caFile: join(host.out, 'k8s/nats/tls/ca.crt'), certFile: join(host.out, 'k8s/nats/tls/tls.crt'), keyFile: join(host.out, 'k8s/nats/tls/tls.key') }, { usage: 'server' });
    expect(nats.ok).to.equal(true);
    if (nats.ok) expect(nats.value.certificate?.subjectAltName).to.include('IP Address:192.0.2.11');

    const split = await rendered('split');
    for (const node of split.config.nodes) {
      const root = join(split.out, 'acc', node.name);
      const files = Object.keys(await snapshot(root));
      expect(files.filter((f) => f.endsWith('ca.key')), 'CA keys on an ACC').to.deep.equal([]);
      const other = split.config.nodes.find((n) => n.name !== node.name)!.name;
      expect(files.filter((f) => f.includes(`.${other}.`)), `${other}'s files on ${node.name}'s ACC`).to.deep.equal([]);
      const bus = join(root, 'etc/infra-offload/certs/bus');
      const natsCert = inspectTlsFiles({ caFile: join(bus, 'ca.crt'), certFile: join(bus, 'nats-server.crt'), keyFile: join(bus, 'nats-server.key') }, { usage: 'server' });
      expect(natsCert.ok).to.equal(true);
      if (natsCert.ok) expect(natsCert.value.certificate?.subjectAltName).to.include(`IP Address:${node.acc!.address}`);
      expect(files).to.include.members(['etc/systemd/system/infra-offload-manager.service', 'etc/systemd/system/infra-offload-nats.service', 'etc/infra-offload/nats-server.conf']);
    }
  });

  it('renders NATS configurations that nats-server itself accepts, with this cluster’s users', async () => {
    const host = await rendered('host');
    const split = await rendered('split');
    const dir = await mkdtemp(join(tmpdir(), 'ioff-deploy-nats-'));
    try {
      const remap = (text: string, pairs: [string, string][]): string => pairs.reduce((t, [a, b]) => t.split(a).join(b), text);
      const cluster = remap(await readFile(join(host.out, 'k8s/nats/nats-server.conf'), 'utf8'), [
        ['/etc/nats/tls', join(host.out, 'k8s/nats/tls')],
        ['/data/jetstream', join(dir, 'js')],
      ]);
      const acc = remap(await readFile(join(split.out, 'acc/node-1/etc/infra-offload/nats-server.conf'), 'utf8'), [
        ['/etc/infra-offload', join(split.out, 'acc/node-1/etc/infra-offload')],
        ['/var/lib/infra-offload/nats', join(dir, 'js2')],
      ]);
      for (const [name, text, users] of [
        ['cluster', cluster, ['CN=agent.node-1', 'CN=manager.node-1', 'CN=agent.node-2', 'CN=manager.node-2', 'CN=offloadctl']],
        ['acc', acc, ['CN=agent.node-1', 'CN=manager.node-1', 'CN=offloadctl']],
      ] as const) {
        const file = join(dir, `${name}.conf`);
        await writeFile(file, text);
        const { stdout, stderr } = await run('nats-server', ['-t', '-c', file], { timeout: 20_000 });
        expect(`${stdout}${stderr}`).to.match(/is valid/);
        const declared = [...text.matchAll(/user: "([^"]+)"/g)].map((m) => m[1]);
        expect(declared, name).to.deep.equal(users);
      }
      // A broken one is refused by the same check.
      await writeFile(join(dir, 'broken.conf'), cluster.replace('verify_and_map', 'verify_and_mop'));
      const broken = await run('nats-server', ['-t', '-c', join(dir, 'broken.conf')], { timeout: 20_000 }).then(
        () => 'accepted',
        (e: { stderr?: string }) => e.stderr ?? 'refused',
      );
      expect(broken).to.match(/unknown field/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps deploy/acc/manager.example.yaml equal to what the renderer writes', async () => {
    const split = await rendered('split');
    const strip = (t: string): string => t.replace(/^(#.*\n)+/, '');
    const renderedText = await readFile(join(split.out, 'acc/node-1/etc/infra-offload/manager.yaml'), 'utf8');
    expect(strip(await readFile('deploy/acc/manager.example.yaml', 'utf8'))).to.equal(strip(renderedText));
  });

  it('renders again without changing anything, and drops a removed node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-deploy-again-'));
    try {
      const config = mustParse(await exampleRaw(EXAMPLE));
      const certsDir = join(dir, 'certs');
      const once = await ensureCertificates(config, certsDir);
      const files = await renderDeployment(config, { certs: once.paths });
      if (!files.ok) throw files.error;
      await writeDeployment(dir, files.value);
      const before = await snapshot(dir);
      const again = await ensureCertificates(config, certsDir);
      expect(again.actions.filter((a) => a.action !== 'kept'), 'certificates reissued').to.deep.equal([]);
      const second = await renderDeployment(config, { certs: again.paths });
      if (!second.ok) throw second.error;
      await writeDeployment(dir, second.value);
      expect(await snapshot(dir)).to.deep.equal(before);

      const raw = await exampleRaw(EXAMPLE);
      const smaller = mustParse({ ...raw, nodes: [(raw.nodes as unknown[])[0]] });
      const third = await renderDeployment(smaller, { certs: (await ensureCertificates(smaller, certsDir)).paths });
      if (!third.ok) throw third.error;
      await writeDeployment(dir, third.value);
      expect(await readdir(join(dir, 'k8s/nodes'))).to.deep.equal(['node-1']);
      expect(await readdir(join(dir, 'hosts'))).to.deep.equal(['node-1']);
      expect(Object.keys(await snapshot(dir)).filter((f) => f.startsWith('.render'))).to.deep.equal([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
