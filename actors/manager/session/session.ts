/**
 * The hardware session: one supervised actor per P4 device, owning the manager's side of the
 * pipeline.
 *
 *   connecting → connected { arbitrating → pipeline → reconciling → ready ⇄ syncing }
 *        ▲              │ stream ended / transport failure
 *        └── backoff ◀──┘ (jittered, growing)
 *
 * - arbitrating: the election id is the leadership lease's epoch, so a new leader always
 *   arbitrates at least as high as any before it. Until the target says we are primary we wait.
 * - pipeline: a running pipeline that is ours is kept (never wiped); otherwise ours is committed.
 * - reconciling: read back every table entry, member and group, diff with the desired entities
 *   and write only the difference, in dependency order. Learned connections are left alone
 *   except those `retire` picks (flows of endpoints the intent removed).
 * - ready: a `desired.changed` event writes the difference from the shadow of what was last
 *   written (changes arriving meanwhile collapse into the next sync) — only for the keys
 *   `takeChanges` names, when the desired state can say what changed; every `resyncMs` a full
 *   reconcile repairs drift. An ALREADY_EXISTS or NOT_FOUND we caused cannot happen — if one
 *   does, the picture was wrong: re-read and repair instead of failing.
 */
import type { Logger } from 'pino';
import { assign, fromCallback, fromPromise, setup, type ActorRefFrom } from 'xstate';
import type { Random } from '../../../core/random.js';
import type { Keyed, WireEntity } from '../../../p4/desired.js';
import { diffKeyed } from '../../../p4/desired.js';
import { P4RuntimeClient, type CallTimeouts, type ClientTls } from '../../../p4/runtime-client.js';
import type { P4RuntimeLink } from '../../../p4/runtime-link.js';
import { toUint128 } from '../../../p4/uint128.js';
import { SHUTDOWN_EVENT } from '../../../supervisors/index.js';
import {
  countsOf,
  ensurePipeline,
  isTransportFailure,
  needsRepair,
  ourPipeline,
  planFromChanges,
  planFromShadow,
  readAll,
  retireLearned,
  shadowOf,
  tell,
  writePlan,
  type OurPipeline,
  type SessionObserver,
  type SessionTarget,
  type WriteCounts,
} from './session-io.js';

/** The intent is complete enough to be written (always, without a `desiredReady` check). */
const intentComplete = (context: { desiredReady?: () => boolean }): boolean => context.desiredReady?.() ?? true;

export interface SessionInput {
  readonly address: string;
  readonly tls?: ClientTls;
  /** Deadlines of the P4Runtime calls (a target that stops answering must not wedge the session). */
  readonly timeouts?: CallTimeouts;
  /**
   * Opens the connection to the target instead of a grpc-js P4RuntimeClient to `address` (the
   * in-process simulator gives a loopback link, p4/target/loopback.ts, whose deadlines run on its
   * clock; `tls` and `timeouts` are then unused). Called on every (re)connect; a rejection is a
   * failed connect (backoff, then again).
   */
  readonly connect?: () => Promise<P4RuntimeLink>;
  readonly deviceId: number;
  /** The leadership lease's epoch: our P4Runtime election id. */
  readonly electionId: bigint;
  readonly p4infoJson: unknown;
  /** The current desired entities (from the render of the intent). */
  readonly desired: () => ReadonlyMap<string, Keyed>;
  /** Tables the data plane learns into (add-on-miss): not part of the desired state. */
  readonly volatileTables: ReadonlySet<number>;
  /** Action profile ids to read members and groups of. */
  readonly profileIds: readonly number[];
  /**
   * Whether the desired state is complete (e.g. the intent was loaded after a restart). Until it
   * is, the session does not reconcile: an empty intent would delete everything.
   */
  readonly desiredReady?: () => boolean;
  /** Learned entries to delete on reconcile (e.g. flows of removed endpoints). */
  readonly retire?: (entity: WireEntity) => boolean;
  /**
   * The keys whose desired entity may have changed since the last call, or undefined when that
   * is unknown. When given, `desired()` may return a live map and a sync diffs only these keys
   * against the shadow (O(change), not O(entities)).
   */
  readonly takeChanges?: () => Iterable<string> | undefined;
  /** Whether `retire` may match learned entries now (an endpoint went away): a sync then sweeps them too. */
  readonly takeRetire?: () => boolean;
  readonly resyncMs: number;
  readonly batchSize: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly random: Random;
  readonly logger: Logger;
  /** Told after each successful reconcile or sync (tests, metrics, request acknowledgements). */
  readonly onSynced?: (counts: WriteCounts, kind: 'reconcile' | 'sync') => void;
  /** Told of every write, reconcile, sync and sweep (metrics). */
  readonly observer?: SessionObserver;
  /** Milliseconds on a monotonic clock, for the durations told to `observer` (default performance.now). */
  readonly stopwatch?: () => number;
}

