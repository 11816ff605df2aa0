/**
 * The certificate tooling itself: the layout and its permissions, what a re-run keeps and what
 * it reissues, the Kubernetes Secrets, the generated NATS permissions, the checks a process runs
 * on its TLS files before starting, and the CLI's exit codes.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { inspectTlsFiles, type TlsFiles, type TlsProblem } from '../../deploy/certs/check.js';
import { CertToolError, generateDeployment, type DeploymentReport } from '../../deploy/certs/deployment.js';
import { inboxPrefix, type Identity } from '../../deploy/certs/identities.js';
import { DEFAULT_OPERATOR_OPS, natsAuthConfig, permissionsFor } from '../../deploy/nats/authorization.js';
import { CTL_READ_OPS } from '../../protocol/methods.js';
import { binCommand } from '../../simulations/processes.js';
import { makeTestPki, type TestPki } from './support.js';

const mode = async (f: string): Promise<number> => (await stat(f)).mode & 0o777;
const actionsOf = (r: DeploymentReport): Record<string, string> => Object.fromEntries(r.actions.map((a) => [a.file.split('/').slice(-2).join('/'), a.action]));

describe('certificate tooling (deploy/certs, deploy/nats, bin/certs)', function () {
  this.timeout(15_000);
  let dir: string;
  let pki: TestPki;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infra-certs-test-'));
    pki = await makeTestPki();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await pki?.cleanup();
  });

  describe('generateDeployment', () => {
    let out: string;
    let first: DeploymentReport;
    before(async () => {
      out = join(dir, 'deploy');
      first = await generateDeployment({ outDir: out, nodes: ['node-1'], natsSans: ['localhost', '127.0.0.1', '192.168.100.2'], nodeTargetSans: { 'node-1': ['192.168.100.2'] } });
    });

    it('writes directories 0700, keys and secrets 0600, certificates 0644', async () => {
      const { paths } = first;
      for (const d of [out, paths.bus, paths.p4]) expect(await mode(d), d).to.equal(0o700);
      for (const p of [paths.busCa, paths.p4Ca, paths.natsServer, paths.target('node-1'), paths.p4Manager('node-1'), paths.identity({ kind: 'agent', node: 'node-1' })]) {
        expect(await mode(p.key), p.key).to.equal(0o600);
        expect(await mode(p.cert), p.cert).to.equal(0o644);
      }
      expect(await mode(paths.secrets)).to.equal(0o600);
    });

    it('issues each identity its CN, usage and SANs, ECDSA P-256, from the right one of the two CAs', async () => {
      const { paths } = first;
      const load = async (f: string): Promise<X509Certificate> => new X509Certificate(await readFile(f));
      const [busCa, p4Ca] = [await load(paths.busCa.cert), await load(paths.p4Ca.cert)];
      const expectations: [string, string, X509Certificate, string, string | undefined][] = [
        [paths.natsServer.cert, 'CN=nats-server', busCa, '1.3.6.1.5.5.7.3.1', 'DNS:localhost, IP Address:127.0.0.1, IP Address:192.168.100.2'],
        [paths.identity({ kind: 'agent', node: 'node-1' }).cert, 'CN=agent.node-1', busCa, '1.3.6.1.5.5.7.3.2', undefined],
        [paths.identity({ kind: 'manager', node: 'node-1' }).cert, 'CN=manager.node-1', busCa, '1.3.6.1.5.5.7.3.2', undefined],
        [paths.identity({ kind: 'operator', name: 'offloadctl' }).cert, 'CN=offloadctl', busCa, '1.3.6.1.5.5.7.3.2', undefined],
        [paths.target('node-1').cert, 'CN=target.node-1', p4Ca, '1.3.6.1.5.5.7.3.1', 'DNS:target.node-1, DNS:localhost, IP Address:127.0.0.1, IP Address:192.168.100.2'],
        [paths.p4Manager('node-1').cert, 'CN=manager.node-1', p4Ca, '1.3.6.1.5.5.7.3.2', undefined],
      ];
      for (const [file, subject, ca, usage, sans] of expectations) {
        const c = await load(file);
        expect(c.subject, file).to.equal(subject);
        expect(c.checkIssued(ca) && c.verify(ca.publicKey), `${file} signed by ${ca.subject}`).to.equal(true);
        expect(c.keyUsage, file).to.deep.equal([usage]);
        expect(c.subjectAltName, file).to.equal(sans);
        expect(c.publicKey.asymmetricKeyDetails?.namedCurve, file).to.equal('prime256v1');
      }
    });

    it('re-running keeps everything; a new node adds only its own; new SANs reissue only that certificate', async () => {
      const again = await generateDeployment({ outDir: out, nodes: ['node-1'], natsSans: ['localhost', '127.0.0.1', '192.168.100.2'], nodeTargetSans: { 'node-1': ['192.168.100.2'] } });
      expect(new Set(again.actions.map((a) => a.action))).to.deep.equal(new Set(['kept']));
      const grown = actionsOf(await generateDeployment({ outDir: out, nodes: ['node-1', 'node-2'], natsSans: ['localhost', '127.0.0.1'], nodeTargetSans: { 'node-1': ['192.168.100.2'] } }));
      expect(grown).to.include({ 'bus/ca.crt': 'kept', 'p4/ca.crt': 'kept', 'bus/agent.node-1.crt': 'kept', 'bus/agent.node-2.crt': 'created', 'p4/target.node-2.crt': 'created' });
      expect(grown['bus/nats-server.crt'], 'SANs changed').to.equal('renewed');
    });

    it('asking for RSA reissues the leaves with RSA keys, keeping the CAs', async () => {
      const r = await generateDeployment({ outDir: out, nodes: ['node-1'], natsSans: ['localhost'], key: { type: 'rsa', bits: 2048 } });
      expect(actionsOf(r)).to.include({ 'bus/ca.crt': 'kept', 'bus/agent.node-1.crt': 'renewed' });
      expect(r.actions.find((a) => a.file.endsWith('agent.node-1.crt'))?.reason).to.equal('key type changed');
      const c = new X509Certificate(await readFile(r.paths.identity({ kind: 'agent', node: 'node-1' }).cert));
      expect(c.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(2048);
    });

    it('--force replaces the CAs and so reissues every leaf', async () => {
      const before = await readFile(first.paths.busCa.cert, 'utf8');
      const r = await generateDeployment({ outDir: out, nodes: ['node-1'], force: true });
      expect(await readFile(first.paths.busCa.cert, 'utf8')).to.not.equal(before);
      const leaves = r.actions.filter((a) => !a.file.endsWith('/ca.crt'));
      expect(leaves.every((a) => a.action === 'renewed' && a.reason === 'not signed by the current CA'), JSON.stringify(leaves)).to.equal(true);
    });

    it('refuses to silently replace a corrupted CA, and says to use --force', async () => {
      const broken = join(dir, 'broken');
      const r = await generateDeployment({ outDir: broken, nodes: ['node-1'] });
      await writeFile(r.paths.busCa.cert, 'garbage\n');
      const failure = await generateDeployment({ outDir: broken, nodes: ['node-1'] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).to.be.instanceOf(CertToolError);
      expect((failure as Error).message).to.match(/ca\.crt cannot be used: it is corrupted.*--force/);
    });
  });

  it('writes one kubernetes.io/tls Secret per certificate holder, with the CA beside the pair', async () => {
    const text = await readFile(pki.deployment.paths.secrets, 'utf8');
    const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind: string; type: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; data: Record<string, string> });
    // nats-server + 2 nodes × (agent, manager, p4 target, p4 manager) + offloadctl
    expect(docs.map((d) => d.metadata.name).sort()).to.deep.equal(
      ['nats-server', 'agent-node-a', 'agent-node-b', 'manager-node-a', 'manager-node-b', 'operator-offloadctl', 'p4-target-node-a', 'p4-target-node-b', 'p4-manager-node-a', 'p4-manager-node-b'].map((n) => `infra-offload-${n}`).sort(),
    );
    const agent = docs.find((d) => d.metadata.name === 'infra-offload-agent-node-a')!;
    expect([agent.kind, agent.type, agent.metadata.namespace, agent.metadata.labels['infra-offload/node']]).to.deep.equal(['Secret', 'kubernetes.io/tls', 'infra-offload', 'node-a']);
    const own = pki.deployment.paths.identity({ kind: 'agent', node: 'node-a' });
    expect(Buffer.from(agent.data['tls.crt']!, 'base64').toString()).to.equal(await readFile(own.cert, 'utf8'));
    expect(Buffer.from(agent.data['ca.crt']!, 'base64').toString()).to.equal(await readFile(pki.deployment.paths.busCa.cert, 'utf8'));
  });

  describe('NATS permissions', () => {
    const agent: Identity = { kind: 'agent', node: 'a.example' };
    it('confine an agent to its node (dots in a node name become "_") and its own inbox', () => {
      const p = permissionsFor(agent);
      expect(p.publish).to.deep.equal(['infra.v1.a_example.manager.>', 'infra.v1.a_example.events.>']);
      expect(p.subscribe).to.deep.equal(['infra.v1.a_example.agent.>', 'infra.v1.a_example.ctl.agent.>', 'infra.v1.a_example.events.>', '_INBOX_agent_a_example.>']);
      expect(p.allowResponses).to.equal(true);
    });
    it('give the operator read-only ctl operations and no replying', () => {
      const p = permissionsFor({ kind: 'operator', name: 'offloadctl' });
      const ops = ['state', 'tree', 'pods', 'tables', 'services', 'leadership'];
      expect(p).to.deep.equal({ publish: ops.map((op) => `infra.v1.*.ctl.*.${op}`), subscribe: ['infra.v1.*.events.>', '_INBOX_ctl_offloadctl.>'], allowResponses: false });
      // Exactly the ctl operations the processes serve: each one only reads.
      expect([...DEFAULT_OPERATOR_OPS].sort()).to.deep.equal([...CTL_READ_OPS].sort());
    });
    it('refuse two identities with one user name or inbox', () => {
      const tls = { certFile: 'c', keyFile: 'k', caFile: 'a' };
      expect(() => natsAuthConfig({ tls, identities: [agent, agent] })).to.throw(/share "CN=agent\.a\.example"/);
      expect(inboxPrefix(agent)).to.equal('_INBOX_agent_a_example');
    });
  });

  describe('inspectTlsFiles (what a process checks before it starts)', () => {
    const cases: { name: string; files: () => TlsFiles; usage?: 'server' | 'client'; problem: TlsProblem; message: RegExp }[] = [
      { name: 'a missing CA file', files: () => ({ caFile: join(dir, 'nope.crt') }), problem: 'missing', message: /does not exist/ },
      { name: 'a CA path that is a directory', files: () => ({ caFile: dir }), problem: 'unreadable', message: /cannot be read \(EISDIR\)/ },
      { name: 'a corrupted CA file', files: () => ({ caFile: pki.bad.garbage }), problem: 'corrupt', message: /holds no PEM certificate/ },
      { name: 'a leaf given as the CA', files: () => ({ caFile: pki.deployment.paths.natsServer.cert }), problem: 'not-a-ca', message: /not a CA certificate/ },
      { name: 'an expired certificate', files: () => ({ caFile: busCa(), certFile: pki.bad.expiredBus.cert, keyFile: pki.bad.expiredBus.key }), problem: 'expired', message: /expired on/ },
      { name: 'a certificate from another CA', files: () => ({ caFile: busCa(), certFile: pki.bad.foreignClient.cert, keyFile: pki.bad.foreignClient.key }), problem: 'wrong-ca', message: /is not signed by the CA/ },
      { name: 'a key of another certificate', files: () => ({ caFile: busCa(), certFile: agentA().cert, keyFile: pki.bad.stranger.key }), problem: 'key-mismatch', message: /does not belong/ },
      { name: 'a corrupted key', files: () => ({ caFile: busCa(), certFile: agentA().cert, keyFile: pki.bad.garbage }), problem: 'corrupt', message: /private key .* is corrupted/ },
      { name: 'a client certificate used to serve', files: () => ({ caFile: busCa(), certFile: agentA().cert, keyFile: agentA().key }), usage: 'server', problem: 'wrong-usage', message: /not a TLS server certificate/ },
      { name: 'a certificate without its key', files: () => ({ caFile: busCa(), certFile: agentA().cert }), problem: 'incomplete', message: /go together/ },
    ];
    const busCa = (): string => pki.deployment.paths.busCa.cert;
    const agentA = (): { cert: string; key: string } => pki.deployment.paths.identity({ kind: 'agent', node: 'node-a' });

    it('accept a good set, and warn about a key others can read', async () => {
      const copy = join(dir, 'loose.key');
      await writeFile(copy, await readFile(agentA().key));
      await chmod(copy, 0o644);
      const r = inspectTlsFiles({ caFile: busCa(), certFile: agentA().cert, keyFile: copy }, { usage: 'client' });
      expect(r.ok && r.value.certificate?.subject).to.equal('CN=agent.node-a');
      expect(r.ok && r.value.warnings.join()).to.match(/readable by group or others/);
    });
    for (const c of cases) {
      it(`name ${c.name}: ${c.problem}`, () => {
        const r = inspectTlsFiles(c.files(), c.usage ? { usage: c.usage } : {});
        expect(r.ok).to.equal(false);
        if (r.ok) return;
        expect(r.error.problem).to.equal(c.problem);
        expect(r.error.message).to.match(c.message);
      });
    }
  });

  describe('bin/certs', () => {
    const run = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
      const { command, args: pre } = binCommand('certs');
      return spawnSync(command, [...pre, ...args], { encoding: 'utf8', timeout: 10_000 });
    };
    it('generates a deployment, then check accepts its files', async () => {
      const out = join(dir, 'cli');
      await mkdir(out);
      const gen = run(['--out', out, '--node', 'node-1', '--json']);
      expect(gen.status, gen.stderr).to.equal(0);
      expect((JSON.parse(gen.stdout) as { actions: unknown[] }).actions).to.have.length(8);
      const ok = run(['check', '--ca', join(out, 'p4/ca.crt'), '--cert', join(out, 'p4/target.node-1.crt'), '--key', join(out, 'p4/target.node-1.key'), '--usage', 'server']);
      expect(ok.status, ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(/^ok: CN=target\.node-1/);
    });
    it('check exits 1 naming a corrupted CA file; bad flags exit 2', () => {
      const bad = run(['check', '--ca', pki.bad.garbage]);
      expect(bad.status).to.equal(1);
      expect(bad.stderr).to.match(/certs: corrupt: CA file .* holds no PEM certificate/);
      expect(run(['--out', dir, '--bogus']).status).to.equal(2);
    });
  });
});
