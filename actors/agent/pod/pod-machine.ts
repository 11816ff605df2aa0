/**
 * One actor per pod interface (container id + CNI ifname), supervised by the pod hub's
 * simple_one_for_one supervisor:
 *
 *   add:     allocating → plumbing → recording → registering ⇄ waiting → ready ──delete──▶ deleting → deleted
 *   prepare: allocating → moving → awaiting the ADD's request → plumbing … (the move overlaps IPAM)
 *   recover: verifying ──ok──▶ registering … (after an agent restart; drifted → plumbing, gone → deleting)
 *   abandon: deleting (an allocation whose ADD never finished)
 *
 * Any failing step of an ADD rolls back (rollingBack: unregister, unplumb, re-create a destroyed
 * TAP, release the index) and ends in `failed`; one that could not record the allocation because
 * the disk is full (ENOSPC) fails with RESOURCE_EXHAUSTED, which the plugin reports as "try again
 * later". Registration (the intent store, then the manager) is retried with backoff until the
 * ADD's deadline, so an unreachable manager makes the ADD wait and then fail cleanly with
 * UNAVAILABLE; the runtime retries. A recovered pod has no caller
 * waiting and retries registration forever. A DEL that arrives while the ADD is under way is
 * kept and done as soon as the ADD settles. Every step is idempotent, so a crashed actor that
 * the supervisor restarts with the same arguments simply resumes.
 *
 * The work itself is behind `PodWork` (the hub binds it to the pool, iproute2 and the bus), so
 * tests drive the machine with fakes and the injected clock.
 */
import type { Logger } from 'pino';
import { assign, fromPromise, setup } from 'xstate';
import type { Clock } from '../../../core/clock.js';
import type { Result } from '../../../core/result.js';
import { BusError } from '../../../messages/errors.js';
import type { CniAdd, CniAddResult, CniPrepare } from '../../../protocol/cni.js';
import type { Allocation, PodKey, PodRecord } from '../pool/allocator.js';
import { stateErrorCode } from '../pool/state-file.js';

/** What the actor tells its hub; the hub answers the waiting CNI calls. */
export type PodOutcome =
  | { readonly kind: 'added'; readonly result: CniAddResult }
  | { readonly kind: 'add-failed'; readonly error: BusError }
  | { readonly kind: 'deleted' }
  | { readonly kind: 'delete-failed'; readonly error: BusError };

/** The side effects, each idempotent; failures are values. */
export interface PodWork {
  allocate(key: PodKey): Promise<Result<Allocation, Error>>;
  /** Moves the TAP into the pod's namespace as its ifname (a Prepare), and records where it is. */
  move(allocation: Allocation, prepare: CniPrepare): Promise<Result<Allocation, Error>>;
  /**
   * Moves (unless `moved`), renames, addresses the interface (as `request` asks, or as recorded);
   * returns where it is now.
   */
  plumb(allocation: Allocation, request: CniAdd | undefined, moved: boolean): Promise<Result<{ name: string; netns: string; pod: PodRecord }, Error>>;
  record(key: PodKey, where: { name: string; netns: string; pod: PodRecord }): Promise<Result<Allocation, Error>>;
  /** 'ok', 'drifted' (re-plumb it), or 'gone' (the namespace or interface no longer exists). */
  verify(allocation: Allocation): Promise<Result<'ok' | 'drifted' | 'gone', Error>>;
  /** The intent store, then the manager. */
  register(allocation: Allocation): Promise<Result<void, BusError>>;
  /** Unregister (best effort), unplumb, re-create a destroyed TAP, release the index. */
  teardown(key: PodKey): Promise<Result<void, Error>>;
}

export interface PodInput {
  readonly key: PodKey;
  readonly mode: 'add' | 'recover' | 'abandon';
  /** The ADD (mode 'add'); recover and abandon work from the allocation. */
  readonly request?: CniAdd;
  /** Mode 'add' started by a Prepare: the request comes later, as a `request` event. */
  readonly prepare?: CniPrepare;
  /** How long a prepared interface waits for its ADD before it is undone. */
  readonly prepareTimeoutMs?: number;
  readonly allocation?: Allocation;
  /** Clock time by which an ADD must be registered (mode 'add'). */
  readonly deadlineAt: number;
  readonly retryMs: number;
  readonly clock: Clock;
  readonly work: PodWork;
  readonly notify: (outcome: PodOutcome) => void;
  readonly logger: Logger;
}

