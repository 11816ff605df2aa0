/**
 * A small seam over iproute2: arguments go to `execFile` as an array (never a shell string).
 * `-n NS` runs the command inside a named network namespace; a namespace given as an absolute
 * path (CNI_NETNS: /var/run/netns/x, /proc/N/ns/net) is entered with `nsenter --net=PATH`
 * instead, since `ip -n` accepts names only.
 */
import { execFile } from 'node:child_process';
import { err, ok, type Result } from '../../../core/result.js';
import { IpCommandError, PoolNameError } from './errors.js';

/**
 * Runs `ip ...args` in `netns`: a name (`ip -n NAME`), an absolute path (`nsenter --net=PATH ip`),
 * or the caller's namespace when undefined. Tests may pass a fake.
 */
/**
 * Whether network namespaces exist and which are the same one. The real kernel's answer is in
 * the namespace files (actors/agent/pod/inputs.ts fsNetns); a stand-in kernel brings its own.
 */
export interface NetnsProbe {
  /** A name, a path, or undefined (the caller's own). */
  exists(netns: string | undefined): Promise<boolean>;
  same(a: string | undefined, b: string | undefined): Promise<boolean>;
}

export interface IpRunner {
  /** How this kernel's namespaces are probed (default: their files under /var/run/netns, /proc). */
  readonly netns?: NetnsProbe;
  run(args: readonly string[], netns?: string): Promise<Result<string, IpCommandError>>;
  /**
   * Optional: several commands in one exec (`ip -batch -`), stopping at the first failure, with
   * their output concatenated. One exec instead of one per command is most of what plumbing a
   * pod costs. Runners without it get the commands one by one.
   */
  runBatch?(commands: readonly (readonly string[])[], netns?: string): Promise<Result<string, IpCommandError>>;
}

/** Batch lines are split on blanks by iproute2: only arguments without blanks or quotes go in one. */
const BATCH_SAFE = /^[^\s"'\\#]+$/;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A namespace or interface-name fragment safe to hand to `ip` (no option look-alikes, no slashes). */
export function checkName(text: string, what: string): Result<string, PoolNameError> {
  if (!NAME.test(text)) return err(new PoolNameError(`${what} "${text}" must match ${NAME.source}`));
  return ok(text);
}

/**
 * The real runner, on `ip` (and `nsenter` for paths) found on PATH. A failure's
 * `IpCommandError.args` reads `-n NETNS ...args` for a path too (the nsenter wrapper is implied).
 *
 * @example
 * const out = await execIp.run(['-j', 'link', 'show'], 'ioff-1-host');
 * const pod = await execIp.run(['-j', 'addr', 'show'], '/proc/4242/ns/net');
 */
export const execIp: IpRunner = {
  run(args, netns) {
    return runIp(args, netns);
  },
  async runBatch(commands, netns) {
    if (!commands.every((c) => c.length > 0 && c.every((a) => BATCH_SAFE.test(a)))) {
      let out = '';
      for (const c of commands) {
        const r = await runIp(c, netns);
        if (!r.ok) return r;
        out += r.value;
      }
      return ok(out);
    }
    return runIp(['-batch', '-'], netns, `${commands.map((c) => c.join(' ')).join('\n')}\n`);
  },
};

/** A path under /var/run/netns (or /run/netns) is a named namespace: `ip -n` saves nsenter's exec. */
const NAMED_PATH = /^\/(?:var\/)?run\/netns\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/;

function runIp(args: readonly string[], netnsGiven: string | undefined, stdin?: string): Promise<Result<string, IpCommandError>> {
  const netns = netnsGiven === undefined ? undefined : (NAMED_PATH.exec(netnsGiven)?.[1] ?? netnsGiven);
  const full = netns ? ['-n', netns, ...args] : [...args];
  const byPath = netns?.startsWith('/') === true;
  const file = byPath ? 'nsenter' : 'ip';
  const argv = byPath ? [`--net=${netns}`, 'ip', ...args] : full;
  return new Promise((resolve) => {
    const child = execFile(file, argv, { timeout: 10_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) resolve(err(new IpCommandError(full, stderr || error.message, { cause: error })));
      else resolve(ok(stdout));
    });
    if (stdin !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(stdin);
    }
  });
}
