/**
 * The agent's CNI backend listener (actors/agent/cni-server.ts) as a process of its own, for
 * fuzzing its HTTP/2 layer: "no crash" means something only when the server is a separate
 * process. Its backend answers every call with a typed NOT_FOUND: the pod logic is not under
 * test here, the gRPC server in front of it is. The file is both the executable and its launcher.
 *
 *   argv:   <socket path> [--log-level error] [--plant-crash HEX]
 *   stdout: {"ready":true,"socket":"…","pid":N}   once the socket listens
 *   SIGTERM / SIGINT: closes the server, removes the socket, exits 0
 *
 * `--plant-crash HEX` is for the harness's own tests: the process exits (code 70) on a request
 * whose bytes hold that sequence — a planted bug for the minimiser to find and shrink.
 *
 * @example
 * node --import tsx simulations/fuzz/cni-server-process.ts /tmp/x/cni.sock
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { startCniServer } from '../../actors/agent/cni-server.js';
import { watchParent } from '../../core/parent-watch.js';
import { createLogs, LOG_LEVELS, type LogLevel } from '../../core/logger.js';
import { err, type Result } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import { stopChild } from '../processes.js';

const self = fileURLToPath(import.meta.url);

const notFound = async (): Promise<Result<never, BusError>> => err(new BusError('NOT_FOUND', 'no such pod interface (fuzz server)'));

/**
 * The backend of the fuzz server: every call of the CniBackendPort is a typed NOT_FOUND (it
 * answers a method the port may not have yet, so it fits the port as it grows).
 */
export const notFoundBackend = { prepare: notFound, add: notFound, del: notFound, check: notFound };

export interface CniServerProcess {
  readonly socketPath: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Lines the process printed (stdout and stderr), for failure messages and the oracle. */
  readonly output: string[];
  /** SIGTERM (or `signal`), then SIGKILL after 5 s; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the fuzz CNI server as a child process and waits for its ready line.
 *
 * @example
 * const server = await startCniServerProcess({ socketPath: join(dir, 'cni.sock') });
 * await unaryCall(server.socketPath, '/infra.v1.CniBackend/Check', bytes, 2000); // a NOT_FOUND reply
 * await server.stop(); // 0
 */
export async function startCniServerProcess(options: { socketPath: string; logLevel?: LogLevel; startTimeoutMs?: number; plantCrash?: Uint8Array }): Promise<CniServerProcess> {
  const { command, args } = selfCommand();
  const plant = options.plantCrash ? ['--plant-crash', Buffer.from(options.plantCrash).toString('hex')] : [];
  const child = spawn(command, [...args, options.socketPath, '--log-level', options.logLevel ?? 'error', ...plant], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, INFRA_EXIT_WITH_PARENT: String(process.pid) },
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  createInterface({ input: child.stderr }).on('line', (l) => output.push(l));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`cni fuzz server not ready:\n${output.join('\n')}`)), options.startTimeoutMs ?? 15_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      output.push(l);
      if (l.startsWith('{"ready":true')) {
        clearTimeout(timer);
        res();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`cni fuzz server exited with ${code}:\n${output.join('\n')}`));
    });
  });
  return {
    socketPath: options.socketPath,
    pid: child.pid ?? -1,
    child,
    output,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => stopChild(child, exited, { signal }),
  };
}

/** This file run by tsx (from sources) or its compiled twin in dist/. */
function selfCommand(): { command: string; args: string[] } {
  if (self.endsWith('.ts')) return { command: process.execPath, args: ['--import', 'tsx', self] };
  if (!existsSync(self)) throw new Error(`${self} is missing: run npm run build`);
  return { command: process.execPath, args: [self] };
}

/** Tests only: every handler added to a gRPC server in this process exits the process on `marker`. */
function plantCrash(marker: Buffer): void {
  const { addService } = grpc.Server.prototype as { addService: (this: grpc.Server, ...args: Parameters<grpc.Server['addService']>) => void };
  grpc.Server.prototype.addService = function (this: grpc.Server, service, implementation) {
    const wrapped = Object.fromEntries(
      Object.entries(implementation).map(([name, handler]) => [
        name,
        (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          if (Buffer.isBuffer(call.request) && call.request.includes(marker)) process.exit(70);
          (handler as grpc.handleUnaryCall<Buffer, Buffer>)(call, callback);
        },
      ]),
    );
    addService.call(this, service, wrapped);
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'log-level': { type: 'string', default: 'error' }, 'plant-crash': { type: 'string' } } });
  watchParent();
  const socketPath = positionals[0];
  const level = values['log-level'] as LogLevel;
  if (!socketPath || !LOG_LEVELS.includes(level)) {
    console.error(`cni-server-process: usage: cni-server-process <socket path> [--log-level ${LOG_LEVELS.join('|')}]`);
    process.exit(2);
  }
  if (values['plant-crash']) plantCrash(Buffer.from(values['plant-crash'], 'hex'));
  const logs = createLogs({ level }, 'cni-fuzz-server');
  const server = await startCniServer({ socketPath: resolve(socketPath), backend: notFoundBackend, logger: logs.for('cni') });
  console.log(JSON.stringify({ ready: true, socket: server.socketPath, pid: process.pid }));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const entry = process.argv[1];
if (entry && resolve(entry) === self) await main();
