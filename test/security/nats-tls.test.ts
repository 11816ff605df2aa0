/**
 * Who may connect to the real nats-server at all: mutual TLS with verify_and_map, certificates
 * generated for this run. Every refused connection is observed as the error that ended it (a
 * TLS alert from the server, an Authorization Violation, the client's own hostname or chain
 * check), with a legitimate connection to the same server succeeding in the same run.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { connect } from '@nats-io/transport-node';
import { natsAuthConfig } from '../../deploy/nats/authorization.js';
import { NatsServerStartError, startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { AGENT_A, makeTestPki, refusedConnection, type TestPki } from './support.js';

/**
 * How a server-side TLS refusal reaches the client. With TLS 1.3 the client finishes its half of
 * the handshake before the server checks the client certificate, so the server's alert (42, 116)
 * and its closing the socket race: the client sees either the alert or a reset. The reason is
 * then read where it is certain, in the server's own log line for that handshake.
 */
const TLS_REFUSAL = /^(ERR_SSL_(SSLV3_ALERT_BAD_CERTIFICATE|TLSV13_ALERT_CERTIFICATE_REQUIRED|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_CERTIFICATE_EXPIRED)|ECONNRESET|EPIPE)$/;

describe('NATS mutual TLS: who may connect (real nats-server)', function () {
  this.timeout(10_000);
  let pki: TestPki;
  let nats: NatsServer;
  const serverLog: string[] = [];
  let caFile: string;

  before(async () => {
    pki = await makeTestPki();
    caFile = pki.deployment.paths.busCa.cert;
    const extraConfig = await readFile(pki.deployment.paths.natsConfig, 'utf8');
    nats = await startNatsServer({ jetstream: false, extraConfig, onLog: (l) => serverLog.push(l) });
  });
  after(async () => {
    await nats?.stop();
    await pki?.cleanup();
  });

  it("accepts agent A's own certificate (the legitimate path)", async () => {
    const own = pki.deployment.paths.identity(AGENT_A);
    const nc = await connect({ servers: nats.url, tls: { caFile, certFile: own.cert, keyFile: own.key }, reconnect: false, timeout: 3000 });
    await nc.flush();
    expect(nc.info?.tls_required).to.equal(true);
    await nc.close();
  });

  it('Bus.connect fails at once for an identity the server refuses, instead of retrying forever', async () => {
    const { Bus } = await import('../../messages/bus.js');
    const { silentLogs } = await import('../../core/logger.js');
    const started = Date.now();
    const refused = await Bus.connect({
      servers: nats.url,
      name: 'refused',
      logger: silentLogs().root,
      tls: { caFile, certFile: pki.bad.selfSigned.cert, keyFile: pki.bad.selfSigned.key },
    }).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(refused?.name).to.equal('BusError');
    expect(refused?.code).to.equal('PERMISSION_DENIED');
    expect(Date.now() - started).to.be.below(6000);
  });

  /** The server's log line about a handshake, from log line `from` on (it may trail the client's error). */
  async function serverSaid(from: number, match: RegExp): Promise<string> {
    for (let waited = 0; waited < 2000; waited += 20) {
      const line = serverLog.slice(from).find((l) => match.test(l));
      if (line) return line;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`the server never logged ${match}; it said:\n${serverLog.slice(from).join('\n')}`);
  }

  const refused: { name: string; tls: () => { caFile: string; certFile?: string; keyFile?: string }; log: RegExp }[] = [
    { name: 'no client certificate', tls: () => ({ caFile }), log: /TLS handshake error: .*didn't provide a certificate/ },
    { name: 'a self-signed certificate', tls: () => ({ caFile, certFile: pki.bad.selfSigned.cert, keyFile: pki.bad.selfSigned.key }), log: /TLS handshake error: .*signed by unknown authority/ },
    { name: 'a certificate from a foreign CA', tls: () => ({ caFile, certFile: pki.bad.foreignClient.cert, keyFile: pki.bad.foreignClient.key }), log: /TLS handshake error: .*signed by unknown authority/ },
    {
      name: "our own P4Runtime CA's manager certificate (the wrong one of our CAs)",
      tls: () => ({ caFile, certFile: pki.deployment.paths.p4Manager('node-a').cert, keyFile: pki.deployment.paths.p4Manager('node-a').key }),
      log: /TLS handshake error: .*signed by unknown authority/,
    },
    { name: 'an expired certificate from the right CA', tls: () => ({ caFile, certFile: pki.bad.expiredBus.cert, keyFile: pki.bad.expiredBus.key }), log: /TLS handshake error: .*certificate has expired/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}: the server ends the handshake and logs why`, async () => {
      const from = serverLog.length;
      const e = await refusedConnection(nats.url, c.tls());
      expect(e.code, e.message).to.match(TLS_REFUSAL);
      await serverSaid(from, c.log);
    });
  }

  it('refuses a valid certificate whose subject is no user: Authorization Violation', async () => {
    const e = await refusedConnection(nats.url, { caFile, certFile: pki.bad.stranger.cert, keyFile: pki.bad.stranger.key });
    expect(e.name).to.equal('AuthorizationError');
    expect(e.message).to.contain('Authorization Violation');
  });

  it('a client given a corrupted CA file cannot verify the server and does not connect', async () => {
    const own = pki.deployment.paths.identity(AGENT_A);
    const e = await refusedConnection(nats.url, { caFile: pki.bad.garbage, certFile: own.cert, keyFile: own.key });
    expect(`${e.code ?? ''} ${e.message}`).to.match(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT|self-signed|unable to (get|verify)/i);
  });

  it('the client verifies the server name: a server certificate without 127.0.0.1 is refused', async () => {
    const { paths } = pki.deployment;
    const wrong = await startNatsServer({
      jetstream: false,
      extraConfig: natsAuthConfig({ tls: { certFile: pki.bad.natsWrongSan.cert, keyFile: pki.bad.natsWrongSan.key, caFile }, identities: [AGENT_A] }),
    });
    try {
      const own = paths.identity(AGENT_A);
      const e = await refusedConnection(wrong.url, { caFile, certFile: own.cert, keyFile: own.key });
      expect(e.code, e.message).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      await wrong.stop();
    }
  });

  it('nats-server given a corrupted CA file refuses to start, saying why', async () => {
    const log: string[] = [];
    const { natsServer } = pki.deployment.paths;
    const failure = await startNatsServer({
      jetstream: false,
      extraConfig: natsAuthConfig({ tls: { certFile: natsServer.cert, keyFile: natsServer.key, caFile: pki.bad.garbage }, identities: [AGENT_A] }),
      onLog: (l) => log.push(l),
    }).then(
      async (s) => (await s.stop(), undefined),
      (e: unknown) => e,
    );
    expect(failure).to.be.instanceOf(NatsServerStartError);
    expect((failure as Error).message).to.match(/exited with code [1-9]/);
    expect(log.join('\n')).to.contain('failed to parse root ca certificate');
  });
});
