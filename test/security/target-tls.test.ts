/**
 * Mutual TLS on our P4Runtime target (bin/target as its own process, --tls-cert/--tls-key/
 * --tls-ca) with the P4RuntimeClient, certificates generated for this run. Each refused call is
 * observed as UNAVAILABLE with the handshake's reason in its details; the manager's own
 * certificate succeeds against the same target in the same run. Then bin/target is given bad
 * files and must never serve anyone.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { P4RuntimeClient, type ClientTls } from '../../p4/runtime-client.js';
import { binCommand } from '../../simulations/processes.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';
import { makeTestPki, NODE_A, type TestPki } from './support.js';

const UNAVAILABLE = 14;
const read = (f: string): Buffer => readFileSync(f);

/** The call's failure (a P4RuntimeError / grpc ServiceError); fails the test if it succeeded. */
async function refusedCall(address: string, tls?: ClientTls): Promise<{ code: number; message: string }> {
  const client = new P4RuntimeClient(address, tls);
  try {
    await client.capabilities();
  } catch (e) {
    return e as { code: number; message: string };
  } finally {
    client.close();
  }
  throw new Error('the target served a client it should have refused');
}

/**
 * The server's verdict on a set of credentials, from a bare TLS 1.2 handshake (the server checks
 * the client certificate before its Finished): 'accepted', or how the server ended it. gRPC
 * reports any refusal as UNAVAILABLE, often without the reason; the server (grpc-js over Node
 * TLS) then either sends its alert (40 no certificate, 48 unknown CA, 45 expired) or just drops
 * the socket, so the verdict is that alert or a reset — never 'accepted', while the manager's
 * credentials on the same target are.
 */
function serverVerdict(address: string, tls: ClientTls): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port: Number(port),
      ca: tls.ca,
      ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
      servername: tls.serverName ?? `target.${NODE_A}`,
      maxVersion: 'TLSv1.2',
      ALPNProtocols: ['h2'],
    });
    socket.once('secureConnect', () => (socket.destroy(), resolve('accepted')));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

interface Launched {
  /** Where it listens, if it started; otherwise how it exited. */
  readonly address?: string;
  readonly exitCode?: number | null;
  readonly output: string;
  stop(): Promise<void>;
}

/**
 * Runs bin/target on a free TCP port with these args until it says it is ready or exits.
 * (startTarget throws away the exit code and, when the start fails, leaves its temp dir.)
 */
function launchTarget(args: readonly string[]): Promise<Launched> {
  const { command, args: pre } = binCommand('target');
  const child = spawn(command, [...pre, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ output: `${output}\n(neither ready nor exited in 8 s)`, exitCode: null, stop }), 8000);
    const take = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const ready = /\{"ready":true,"port":(\d+)\}/.exec(output);
      if (ready) (clearTimeout(timer), resolve({ address: `127.0.0.1:${ready[1]}`, output, stop }));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    void exited.then((exitCode) => (clearTimeout(timer), resolve({ exitCode, output, stop })));
  });
}

