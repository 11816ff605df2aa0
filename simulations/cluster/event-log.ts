/**
 * The run's event log: one JSON object per line, in the order things happened — the plan first,
 * then every workload operation and its outcome, every fault applied and healed, every
 * convergence seen, every violation. `t` is seconds since the run started (after the cluster came
 * up), on the run's clock: the machine's in process mode, the injected one in-process (where the
 * same seed gives the same log, byte for byte). A file log is written synchronously (a line is on
 * disk before the next step), so a run that dies leaves everything up to that point; a memory log
 * keeps its lines for the caller.
 *
 * @example
 * const log = EventLog.open(join(dir, 'events.jsonl'), Date.now());
 * log.write('fault.start', { node: 'node-1', kind: 'kill-agent' });
 * log.close();
 * const mem = EventLog.memory(clock.now(), () => clock.now());   // mem.text() after the run
 */
import { appendFileSync, closeSync, openSync } from 'node:fs';

export class EventLog {
  private fd: number | undefined;
  private lines = 0;
  private readonly kept: string[] | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private startedAtMs: number,
    private readonly now: () => number,
  ) {
    if (path) this.fd = openSync(path, 'a', 0o600);
    else this.kept = [];
  }

  static open(path: string, startedAtMs: number, now: () => number = Date.now): EventLog {
    return new EventLog(path, startedAtMs, now);
  }

  /** A log kept in memory (`path` is ''), timed by `now`. */
  static memory(startedAtMs: number, now: () => number): EventLog {
    return new EventLog('', startedAtMs, now);
  }

  /** Seconds since the start (rounded to ms). */
  seconds(atMs = this.now()): number {
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
    if (this.closed) return;
    const line = JSON.stringify({ t: this.seconds(), event, ...fields }) + '\n';
    if (this.kept) this.kept.push(line);
    else if (this.fd !== undefined) appendFileSync(this.fd, line);
    this.lines++;
  }

  /** Every line of a memory log, as the file would hold them. */
  text(): string {
    return this.kept?.join('') ?? '';
  }

  close(): void {
    this.closed = true;
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
