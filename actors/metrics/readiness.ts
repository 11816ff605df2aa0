/**
 * Readiness of each role as pure functions of what its tree holds (the trees gather the view;
 * health.ts serves the answer on /readyz beside the supervision tree's own check):
 *
 * - manager: ready when it leads (holds the node's lease), its leader subtree runs, and — with
 *   a device configured — the session is primary at the target with a reconcile completed on
 *   this connection and its last write accepted. A standby is not ready (503, "standby: …"),
 *   though alive (/healthz 200): nothing should be routed to it, and nothing needs restarting.
 * - agent: ready when its interface pool is prepared (if it has one) and its manager answers
 *   (the link's hello was answered and the manager's heartbeats keep coming).
 *
 * @example
 * managerReadiness({ leading: false, holder: 'a1b2', epoch: 3 }); // { ready: false, reason: 'standby: the lease is held by a1b2 (epoch 3)', … }
 */
import type { Readiness } from './observability.js';

export interface ManagerView {
  readonly leading: boolean;
  /** The lease as last seen: the holder's instance id and the epoch. */
  readonly holder?: string;
  readonly epoch?: number;
  /** The leader subtree's status in the leadership supervisor (while leading). */
  readonly leaderSubtree?: string;
  /** The device session's readiness; undefined when no device is configured. */
  readonly session?: { readonly ready: boolean; readonly state: string; readonly reason?: string };
}

export function managerReadiness(v: ManagerView): Readiness {
  const checks = { leader: v.leading, epoch: v.epoch ?? 0, session: v.session?.state ?? 'none' };
  if (!v.leading) {
    const holder = v.holder ? `held by ${v.holder}${v.epoch ? ` (epoch ${v.epoch})` : ''}` : 'not held by anyone yet';
    return { ready: false, reason: `standby: the lease is ${holder}`, checks };
  }
  if (v.leaderSubtree !== 'running') return { ready: false, reason: `leader: the leader subtree is ${v.leaderSubtree ?? 'not started'}`, checks };
  if (v.session && !v.session.ready) return { ready: false, reason: `leader: ${v.session.reason ?? `the device session is ${v.session.state}`}`, checks };
  return { ready: true, checks };
}

export interface AgentView {
  /** undefined: no pool configured. */
  readonly pool?: 'prepared' | 'not prepared';
  /** The manager link's state: linked, hello, waiting. */
  readonly link: string;
  /** Hello attempts since the manager last answered. */
  readonly helloAttempts?: number;
}

export function agentReadiness(v: AgentView): Readiness {
  const checks = { pool: v.pool ?? 'none', manager: v.link === 'linked' ? 'answers' : 'not answering' };
  if (v.pool === 'not prepared') return { ready: false, reason: 'the interface pool is not prepared (see the pool child\'s last error)', checks };
  if (v.link !== 'linked') {
    const attempts = v.helloAttempts ? ` after ${v.helloAttempts} hello attempt${v.helloAttempts === 1 ? '' : 's'}` : '';
    return { ready: false, reason: `the manager does not answer${attempts}: no leader, or the bus is down`, checks };
  }
  return { ready: true, checks };
}
