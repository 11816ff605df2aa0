/**
 * IPAM delegation as the spec prescribes: exec the plugin named by ipam.type, found on
 * CNI_PATH, with the same environment (CNI_COMMAND set to the operation) and the same stdin.
 *
 * @example
 * const result = await execIpam('ADD', env, conf); // host-local's result: ips, routes, dns
 */
import { CNI_CODES, CniError } from './errors.js';
import { decodeJson, type CniResult } from './spec.js';

export interface IpamCall {
  readonly path: readonly string[];
  readonly type: string;
  readonly stdin: string;
  readonly env: NodeJS.ProcessEnv;
  /** Called once the plugin process is started: work to overlap with its run (the plugin's agent connection). */
  readonly onStarted?: () => void;
}

/** Synchronous on purpose: a one-shot process should not start libuv's thread pool for a stat. */
async function findPlugin(dirs: readonly string[], type: string): Promise<string> {
  const { accessSync, constants, statSync } = await import('node:fs');
  for (const dir of dirs) {
    const candidate = `${dir}/${type}`;
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate; // not ".", "..", a directory
    } catch {
      // not in this directory
    }
  }
  throw new CniError(CNI_CODES.INVALID_NETCONF, `IPAM plugin "${type}" not found on CNI_PATH`, dirs.join(':'));
}

function run(file: string, env: NodeJS.ProcessEnv, stdin: string, onStarted?: () => void): Promise<{ code: number; stdout: string; stderr: string }> {
  return import('node:child_process').then(
    ({ spawn }) =>
      new Promise((resolve, reject) => {
        const child = spawn(file, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (c: Buffer) => out.push(c));
        child.stderr.on('data', (c: Buffer) => err.push(c));
        child.on('error', (e) => reject(new CniError(CNI_CODES.IO, `cannot run ${file}`, e.message)));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
        child.stdin.on('error', () => undefined); // a plugin that exits without reading stdin
        child.stdin.end(stdin);
        onStarted?.();
      }),
  );
}

/** The IPAM plugin's failure as our CniError: its own code and msg when it printed a CNI error. */
function ipamFailure(type: string, command: string, stdout: string, stderr: string): CniError {
  try {
    const e = decodeJson(stdout);
    if (typeof e.code === 'number' && typeof e.msg === 'string') {
      return new CniError(e.code, `IPAM ${type} ${command}: ${e.msg}`, typeof e.details === 'string' ? e.details : '');
    }
  } catch {
    // not a CNI error object
  }
  return new CniError(CNI_CODES.IO, `IPAM ${type} ${command} failed`, (stderr || stdout).slice(0, 512));
}

/** Runs the IPAM plugin; ADD resolves with its result, DEL and CHECK with undefined. */
export async function execIpam(command: 'ADD' | 'DEL' | 'CHECK', call: IpamCall): Promise<CniResult | undefined> {
  const file = await findPlugin(call.path, call.type);
  const { code, stdout, stderr } = await run(file, { ...call.env, CNI_COMMAND: command }, call.stdin, call.onStarted);
  if (code !== 0) throw ipamFailure(call.type, command, stdout, stderr);
  if (command !== 'ADD') return undefined;
  let result: Record<string, unknown>;
  try {
    result = decodeJson(stdout);
  } catch {
    throw new CniError(CNI_CODES.DECODE, `IPAM ${call.type} ADD printed no result`, stdout.slice(0, 512));
  }
  if (!Array.isArray(result.ips) || result.ips.length === 0) {
    throw new CniError(CNI_CODES.IO, `IPAM ${call.type} ADD returned no ips`);
  }
  return result as unknown as CniResult;
}
