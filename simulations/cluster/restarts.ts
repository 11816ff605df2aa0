/**
 * Supervisor restarts and escalations per actor kind, read from the processes' pino lines the way
 * an operator's log query would (supervisors/report.ts logs every report with top-level
 * `supervisor`, `context` and `offender` fields; supervisors/supervisor.ts logs "child exited"
 * with `child` and `willRestart`):
 *
 * - a restart is a crash report ("supervisor child terminated"), a failed (re)start ("supervisor
 *   child failed to start") or a clean exit of a permanent child ("child exited", willRestart);
 * - an escalation is "supervisor reached max restart intensity" (counted against the
 *   supervisor that gave up);
 * - whole processes that died and were started again count as `process:<role>`.
 *
 * Actor kinds are `<role>.<child id>` with per-instance ids folded: every pod actor
 * (`pod-<container>-<ifname>`) is `agent.pod`.
 *
 * @example
 * const r = new RestartCounter();
 * r.line('manager', { level: 50, msg: 'supervisor child terminated', supervisor: 'manager', offender: { id: 'session' } });
 * r.rows(); // [{ actorKind: 'manager.session', restarts: 1, escalations: 0 }]
 */
import type { LogLine } from '../processes.js';

export interface RestartRow {
  readonly actorKind: string;
  readonly restarts: number;
  readonly escalations: number;
}

/** `pod-ctr-node-1-3-eth0` → `pod`; `pod-7` → `pod`; other ids as they are. */
export function foldChildId(id: string): string {
  if (id.startsWith('pod-') || id === 'pod') return 'pod';
  return id.replace(/-\d+$/, '');
}

/** The role of a process name: `node-1/manager-2` → `manager`, `node-1/agent` → `agent`. */
export function roleOf(processName: string): string {
  const base = processName.slice(processName.lastIndexOf('/') + 1);
  return base.replace(/-\d+$/, '');
}

export class RestartCounter {
  private readonly counts = new Map<string, { restarts: number; escalations: number }>();

  private bump(kind: string, field: 'restarts' | 'escalations'): void {
    const c = this.counts.get(kind) ?? { restarts: 0, escalations: 0 };
    c[field]++;
    this.counts.set(kind, c);
  }

  /** Reads one log line of process `processName`; lines that are not supervisor reports are ignored. */
  line(processName: string, line: LogLine): void {
    const role = roleOf(processName);
    const offender = (line.offender as { id?: unknown } | undefined)?.id;
    switch (line.msg) {
      case 'supervisor child terminated':
      case 'supervisor child failed to start':
        if (typeof offender === 'string') this.bump(`${role}.${foldChildId(offender)}`, 'restarts');
        return;
      case 'child exited':
        if (line.willRestart === true && typeof line.child === 'string') this.bump(`${role}.${foldChildId(line.child)}`, 'restarts');
        return;
      case 'supervisor reached max restart intensity':
        if (typeof line.supervisor === 'string') this.bump(`${role}.${foldChildId(line.supervisor)}`, 'escalations');
        return;
      default:
    }
  }

  /** A whole process died unexpectedly and was started again. */
  processRestart(processName: string): void {
    this.bump(`process:${roleOf(processName)}`, 'restarts');
  }

  rows(): RestartRow[] {
    return [...this.counts.entries()].map(([actorKind, c]) => ({ actorKind, ...c })).sort((a, b) => a.actorKind.localeCompare(b.actorKind));
  }
}
