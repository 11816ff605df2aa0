/**
 * Generates every certificate of a deployment into one directory, idempotently:
 *
 *   <out>/bus/ca.crt ca.key                 the bus CA (NATS: server and every client)
 *   <out>/bus/nats-server.crt .key          NATS server (SANs: localhost, 127.0.0.1, the ACC's address…)
 *   <out>/bus/agent.<node>.crt .key         CN=agent.<node>     ┐ NATS users
 *   <out>/bus/manager.<node>.crt .key       CN=manager.<node>   │ (verify_and_map)
 *   <out>/bus/<operator>.crt .key           CN=offloadctl       ┘
 *   <out>/bus/nats-auth.conf                tls + authorization blocks for nats-server
 *   <out>/p4/ca.crt ca.key                  the P4Runtime CA
 *   <out>/p4/target.<node>.crt .key         the node's P4Runtime target (server)
 *   <out>/p4/manager.<node>.crt .key        the node's manager as P4Runtime client
 *   <out>/secrets.yaml                      Kubernetes TLS Secrets of all the above
 *
 * Two CAs on purpose: the target trusts only the P4 CA, so no bus identity (an agent, an
 * operator) can ever program a device with its certificate.
 *
 * Re-running keeps a usable CA (replacing it would invalidate every certificate in the field)
 * unless `force`, and keeps each leaf that is still signed by it, has the same SANs, usage and
 * key type, and is not about to expire; anything else is reissued, with the reason reported.
 *
 * @example
 * const r = await generateDeployment({ outDir: './certs', nodes: ['node-1'], natsSans: ['192.168.100.2'] });
 * for (const a of r.actions) console.log(a.action, a.file, a.reason ?? '');
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join, resolve } from 'node:path';
import { natsAuthConfig } from '../nats/authorization.js';
import { CERT_MODE, ensurePrivateDir, KEY_MODE, readIfExists, writeAtomic } from './files.js';
import { commonName, DEFAULT_OPERATOR, deploymentIdentities, type Identity } from './identities.js';
import { createCa, DEFAULT_KEY, issueCertificate, sanEntry, type KeySpec, type Pem, type Usage } from './issue.js';
import { secretsYaml, type SecretSource } from './secrets.js';

export interface DeploymentOptions {
  readonly outDir: string;
  readonly nodes: readonly string[];
  /** Operator identities (default ["offloadctl"]). */
  readonly operators?: readonly string[];
  /** SANs of the NATS server certificate (default localhost, 127.0.0.1, ::1); add the ACC's comms address. */
  readonly natsSans?: readonly string[];
  /** SANs of every node's target certificate (default localhost, 127.0.0.1); "target.<node>" is always added. */
  readonly targetSans?: readonly string[];
  /** Extra SANs of one node's target certificate (e.g. that node's ACC address). */
  readonly nodeTargetSans?: Readonly<Record<string, readonly string[]>>;
  /** Leaf validity in days (default 365) and the CAs' (default 3650). */
  readonly days?: number;
  readonly caDays?: number;
  readonly key?: KeySpec;
  /** Reissue leaves that expire within this many days (default 30, at most a third of `days`). */
  readonly renewWithinDays?: number;
  /** Replace the CAs (and so every certificate). */
  readonly force?: boolean;
  /** Namespace of the Secret manifests (default "infra-offload"). */
  readonly namespace?: string;
  /** Where nats-server will find the bus files, as written in nats-auth.conf (default: <out>/bus). */
  readonly natsCertDir?: string;
  readonly leaseBucket?: string;
}

export type Action = 'created' | 'kept' | 'renewed';

export interface FileAction {
  readonly file: string;
  readonly action: Action;
  readonly reason?: string;
}

export interface DeploymentReport {
  readonly actions: readonly FileAction[];
  readonly identities: readonly Identity[];
  readonly paths: DeploymentPaths;
}

/** A CA that exists but cannot be kept; the message says how to replace it. */
export class CertToolError extends Error {
  override readonly name = 'CertToolError';
}

export interface CertPaths {
  readonly cert: string;
  readonly key: string;
}