interface PodContext extends PodInput {
  request: CniAdd | undefined;
  deadlineAt: number;
  moved: boolean;
  allocation: Allocation | undefined;
  error: BusError | undefined;
  deleteRequested: boolean;
  attempts: number;
}

export type PodEvent = { type: 'delete' } | { type: 'request'; request: CniAdd; deadlineAt: number };

function asBusError(e: unknown, code: BusError['code'] = 'INTERNAL'): BusError {
  if (e instanceof BusError) return e;
  // A full disk (the pool's state cannot be written) passes: the runtime is told to try again later.
  if (e instanceof Error && DISK_FULL.has(stateErrorCode(e) ?? '')) return new BusError('RESOURCE_EXHAUSTED', e.message);
  return new BusError(code, e instanceof Error ? e.message : String(e));
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

function resultOf(a: Allocation): CniAddResult {
  return { ifname: a.name, mac: a.pod?.mac ?? '', sandbox: a.netns ?? '', portId: a.index };
}

/** Unwraps a Result inside a promise actor: an error value becomes the actor's rejection. */
async function must<T>(p: Promise<Result<T, Error>>): Promise<T> {
  const r = await p;
  if (!r.ok) throw r.error;
  return r.value;
}

export const podLogic = setup({
  types: { context: {} as PodContext, input: {} as PodInput, events: {} as PodEvent },
  actors: {
    allocate: fromPromise<Allocation, PodContext>(({ input }) => must(input.work.allocate(input.key))),
    plumb: fromPromise<Allocation, PodContext>(async ({ input }) => {
      const a = input.allocation!;
      const where = await must(input.work.plumb(a, input.request, input.moved));
      return must(input.work.record(input.key, where));
    }),
    move: fromPromise<Allocation, PodContext>(({ input }) => must(input.work.move(input.allocation!, input.prepare!))),
    verify: fromPromise<'ok' | 'drifted' | 'gone', PodContext>(({ input }) => must(input.work.verify(input.allocation!))),
    register: fromPromise<void, PodContext>(({ input }) => must(input.work.register(input.allocation!))),
    teardown: fromPromise<void, PodContext>(({ input }) => must(input.work.teardown(input.key))),
  },
  delays: {
    retry: ({ context }) => Math.min(context.retryMs * 2 ** Math.min(context.attempts, 5), 5000),
    untilDeadline: ({ context }) => Math.max(0, context.deadlineAt - context.clock.now()),
    prepareTimeout: ({ context }) => context.prepareTimeoutMs ?? 30_000,
  },
  guards: {
    deleteRequested: ({ context }) => context.deleteRequested,
    isAdd: ({ context }) => context.mode === 'add',
  },
  actions: {
    noteDelete: assign({ deleteRequested: true }),
    fail: assign({ error: ({ event }) => asBusError((event as { error?: unknown }).error) }),
  },
}).createMachine({
  id: 'pod',
  context: ({ input }) => ({ ...input, request: input.request, moved: false, allocation: input.allocation, error: undefined, deleteRequested: false, attempts: 0 }),
  initial: 'starting',
  on: {
    delete: { actions: 'noteDelete' },
    // An ADD that arrives while a Prepare is still allocating or moving.
    request: { actions: assign({ request: ({ event }) => event.request, deadlineAt: ({ event }) => event.deadlineAt }) },
  },
  states: {
    starting: {
      always: [
        { guard: ({ context }) => context.mode === 'abandon', target: 'deleting' },
        { guard: ({ context }) => context.mode === 'recover', target: 'verifying' },
        { target: 'allocating' },
      ],
    },
    allocating: {
      invoke: {
        src: 'allocate',
        input: ({ context }) => context,
        onDone: [
          { guard: ({ context }) => !context.request && context.prepare !== undefined, target: 'moving', actions: assign({ allocation: ({ event }) => event.output }) },
          { target: 'plumbing', actions: assign({ allocation: ({ event }) => event.output }) },
        ],
        onError: { target: 'rollingBack', actions: 'fail' },
      },
    },
    moving: {
      invoke: {
        src: 'move',
        input: ({ context }) => context,
        onDone: { target: 'awaitingRequest', actions: assign({ allocation: ({ event }) => event.output, moved: true }) },
        // Nothing moved: the ADD will do it all.
        onError: { target: 'awaitingRequest', actions: ({ context, event }) => context.logger.debug({ err: event.error, pod: context.key }, 'prepare could not move the interface') },
      },
    },
    awaitingRequest: {
      always: { guard: ({ context }) => context.request !== undefined, target: 'plumbing' },
      on: {
        request: { target: 'plumbing', actions: assign({ request: ({ event }) => event.request, deadlineAt: ({ event }) => event.deadlineAt }) },
        delete: { target: 'rollingBack', actions: assign({ deleteRequested: true, error: () => new BusError('NOT_FOUND', 'deleted before its ADD') }) },
      },
      after: {
        prepareTimeout: {
          target: 'rollingBack',
          actions: [
            assign({ error: () => new BusError('DEADLINE_EXCEEDED', 'no ADD followed the Prepare') }),
            ({ context }) => context.logger.info({ pod: context.key }, 'a prepared interface got no ADD: undoing it'),
          ],
        },
      },
    },
    plumbing: {
      invoke: {
        src: 'plumb',
        input: ({ context }) => context,
        onDone: { target: 'registration', actions: assign({ allocation: ({ event }) => event.output }) },
        onError: [
          { guard: 'isAdd', target: 'rollingBack', actions: 'fail' },
          // A recovered pod that cannot be plumbed again is torn down; its runtime will ADD anew.
          { target: 'deleting', actions: ({ context, event }) => context.logger.warn({ err: event.error, pod: context.key }, 're-plumbing a recovered pod failed') },
        ],
      },
    },
    verifying: {
      invoke: {
        src: 'verify',
        input: ({ context }) => context,
        onDone: [
          { guard: ({ event }) => event.output === 'ok', target: 'registration' },
          { guard: ({ event }) => event.output === 'drifted', target: 'plumbing' },
          { target: 'deleting', actions: ({ context }) => context.logger.info({ pod: context.key }, 'pod namespace gone while the agent was down: releasing its interface') },
        ],
        onError: { target: 'registration', actions: ({ context, event }) => context.logger.warn({ err: event.error, pod: context.key }, 'cannot verify a recovered pod; registering it as recorded') },
      },
    },
    registration: {
      initial: 'registering',
      after: {
        untilDeadline: {
          guard: 'isAdd',
          target: 'rollingBack',
          actions: assign({ error: () => new BusError('UNAVAILABLE', 'the manager did not acknowledge the pod before the deadline; try again') }),
        },
      },
      states: {
        registering: {
          invoke: {
            src: 'register',
            input: ({ context }) => context,
            onDone: { target: '#pod.ready' },
            onError: {
              target: 'waiting',
              actions: [
                assign({ attempts: ({ context }) => context.attempts + 1, error: ({ event }) => asBusError(event.error, 'UNAVAILABLE') }),
                ({ context, event }) => context.logger[context.attempts <= 1 ? 'info' : 'debug']({ err: event.error, pod: context.key }, 'pod registration not acknowledged yet'),
              ],
            },
          },
        },
        waiting: { after: { retry: 'registering' } },
      },
    },
    ready: {
      // Every mode says so: an ADD retried while a recovered pod registers waits for this too.
      entry: [assign({ attempts: 0, error: undefined }), ({ context }) => context.notify({ kind: 'added', result: resultOf(context.allocation!) })],
      always: { guard: 'deleteRequested', target: 'deleting' },
      on: { delete: { target: 'deleting' } },
    },
    rollingBack: {
      invoke: {
        src: 'teardown',
        input: ({ context }) => context,
        onDone: { target: 'failed' },
        onError: {
          target: 'failed',
          actions: ({ context, event }) => context.logger.error({ err: event.error, pod: context.key }, 'rolling back a failed ADD failed'),
        },
      },
    },
    failed: {
      type: 'final',
      entry: ({ context }) => {
        const error = context.error ?? new BusError('INTERNAL', 'ADD failed');
        if (context.mode === 'add') context.notify({ kind: 'add-failed', error });
        if (context.deleteRequested) context.notify({ kind: 'deleted' });
      },
    },
    deleting: {
      entry: assign({ deleteRequested: false }),
      invoke: {
        src: 'teardown',
        input: ({ context }) => context,
        onDone: { target: 'deleted' },
        onError: {
          target: 'ready',
          actions: [
            ({ context, event }) => context.logger.warn({ err: event.error, pod: context.key }, 'DEL failed; the runtime will retry'),
            ({ context, event }) => context.notify({ kind: 'delete-failed', error: asBusError(event.error) }),
            assign({ mode: 'recover' as const }),
          ],
        },
      },
    },
    deleted: { type: 'final', entry: ({ context }) => context.notify({ kind: 'deleted' }) },
  },
});
