/**
 * Metrics and readiness of the manager and the agent (prom-client, one Registry per process),
 * served by actors/health.ts on GET /metrics and /readyz. See docs/operations.md for what each
 * metric means and what to do when it moves.
 *
 * @example
 * import { Observability, ManagerMetrics } from '../metrics/index.js';
 */
export { BusMetrics, subjectOp } from './bus-metrics.js';
export { CniMetrics } from './cni-metrics.js';
export { ManagerMetrics } from './manager-metrics.js';
export { Observability, observedBusChild, type ObservabilityOptions, type Readiness } from './observability.js';
export { ProgrammingTracker, programmingHistogram, PROGRAMMED_OBJECTS, type ProgrammedObject } from './programming.js';
export { agentReadiness, managerReadiness, type AgentView, type ManagerView } from './readiness.js';
export { BUCKETS, LabelSet, monotonicMs, newRegistry, PREFIX, rpcCodeName, type Stopwatch } from './registry.js';
export { SessionMetrics } from './session-metrics.js';
export { kindsOf, SupervisionMetrics, type KindOf } from './supervision-metrics.js';