interface SessionContext extends SessionInput {
  readonly pipeline: OurPipeline;
  client: P4RuntimeLink | undefined;
  shadow: Map<string, Keyed>;
  attempts: number;
  dirty: boolean;
  reconciles: number;
  /** A reconcile completed on the current connection (readiness: primary and programmed). */
  reconciledHere: boolean;
  lastError: string | undefined;
}

export type SessionEvent =
  | { type: 'desired.changed' }
  | { type: 'arbitration'; primary: boolean }
  | { type: 'stream.ended'; reason: string }
  | typeof SHUTDOWN_EVENT;

function target(c: SessionContext): SessionTarget {
  if (!c.client) throw new Error('no client');
  return { client: c.client, deviceId: c.deviceId, electionId: c.electionId, ...(c.observer ? { observer: c.observer } : {}) };
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === 'string' ? e : 'unknown';
}


/** The arbitration stream: open for the whole connection; its end ends the connection. */
const streamLogic = fromCallback<SessionEvent, { client: P4RuntimeLink; deviceId: number; electionId: bigint }>(({ input, sendBack }) => {
  const stream = input.client.openStream();
  let open = true;
  stream.send({ arbitration: { device_id: input.deviceId, election_id: toUint128(input.electionId) } });
  void (async () => {
    while (open) {
      const m = await stream.next(60_000);
      if (!open) return;
      if (m === undefined) {
        if (stream.ended !== undefined) {
          sendBack({ type: 'stream.ended', reason: stream.ended?.message ?? 'closed by the target' });
          return;
        }
        continue;
      }
      const arb = m.arbitration as { status?: { code?: number } } | undefined;
      if (arb) sendBack({ type: 'arbitration', primary: (arb.status?.code ?? 0) === 0 });
    }
  })();
  return () => {
    open = false;
    stream.close();
  };
});

/** The link with its Write RPCs counted, so that a stopping session can wait for those under way. */
interface TrackedLink extends P4RuntimeLink {
  /** Resolves once every Write sent so far has settled. */
  idle(): Promise<void>;
}

function tracked(link: P4RuntimeLink): TrackedLink {
  const pending = new Set<Promise<unknown>>();
  return {
    getPipeline: (r) => link.getPipeline(r),
    setPipeline: (r) => link.setPipeline(r),
    read: (r) => link.read(r),
    readEach: (r, onMessage) => link.readEach(r, onMessage),
    write: (r) => {
      const p = link.write(r);
      pending.add(p);
      const done = (): void => void pending.delete(p);
      p.then(done, done);
      return p;
    },
    openStream: () => link.openStream(),
    close: () => link.close(),
    idle: () => Promise.allSettled([...pending]).then(() => undefined),
  };
}

