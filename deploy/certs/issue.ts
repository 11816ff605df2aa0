/**
 * Issues certificates: a CA, server and client certificates signed by it, and self-signed ones
 * (for tests that must be refused). Keys come from Node's crypto (ECDSA P-256 by default: fast
 * and small; RSA when a peer needs it); openssl signs. Everything is returned as PEM text: the
 * caller decides where it goes and with which permissions.
 *
 * @example
 * const ca = await createCa({ commonName: 'infra-offload bus CA', days: 3650 });
 * const server = await issueCertificate({ ca, commonName: 'nats-server', usage: 'server', sans: ['localhost', '127.0.0.1'] });
 * const expired = await issueCertificate({ ca, commonName: 'agent.node-1', usage: 'client',
 *   validity: { notBefore: new Date('2020-01-01'), notAfter: new Date('2020-01-02') } });
 */
import { generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { openssl, withScratch } from './openssl.js';

export type KeySpec = { readonly type: 'ec' } | { readonly type: 'rsa'; readonly bits?: number };
export const DEFAULT_KEY: KeySpec = { type: 'ec' };

export type Usage = 'server' | 'client';

/** Either a length from now (notBefore backdated 5 min for clock skew) or explicit dates. */
export type Validity = { readonly days: number } | { readonly notBefore: Date; readonly notAfter: Date };

export interface Pem {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CaOptions {
  readonly commonName: string;
  readonly days?: number;
  readonly key?: KeySpec;
}

export interface LeafOptions {
  /** The signing CA; absent: self-signed (only tests want that). */
  readonly ca?: Pem;
  readonly commonName: string;
  readonly usage: Usage;
  /** DNS names and IP addresses ("localhost", "10.0.0.2", or explicit "DNS:x" / "IP:x"). */
  readonly sans?: readonly string[];
  /** Default 365 days. Self-signed certificates take only a length (explicit dates → their span). */
  readonly validity?: Validity;
  readonly key?: KeySpec;
}

const SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;
/** CNs go into -subj: no '/', '=', ',' or control characters that would change its meaning. */
const CN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/**
 * Makes a private key as PKCS#8 PEM (readable by Node, Go's nats-server and grpc). Asynchronous:
 * an RSA key takes ~100 ms of CPU, which would otherwise block the event loop.
 */
export function generateKeyPem(spec: KeySpec = DEFAULT_KEY): Promise<string> {
  const encoding = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, _pub: string, priv: string): void => (e ? reject(e) : resolve(priv));
    if (spec.type === 'ec') generateKeyPair('ec', { namedCurve: 'prime256v1', ...encoding }, done);
    else generateKeyPair('rsa', { modulusLength: spec.bits ?? 2048, ...encoding }, done);
  });
}

/**
 * One SAN as openssl writes it. Validated strictly because it goes into a config file: a comma or
 * newline smuggled in would add names nobody asked for.
 */
export function sanEntry(text: string): string {
  const explicit = /^(DNS|IP):(.*)$/.exec(text);
  const value = explicit ? explicit[2]! : text;
  const ip = explicit ? explicit[1] === 'IP' : isIP(value) !== 0;
  if (ip) {
    if (isIP(value) === 0) throw new Error(`SAN "${text}": not an IP address`);
    return `IP:${value}`;
  }
  if (value.length > 253 || !DNS_NAME.test(value)) throw new Error(`SAN "${text}": not a DNS name or IP address`);
  return `DNS:${value}`;
}

/**
 * Creates a self-signed CA (basicConstraints CA:TRUE, pathlen 0: it signs leaves only), valid
 * from 5 minutes ago like its leaves, so a peer whose clock is slightly behind still accepts it.
 */
export async function createCa(options: CaOptions): Promise<Pem> {
  checkCn(options.commonName);
  const keyPem = await generateKeyPem(options.key);
  const ext = ['basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'];
  const certPem = await withScratch(async (dir) => {
    await prepareCaRun(dir, keyPem, ext);
    await openssl(['req', '-config', 'openssl.cnf', '-new', '-key', 'key.pem', '-subj', `/CN=${options.commonName}`, '-out', 'req.csr'], dir);
    const { notBefore, notAfter } = dates({ days: options.days ?? 3650 });
    const sign = ['ca', '-config', 'openssl.cnf', '-batch', '-notext', '-selfsign', '-in', 'req.csr', '-keyfile', 'key.pem'];
    await openssl([...sign, '-startdate', notBefore, '-enddate', notAfter, '-extensions', 'ext', '-out', 'cert.pem'], dir);
    return readFile(join(dir, 'cert.pem'), 'utf8');
  });
  return { certPem: onlyPem(certPem), keyPem };
}

