/**
 * One life of an in-process agent, so that the simulator can kill it as `kill -9` kills a
 * process: at once, without its shutdown code, its disk and its kernel left as they are.
 *
 * In one process a "dead" agent's objects would otherwise live on: its timers would fire on the
 * shared clock, and its promise chains (a pod actor half-way through plumbing) would go on
 * writing files and running kernel commands. An incarnation hands the agent views of what it
 * runs on — the clock, its files, its kernel, anything else through `guard` — and `kill()` cuts
 * them all: its timers are cleared and never fire again, new operations never settle, and
 * operations already under way complete (a syscall in flight finishes in a real kernel too) but
 * their answers are never delivered. The objects underneath (the MemoryFiles, the kernel) are
 * the node's; the next incarnation gets views of the same ones.
 *
 * What it does not cut, and the simulator must: the agent's NATS connection (`nats.kill(name)`,
 * messages/memory-nats.ts) and its CNI backend (forget the `InprocCni` it handed over: calls to
 * a dead one never answer). Its Kubernetes watches end on their next delivery when the informers
 * are made with `kube.informers(guard, life)` (memory-kube.ts).
 *
 * @example
 * const life = new Incarnation(clock);
 * const tree = agentTree({ ...deps, clock: life.clock, files: life.files(disk), ip: life.ip(kernel),
 *   connectBus: (name) => life.guard(() => Promise.resolve(Bus.over(nats.connect(name), busOptions))),
 *   informers: (k) => kube.informers({ clock: life.clock, ...k }, life) });
 * await tree.supervisor.start();
 * life.kill(); nats.kill(name);            // kill -9
 * const next = new Incarnation(clock);      // the restarted agent: same disk, same kernel
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { AgentFiles } from '../../actors/agent/pool/files.js';
import type { IpRunner, NetnsProbe } from '../../actors/agent/pool/ip.js';

/** A promise that never settles: what a dead process waits for. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export class Incarnation {
  private dead = false;
  private readonly timers = new Set<TimerHandle>();

  constructor(private readonly base: Clock) {}

  /** True once killed. */
  get killed(): boolean {
    return this.dead;
  }

  /** Timers set while alive and not yet fired (for tests and leak checks). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** The clock this life sees: the base clock's time; its timers die with it. */
  readonly clock: Clock = {
    now: () => this.base.now(),
    setTimeout: (fn, ms) => {
      if (this.dead) return {};
      const handle = this.base.setTimeout(() => {
        this.timers.delete(handle);
        if (!this.dead) fn();
      }, ms);
      this.timers.add(handle);
      return handle;
    },
    clearTimeout: (handle) => {
      if (!this.timers.delete(handle)) return;
      this.base.clearTimeout(handle);
    },
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        const reason = (): Error => (signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        if (signal?.aborted) return reject(reason());
        const onAbort = (): void => {
          this.clock.clearTimeout(handle);
          reject(reason());
        };
        const handle = this.clock.setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };

  /**
   * Runs `op` while alive and hands over its outcome only if still alive when it settles;
   * after the kill nothing starts and nothing is answered.
   *
   * @example
   * connectBus: (name) => life.guard(() => Promise.resolve(Bus.over(nats.connect(name), options)))
   */
  guard<T>(op: () => Promise<T>): Promise<T> {
    if (this.dead) return never();
    return op().then(
      (v) => (this.dead ? never<T>() : v),
      (e: unknown) => {
        if (this.dead) return never<T>();
        throw e;
      },
    );
  }

  /** The node's files as this life sees them. */
  files(disk: AgentFiles): AgentFiles {
    return {
      readText: (path) => this.guard(() => disk.readText(path)),
      replace: (path, text, options) => this.guard(() => disk.replace(path, text, options)),
      makeDir: (path, mode) => this.guard(() => disk.makeDir(path, mode)),
    };
  }

  /** The node's kernel as this life sees it (commands and namespace probes). */
  ip(kernel: IpRunner): IpRunner {
    const probe: NetnsProbe | undefined = kernel.netns;
    const batch = kernel.runBatch?.bind(kernel);
    return {
      ...(probe ? { netns: { exists: (ns) => this.guard(() => probe.exists(ns)), same: (a, b) => this.guard(() => probe.same(a, b)) } } : {}),
      run: (args, netns) => this.guard(() => kernel.run(args, netns)),
      ...(batch ? { runBatch: (commands: readonly (readonly string[])[], netns?: string) => this.guard(() => batch(commands, netns)) } : {}),
    };
  }

  /** kill -9: every timer of this life is cleared, and nothing it waits for is answered again. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    for (const handle of this.timers) this.base.clearTimeout(handle);
    this.timers.clear();
  }
}
