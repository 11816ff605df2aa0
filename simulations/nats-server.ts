/**
 * Starts and stops a real nats-server (Debian's package) on a random loopback port, for tests,
 * benchmarks and the local node. The server picks its own free port and writes it to a ports
 * file, so there is no race between choosing a port and binding it.
 *
 * @example
 * const nats = await startNatsServer();
 * // ... connect to nats.url ...
 * await nats.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from './processes.js';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** Enable JetStream (file store inside the server's own temp directory). Default true. */
  readonly jetstream?: boolean;
  /** Extra nats-server configuration text appended to the generated file (TLS, authorization…). */
  readonly extraConfig?: string;
  /** Use this directory instead of a fresh temporary one (it is not removed on stop). */
  readonly dir?: string;
  /** Milliseconds to wait for the server to report its port. Default 10 s. */
  readonly startTimeoutMs?: number;
  /** Where the server's own log goes; default: discarded. */
  readonly onLog?: (line: string) => void;
  /** Fixed port to listen on (e.g. to restart a server on the port it had); default random. */
  readonly port?: number;
  /** The address to listen on (default 127.0.0.1); the URL names it too. */
  readonly host?: string;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the temp directory it created. */
  stop(graceMs?: number): Promise<void>;
}

/** Thrown when nats-server is not installed or does not come up. */
export class NatsServerStartError extends Error {
  override readonly name = 'NatsServerStartError';
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'infra-nats-')));
  const config = [
    `listen: "${options.host ?? '127.0.0.1'}:${String(options.port ?? -1)}"`,
    `ports_file_dir: "${dir}"`,
    'max_payload: 1048576',
    options.jetstream === false ? '' : `jetstream { store_dir: "${join(dir, 'js')}" }`,
    options.extraConfig ?? '',
  ].join('\n');
  const configFile = join(dir, 'nats.conf');
  await writeFile(configFile, config + '\n', { mode: 0o600 });

  // Its own process group: a terminal's Ctrl-C stops the launcher, which stops the server last.
  const child = spawn('nats-server', ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  installExitHook();
  running.add(child);
  const log = options.onLog;
  const forward = (chunk: Buffer): void => {
    if (log) for (const line of chunk.toString('utf8').split('\n')) if (line) log(line);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));

  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new NatsServerStartError(
          e.code === 'ENOENT' ? 'nats-server is not installed (apt-get install nats-server)' : `nats-server: ${e.message}`,
          { cause: e },
        ),
      ),
    );
  });
  const stop = async (graceMs = 3000): Promise<void> => {
    await stopChild(child, exited, { graceMs });
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await Promise.race([waitForPort(dir, child, options.startTimeoutMs ?? 10_000), spawnError]);
    return { url: `nats://${options.host ?? '127.0.0.1'}:${port}`, port, pid: child.pid ?? -1, dir, stop };
  } catch (e) {
    await stop(100);
    throw e;
  }
}

async function waitForPort(dir: string, child: ChildProcess, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new NatsServerStartError(`nats-server exited with code ${child.exitCode}`);
    const file = (await readdir(dir)).find((f) => f.endsWith('.ports'));
    if (file) {
      try {
        const ports = JSON.parse(await readFile(join(dir, file), 'utf8')) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url) return Number(new URL(url).port);
      } catch {
        // The file may be half-written; read it again.
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new NatsServerStartError(`nats-server did not report its port within ${timeoutMs} ms`);
}

/** Servers we started never outlive us, even when a test run dies. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}
