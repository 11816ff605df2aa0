/**
 * The supervisor's children in start order, and the restarts waiting out a backoff. Pure
 * bookkeeping: no starting or stopping happens here, so the supervisor's operations stay about
 * decisions, and a pending restart can always be found and cancelled.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { err, ok, type Result } from '../core/result.js';
import { RestartWindow } from './backoff.js';
import { ChildSpecError, validateChildSpec, type NormalizedChildSpec } from './child-spec.js';
import type { ChildRun } from './child-run.js';
import type { ChildInfo, ChildStatus, LastError } from './inspect.js';
import type { Failure } from './outcomes.js';

export interface ChildRecord {
  readonly spec: NormalizedChildSpec;
  readonly args: unknown;
  readonly dynamic: boolean;
  status: ChildStatus;
  run: ChildRun | undefined;
  plan: RestartPlan | undefined;
  restarts: number;
  /** This child's own recent restarts: k in the backoff formula. */
  readonly recent: RestartWindow;
  lastError: LastError | undefined;
}

/** Children waiting out one backoff delay together (several for one_for_all / rest_for_one). */
export interface RestartPlan {
  records: ChildRecord[];
  timer: TimerHandle | undefined;
}

/** One line per child, as OTP's which_children. */
export interface ChildSummary {
  readonly id: string;
  readonly type: NormalizedChildSpec['type'];
  readonly restart: NormalizedChildSpec['restart'];
  readonly status: ChildStatus;
  readonly dynamic: boolean;
}

export class ChildTable {
  private list: ChildRecord[] = [];
  private readonly plans = new Set<RestartPlan>();
  private dynamicSeq = 0;

  constructor(
    private readonly periodMs: number,
    private readonly clock: Clock,
  ) {}

  /** In start order. */
  get records(): readonly ChildRecord[] {
    return this.list;
  }

  /** Forgets everything (pending restarts included) and lists `specs` as stopped static children. */
  reset(specs: readonly NormalizedChildSpec[]): void {
    this.cancelPlans();
    this.dynamicSeq = 0;
    this.list = specs.map((spec) => this.newRecord(spec, undefined, false));
  }

  find(id: string): ChildRecord | undefined {
    return this.list.find((r) => r.spec.id === id);
  }

  has(record: ChildRecord): boolean {
    return this.list.includes(record);
  }

  append(record: ChildRecord): void {
    this.list.push(record);
  }

  remove(record: ChildRecord): void {
    this.leavePlan(record);
    this.list = this.list.filter((r) => r !== record);
  }

  /** A simple_one_for_one child: the template under `id`, or under the next free `${template.id}-${n}`. */
  fromTemplate(
    template: NormalizedChildSpec,
    args: unknown,
    id: string | undefined,
  ): Result<ChildRecord, Failure<'already_present' | 'invalid_spec'>> {
    if (id !== undefined && (typeof id !== 'string' || id.length === 0)) {
      return err({ ok: false, reason: 'invalid_spec', error: new ChildSpecError('id', 'id must be a non-empty string') });
    }
    let childId = id;
    while (childId === undefined || (id === undefined && this.find(childId))) {
      childId = `${template.id}-${++this.dynamicSeq}`;
    }
    if (this.find(childId)) return err({ ok: false, reason: 'already_present', childId });
    return ok(this.newRecord({ ...template, id: childId }, args, true));
  }

  /** A child added with startChild(spec) under the other strategies. */
  fromSpec(input: unknown): Result<ChildRecord, Failure<'already_present' | 'invalid_spec'>> {
    const spec = validateChildSpec(input);
    if (!spec.ok) return err({ ok: false, reason: 'invalid_spec', error: spec.error });
    if (this.find(spec.value.id)) return err({ ok: false, reason: 'already_present', childId: spec.value.id });
    return ok(this.newRecord(spec.value, undefined, true));
  }

  /** Puts `records` on one new plan (taking them off any older one) and marks them restarting. */
  plan(records: readonly ChildRecord[]): RestartPlan {
    const plan: RestartPlan = { records: [...records], timer: undefined };
    for (const record of records) {
      this.leavePlan(record);
      record.plan = plan;
      record.status = 'restarting';
    }
    return plan;
  }

  /** Runs `fire` after `delayMs`, unless the plan is cancelled or emptied first. */
  arm(plan: RestartPlan, delayMs: number, fire: () => void): void {
    this.plans.add(plan);
    plan.timer = this.clock.setTimeout(() => {
      plan.timer = undefined;
      this.plans.delete(plan);
      fire();
    }, delayMs);
  }

  /** Takes `record` off its pending plan; an emptied plan's timer is cleared. */
  leavePlan(record: ChildRecord): void {
    const plan = record.plan;
    if (!plan) return;
    record.plan = undefined;
    plan.records = plan.records.filter((r) => r !== record);
    if (plan.records.length === 0) this.disarm(plan);
  }

  /** Drops every pending restart; those children are simply stopped. */
  cancelPlans(): void {
    for (const plan of [...this.plans]) {
      this.disarm(plan);
      for (const record of plan.records) {
        if (record.plan !== plan) continue;
        record.plan = undefined;
        record.status = 'stopped';
      }
    }
  }

  summaries(): ChildSummary[] {
    return this.list.map((r) => ({ id: r.spec.id, type: r.spec.type, restart: r.spec.restart, status: r.status, dynamic: r.dynamic }));
  }

  infos(): ChildInfo[] {
    return this.list.map(childInfo);
  }

  private disarm(plan: RestartPlan): void {
    if (plan.timer !== undefined) this.clock.clearTimeout(plan.timer);
    plan.timer = undefined;
    this.plans.delete(plan);
  }

  private newRecord(spec: NormalizedChildSpec, args: unknown, dynamic: boolean): ChildRecord {
    return {
      spec,
      args,
      dynamic,
      status: 'stopped',
      run: undefined,
      plan: undefined,
      restarts: 0,
      recent: new RestartWindow(this.periodMs),
      lastError: undefined,
    };
  }
}

function childInfo(record: ChildRecord): ChildInfo {
  const stateValue = record.run?.stateValue();
  const nested = record.run?.nested();
  return {
    id: record.spec.id,
    type: record.spec.type,
    restart: record.spec.restart,
    status: record.status,
    ...(stateValue !== undefined ? { stateValue } : {}),
    restarts: record.restarts,
    ...(record.lastError ? { lastError: record.lastError } : {}),
    dynamic: record.dynamic,
    ...(nested ? { strategy: nested.strategy, children: nested.children } : {}),
  };
}