export const sessionLogic = setup({
  types: { context: {} as SessionContext, events: {} as SessionEvent, input: {} as SessionInput },
  actors: {
    stream: streamLogic,
    connect: fromPromise<P4RuntimeLink, { address: string; tls: ClientTls | undefined; timeouts: CallTimeouts | undefined; connect: (() => Promise<P4RuntimeLink>) | undefined }>(async ({ input }) => {
      if (input.connect) return tracked(await input.connect());
      const client = new P4RuntimeClient(input.address, input.tls, input.timeouts);
      try {
        await client.waitReady(3000);
        return tracked(client);
      } catch (e) {
        client.close();
        throw e;
      }
    }),
    /**
     * A stopping session lets the writes it sent settle (within the supervisor's shutdown time)
     * before it closes: the target may be holding one (slow writes), and a session started after
     * this one (the leader subtree restarted with the same epoch) must not read the device before
     * that write lands and then insert the same entry again (ALREADY_EXISTS, found in-process).
     */
    drain: fromPromise<void, P4RuntimeLink | undefined>(({ input }) => (input as TrackedLink | undefined)?.idle?.() ?? Promise.resolve()),
    pipeline: fromPromise<boolean, SessionContext>(async ({ input }) => ensurePipeline(target(input), input.pipeline, input.logger)),
    reconcile: fromPromise<{ counts: WriteCounts; shadow: Map<string, Keyed> }, SessionContext>(async ({ input }) => {
      const stopwatch = input.stopwatch ?? (() => performance.now());
      const started = input.observer ? stopwatch() : 0;
      const t = target(input);
      try {
        const actual = await readAll(t, input.profileIds);
        // Planned and snapshotted in one turn: `desired` may be live, and what changes during the
        // writes is in the next takeChanges, so the shadow must be what this plan writes.
        input.takeChanges?.();
        input.takeRetire?.();
        const desired = input.desired();
        const plan = diffKeyed(desired, actual, { volatileTables: input.volatileTables, ...(input.retire ? { retire: input.retire } : {}) });
        // After this plan the target holds exactly `desired` (learned tables aside); when the plan is
        // empty it already did, so keying the read-back a second time would only cost time.
        const shadow = shadowOf(desired);
        const writes = await writePlan(t, plan, input.batchSize);
        const counts = countsOf(plan, writes);
        tell(input.observer, (o) => o.reconciled((stopwatch() - started) / 1000, { plan, counts, actual, shadow }));
        return { counts, shadow };
      } catch (e) {
        tell(input.observer, (o) => o.reconciled((stopwatch() - started) / 1000));
        throw e;
      }
    }),
    sync: fromPromise<{ counts: WriteCounts; shadow: Map<string, Keyed> }, SessionContext>(async ({ input }) => {
      const desired = input.desired();
      const changes = input.takeChanges?.();
      const sweep = input.takeRetire?.() === true ? input.retire : undefined;
      if (changes === undefined) {
        const plan = planFromShadow(desired, input.shadow);
        const shadow = shadowOf(desired);
        const writes = await writePlan(target(input), plan, input.batchSize);
        tell(input.observer, (o) => o.replaced(shadow));
        const retired = sweep ? await retireLearned(target(input), input.volatileTables, sweep, input.batchSize) : 0;
        return { counts: { ...countsOf(plan, writes), retired }, shadow };
      }
      const { plan, updates } = planFromChanges(desired, input.shadow, changes);
      const writes = await writePlan(target(input), plan, input.batchSize);
      tell(input.observer, (o) => o.synced(input.shadow, updates));
      // The shadow is large: updated in place, only once the writes are in.
      for (const [key, k] of updates) {
        if (k) input.shadow.set(key, k);
        else input.shadow.delete(key);
      }
      const retired = sweep ? await retireLearned(target(input), input.volatileTables, sweep, input.batchSize) : 0;
      return { counts: { ...countsOf(plan, writes), retired }, shadow: input.shadow };
    }),
  },
  delays: {
    backoff: ({ context }) => {
      const base = Math.min(context.backoff.maxMs, context.backoff.initialMs * 2 ** Math.min(context.attempts, 16));
      return Math.round(base * (0.75 + 0.5 * context.random.next()));
    },
    resync: ({ context }) => context.resyncMs,
    /** After a refused write: the backoff's growing, jittered delay, never longer than a resync. */
    retry: ({ context }) => {
      const base = Math.min(context.backoff.maxMs, context.backoff.initialMs * 2 ** Math.min(context.attempts, 16));
      return Math.min(context.resyncMs, Math.round(base * (0.75 + 0.5 * context.random.next())));
    },
  },
  actions: {
    closeClient: assign({
      client: ({ context }) => {
        context.client?.close();
        return undefined;
      },
    }),
    noteError: assign({
      lastError: ({ event }) => describe((event as { error?: unknown }).error ?? (event as { reason?: string }).reason),
      attempts: ({ context }) => context.attempts + 1,
    }),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    ...input,
    pipeline: ourPipeline(input.p4infoJson),
    client: undefined,
    shadow: new Map(),
    attempts: 0,
    dirty: false,
    reconciles: 0,
    reconciledHere: false,
    lastError: undefined,
  }),
  initial: 'connecting',
  on: { [SHUTDOWN_EVENT.type]: '.draining', 'desired.changed': { actions: assign({ dirty: true }) } },
  states: {
    connecting: {
      invoke: {
        src: 'connect',
        input: ({ context }) => ({ address: context.address, tls: context.tls, timeouts: context.timeouts, connect: context.connect }),
        onDone: { target: 'connected', actions: assign({ client: ({ event }) => event.output, reconciledHere: false }) },
        onError: { target: 'backoff', actions: 'noteError' },
      },
    },
    connected: {
      invoke: { src: 'stream', input: ({ context }) => ({ client: context.client!, deviceId: context.deviceId, electionId: context.electionId }) },
      on: {
        'stream.ended': { target: 'backoff', actions: ['noteError', ({ context, event }) => context.logger.warn({ reason: event.reason }, 'arbitration stream ended')] },
        // Demoted (another client arbitrated higher): stop writing until we are primary again.
        arbitration: { guard: ({ event }) => !event.primary, target: '.arbitrating', actions: ({ context }) => context.logger.warn('no longer primary at the target') },
      },
      initial: 'arbitrating',
      states: {
        arbitrating: {
          on: {
            arbitration: [
              { guard: ({ event }) => event.primary, target: 'pipeline' },
              { actions: ({ context }) => context.logger.warn({ electionId: String(context.electionId) }, 'not primary at the target: waiting') },
            ],
          },
        },
        pipeline: {
          invoke: {
            src: 'pipeline',
            input: ({ context }) => context,
            onDone: { target: 'waitingForIntent' },
            onError: { target: '#session.backoff', actions: 'noteError' },
          },
        },
        waitingForIntent: {
          always: { guard: ({ context }) => intentComplete(context), target: 'reconciling' },
          on: { 'desired.changed': { guard: ({ context }) => intentComplete(context), target: 'reconciling' } },
        },
        reconciling: {
          entry: assign({ dirty: false }),
          invoke: {
            src: 'reconcile',
            input: ({ context }) => context,
            onDone: {
              target: 'ready',
              actions: [
                assign({ shadow: ({ event }) => event.output.shadow, attempts: 0, reconciles: ({ context }) => context.reconciles + 1, reconciledHere: true }),
                ({ context, event }) => {
                  context.logger.info({ ...event.output.counts }, 'reconciled');
                  context.onSynced?.(event.output.counts, 'reconcile');
                },
              ],
            },
            onError: [
              { guard: ({ event }) => isTransportFailure(event.error), target: '#session.backoff', actions: 'noteError' },
              { target: 'degraded', actions: ['noteError', ({ context, event }) => context.logger.error({ err: event.error }, 'reconcile refused by the target')] },
            ],
          },
        },
        // While the intent is incomplete (the manager's KV lost keys and the agent's state is being
        // pulled again), nothing is written: an incomplete desired state would delete live entries.
        ready: {
          always: { guard: ({ context }) => context.dirty && intentComplete(context), target: 'syncing' },
          on: { 'desired.changed': [{ guard: ({ context }) => intentComplete(context), target: 'syncing' }, { actions: assign({ dirty: true }) }] },
          after: { resync: 'waitingForIntent' },
        },
        syncing: {
          entry: assign({ dirty: false }),
          invoke: {
            src: 'sync',
            input: ({ context }) => context,
            onDone: {
              target: 'ready',
              actions: [assign({ shadow: ({ event }) => event.output.shadow }), ({ context, event }) => context.onSynced?.(event.output.counts, 'sync')],
            },
            onError: [
              { guard: ({ event }) => isTransportFailure(event.error), target: '#session.backoff', actions: 'noteError' },
              { guard: ({ event }) => needsRepair(event.error), target: 'waitingForIntent', actions: ({ context, event }) => context.logger.warn({ err: event.error }, 'target differs from our shadow: repairing') },
              { target: 'degraded', actions: ['noteError', ({ context, event }) => context.logger.error({ err: event.error }, 'write refused by the target')] },
            ],
          },
        },
        // A write the target refused (a full table, UNAVAILABLE for an update, a bad value): keep
        // the connection and reconcile again — at once on the next change, else after a growing,
        // jittered delay (a transient refusal is repaired in a moment, a full table is not
        // hammered), at the latest on the resync period.
        degraded: {
          // Not ready again until a reconcile completes.
          entry: assign({ reconciledHere: false }),
          on: { 'desired.changed': { target: 'waitingForIntent' } },
          after: { retry: 'waitingForIntent' },
        },
      },
    },
    backoff: {
      entry: ['closeClient', ({ context }) => context.logger.warn({ attempt: context.attempts, error: context.lastError }, 'P4Runtime session down: reconnecting')],
      after: { backoff: 'connecting' },
    },
    draining: { invoke: { src: 'drain', input: ({ context }) => context.client, onDone: 'stopped', onError: 'stopped' } },
    stopped: { entry: 'closeClient', type: 'final' },
  },
});

