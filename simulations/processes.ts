/**
 * Runs our own executables as child processes, the way systemd or a kubelet would: compiled
 * JavaScript from dist/ (or the TypeScript sources through tsx when we run from sources),
 * stdout parsed as pino JSON lines, stopped by PID with SIGTERM then SIGKILL, optionally
 * restarted when they die.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fromSources = fileURLToPath(import.meta.url).endsWith('.ts');
/** The project root whether we run from sources (simulations/) or dist/simulations/. */
const root = fromSources ? join(here, '..') : join(here, '..', '..');

/** The command line that runs bin/<name> in this checkout. */
export function binCommand(name: string): { command: string; args: string[] } {
  return moduleCommand(`bin/${name}`);
}

/** The command line that runs one of our modules (a path from the root, no extension), e.g. simulations/fuzz/fuzz-cli. */
export function moduleCommand(module: string): { command: string; args: string[] } {
  if (fromSources) {
    return { command: process.execPath, args: ['--import', 'tsx', join(root, `${module}.ts`)] };
  }
  const js = join(root, 'dist', `${module}.js`);
  if (!existsSync(js)) throw new Error(`${js} is missing: run npm run build`);
  return { command: process.execPath, args: [js] };
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly module?: string;
  readonly [key: string]: unknown;
}

export interface ManagedProcessOptions {
  readonly name: string;
  readonly bin: string;
  readonly args: readonly string[];
  readonly onLog?: (name: string, line: LogLine | string) => void;
  /** Restart after an unexpected exit, after this many ms (systemd's Restart=always). */
  readonly restartAfterMs?: number;
  readonly onExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
  /** Run inside this named network namespace (`ip netns exec` execs in place: the PID stays ours). */
  readonly netns?: string;
}

/** One of our processes, restarted when it dies unexpectedly (if asked), stopped by PID. */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readyLine: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(private readonly options: ManagedProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    const { command, args } = binCommand(this.options.bin);
    const argv = [...args, ...this.options.args];
    // A process group of its own: a terminal's Ctrl-C reaches only the launcher, which stops its
    // processes in order (by PID), as systemd would, instead of every one at once.
    // INFRA_EXIT_WITH_PARENT: the child stops when this launcher is gone (core/parent-watch.ts).
    const options = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], detached: true, env: { ...process.env, INFRA_EXIT_WITH_PARENT: String(process.pid) } };
    const child = this.options.netns ? spawn('ip', ['netns', 'exec', this.options.netns, command, ...argv], options) : spawn(command, argv, options);
    this.child = child;
    this.starts++;
    let ready: () => void = () => undefined;
    let died: (e: Error) => void = () => undefined;
    this.readyLine = new Promise<void>((resolve, reject) => ((ready = resolve), (died = reject)));
    this.readyLine.catch(() => undefined); // only a caller of waitReady() hears of it
    const forward = (stream: NodeJS.ReadableStream | null): void => {
      if (!stream) return;
      createInterface({ input: stream }).on('line', (text) => {
        const line = parseLine(text);
        if (typeof line !== 'string' && line.msg === 'ready') ready();
        this.options.onLog?.(this.options.name, line);
      });
    };
    forward(child.stdout);
    forward(child.stderr);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        died(new Error(`${this.options.name} exited (${signal ?? code}) before it was ready`));
        this.options.onExit?.(this.options.name, code, signal);
        resolve();
        if (!this.stopping && this.options.restartAfterMs !== undefined) {
          this.restartTimer = setTimeout(() => this.start(), this.options.restartAfterMs);
        }
      });
    });
  }

  /** Sends a signal to the current process (tests use SIGKILL to crash it). */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child?.kill(signal);
  }

  /**
   * Resolves when the current process has printed its ready line (a server listening:
   * {"ready":true,…}); rejects if it exits first.
   */
  waitReady(): Promise<void> {
    return this.readyLine;
  }

  /** Resolves when the current process has exited. */
  waitExit(): Promise<void> {
    return this.exited;
  }

  /** SIGTERM, then SIGKILL after graceMs; no restart afterwards. Returns the exit code. */
  async stop(graceMs = 5000): Promise<number | null> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    return stopChild(child, this.exited, { graceMs });
  }
}

/**
 * Stops a child process we started, by its handle: `signal` (default SIGTERM; null when it was
 * already asked to stop some other way), then SIGKILL after `graceMs`. Resolves with the exit code.
 */
export async function stopChild(
  child: ChildProcess,
  exited: Promise<unknown>,
  options: { readonly signal?: NodeJS.Signals | null; readonly graceMs?: number } = {},
): Promise<number | null> {
  const alive = child.exitCode === null && child.signalCode === null;
  if (alive && options.signal !== null) child.kill(options.signal ?? 'SIGTERM');
  const timer = alive ? setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? 5000) : undefined;
  await exited;
  if (timer) clearTimeout(timer);
  return child.exitCode;
}

function parseLine(text: string): LogLine | string {
  if (!text.startsWith('{')) return text;
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && 'msg' in value) return value as LogLine;
    // A server's ready line ({"ready":true,"port":N}, for launchers) is an ordinary info event.
    if (value && typeof value === 'object' && 'ready' in value) return { ...(value as object), level: 30, msg: 'ready', module: 'process' };
  } catch {
    // not JSON after all
  }
  return text;
}
