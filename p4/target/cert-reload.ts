/**
 * Certificate rotation for the target's gRPC server: a grpc-js CertificateProvider that checks
 * its files every `intervalMs` and hands grpc-js a new identity or CA only once the new files
 * pass the same checks as at start-up (deploy/certs/check.ts). A half-written, corrupted,
 * expired or foreign-CA file is logged and ignored — the server keeps its last good material
 * rather than serving degraded — and is picked up as soon as it is fixed. New connections get
 * the new certificate; established ones keep theirs.
 *
 * @example
 * const certs = ReloadingCertificates.open({ caFile, certFile, keyFile, intervalMs: 60_000, logger });
 * if (certs.ok) server.bindAsync(addr, createCertificateProviderServerCredentials(certs.value, certs.value, true), cb);
 */
import { statSync } from 'node:fs';
import type { experimental } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { err, ok, type Result } from '../../core/result.js';
import { inspectTlsFiles, type TlsMaterial, type TlsMaterialError } from '../../deploy/certs/check.js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface ReloadOptions {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the files are looked at (their mtime and size first: a re-read only on change). */
  readonly intervalMs: number;
  readonly logger: Logger;
}

const stamp = (file: string): string => {
  try {
    const s = statSync(file);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
};

export class ReloadingCertificates implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | undefined;
  private stamps: string;
  /** Serial number of the certificate in use (for logs and tests). */
  serial: string;

  private constructor(
    private readonly opts: ReloadOptions,
    private material: TlsMaterial,
  ) {
    this.stamps = this.currentStamps();
    this.serial = material.certificate?.serialNumber ?? '';
  }

  /** Checks the files now (a failure is the start-up refusal) and starts watching them. */
  static open(opts: ReloadOptions): Result<ReloadingCertificates, TlsMaterialError> {
    const first = inspectTlsFiles({ caFile: opts.caFile, certFile: opts.certFile, keyFile: opts.keyFile }, { usage: 'server' });
    if (!first.ok) return err(first.error);
    const provider = new ReloadingCertificates(opts, first.value);
    provider.timer = setInterval(() => provider.check(), opts.intervalMs);
    provider.timer.unref();
    return ok(provider);
  }

  /** Looks at the files once (the timer calls this). */
  check(): void {
    const now = this.currentStamps();
    if (now === this.stamps) return;
    const next = inspectTlsFiles({ caFile: this.opts.caFile, certFile: this.opts.certFile, keyFile: this.opts.keyFile }, { usage: 'server' });
    if (!next.ok) {
      // Not remembered as seen: a file being written now is looked at again next time.
      this.opts.logger.warn({ err: next.error.message }, 'new TLS files refused; still serving with the previous certificate');
      return;
    }
    this.stamps = now;
    this.material = next.value;
    this.serial = next.value.certificate?.serialNumber ?? '';
    this.opts.logger.info({ serial: this.serial, notAfter: next.value.certificate?.validTo }, 'TLS certificate reloaded');
    for (const l of this.caListeners) l({ caCertificate: next.value.ca });
    for (const l of this.identityListeners) l({ certificate: next.value.cert!, privateKey: next.value.key! });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  // The first update is delivered on a microtask: grpc-js subscribes to its providers before it
  // registers the server's own watcher, so a synchronous update would reach nobody.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && listener({ caCertificate: this.material.ca }));
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener({ certificate: this.material.cert!, privateKey: this.material.key! }));
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private currentStamps(): string {
    return [this.opts.caFile, this.opts.certFile, this.opts.keyFile].map(stamp).join('|');
  }
}
