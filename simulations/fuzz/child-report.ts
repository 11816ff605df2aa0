/**
 * What a fuzz child (`fuzz-cli.ts --target T --report-fd 3`) tells the coordinator that started
 * it, one JSON object per line on a pipe of its own (fd 3, so nothing a library prints on stdout
 * can be mistaken for it):
 *
 *   {"fuzz":"start","target":"bus","cases":N,"seed":S,"pid":P}
 *   {"fuzz":"progress","target":"bus","done":n,"total":N}      at most every 250 ms, and at the end
 *   {"fuzz":"rows","target":"bus","rows":[FuzzRow…]}            after every chunk of the run
 *   {"fuzz":"end","target":"bus","ms":M}                        the run finished (findings or not)
 *
 * A child that exits without its `end` line died: the coordinator reports that as a finding.
 *
 * @example
 * const report = childReporter(3, 'bus', 1000);
 * report.progress(500);
 * report.rows(rows);
 * report.end();
 */
import { writeSync } from 'node:fs';
import type { FuzzRow } from './harness.js';

export type ChildMessage =
  | { readonly fuzz: 'start'; readonly target: string; readonly cases: number; readonly seed: number; readonly pid: number }
  | { readonly fuzz: 'progress'; readonly target: string; readonly done: number; readonly total: number }
  | { readonly fuzz: 'rows'; readonly target: string; readonly rows: FuzzRow[] }
  | { readonly fuzz: 'end'; readonly target: string; readonly ms: number };

export interface ChildReporter {
  start(seed: number): void;
  progress(done: number): void;
  rows(rows: readonly FuzzRow[]): void;
  end(): void;
}

/** Writes messages to `fd` (synchronously: a line is whole even if the process dies just after). */
export function childReporter(fd: number, target: string, total: number, everyMs = 250): ChildReporter {
  const started = performance.now();
  let last = 0;
  let lastDone = -1;
  const send = (m: ChildMessage): void => {
    try {
      writeSync(fd, `${JSON.stringify(m)}\n`);
    } catch {
      // The coordinator is gone; the run goes on (parent-watch ends it).
    }
  };
  return {
    start: (seed) => send({ fuzz: 'start', target, cases: total, seed, pid: process.pid }),
    progress(done) {
      const now = performance.now();
      if (done === lastDone || (now - last < everyMs && done < total)) return;
      last = now;
      lastDone = done;
      send({ fuzz: 'progress', target, done, total });
    },
    rows: (rows) => send({ fuzz: 'rows', target, rows: [...rows] }),
    end: () => send({ fuzz: 'end', target, ms: Math.round(performance.now() - started) }),
  };
}

/**
 * One line of a child's report, or undefined for anything else (a partial or foreign line).
 *
 * @example
 * parseChildLine('{"fuzz":"progress","target":"bus","done":5,"total":10}'); // the message
 * parseChildLine('hello'); // undefined
 */
export function parseChildLine(line: string): ChildMessage | undefined {
  if (!line.startsWith('{"fuzz":')) return undefined;
  try {
    const m = JSON.parse(line) as Partial<ChildMessage> & Record<string, unknown>;
    if (typeof m.target !== 'string') return undefined;
    if (m.fuzz === 'progress' && typeof m.done === 'number' && typeof m.total === 'number') return m as ChildMessage;
    if (m.fuzz === 'rows' && Array.isArray(m.rows)) return m as ChildMessage;
    if (m.fuzz === 'start' || m.fuzz === 'end') return m as ChildMessage;
  } catch {
    // not a message
  }
  return undefined;
}
