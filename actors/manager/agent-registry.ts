/**
 * The manager's view of its node's agent: who it is (instance id), whether it is alive (its
 * heartbeats, judged on the injected clock) and whether this manager holds its intent. A new
 * agent instance — the first one this manager sees, or one that restarted — triggers a pull of
 * the agent's full state (`pullState`, provided by the tree), retried until it succeeds.
 *
 *   waiting ──hello/heartbeat──▶ connected ─ liveness: alive (timer reset by each heartbeat)
 *                                   │      └ sync: syncing ⇄ retrying → synced (again for a new instance)
 *                                   ▼ no heartbeat for missedBeats × interval
 *                                  lost ──hello/heartbeat──▶ connected
 */
import type { Logger } from 'pino';
import { assign, fromPromise, not, setup, type ActorRefFrom } from 'xstate';
import { ok } from '../../core/result.js';
import type { Reply } from '../ask.js';
import type { Heartbeat, Hello, HelloReply } from '../../protocol/node.js';

export interface RegistryInput {
  readonly node: string;
  readonly managerInstanceId: string;
  readonly heartbeatIntervalMs: number;
  readonly missedBeats: number;
  readonly logger: Logger;
}

interface RegistryContext extends RegistryInput {
  agentInstanceId: string | undefined;
  lastSeq: number;
  syncedInstanceId: string | undefined;
  registrations: number;
}

export type RegistryEvent =
  | { type: 'agent.hello'; hello: Hello; stateRevision: number; reply: Reply<HelloReply> }
  | { type: 'agent.heartbeat'; heartbeat: Heartbeat }
  /** The manager's intent lost what the agent holds (e.g. its KV keys): pull the agent's state again. */
  | { type: 'agent.resync' };

const isNewInstance = ({ context, event }: { context: RegistryContext; event: RegistryEvent }): boolean =>
  instanceOf(event) !== context.agentInstanceId;

function instanceOf(event: RegistryEvent): string {
  return event.type === 'agent.hello' ? event.hello.instanceId : event.type === 'agent.heartbeat' ? event.heartbeat.instanceId : '';
}

export const agentRegistryLogic = setup({
  types: {
    context: {} as RegistryContext,
    events: {} as RegistryEvent,
    input: {} as RegistryInput,
  },
  actors: {
    /** Provided by the manager tree: fetch the agent's full state and install it. */
    pullState: fromPromise<void, { instanceId: string }>(async () => {
      throw new Error('pullState not provided');
    }),
  },
  delays: {
    lossTimeout: ({ context }) => context.heartbeatIntervalMs * context.missedBeats,
    retry: ({ context }) => context.heartbeatIntervalMs,
  },
  actions: {
    record: assign(({ context, event }) => ({
      agentInstanceId: instanceOf(event),
      lastSeq: event.type === 'agent.heartbeat' ? event.heartbeat.seq : context.lastSeq,
      registrations: context.registrations + (event.type === 'agent.hello' ? 1 : 0),
    })),
    answerHello: ({ context, event }) => {
      if (event.type !== 'agent.hello') return;
      event.reply(
        ok({
          node: context.node,
          instanceId: context.managerInstanceId,
          stateRevision: event.stateRevision,
          resyncRequested: context.syncedInstanceId !== event.hello.instanceId,
          heartbeatIntervalMs: context.heartbeatIntervalMs,
        }),
      );
    },
    logNewAgent: ({ context, event }) =>
      context.logger.info({ agent: instanceOf(event), previous: context.agentInstanceId ?? null }, 'agent registered'),
  },
}).createMachine({
  id: 'agentRegistry',
  context: ({ input }) => ({ ...input, agentInstanceId: undefined, lastSeq: 0, syncedInstanceId: undefined, registrations: 0 }),
  initial: 'waiting',
  states: {
    waiting: {
      on: {
        'agent.hello': { target: 'connected', actions: ['logNewAgent', 'record', 'answerHello'] },
        'agent.heartbeat': { target: 'connected', actions: ['logNewAgent', 'record'] },
      },
    },
    connected: {
      type: 'parallel',
      on: {
        'agent.resync': {
          target: '.sync.syncing',
          reenter: true,
          actions: ({ context }) => context.logger.info({ agent: context.agentInstanceId }, 'pulling the agent state again'),
        },
        'agent.hello': [
          {
            guard: isNewInstance,
            target: ['.liveness.alive', '.sync.syncing'],
            reenter: true,
            actions: ['logNewAgent', 'record', 'answerHello'],
          },
        ],
        'agent.heartbeat': [
          { guard: isNewInstance, target: ['.liveness.alive', '.sync.syncing'], reenter: true, actions: ['logNewAgent', 'record'] },
        ],
      },
      states: {
        liveness: {
          initial: 'alive',
          states: {
            alive: {
              after: { lossTimeout: '#agentRegistry.lost' },
              // Handled here, not on `connected`, so that re-entering restarts only the loss
              // timer and not the sync region. A new instance falls through to `connected`.
              on: {
                'agent.hello': { guard: not(isNewInstance), target: 'alive', reenter: true, actions: ['record', 'answerHello'] },
                'agent.heartbeat': { guard: not(isNewInstance), target: 'alive', reenter: true, actions: 'record' },
              },
            },
          },
        },
        sync: {
          initial: 'syncing',
          states: {
            syncing: {
              invoke: {
                src: 'pullState',
                input: ({ context }) => ({ instanceId: context.agentInstanceId ?? '' }),
                onDone: {
                  target: 'synced',
                  actions: [
                    assign({ syncedInstanceId: ({ context }) => context.agentInstanceId }),
                    ({ context }) => context.logger.info({ agent: context.agentInstanceId }, 'agent state synced'),
                  ],
                },
                onError: {
                  target: 'retrying',
                  actions: ({ context, event }) => context.logger.warn({ err: event.error }, 'agent state sync failed; retrying'),
                },
              },
            },
            retrying: { after: { retry: 'syncing' } },
            synced: {},
          },
        },
      },
    },
    lost: {
      entry: ({ context }) => context.logger.warn({ agent: context.agentInstanceId }, 'agent lost: no heartbeat'),
      on: {
        'agent.hello': [
          { guard: isNewInstance, target: 'connected', actions: ['logNewAgent', 'record', 'answerHello'] },
          { target: 'connected', actions: ['record', 'answerHello'] },
        ],
        'agent.heartbeat': [
          { guard: isNewInstance, target: 'connected', actions: ['logNewAgent', 'record'] },
          { target: 'connected', actions: 'record' },
        ],
      },
    },
  },
});

export type AgentRegistryRef = ActorRefFrom<typeof agentRegistryLogic>;
