/**
 * A small seam over iproute2: arguments go to `execFile` as an array (never a shell string),
 * and `-n NS` runs the command inside a named network namespace.
 */
import { execFile } from 'node:child_process';
import { err, ok, type Result } from '../../../core/result.js';
import { IpCommandError, PoolNameError } from './errors.js';

/** Runs `ip [-n netns] ...args`; tests may pass a fake. */
export interface IpRunner {
  run(args: readonly string[], netns?: string): Promise<Result<string, IpCommandError>>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A namespace or interface-name fragment safe to hand to `ip` (no option look-alikes, no slashes). */
export function checkName(text: string, what: string): Result<string, PoolNameError> {
  if (!NAME.test(text)) return err(new PoolNameError(`${what} "${text}" must match ${NAME.source}`));
  return ok(text);
}

/**
 * The real runner, on /usr/sbin/ip (or `ip` on PATH).
 *
 * @example
 * const out = await execIp.run(['-j', 'link', 'show'], 'ioff-1-host');
 */
export const execIp: IpRunner = {
  run(args, netns) {
    const full = netns ? ['-n', netns, ...args] : [...args];
    return new Promise((resolve) => {
      execFile('ip', full, { timeout: 10_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        if (error) resolve(err(new IpCommandError(full, stderr || error.message, { cause: error })));
        else resolve(ok(stdout));
      });
    });
  },
};
