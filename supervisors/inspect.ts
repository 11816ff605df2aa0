/**
 * The plain, serialisable view of a supervision tree that `inspect()` returns: enough for a CLI
 * to print and for a test to assert on (ids, statuses, state values, restart counts, last errors).
 */
import type { ChildType, RestartType } from './child-spec.js';
import type { ErrorInfo } from './errors.js';

export type ChildStatus = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';
export type SupervisorStatus = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
export const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface LastError extends ErrorInfo {
  /** Clock time of the exit. */
  readonly at: number;
}

export interface ChildInfo {
  readonly id: string;
  readonly type: ChildType;
  readonly restart: RestartType;
  readonly status: ChildStatus;
  /** `snapshot.value` of a machine child, when there is one. */
  readonly stateValue?: unknown;
  /** How many times this child has been restarted. */
  readonly restarts: number;
  readonly lastError?: LastError;
  /** Added with startChild (or from a simple_one_for_one template). */
  readonly dynamic: boolean;
  /** A running supervisor child's strategy. */
  readonly strategy?: Strategy;
  /** A supervisor child's own children. */
  readonly children?: ChildInfo[];
}

export interface SupervisorTree {
  readonly id: string;
  readonly kind: 'supervisor';
  readonly strategy: Strategy;
  readonly status: SupervisorStatus;
  /** Restarts performed by this supervisor (a one_for_all restart counts once). */
  readonly restarts: number;
  readonly children: ChildInfo[];
}