export type SessionRef = ActorRefFrom<typeof sessionLogic>;

/** Whether the session serves its purpose now, and if not, why (for /readyz). */
export interface SessionReadiness {
  readonly ready: boolean;
  /** Where the session is: connecting, backoff, arbitrating, pipeline, waitingForIntent, reconciling, ready, syncing, degraded, stopped. */
  readonly state: string;
  readonly reason?: string;
}

/**
 * Ready when primary at the target with a reconcile completed on this connection and the last
 * write accepted: in `ready` or `syncing`, or in a periodic resync's `reconciling` after one.
 *
 * @example
 * sessionReadiness(refs.session?.getSnapshot()); // { ready: false, state: 'arbitrating', reason: 'not primary at the target: …' }
 */
export function sessionReadiness(snapshot: ReturnType<SessionRef['getSnapshot']> | undefined): SessionReadiness {
  if (!snapshot || snapshot.status !== 'active') return { ready: false, state: 'stopped', reason: 'the device session is not running' };
  const value = snapshot.value;
  const c = snapshot.context;
  if (typeof value === 'string') {
    if (value === 'backoff') return { ready: false, state: value, reason: `the target is unreachable (retrying): ${c.lastError ?? 'unknown'}` };
    return { ready: false, state: value, reason: value === 'connecting' ? `connecting to the target at ${c.address}` : 'the device session is stopping' };
  }
  const inner = (value as { connected?: unknown }).connected;
  const state = typeof inner === 'string' ? inner : 'unknown';
  switch (state) {
    case 'ready':
    case 'syncing':
      return { ready: true, state };
    case 'reconciling':
      return c.reconciledHere ? { ready: true, state } : { ready: false, state, reason: 'the first reconcile on this connection is in progress' };
    case 'arbitrating':
      return { ready: false, state, reason: `not primary at the target (election id ${String(c.electionId)}): waiting for arbitration` };
    case 'pipeline':
      return { ready: false, state, reason: 'checking or pushing the pipeline' };
    case 'waitingForIntent':
      return { ready: false, state, reason: 'waiting for the intent to be complete (loaded, or the agent\'s state applied)' };
    case 'degraded':
      return { ready: false, state, reason: `the target refused the last write: ${c.lastError ?? 'unknown'}` };
    default:
      return { ready: false, state, reason: 'unknown session state' };
  }
}
