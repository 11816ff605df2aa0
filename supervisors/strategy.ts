/**
 * The two decisions OTP's supervisor makes on every exit, as pure functions: is this child
 * restarted at all (its restart type × how it exited), and which children go down and come back
 * with it (the strategy).
 */
import type { RestartType } from './child-spec.js';
import type { ExitKind } from './events.js';
import type { Strategy } from './inspect.js';

/**
 * permanent: always; transient: only after an abnormal exit ('error'); temporary: never.
 *
 * @example
 * shouldRestart('transient', 'normal'); // false
 */
export function shouldRestart(restart: RestartType, exit: ExitKind): boolean {
  return restart === 'permanent' || (restart === 'transient' && exit === 'error');
}

/**
 * The children (in start order) that a failure of `failed` restarts: only it (one_for_one,
 * simple_one_for_one), everyone (one_for_all), or it and those started after it (rest_for_one).
 *
 * @example
 * restartScope('rest_for_one', ['a', 'b', 'c'], 'b'); // ['b', 'c']
 */
export function restartScope<T>(strategy: Strategy, children: readonly T[], failed: T): T[] {
  switch (strategy) {
    case 'one_for_one':
    case 'simple_one_for_one':
      return [failed];
    case 'one_for_all':
      return [...children];
    case 'rest_for_one': {
      const at = children.indexOf(failed);
      return at < 0 ? [failed] : children.slice(at);
    }
  }
}