/** Issues a server or client certificate, signed by `ca` (or self-signed without one). */
export async function issueCertificate(options: LeafOptions): Promise<Pem> {
  checkCn(options.commonName);
  const keyPem = await generateKeyPem(options.key);
  const ext = leafExtensions(options);
  const certPem = await withScratch(async (dir) => {
    const subj = ['-subj', `/CN=${options.commonName}`];
    if (!options.ca) {
      await writeFile(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
      await writeFile(join(dir, 'openssl.cnf'), reqConfig(ext));
      const v = options.validity ?? { days: 365 };
      const days = String('days' in v ? v.days : Math.max(1, Math.round((v.notAfter.getTime() - Date.now()) / DAY_MS)));
      return openssl(['req', '-config', 'openssl.cnf', '-x509', '-new', '-key', 'key.pem', ...subj, '-days', days, '-sha256', '-extensions', 'ext'], dir);
    }
    await prepareCaRun(dir, keyPem, ext);
    await writeFile(join(dir, 'ca.pem'), options.ca.certPem);
    await writeFile(join(dir, 'ca-key.pem'), options.ca.keyPem, { mode: 0o600 });
    await openssl(['req', '-config', 'openssl.cnf', '-new', '-key', 'key.pem', ...subj, '-out', 'req.csr'], dir);
    const { notBefore, notAfter } = dates(options.validity ?? { days: 365 }, new Date(new X509Certificate(options.ca.certPem).validTo));
    const sign = ['ca', '-config', 'openssl.cnf', '-batch', '-notext', '-in', 'req.csr', '-cert', 'ca.pem', '-keyfile', 'ca-key.pem'];
    await openssl([...sign, '-startdate', notBefore, '-enddate', notAfter, '-extensions', 'ext', '-out', 'cert.pem'], dir);
    return readFile(join(dir, 'cert.pem'), 'utf8');
  });
  return { certPem: onlyPem(certPem), keyPem };
}

/** The scratch files of one `openssl ca` run: the subject's key, a fresh database and serial. */
async function prepareCaRun(dir: string, keyPem: string, ext: readonly string[]): Promise<void> {
  await writeFile(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), serialHex());
  await writeFile(join(dir, 'openssl.cnf'), caConfig(dir, ext));
}

function leafExtensions(options: LeafOptions): string[] {
  const sans = (options.sans ?? []).map(sanEntry);
  return [
    'basicConstraints = critical,CA:FALSE',
    // RSA key exchange needs keyEncipherment; ECDSA signs only.
    `keyUsage = critical,digitalSignature${options.key?.type === 'rsa' ? ',keyEncipherment' : ''}`,
    `extendedKeyUsage = ${options.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    'subjectKeyIdentifier = hash',
    ...(options.ca ? ['authorityKeyIdentifier = keyid'] : []),
    ...(sans.length > 0 ? [`subjectAltName = ${sans.join(',')}`] : []),
  ];
}

function checkCn(cn: string): void {
  if (!CN.test(cn)) throw new Error(`common name "${cn}": letters, digits, space, '.', '_' and '-' only, at most 64`);
}

function reqConfig(ext: readonly string[]): string {
  return ['[ req ]', 'distinguished_name = dn', 'prompt = no', '[ dn ]', 'CN = unused', '[ ext ]', ...ext, ''].join('\n');
}

/** A throwaway `openssl ca` database per issuance: we keep no CA state besides the CA's files. */
function caConfig(dir: string, ext: readonly string[]): string {
  return [
    reqConfig(ext),
    '[ ca ]',
    'default_ca = ca_default',
    '[ ca_default ]',
    `database = ${join(dir, 'index.txt')}`,
    `new_certs_dir = ${dir}`,
    `serial = ${join(dir, 'serial')}`,
    'default_md = sha256',
    'policy = policy_any',
    'unique_subject = no',
    'copy_extensions = none',
    'email_in_dn = no',
    '[ policy_any ]',
    'commonName = supplied',
    '',
  ].join('\n');
}

/** 127 random bits, positive as RFC 5280 wants: unique without a serial file to keep. */
function serialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex').toUpperCase() + '\n';
}

/** A leaf never outlives its CA when given in days: peers would reject it from that day anyway. */
function dates(validity: Validity, caNotAfter?: Date): { notBefore: string; notAfter: string } {
  if ('days' in validity) {
    const now = Date.now();
    const notAfter = Math.min(now + validity.days * DAY_MS, caNotAfter?.getTime() ?? Infinity);
    return { notBefore: asn1Time(new Date(now - SKEW_MS)), notAfter: asn1Time(new Date(notAfter)) };
  }
  return { notBefore: asn1Time(validity.notBefore), notAfter: asn1Time(validity.notAfter) };
}

/** GeneralizedTime as `openssl ca -startdate` takes it: YYYYMMDDHHMMSSZ. */
function asn1Time(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** `openssl ca` may print more than the certificate; keep the PEM block only. */
function onlyPem(text: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error('openssl produced no certificate');
  return m[0] + '\n';
}
