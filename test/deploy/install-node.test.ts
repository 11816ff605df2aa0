/**
 * The agent pod's init container script (deploy/k8s/base/install-node.sh), run for real as root
 * with its directories pointed at a scratch directory and its namespaces at this run's own
 * (`ioff-<id>-…`): the CNI plugin installed with its interpreter and runnable, the delegate
 * plugins, the TAP pool, the gateway namespace, the network list last; a second run changes
 * nothing; a missing input fails before anything is written; the root namespace gets nothing.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';
import { ip, TestNet } from '../agent-pool/netns.js';
import { rendered } from './support.js';

const run = promisify(execFile);
const SCRIPT = resolve('deploy/k8s/base/install-node.sh');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(env: Record<string, string>): Promise<Outcome> {
  return new Promise((done) => {
    const child = spawn('sh', [SCRIPT], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

function execPlugin(file: string, stdin: string, env: Record<string, string>): Promise<Outcome> {
  return new Promise((done) => {
    const child = spawn(file, [], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('deploy: the node set-up script of the agent’s init container', function () {
  this.timeout(60_000);
  const net = new TestNet();
  let dir: string;
  let env: Record<string, string>;

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('this test creates TAPs and namespaces of its own: run it as root (CI does)');
    dir = await mkdtemp(join(tmpdir(), 'ioff-deploy-install-'));
    const pool = await net.addNs('pool');
    const gateway = net.adopt(net.ns('gw'));
    await bundleCniPlugin(join(dir, 'image/dist/cni/infra-cni.cjs'));
    const { out } = await rendered('host');
    env = {
      INFRA_ROOT: join(dir, 'image'),
      CNI_BIN_DIR: join(dir, 'host/opt/cni/bin'),
      CNI_NET_DIR: join(dir, 'host/etc/cni/net.d'),
      HOST_CNI_BIN_DIR: join(dir, 'host/opt/cni/bin'),
      CNI_CONFLIST: join(out, 'k8s/nodes/node-1/10-infra-offload.conflist'),
      CREATE_INTERFACES: `${process.execPath} --import tsx ${resolve('bin/create-interfaces.ts')}`,
      POOL_PREFIX: net.prefix,
      POOL_SIZE: '8',
      POOL_NETNS: pool,
      GATEWAY_NETNS: gateway,
    };
  });
  after(async () => {
    await net.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs the plugin (runnable, with its own node), the delegates, the pool, the gateway namespace and the network list', async () => {
    const first = await sh(env);
    expect(first.code, first.stderr).to.equal(0);
    const bin = env.CNI_BIN_DIR!;
    const plugin = join(bin, 'infra-cni');
    expect((await readFile(plugin, 'utf8')).split('\n')[0]).to.equal(`#!${bin}/infra-cni-node`);
    expect((await stat(plugin)).mode & 0o777).to.equal(0o755);
    await run('cmp', ['-s', process.execPath, join(bin, 'infra-cni-node')]);
    for (const p of ['host-local', 'tuning']) expect(existsSync(join(bin, p)), p).to.equal(true);
    // The runtime's way to run it: exec the file itself.
    const version = await execPlugin(plugin, '{"cniVersion":"1.0.0"}', { CNI_COMMAND: 'VERSION' });
    expect(version.code, version.stderr).to.equal(0);
    expect(JSON.parse(version.stdout)).to.deep.include({ supportedVersions: ['1.0.0'] });

    expect(await net.taps(env.POOL_NETNS!)).to.deep.equal([...Array(8).keys()].map((i) => `${net.prefix}${i}`).sort());
    expect((await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0])).to.include(env.GATEWAY_NETNS);
    expect(await readFile(join(env.CNI_NET_DIR!, '10-infra-offload.conflist'), 'utf8')).to.equal(await readFile(env.CNI_CONFLIST!, 'utf8'));
    expect(first.stdout).to.match(/created the gateway namespace/);

    // Nothing reached the machine's root namespace.
    const rootLinks = JSON.parse(await ip('-j', 'link', 'show')) as { ifname: string }[];
    expect(rootLinks.filter((l) => l.ifname.startsWith(net.prefix))).to.deep.equal([]);
  });

  it('runs again without changing anything (a pod restart)', async () => {
    const before = await readFile(join(env.CNI_BIN_DIR!, 'infra-cni'), 'utf8');
    const again = await sh(env);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/gateway namespace .* exists/);
    expect(again.stdout).to.not.match(/^install-node: installed \S+\/infra-cni-node /m);
    expect(await readFile(join(env.CNI_BIN_DIR!, 'infra-cni'), 'utf8')).to.equal(before);
    expect(await net.taps(env.POOL_NETNS!)).to.have.length(8);
  });

  it('fails before writing anything when an input is missing', async () => {
    const fresh = { ...env, CNI_BIN_DIR: join(dir, 'other/bin'), CNI_NET_DIR: join(dir, 'other/net.d') };
    const noList = await sh({ ...fresh, CNI_CONFLIST: join(dir, 'missing.conflist') });
    expect(noList.code).to.equal(1);
    expect(noList.stderr).to.match(/no CNI network list at/);
    const noBundle = await sh({ ...fresh, INFRA_ROOT: join(dir, 'nothing') });
    expect(noBundle.code).to.equal(1);
    expect(noBundle.stderr).to.match(/no CNI plugin bundle/);
    const badPool = await sh({ ...fresh, POOL_SIZE: '6' });
    expect(badPool.code).to.not.equal(0);
    expect(badPool.stderr).to.match(/power of two/);
    expect(existsSync(join(dir, 'other/net.d/10-infra-offload.conflist')), 'a network list without a pool').to.equal(false);
  });
});