/** Where each file of a deployment lives (the layout above). */
export function deploymentPaths(outDir: string): DeploymentPaths {
  const bus = join(outDir, 'bus');
  const p4 = join(outDir, 'p4');
  const pair = (dir: string, stem: string): CertPaths => ({ cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`) });
  return {
    bus,
    p4,
    busCa: pair(bus, 'ca'),
    natsServer: pair(bus, 'nats-server'),
    identity: (id: Identity) => pair(bus, commonName(id)),
    natsConfig: join(bus, 'nats-auth.conf'),
    p4Ca: pair(p4, 'ca'),
    target: (node: string) => pair(p4, `target.${node}`),
    p4Manager: (node: string) => pair(p4, `manager.${node}`),
    secrets: join(outDir, 'secrets.yaml'),
  };
}

export interface DeploymentPaths {
  readonly bus: string;
  readonly p4: string;
  readonly busCa: CertPaths;
  readonly natsServer: CertPaths;
  readonly identity: (id: Identity) => CertPaths;
  readonly natsConfig: string;
  readonly p4Ca: CertPaths;
  readonly target: (node: string) => CertPaths;
  readonly p4Manager: (node: string) => CertPaths;
  readonly secrets: string;
}

interface LeafSpec {
  readonly paths: CertPaths;
  readonly commonName: string;
  readonly usage: Usage;
  readonly sans: readonly string[];
  readonly secret: { readonly name: string; readonly role: string; readonly node?: string };
}

interface Run {
  readonly options: DeploymentOptions;
  readonly key: KeySpec;
  readonly days: number;
  readonly renewMs: number;
  readonly actions: FileAction[];
}

const DAY_MS = 86_400_000;

/** Creates or refreshes every file of the layout; see the module comment for what is kept. */
export async function generateDeployment(options: DeploymentOptions): Promise<DeploymentReport> {
  if (options.nodes.length === 0) throw new CertToolError('at least one node is needed');
  const outDir = resolve(options.outDir);
  const paths = deploymentPaths(outDir);
  const identities = deploymentIdentities(options.nodes, options.operators ?? [DEFAULT_OPERATOR]);
  const days = options.days ?? 365;
  const run: Run = { options, key: options.key ?? DEFAULT_KEY, days, renewMs: Math.min(options.renewWithinDays ?? 30, days / 3) * DAY_MS, actions: [] };
  for (const dir of [outDir, paths.bus, paths.p4]) await ensurePrivateDir(dir);

  const busCa = await ensureCa(run, paths.busCa, 'infra-offload bus CA');
  const p4Ca = await ensureCa(run, paths.p4Ca, 'infra-offload p4runtime CA');
  // Leaves are independent: issue them concurrently (openssl runs as separate processes).
  const leaves = await Promise.all([
    ...busLeaves(options, paths, identities).map((spec) => ensureLeaf(run, spec, busCa)),
    ...p4Leaves(options, paths).map((spec) => ensureLeaf(run, spec, p4Ca)),
  ]);
  run.actions.push(...leaves.map((l) => l.action));
  const secrets = leaves.map((l) => l.secret);

  const certDir = options.natsCertDir ?? paths.bus;
  const config = natsAuthConfig({
    tls: { certFile: join(certDir, 'nats-server.crt'), keyFile: join(certDir, 'nats-server.key'), caFile: join(certDir, 'ca.crt') },
    identities,
    ...(options.leaseBucket ? { leaseBucket: options.leaseBucket } : {}),
  });
  await writeAtomic(paths.natsConfig, config, CERT_MODE);
  await writeAtomic(paths.secrets, secretsYaml(secrets, options.namespace ?? 'infra-offload'), KEY_MODE);
  return { actions: run.actions, identities, paths };
}

function busLeaves(options: DeploymentOptions, paths: DeploymentPaths, identities: readonly Identity[]): LeafSpec[] {
  const nats: LeafSpec = {
    paths: paths.natsServer,
    commonName: 'nats-server',
    usage: 'server',
    sans: options.natsSans ?? ['localhost', '127.0.0.1', '::1'],
    secret: { name: 'infra-offload-nats-server', role: 'nats-server' },
  };
  const clients = identities.map((id): LeafSpec => {
    const secret = id.kind === 'operator' ? { name: `infra-offload-operator-${id.name}`, role: 'operator' } : { name: `infra-offload-${id.kind}-${id.node}`, role: id.kind, node: id.node };
    return { paths: paths.identity(id), commonName: commonName(id), usage: 'client', sans: [], secret };
  });
  return [nats, ...clients];
}

function p4Leaves(options: DeploymentOptions, paths: DeploymentPaths): LeafSpec[] {
  return options.nodes.flatMap((node): LeafSpec[] => [
    {
      paths: paths.target(node),
      commonName: `target.${node}`,
      usage: 'server',
      sans: [`target.${node}`, ...(options.targetSans ?? ['localhost', '127.0.0.1']), ...(options.nodeTargetSans?.[node] ?? [])],
      secret: { name: `infra-offload-p4-target-${node}`, role: 'p4-target', node },
    },
    {
      paths: paths.p4Manager(node),
      commonName: `manager.${node}`,
      usage: 'client',
      sans: [],
      secret: { name: `infra-offload-p4-manager-${node}`, role: 'p4-manager', node },
    },
  ]);
}

/** Keeps a usable CA, creates a missing one, refuses to silently replace a broken one. */
async function ensureCa(run: Run, paths: CertPaths, name: string): Promise<Pem> {
  const [certPem, keyPem] = [await readIfExists(paths.cert), await readIfExists(paths.key)];
  const existing = certPem !== undefined || keyPem !== undefined;
  if (existing && !run.options.force) {
    const problem = certPem === undefined || keyPem === undefined ? 'its certificate or key is missing' : caProblem(certPem, keyPem);
    if (problem) {
      throw new CertToolError(`the existing CA ${paths.cert} cannot be used: ${problem}. Re-run with --force to replace it (every certificate is then reissued and must be redeployed).`);
    }
    run.actions.push({ file: paths.cert, action: 'kept' });
    return { certPem: certPem!, keyPem: keyPem! };
  }
  const ca = await createCa({ commonName: name, days: run.options.caDays ?? 3650, key: run.key });
  await writeAtomic(paths.key, ca.keyPem, KEY_MODE);
  await writeAtomic(paths.cert, ca.certPem, CERT_MODE);
  run.actions.push({ file: paths.cert, action: existing ? 'renewed' : 'created', ...(existing ? { reason: 'forced' } : {}) });
  return ca;
}

function caProblem(certPem: string, keyPem: string): string | undefined {
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.ca) return 'it is not a CA certificate';
    if (new Date(cert.validTo) < new Date()) return `it expired on ${cert.validTo}`;
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'the key does not belong to the certificate';
    return undefined;
  } catch (e) {
    return `it is corrupted (${(e as Error).message})`;
  }
}

async function ensureLeaf(run: Run, spec: LeafSpec, ca: Pem): Promise<{ action: FileAction; secret: SecretSource }> {
  const [certPem, keyPem] = [await readIfExists(spec.paths.cert), await readIfExists(spec.paths.key)];
  const problem = certPem === undefined || keyPem === undefined ? undefined : leafProblem(run, spec, ca, certPem, keyPem);
  const secret = (pem: Pem): SecretSource => ({ ...spec.secret, certPem: pem.certPem, keyPem: pem.keyPem, caPem: ca.certPem });
  if (certPem !== undefined && keyPem !== undefined && problem === undefined) {
    return { action: { file: spec.paths.cert, action: 'kept' }, secret: secret({ certPem, keyPem }) };
  }
  const pem = await issueCertificate({ ca, commonName: spec.commonName, usage: spec.usage, sans: spec.sans, validity: { days: run.days }, key: run.key });
  // Key first: a crash in between leaves a new key with an old certificate, which the next run
  // sees as "key does not match" and reissues, never a certificate without its key.
  await writeAtomic(spec.paths.key, pem.keyPem, KEY_MODE);
  await writeAtomic(spec.paths.cert, pem.certPem, CERT_MODE);
  const action: FileAction = { file: spec.paths.cert, ...(problem ? { action: 'renewed', reason: problem } : { action: 'created' }) };
  return { action, secret: secret(pem) };
}

/** Why an existing leaf must be reissued, or undefined to keep it. */
function leafProblem(run: Run, spec: LeafSpec, ca: Pem, certPem: string, keyPem: string): string | undefined {
  try {
    const cert = new X509Certificate(certPem);
    const caCert = new X509Certificate(ca.certPem);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return 'not signed by the current CA';
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'key does not match';
    if (new Date(cert.validTo).getTime() - Date.now() < run.renewMs) return `expires on ${cert.validTo}`;
    if (cert.subject !== `CN=${spec.commonName}`) return `subject is ${cert.subject}`;
    if (sanKey(cert.subjectAltName ?? '') !== sanKey(spec.sans.map(sanEntry).join(', '))) return 'SANs changed';
    if (!(cert.keyUsage ?? []).includes(spec.usage === 'server' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2')) return 'usage changed';
    if (!sameKeyType(cert, run.key)) return 'key type changed';
    return undefined;
  } catch (e) {
    return `corrupted (${(e as Error).message})`;
  }
}

/** A SAN list as a sorted, canonical set: Node prints IPv6 expanded and says "IP Address:". */
function sanKey(text: string): string {
  const entries = text
    .split(/,\s*/)
    .filter((s) => s !== '')
    .map((s) => s.replace(/^IP Address:/, 'IP:'))
    .map((s) => (s.startsWith('IP:') && s.includes(':', 3) ? `IP:${new URL(`http://[${s.slice(3)}]`).hostname}` : s));
  return [...new Set(entries)].sort().join(',');
}

function sameKeyType(cert: X509Certificate, spec: KeySpec): boolean {
  const key = cert.publicKey;
  if (spec.type === 'ec') return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  return key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === (spec.bits ?? 2048);
}
