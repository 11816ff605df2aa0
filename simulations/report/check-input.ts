/**
 * Checks a ReportInput before anything is drawn: every number finite and in range, every text a
 * string, every enum one of its values. A bad input gets a typed error naming the field
 * (`faults[3].endS`), never a half-drawn page.
 *
 * @example
 * const r = checkReportInput(input);
 * if (!r.ok) console.error(r.error.field, r.error.message);
 */
import { err, ok, type Result } from '../../core/result.js';
import type { ReportInput } from './report-input.js';

export class ReportInputError extends Error {
  override readonly name = 'ReportInputError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
  }
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The first problem of `input`, or the input itself. */
export function checkReportInput(input: unknown): Result<ReportInput, ReportInputError> {
  const problem = findProblem(input);
  return problem ? err(problem) : ok(input as ReportInput);
}

function findProblem(input: unknown): ReportInputError | undefined {
  if (!isObj(input)) return new ReportInputError('an object expected', 'input');
  const text = (v: unknown, field: string): ReportInputError | undefined => (typeof v === 'string' ? undefined : new ReportInputError('a string expected', field));
  const num = (v: unknown, field: string, min = 0): ReportInputError | undefined =>
    finite(v) && v >= min ? undefined : new ReportInputError(`a finite number ≥ ${min} expected`, field);
  const count = (v: unknown, field: string): ReportInputError | undefined => (finite(v) && Number.isInteger(v) && v >= 0 ? undefined : new ReportInputError('a whole number ≥ 0 expected', field));
  const list = (v: unknown, field: string, each: (item: unknown, at: string) => ReportInputError | undefined): ReportInputError | undefined => {
    if (!Array.isArray(v)) return new ReportInputError('an array expected', field);
    for (let i = 0; i < v.length; i++) {
      const p = each(v[i], `${field}[${i}]`);
      if (p) return p;
    }
    return undefined;
  };
  const record = (v: unknown, at: string, check: (o: Obj) => ReportInputError | undefined): ReportInputError | undefined => (isObj(v) ? check(v) : new ReportInputError('an object expected', at));
  return (
    text(input.title, 'title') ??
    (finite(input.seed) ? undefined : new ReportInputError('a finite number expected', 'seed')) ??
    (input.mode === 'process' || input.mode === 'inproc' ? undefined : new ReportInputError("'process' or 'inproc' expected", 'mode')) ??
    list(input.nodes, 'nodes', text) ??
    num(input.durationS, 'durationS') ??
    list(input.faults, 'faults', (f, at) =>
      record(f, at, (o) =>
        text(o.node, `${at}.node`) ??
        text(o.kind, `${at}.kind`) ??
        num(o.startS, `${at}.startS`) ??
        (o.endS === undefined ? undefined : num(o.endS, `${at}.endS`, o.startS as number)) ??
        (o.detail === undefined ? undefined : text(o.detail, `${at}.detail`)),
      ),
    ) ??
    list(input.convergence, 'convergence', (c, at) =>
      record(c, at, (o) => text(o.node, `${at}.node`) ?? num(o.atS, `${at}.atS`) ?? (o.afterFaultS === undefined ? undefined : num(o.afterFaultS, `${at}.afterFaultS`))),
    ) ??
    list(input.programmingLatencyMs, 'programmingLatencyMs', num) ??
    list(input.restarts, 'restarts', (r, at) => record(r, at, (o) => text(o.actorKind, `${at}.actorKind`) ?? count(o.restarts, `${at}.restarts`) ?? count(o.escalations, `${at}.escalations`))) ??
    list(input.invariants, 'invariants', (v, at) =>
      record(v, at, (o) =>
        text(o.name, `${at}.name`) ??
        (o.kind === 'safety' || o.kind === 'liveness' ? undefined : new ReportInputError("'safety' or 'liveness' expected", `${at}.kind`)) ??
        (typeof o.ok === 'boolean' ? undefined : new ReportInputError('a boolean expected', `${at}.ok`)) ??
        list(o.violations, `${at}.violations`, (x, vat) =>
          record(x, vat, (w) => num(w.atS, `${vat}.atS`) ?? (w.node === undefined ? undefined : text(w.node, `${vat}.node`)) ?? text(w.detail, `${vat}.detail`)),
        ),
      ),
    ) ??
    text(input.replayCommand, 'replayCommand')
  );
}
