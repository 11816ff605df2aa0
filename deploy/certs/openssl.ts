/**
 * Runs the openssl CLI (Debian's openssl 3) inside a private scratch directory. Node's crypto can
 * make keys and read certificates but cannot sign them; openssl is on every machine we deploy to,
 * so we use it rather than a JavaScript X.509 library.
 *
 * @example
 * await withScratch(async (dir) => {
 *   await openssl(['req', '-new', '-key', join(dir, 'k.pem'), '-subj', '/CN=x', '-out', join(dir, 'x.csr')]);
 * });
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** openssl is missing or refused a command; `stderr` holds its own explanation. */
export class OpensslError extends Error {
  override readonly name = 'OpensslError';
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Runs `openssl <args>`; resolves with its stdout. OPENSSL_CONF points at an empty file so the
 * machine's openssl.cnf (default extensions, policies) never changes what we issue.
 */
export function openssl(args: readonly string[], scratch: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', [...args], { cwd: scratch, env: { ...process.env, OPENSSL_CONF: '/dev/null' } }, (e, stdout, stderr) => {
      if (!e) return resolve(stdout);
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      const what = missing ? 'openssl is not installed (apt-get install openssl)' : `openssl ${args[0] ?? ''} failed: ${firstLine(stderr)}`;
      reject(new OpensslError(what, args, stderr, { cause: e }));
    });
  });
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'no message';
}

/** Runs `fn` with a fresh 0700 scratch directory, removed afterwards whatever happens (it holds keys). */
export async function withScratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-certs-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
