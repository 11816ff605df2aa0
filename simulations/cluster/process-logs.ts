/**
 * What the simulator reads from its processes' logs (pino JSON on stdout, one object a line):
 * each process's current instance id ("… starting"), every leadership claim a manager makes
 * ("leader: …" with its epoch, "standby: …"), supervisor restarts and escalations
 * (restarts.ts), and the last warnings of each process for failure messages.
 *
 * Process names are `<node>/<name>`: `node-1/manager`, `node-1/manager-2`, `node-1/agent`,
 * `node-1/target`.
 *
 * @example
 * const logs = new ProcessLogs(() => Date.now());
 * new ManagedProcess({ name: 'node-1/manager', …, onLog: (p, l) => logs.onLine(p, l) });
 */
import type { LogLine } from '../processes.js';
import { RestartCounter } from './restarts.js';

export interface LeaderClaim {
  readonly process: string;
  readonly node: string;
  /** The manager's instance id when it claimed. */
  readonly instanceId: string | undefined;
  readonly leading: boolean;
  readonly epoch: number;
  readonly atMs: number;
}

const TAIL = 40;

export function nodeOfProcess(name: string): string {
  return name.slice(0, name.indexOf('/'));
}

export class ProcessLogs {
  readonly restarts = new RestartCounter();
  /** Current instance id per process (from its "starting" line). */
  readonly instanceIds = new Map<string, string>();
  readonly claims: LeaderClaim[] = [];
  private readonly tails = new Map<string, string[]>();
  private readonly listeners = new Set<(process: string, line: LogLine) => void>();

  constructor(private readonly now: () => number) {}

  /** Also tell `listener` of every parsed line (until the returned function is called). */
  listen(listener: (process: string, line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onLine(process: string, line: LogLine | string): void {
    if (typeof line === 'string') {
      this.keep(process, line);
      return;
    }
    if (line.level >= 40) this.keep(process, `${line.msg} ${JSON.stringify({ ...line, msg: undefined, time: undefined, level: undefined, pid: undefined, name: undefined })}`);
    if (typeof line.instanceId === 'string' && / starting$/.test(line.msg)) this.instanceIds.set(process, line.instanceId);
    if (line.msg.startsWith('leader:') || line.msg.startsWith('standby:')) {
      this.claims.push({
        process,
        node: nodeOfProcess(process),
        instanceId: this.instanceIds.get(process),
        leading: line.msg.startsWith('leader:'),
        epoch: typeof line.epoch === 'number' ? line.epoch : 0,
        atMs: this.now(),
      });
    }
    this.restarts.line(process, line);
    for (const l of this.listeners) l(process, line);
  }

  /** The process whose current instance id is `instanceId`, if any. */
  processOf(instanceId: string): string | undefined {
    for (const [p, id] of this.instanceIds) if (id === instanceId) return p;
    return undefined;
  }

  /** The last warnings and errors of a process (or of every process whose name starts with `prefix`). */
  tail(prefix: string, n = 20): string[] {
    const out: string[] = [];
    for (const [p, lines] of this.tails) if (p.startsWith(prefix)) out.push(...lines.slice(-n).map((l) => `${p}: ${l}`));
    return out.slice(-n);
  }

  private keep(process: string, text: string): void {
    const lines = this.tails.get(process) ?? [];
    lines.push(text.slice(0, 400));
    if (lines.length > TAIL) lines.shift();
    this.tails.set(process, lines);
  }
}
