/**
 * Processes started by our launchers (simulations/processes.ts) stop when their launcher is gone:
 * the launcher sets INFRA_EXIT_WITH_PARENT to its PID, and the child, seeing that PID vanish,
 * sends itself SIGTERM — its usual clean stop. Without it, a launcher killed with SIGKILL (or a
 * script that dies without stopping what it started) leaves its processes running, since Linux
 * gives a process nothing like a parent-death signal from Node. Processes not started that way
 * (systemd, Kubernetes) are untouched.
 *
 * @example
 * watchParent(); // first thing in a bin/ entry point
 */
export function watchParent(env: NodeJS.ProcessEnv = process.env, everyMs = 1000): void {
  const pid = Number(env.INFRA_EXIT_WITH_PARENT);
  if (!Number.isInteger(pid) || pid <= 1) return;
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch {
      clearInterval(timer);
      process.kill(process.pid, 'SIGTERM');
    }
  }, everyMs);
  timer.unref();
}
