/**
 * The security tests' shared pieces: a deployment's certificates generated into a temp dir at
 * test time (never committed), the extra certificates that must be refused, and ways to observe
 * a refusal (the error of a connection that gives up at once, the status events of a client).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { generateDeployment, type CertPaths, type DeploymentReport } from '../../deploy/certs/deployment.js';
import { inboxPrefix, type Identity } from '../../deploy/certs/identities.js';
import { createCa, issueCertificate, type Pem } from '../../deploy/certs/issue.js';

export const NODE_A = 'node-a';
export const NODE_B = 'node-b';
export const AGENT_A: Identity = { kind: 'agent', node: NODE_A };
export const AGENT_B: Identity = { kind: 'agent', node: NODE_B };
export const MANAGER_A: Identity = { kind: 'manager', node: NODE_A };
export const OPERATOR: Identity = { kind: 'operator', name: 'offloadctl' };

/** Certificates that must all be refused, each beside a deployment that works. */
export interface BadCerts {
  /** Self-signed, CN=agent.node-a: the right name, no issuer anyone trusts. */
  readonly selfSigned: CertPaths;
  /** CN=agent.node-a (client) and CN=target.node-a (server) from a CA nobody trusts. */
  readonly foreignClient: CertPaths;
  readonly foreignServer: CertPaths;
  /** Right CA, right name, expired yesterday. */
  readonly expiredBus: CertPaths;
  readonly expiredP4: CertPaths;
  /** Signed by the bus CA, but its subject is no NATS user. */
  readonly stranger: CertPaths;
  /** A NATS server certificate (bus CA) that does not name 127.0.0.1. */
  readonly natsWrongSan: CertPaths;
  /** A "CA file" that holds no certificate. */
  readonly garbage: string;
}

export interface TestPki {
  readonly dir: string;
  readonly deployment: DeploymentReport;
  readonly bad: BadCerts;
  cleanup(): Promise<void>;
}

/** Generates a two-node deployment plus the bad certificates into a fresh temp dir. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-security-'));
  const deployment = await generateDeployment({ outDir: join(dir, 'certs'), nodes: [NODE_A, NODE_B], days: 2 });
  const { paths } = deployment;
  const busCa = await readPem(paths.busCa);
  const p4Ca = await readPem(paths.p4Ca);
  const foreignCa = await createCa({ commonName: 'someone else CA', days: 2 });
  const expired = { notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) };
  const save = async (name: string, pem: Pem): Promise<CertPaths> => {
    const p = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    await writeFile(p.cert, pem.certPem);
    await writeFile(p.key, pem.keyPem, { mode: 0o600 });
    return p;
  };
  const bad: BadCerts = {
    selfSigned: await save('self-signed', await issueCertificate({ commonName: 'agent.node-a', usage: 'client' })),
    foreignClient: await save('foreign-client', await issueCertificate({ ca: foreignCa, commonName: 'agent.node-a', usage: 'client' })),
    foreignServer: await save('foreign-server', await issueCertificate({ ca: foreignCa, commonName: 'target.node-a', usage: 'server', sans: ['127.0.0.1'] })),
    expiredBus: await save('expired-bus', await issueCertificate({ ca: busCa, commonName: 'agent.node-a', usage: 'client', validity: expired })),
    expiredP4: await save('expired-p4', await issueCertificate({ ca: p4Ca, commonName: 'manager.node-a', usage: 'client', validity: expired })),
    stranger: await save('stranger', await issueCertificate({ ca: busCa, commonName: 'agent.node-z', usage: 'client' })),
    natsWrongSan: await save('nats-wrong-san', await issueCertificate({ ca: busCa, commonName: 'nats-server', usage: 'server', sans: ['nats.elsewhere.example'] })),
    garbage: join(dir, 'garbage-ca.crt'),
  };
  await writeFile(bad.garbage, 'this is not a certificate\n');
  return { dir, deployment, bad, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function readPem(paths: CertPaths): Promise<Pem> {
  return { certPem: await readFile(paths.cert, 'utf8'), keyPem: await readFile(paths.key, 'utf8') };
}

/** A Bus for one identity, as a process would connect: its certificate, its own inbox prefix. */
export function identityBus(url: string, pki: TestPki, id: Identity): Promise<Bus> {
  const own = pki.deployment.paths.identity(id);
  return Bus.connect({
    servers: url,
    name: `${id.kind}-test`,
    logger: silentLogs().root,
    timeoutMs: 1000,
    inboxPrefix: inboxPrefix(id),
    tls: { caFile: pki.deployment.paths.busCa.cert, certFile: own.cert, keyFile: own.key },
  });
}

/**
 * Connects once, without retrying (Bus retries forever and would hide the refusal), and returns
 * the error that ended the attempt; fails the test if the connection was accepted.
 */
export async function refusedConnection(url: string, tls: { caFile: string; certFile?: string; keyFile?: string }): Promise<Error & { code?: string }> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, tls, reconnect: false, timeout: 3000 });
  } catch (e) {
    return e as Error & { code?: string };
  }
  await nc.close();
  throw new Error('the server accepted a connection it should have refused');
}

/** Collects a connection's status errors from now on; `next` waits for one that matches. */
export function statusErrors(nc: NatsConnection): { next(match: RegExp, ms?: number): Promise<Error> } {
  const seen: Error[] = [];
  const waiters: { match: RegExp; resolve: (e: Error) => void }[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'error') continue;
      seen.push(s.error);
      for (const w of waiters.filter((x) => x.match.test(s.error.message))) w.resolve(s.error);
    }
  })();
  return {
    next(match, ms = 2000) {
      const already = seen.find((e) => match.test(e.message));
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no status error matching ${match} within ${ms} ms (saw: ${seen.map((e) => e.message).join('; ')})`)), ms);
        waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
  };
}

/** Resolves with what `p` resolves to, or rejects after `ms` naming `what`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]);
}
