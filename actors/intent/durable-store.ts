/**
 * The manager's intent store: the one actor that owns the node's domain objects (ManagerIntent),
 * makes every change durable in JetStream KV before it counts, and hands it to the hardware
 * session. Requests arrive as events with a reply callback (ask pattern, same events as the
 * agent's intent store, so the routes and the operator's view are shared).
 *
 *   loading ──loaded──▶ serving ⇄ writing { deciding → committing }
 *      ▲ ▲                          │ a write refused or unanswered
 *      │ └──── waiting ◀─ failed    ▼
 *      └──────────────────────── (reload from KV)
 *
 * Group commit: while one batch is being written, new requests queue; the next batch takes them
 * all, applies them in order (each sees the ones before it), writes each touched key once
 * (compare-and-set, all published together) and answers them all when the writes are durable —
 * after rendering the change into the index the session reads and telling the session. A lone
 * request costs one KV round trip; a burst costs one per batch.
 *
 * On start (and after a failed write) it loads the bucket before it accepts anything: requests
 * meanwhile are answered UNAVAILABLE (the agent retries), and a full-state replace is held until
 * the load is done. A failed load is retried with backoff, forever: nothing here stops the manager.
 * Nothing is handed to the session as complete before the agent's full state is merged (a
 * bucket that lost keys looks whole), so a new leader writes nothing until its agent is heard.
 *
 * @example
 * const store = createActor(durableStoreLogic, { input: { node, info, open: () => IntentKv.open(bus, bucket), logger, onCommitted } });
 * await ask(store, (reply) => ({ type: 'pod.add', pod, reply }), { clock, timeoutMs });
 */
import type { Logger } from 'pino';
import { assign, fromPromise, setup, type ActorRefFrom } from 'xstate';
import { err, ok, type Result } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import type { P4Info } from '../../p4/p4info.js';
import type { ChangeReply } from '../../protocol/intent.js';
import type { FullState } from '../../protocol/sync.js';
import type { Reply } from '../ask.js';
import type { IntentStorage, KvWrite } from './intent-kv.js';
import { loadIntent, type LoadOutcome } from './intent-load.js';
import type { IntentEvent, IntentSnapshot } from './intent-store.js';
import { ManagerIntent, newPullTracker, type PullTracker } from './manager-intent.js';

