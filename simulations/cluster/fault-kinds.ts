/**
 * The simulator's catalogue of faults: what each kind does, whether it touches one node or the
 * whole cluster, whether it lasts (a window with a start and an end) or is instantaneous (kill -9),
 * and how long a lasting one may be. Pure data plus the parser of `--faults all|<comma list>`.
 *
 * | kind | scope | what the fault runner does |
 * |---|---|---|
 * | kill-manager | node | kill -9 of one of the node's managers (restarted 300 ms later, as systemd) |
 * | kill-agent | node | kill -9 of the node's agent |
 * | kill-target | node | kill -9 of the P4 target: it restarts with empty tables (and no learned flows) |
 * | kill-nats | cluster | kill -9 of nats-server, restarted on the same port with the same JetStream store |
 * | stall | node | SIGSTOP of the manager, agent or target for the window, then SIGCONT |
 * | partition-agent-nats | node | the agent↔NATS proxy black-holes or resets for the window |
 * | partition-manager-target | node | the manager↔target proxy black-holes or resets for the window |
 * | bus-drop / bus-duplicate / bus-reorder / bus-delay | node | the agent↔NATS proxy drops, duplicates, reorders or delays whole messages |
 * | p4-slow-writes | node | the target delays every Write RPC (TargetAdmin.SetFaults) |
 * | p4-write-failures | node | the target fails updates with RESOURCE_EXHAUSTED or UNAVAILABLE at a seeded rate |
 * | kube-watch-drop | cluster | the API stand-in cuts every open watch |
 * | kube-410 | cluster | the stand-in forgets its history and sends every watch 410 Expired |
 * | kube-outage | cluster | the stand-in closes its listener for the window |
 * | kv-loss | node | the node's intent bucket and lease key are deleted from JetStream KV |
 * | clock-jump | node | the leader's, the standby's or the agent's clock steps 2–20 s forward or back (its injected clock only: INFRA_CLOCK_OFFSET_DIR, actors/run-process.ts) |
 * | disk-full | node | the agent's state directory (a small tmpfs of the run's own) is filled up for the window |
 *
 * @example
 * const kinds = parseFaultList('kill-manager,bus-drop'); // { ok: true, value: ['kill-manager', 'bus-drop'] }
 */
import { err, ok, type Result } from '../../core/result.js';
import { SimError } from './errors.js';

export interface FaultKindSpec {
  /** 'cluster' faults touch shared services (NATS, the API server) and name no node. */
  readonly scope: 'node' | 'cluster';
  /** Shortest and longest window in ms; 0 and 0 for an instantaneous fault. */
  readonly minMs: number;
  readonly maxMs: number;
  /** Needs root (a tmpfs mount); skipped with a reason otherwise. */
  readonly root?: boolean;
}

/** The catalogue, in its order (plans and `--faults all` follow it). */
const SPECS = {
  'kill-manager': { scope: 'node', minMs: 0, maxMs: 0 },
  'kill-agent': { scope: 'node', minMs: 0, maxMs: 0 },
  'kill-target': { scope: 'node', minMs: 0, maxMs: 0 },
  'kill-nats': { scope: 'cluster', minMs: 0, maxMs: 0 },
  stall: { scope: 'node', minMs: 1000, maxMs: 4000 },
  'partition-agent-nats': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'partition-manager-target': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'bus-drop': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'bus-duplicate': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'bus-reorder': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'bus-delay': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'p4-slow-writes': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'p4-write-failures': { scope: 'node', minMs: 2000, maxMs: 6000 },
  'kube-watch-drop': { scope: 'cluster', minMs: 0, maxMs: 0 },
  'kube-410': { scope: 'cluster', minMs: 0, maxMs: 0 },
  'kube-outage': { scope: 'cluster', minMs: 2000, maxMs: 6000 },
  'kv-loss': { scope: 'node', minMs: 0, maxMs: 0 },
  'clock-jump': { scope: 'node', minMs: 0, maxMs: 0 },
  'disk-full': { scope: 'node', minMs: 2000, maxMs: 6000, root: true },
} satisfies Record<string, FaultKindSpec>;

export type FaultKind = keyof typeof SPECS;

export const FAULT_SPECS: Readonly<Record<FaultKind, FaultKindSpec>> = SPECS;

export const FAULT_KINDS: readonly FaultKind[] = Object.keys(FAULT_SPECS) as FaultKind[];

/** The node name cluster-wide faults carry in plans and reports. */
export const CLUSTER = 'cluster';

export function isFaultKind(s: string): s is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(s);
}

/**
 * `all`, or a comma list of kinds (each once, in catalogue order). An unknown or empty list is a
 * typed error naming the known kinds; `none` is the empty list (a run without faults).
 */
export function parseFaultList(text: string): Result<FaultKind[], SimError> {
  const t = text.trim();
  if (t === 'all') return ok([...FAULT_KINDS]);
  if (t === 'none') return ok([]);
  const names = t.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) return err(new SimError('BAD_OPTION', 'faults', `--faults: give all, none or a comma list of: ${FAULT_KINDS.join(', ')}`));
  const unknown = names.filter((n) => !isFaultKind(n));
  if (unknown.length > 0) return err(new SimError('BAD_OPTION', 'faults', `--faults: unknown kind ${unknown.map((u) => JSON.stringify(u.slice(0, 40))).join(', ')} (known: ${FAULT_KINDS.join(', ')})`));
  return ok(FAULT_KINDS.filter((k) => names.includes(k)));
}
