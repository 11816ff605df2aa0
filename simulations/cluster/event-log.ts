/**
 * The run's event log: one JSON object per line, in the order things happened — the plan first,
 * then every workload operation and its outcome, every fault applied and healed, every
 * convergence seen, every violation. `t` is seconds since the run started (after the cluster came
 * up). Written synchronously (a line is on disk before the next step), so a run that dies leaves
 * everything up to that point.
 *
 * @example
 * const log = EventLog.open(join(dir, 'events.jsonl'), Date.now());
 * log.write('fault.start', { node: 'node-1', kind: 'kill-agent' });
 * log.close();
 */
import { appendFileSync, closeSync, openSync } from 'node:fs';

export class EventLog {
  private fd: number | undefined;
  private lines = 0;

  private constructor(
    readonly path: string,
    private startedAtMs: number,
  ) {
    this.fd = openSync(path, 'a', 0o600);
  }

  static open(path: string, startedAtMs: number): EventLog {
    return new EventLog(path, startedAtMs);
  }

  /** Seconds since the start (rounded to ms). */
  seconds(atMs = Date.now()): number {
    return Math.round(atMs - this.startedAtMs) / 1000;
  }

  /** Moves the origin (the run starts once the cluster is up). */
  restart(startedAtMs: number): void {
    this.startedAtMs = startedAtMs;
  }

  get count(): number {
    return this.lines;
  }

  write(event: string, fields: Record<string, unknown> = {}): void {
    if (this.fd === undefined) return;
    appendFileSync(this.fd, JSON.stringify({ t: this.seconds(), event, ...fields }) + '\n');
    this.lines++;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