export interface DurableStoreInput {
  readonly node: string;
  readonly info: P4Info;
  /**
   * Opens the node's intent bucket (called again only if opening failed): `IntentKv.open` on
   * JetStream, or a MemoryKv view in the in-process simulator.
   */
  readonly open: () => Promise<IntentStorage>;
  readonly logger: Logger;
  /** A batch is durable and rendered (or the store became ready): the session should sync. */
  readonly onCommitted: () => void;
  /**
   * A reload found other records in KV than the store held in memory (keys lost — the bucket
   * purged or deleted — or changed behind us): the intent is incomplete until the agent's full
   * state is merged again. The tree asks the registry to pull it.
   */
  readonly onNeedsPull?: () => void;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

/** The agent's full state, with the mark `sync.begin` gave before it was asked for. */
type ReplaceEvent = { type: 'state.replace'; state: FullState; mark?: number; reply: Reply<ChangeReply> };

export type StoreEvent =
  | Exclude<IntentEvent, { type: 'state.replace' }>
  | ReplaceEvent
  | { type: 'sync.begin'; reply: Reply<number> };

type Job = Exclude<StoreEvent, { type: 'state.get' } | { type: 'state.summary' } | { type: 'sync.begin' }>;

interface Applied {
  readonly reply: Reply<ChangeReply>;
  readonly changed: boolean;
}

export interface StoreContext {
  readonly input: DurableStoreInput;
  /** The current intent; `context.intent.revision` is what heartbeats and ctl report. */
  intent: ManagerIntent;
  readonly pull: PullTracker;
  kv: IntentStorage | undefined;
  queue: Job[];
  batch: Applied[];
  writes: KvWrite[];
  /** The bucket is loaded: requests are accepted. */
  loaded: boolean;
  /** The intent is complete: the agent's full state applied (and KV not found changed since). */
  ready: boolean;
  /** A batch in progress applies the agent's full state. */
  replacing: boolean;
  /** The finished batch changed what the session should see. */
  notify: boolean;
  /** Applying the batch threw (a bug): reload instead of writing. */
  broken: boolean;
  held: ReplaceEvent | undefined;
  attempts: number;
  /** Loaded once already: a later load is a reload. */
  everLoaded: boolean;
}

const unavailable = (why: string): Result<never, BusError> => err(new BusError('UNAVAILABLE', why));

function isJob(e: StoreEvent): e is Job {
  return e.type !== 'state.get' && e.type !== 'state.summary' && e.type !== 'sync.begin';
}

/** Applies one request to the intent; the result says whether it changed anything. */
function apply(intent: ManagerIntent, job: Job, log: Logger): Result<boolean, BusError> {
  switch (job.type) {
    case 'pod.add':
      return intent.addPod(job.pod);
    case 'pod.delete':
      return intent.deletePod(job.node, job.containerId);
    case 'host.setup':
      return intent.setHost(job.host);
    case 'service.upsert':
      return intent.upsertService(job.node, job.service);
    case 'service.delete':
      return intent.deleteService(job.node, job.key);
    case 'state.replace': {
      const r = intent.replaceAll(job.state, job.mark ?? intent.pull.seq);
      if (!r.ok) return r;
      if (r.value.refused.length > 0) log.warn({ refused: r.value.refused.slice(0, 20), count: r.value.refused.length }, "parts of the agent's state refused");
      if (r.value.kept > 0) log.info({ kept: r.value.kept }, 'objects changed during the pull kept as requested');
      return ok(r.value.changed);
    }
  }
}

function summary(intent: ManagerIntent): IntentSnapshot {
  return { ...intent.counts(), revision: intent.revision, digest: intent.digest() };
}

export const durableStoreLogic = setup({
  types: { context: {} as StoreContext, events: {} as StoreEvent, input: {} as DurableStoreInput },
  actors: {
    load: fromPromise<LoadOutcome & { kv: IntentStorage }, { input: DurableStoreInput; kv: IntentStorage | undefined; pull: PullTracker }>(async ({ input }) => {
      const kv = input.kv ?? (await input.input.open());
      const loaded = await kv.load();
      if (loaded.purged > 0) input.input.logger.info({ purged: loaded.purged }, 'intent: delete markers purged');
      return { kv, ...loadIntent(input.input.node, input.input.info, loaded, input.pull) };
    }),
    commit: fromPromise<number[], { kv: IntentStorage; writes: KvWrite[] }>(({ input }) => input.kv.write(input.writes)),
  },
  delays: {
    retry: ({ context }) => {
      const b = context.input.backoff ?? { initialMs: 100, maxMs: 5000 };
      return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(context.attempts, 16));
    },
  },
  guards: {
    broken: ({ context }) => context.broken,
    hasWork: ({ context }) => context.queue.length > 0 || context.intent.hasPendingWrites,
    nothingToWrite: ({ context }) => context.writes.length === 0,
  },
  actions: {
    enqueue: ({ context, event }) => {
      if (!isJob(event)) return;
      if (context.loaded) {
        context.queue.push(event);
      } else if (event.type === 'state.replace') {
        // The agent's state arrived before the bucket was loaded: apply it right after.
        context.held?.reply(unavailable('superseded by a newer full state'));
        context.held = event;
      } else {
        event.reply(unavailable('the intent is loading'));
      }
    },
    answerRead: ({ context, event }) => {
      if (event.type === 'state.summary') event.reply(ok(summary(context.intent)));
      else if (event.type === 'state.get') event.reply(context.loaded ? ok(context.intent.fullState()) : unavailable('the intent is loading'));
      else if (event.type === 'sync.begin') event.reply(ok(context.intent.beginPull()));
    },
    installLoaded: assign(({ context, event }) => {
      const out = (event as unknown as { output: LoadOutcome & { kv: IntentStorage } }).output;
      const log = context.input.logger;
      if (out.problems.length > 0) log.warn({ problems: out.problems.slice(0, 20), count: out.problems.length }, 'intent: stored records dropped or repaired');
      log.info({ records: out.records, revision: out.intent.revision }, 'intent loaded from KV');
      const queue = context.held ? [context.held] : [];
      // The intent is complete only once the agent's full state is merged: KV may have lost keys
      // (purged or deleted behind us), and an incomplete intent would make the session delete live
      // entries and retire live connections. A first load cannot tell a partial bucket from a
      // whole one, so it waits for the agent's state (the registry pulls it as soon as the agent
      // is heard); a reload that finds exactly what the store held stays ready.
      const reload = context.everLoaded;
      const same = reload && out.intent.digest() === context.intent.digest();
      const ready = reload && same && context.ready;
      if (reload && !same) {
        log.warn({ records: out.records, held: context.intent.counts() }, 'intent: KV differs from what was held (lost or changed keys): waiting for the agent\'s full state');
        if (context.input.onNeedsPull) queueMicrotask(context.input.onNeedsPull);
      }
      return { intent: out.intent, kv: out.kv, loaded: true, ready, attempts: 0, queue, held: undefined, everLoaded: true };
    }),
    loadFailed: assign(({ context, event }) => {
      context.input.logger.warn({ err: (event as { error?: unknown }).error, attempt: context.attempts + 1 }, 'intent: cannot load from KV; retrying');
      return { attempts: context.attempts + 1 };
    }),
    applyBatch: assign(({ context }) => {
      const batch: Applied[] = [];
      let replacing = false;
      for (const [i, job] of context.queue.entries()) {
        let r: Result<boolean, BusError>;
        try {
          r = apply(context.intent, job, context.input.logger);
        } catch (e) {
          // A bug, not a bad request: the objects may be half-changed, so nothing of this batch is
          // written; the store reloads from KV (the agent retries what it asked).
          context.input.logger.error({ err: e, request: job.type }, 'intent: a request could not be applied; reloading from KV');
          job.reply(err(new BusError('INTERNAL', `the ${job.type} request could not be applied`)));
          return { queue: context.queue.slice(i + 1), batch, replacing: false, writes: [], broken: true };
        }
        if (!r.ok) job.reply(r);
        else batch.push({ reply: job.reply, changed: r.value });
        if (r.ok && job.type === 'state.replace') replacing = true;
      }
      return { queue: [], batch, replacing, writes: context.intent.pendingWrites() };
    }),
    finishBatch: assign(({ context, event }) => {
      const revisions = (event as { output?: number[] }).output ?? [];
      context.intent.committed(context.writes, revisions);
      const ready = context.ready || context.replacing;
      return { ready, notify: context.writes.length > 0 || ready !== context.ready, replacing: false };
    }),
    // The session is told once this step is over (it reads our snapshot, updated only then),
    // and before any reply's continuation runs (queued first), so it has the change by the time
    // anyone hears back.
    answerBatch: assign(({ context }) => {
      if (context.notify) queueMicrotask(context.input.onCommitted);
      const revision = context.intent.revision;
      for (const a of context.batch) a.reply(ok({ revision, changed: a.changed }));
      return { batch: [], writes: [], notify: false };
    }),
    failBatch: assign(({ context, event }) => {
      if (!context.broken) context.input.logger.error({ err: (event as { error?: unknown }).error, writes: context.writes.length }, 'intent: write refused; reloading from KV');
      const why = unavailable('the intent could not be stored; ask again');
      for (const a of context.batch) a.reply(why);
      for (const j of context.queue) j.reply(why);
      return { batch: [], writes: [], queue: [], loaded: false, replacing: false, broken: false };
    }),
  },
}).createMachine({
  id: 'intentStore',
  context: ({ input }) => {
    const pull = newPullTracker();
    return {
      input,
      intent: new ManagerIntent(input.node, input.info, pull),
      pull,
      kv: undefined,
      queue: [],
      batch: [],
      writes: [],
      loaded: false,
      ready: false,
      replacing: false,
      notify: false,
      broken: false,
      held: undefined,
      attempts: 0,
      everLoaded: false,
    };
  },
  on: {
    'state.get': { actions: 'answerRead' },
    'state.summary': { actions: 'answerRead' },
    'sync.begin': { actions: 'answerRead' },
    'pod.add': { actions: 'enqueue' },
    'pod.delete': { actions: 'enqueue' },
    'host.setup': { actions: 'enqueue' },
    'service.upsert': { actions: 'enqueue' },
    'service.delete': { actions: 'enqueue' },
    'state.replace': { actions: 'enqueue' },
  },
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        src: 'load',
        input: ({ context }) => ({ input: context.input, kv: context.kv, pull: context.pull }),
        onDone: {
          target: 'serving',
          actions: ['installLoaded', ({ context }) => queueMicrotask(context.input.onCommitted)],
        },
        onError: { target: 'waiting', actions: 'loadFailed' },
      },
    },
    waiting: { after: { retry: 'loading' } },
    serving: { always: { guard: 'hasWork', target: 'writing' } },
    writing: {
      entry: 'applyBatch',
      initial: 'deciding',
      states: {
        deciding: {
          always: [
            { guard: 'broken', target: '#intentStore.loading', actions: 'failBatch' },
            { guard: 'nothingToWrite', target: '#intentStore.serving', actions: ['finishBatch', 'answerBatch'] },
            { target: 'committing' },
          ],
        },
        committing: {
          invoke: {
            src: 'commit',
            input: ({ context }) => ({ kv: context.kv!, writes: context.writes }),
            onDone: { target: '#intentStore.serving', actions: ['finishBatch', 'answerBatch'] },
            onError: { target: '#intentStore.loading', actions: 'failBatch' },
          },
        },
      },
    },
  },
});

export type DurableStoreRef = ActorRefFrom<typeof durableStoreLogic>;