describe('P4Runtime target mutual TLS (bin/target process, P4RuntimeClient)', function () {
  this.timeout(15_000);
  let pki: TestPki;
  let target: TargetProcess;
  let manager: () => ClientTls;

  before(async () => {
    pki = await makeTestPki();
    const { paths } = pki.deployment;
    const own = paths.target(NODE_A);
    target = await startTarget({ transport: 'tcp', args: ['--tls-cert', own.cert, '--tls-key', own.key, '--tls-ca', paths.p4Ca.cert] });
    const m = paths.p4Manager(NODE_A);
    manager = () => ({ ca: read(paths.p4Ca.cert), cert: read(m.cert), key: read(m.key), serverName: `target.${NODE_A}` });
  });
  after(async () => {
    await target?.stop();
    await pki?.cleanup();
  });

  it("serves the manager's P4Runtime client certificate (the legitimate path)", async () => {
    const client = new P4RuntimeClient(target.address, manager());
    try {
      expect(await client.capabilities()).to.have.property('p4runtime_api_version');
    } finally {
      client.close();
    }
    expect(await serverVerdict(target.address, manager())).to.equal('accepted');
  });

  it('refuses a client without credentials (plaintext): UNAVAILABLE', async () => {
    const e = await refusedCall(target.address, undefined);
    expect(e.code, e.message).to.equal(UNAVAILABLE);
  });

  const refusedByServer: { name: string; tls: () => ClientTls; alert: string }[] = [
    { name: 'a client without a certificate', tls: () => ({ ...manager(), cert: undefined, key: undefined }), alert: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' },
    { name: 'a self-signed client certificate', tls: () => ({ ...manager(), cert: read(pki.bad.selfSigned.cert), key: read(pki.bad.selfSigned.key) }), alert: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' },
    { name: 'a client certificate from a foreign CA', tls: () => ({ ...manager(), cert: read(pki.bad.foreignClient.cert), key: read(pki.bad.foreignClient.key) }), alert: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' },
    {
      name: "an agent's bus certificate (our other CA: no bus identity programs a device)",
      tls: () => {
        const agent = pki.deployment.paths.identity({ kind: 'agent', node: NODE_A });
        return { ...manager(), cert: read(agent.cert), key: read(agent.key) };
      },
      alert: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    },
    { name: 'an expired client certificate from the right CA', tls: () => ({ ...manager(), cert: read(pki.bad.expiredP4.cert), key: read(pki.bad.expiredP4.key) }), alert: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED' },
  ];
  for (const c of refusedByServer) {
    it(`refuses ${c.name}: UNAVAILABLE, and the server's alert says why`, async () => {
      const e = await refusedCall(target.address, c.tls());
      expect(e.code, e.message).to.equal(UNAVAILABLE);
      expect([c.alert, 'ECONNRESET']).to.include(await serverVerdict(target.address, c.tls()));
    });
  }

  const refusedByClient: { name: string; tls: () => ClientTls; reason: RegExp }[] = [
    { name: 'a server whose certificate does not carry the expected name (wrong SAN)', tls: () => ({ ...manager(), serverName: 'wrong.example' }), reason: /ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/ },
    { name: 'a server it cannot chain to its CA (client trusts the bus CA)', tls: () => ({ ...manager(), ca: read(pki.deployment.paths.busCa.cert) }), reason: /self[- ]signed certificate in certificate chain/ },
  ];
  for (const c of refusedByClient) {
    it(`the client refuses ${c.name}: UNAVAILABLE with its reason`, async () => {
      const e = await refusedCall(target.address, c.tls());
      expect(e.code, e.message).to.equal(UNAVAILABLE);
      expect(e.message, e.message).to.match(c.reason);
    });
  }

  describe('bin/target given bad TLS files never serves', () => {
    const bad: { name: string; args: () => string[]; message: RegExp }[] = [
      { name: 'a corrupted --tls-ca', args: () => withFiles({ ca: pki.bad.garbage }), message: /ca|certificate/i },
      { name: 'a missing --tls-ca file', args: () => withFiles({ ca: `${pki.dir}/absent-ca.crt` }), message: /ENOENT|does not exist/ },
      { name: 'an expired server certificate', args: () => withFiles({ cert: pki.bad.expiredP4.cert, key: pki.bad.expiredP4.key }), message: /expired/i },
      { name: 'a key that is not the certificate’s', args: () => withFiles({ key: pki.bad.foreignServer.key }), message: /key/i },
      { name: 'a server certificate from a foreign CA', args: () => withFiles({ cert: pki.bad.foreignServer.cert, key: pki.bad.foreignServer.key }), message: /CA|signed/i },
    ];
    const outcomes = new Map<string, Launched>();
    const withFiles = (f: { ca?: string; cert?: string; key?: string }): string[] => {
      const own = pki.deployment.paths.target(NODE_A);
      return ['--tls-cert', f.cert ?? own.cert, '--tls-key', f.key ?? own.key, '--tls-ca', f.ca ?? pki.deployment.paths.p4Ca.cert];
    };

    before(async () => {
      await Promise.all(bad.map(async (b) => outcomes.set(b.name, await launchTarget(b.args()))));
    });
    after(async () => {
      await Promise.all([...outcomes.values()].map((o) => o.stop()));
    });

    for (const b of bad) {
      it(`${b.name}: exits non-zero, or (if it starts) refuses even the manager`, async () => {
        const o = outcomes.get(b.name)!;
        if (o.address === undefined) {
          expect(o.exitCode, o.output).to.be.greaterThan(0);
          return;
        }
        const e = await refusedCall(o.address, manager());
        expect(e.code, e.message).to.equal(UNAVAILABLE);
      });

      it(`${b.name}: refuses to start with a non-zero exit and a clear message`, () => {
        const o = outcomes.get(b.name)!;
        // bin/target checks its TLS files before listening (deploy/certs/check.ts): it must never start degraded.
        expect(o.address, `started degraded:\n${o.output}`).to.equal(undefined);
        expect(o.exitCode, o.output).to.be.greaterThan(0);
        expect(o.output).to.match(b.message);
      });
    }
  });
});
