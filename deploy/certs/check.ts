/**
 * Checks the TLS files a process is given before it uses them, so that a missing, unreadable,
 * corrupted, expired or wrong-CA file stops the process at start with a clear message instead of
 * letting it start degraded. Node's TLS silently ignores a CA file that holds no certificate
 * (`tls.createSecureContext({ ca: 'garbage' })` does not throw): the original project started
 * that way once, then refused every peer.
 *
 * @example
 * const m = inspectTlsFiles({ caFile, certFile, keyFile }, { usage: 'server' });
 * if (!m.ok) { console.error(`target: ${m.error.message}`); process.exit(2); }
 * server.listen(address, { ca: m.value.ca, cert: m.value.cert!, key: m.value.key! });
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { err, ok, type Result } from '../../core/result.js';
import type { Usage } from './issue.js';

export type TlsProblem =
  | 'missing'
  | 'unreadable'
  | 'corrupt'
  | 'expired'
  | 'not-yet-valid'
  | 'not-a-ca'
  | 'wrong-ca'
  | 'key-mismatch'
  | 'wrong-usage'
  | 'incomplete';

/** One unusable TLS file: which, and why, in a message meant for the operator. */
export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
  constructor(
    readonly problem: TlsProblem,
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface TlsFiles {
  /** The CA bundle that peers' certificates must chain to. */
  readonly caFile: string;
  /** This process's own certificate and key (both or neither). */
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface TlsCheckOptions {
  /** What the own certificate must be good for (its extendedKeyUsage, when it has one). */
  readonly usage?: Usage;
  /** Whether the own certificate must chain to the CA bundle too (default true: our layout). */
  readonly ownCertFromCa?: boolean;
  readonly now?: Date;
}

export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly caCerts: readonly X509Certificate[];
  readonly certificate?: X509Certificate;
  /** Not fatal, worth a log line: e.g. a private key readable by others. */
  readonly warnings: readonly string[];
}

const USAGE_OID: Record<Usage, string> = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2' };

/** Reads and checks the files; every failure is a TlsMaterialError naming the file. Never throws. */
export function inspectTlsFiles(files: TlsFiles, options: TlsCheckOptions = {}): Result<TlsMaterial, TlsMaterialError> {
  try {
    return ok(inspect(files, options));
  } catch (e) {
    if (e instanceof TlsMaterialError) return err(e);
    throw e;
  }
}

function inspect(files: TlsFiles, options: TlsCheckOptions): TlsMaterial {
  const now = options.now ?? new Date();
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw new TlsMaterialError('incomplete', files.certFile ?? files.keyFile ?? '', 'a certificate and its key go together: give both or neither');
  }
  const ca = readTlsFile(files.caFile, 'CA file');
  const caCerts = parseCertificates(ca, files.caFile, 'CA file');
  for (const c of caCerts) {
    if (!c.ca) throw new TlsMaterialError('not-a-ca', files.caFile, `CA file ${files.caFile}: "${c.subject}" is not a CA certificate`);
    checkDates(c, files.caFile, 'CA certificate', now);
  }
  if (files.certFile === undefined || files.keyFile === undefined) return { ca, caCerts, warnings: [] };
  const cert = readTlsFile(files.certFile, 'certificate');
  const key = readTlsFile(files.keyFile, 'private key');
  const certificate = parseCertificates(cert, files.certFile, 'certificate')[0]!;
  checkDates(certificate, files.certFile, 'certificate', now);
  checkKey(certificate, parseKey(key, files.keyFile), files);
  if (options.ownCertFromCa !== false && !caCerts.some((c) => certificate.checkIssued(c) && certificate.verify(c.publicKey))) {
    const issuers = caCerts.map((c) => c.subject).join('; ');
    throw new TlsMaterialError('wrong-ca', files.certFile, `certificate ${files.certFile} ("${certificate.subject}") is not signed by the CA in ${files.caFile} (${issuers})`);
  }
  const eku = certificate.keyUsage;
  if (options.usage && eku && eku.length > 0 && !eku.includes(USAGE_OID[options.usage])) {
    throw new TlsMaterialError('wrong-usage', files.certFile, `certificate ${files.certFile} is not a TLS ${options.usage} certificate (extendedKeyUsage)`);
  }
  return { ca, cert, key, caCerts, certificate, warnings: keyPermissionWarnings(files.keyFile) };
}

function readTlsFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TlsMaterialError('missing', file, `${what} ${file} does not exist`, { cause: e });
    throw new TlsMaterialError('unreadable', file, `${what} ${file} cannot be read (${code ?? (e as Error).message})`, { cause: e });
  }
}

/** Every PEM certificate block of a file; a file without one, or with a damaged one, is corrupt. */
export function parseCertificates(pem: Buffer | string, file: string, what = 'certificate file'): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TlsMaterialError('corrupt', file, `${what} ${file} holds no PEM certificate (corrupted or not a certificate)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new TlsMaterialError('corrupt', file, `${what} ${file}: certificate #${i + 1} is corrupted (${(e as Error).message})`, { cause: e });
    }
  });
}

function parseKey(pem: Buffer, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new TlsMaterialError('corrupt', file, `private key ${file} is corrupted or not a PEM private key (${(e as Error).message})`, { cause: e });
  }
}

function checkDates(c: X509Certificate, file: string, what: string, now: Date): void {
  if (now < new Date(c.validFrom)) throw new TlsMaterialError('not-yet-valid', file, `${what} ${file} ("${c.subject}") is not valid before ${c.validFrom}`);
  if (now > new Date(c.validTo)) throw new TlsMaterialError('expired', file, `${what} ${file} ("${c.subject}") expired on ${c.validTo}`);
}

function checkKey(c: X509Certificate, key: KeyObject, files: TlsFiles): void {
  if (!c.checkPrivateKey(key)) {
    throw new TlsMaterialError('key-mismatch', files.keyFile!, `private key ${files.keyFile} does not belong to certificate ${files.certFile}`);
  }
}

/** A private key others can read is a leak waiting to happen; say so, but it still works. */
function keyPermissionWarnings(keyFile: string): string[] {
  try {
    const mode = statSync(keyFile).mode & 0o777;
    return (mode & 0o077) !== 0 ? [`private key ${keyFile} is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`] : [];
  } catch {
    return [];
  }
}
