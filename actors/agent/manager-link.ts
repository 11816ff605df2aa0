/**
 * The agent's link to its node's manager: say hello until the manager answers (retrying with
 * backoff), then watch the manager's heartbeats. A heartbeat from a different manager instance
 * means the manager restarted: say hello again, so it pulls our state. No heartbeat for
 * missedBeats × interval means the manager is lost: say hello until it is back.
 *
 *   hello ──reply──▶ linked ──new manager instance / lost──▶ hello
 *     │ error                  (each heartbeat restarts the loss timer)
 *     ▼
 *   waiting ──backoff──▶ hello
 */
import type { Logger } from 'pino';
import { assign, fromPromise, setup, type ActorRefFrom } from 'xstate';
import type { Heartbeat, HelloReply } from '../../protocol/node.js';

export interface LinkInput {
  readonly node: string;
  readonly heartbeatIntervalMs: number;
  readonly missedBeats: number;
  readonly logger: Logger;
}

interface LinkContext extends LinkInput {
  managerInstanceId: string | undefined;
  attempts: number;
  hellos: number;
}

export type LinkEvent = { type: 'manager.heartbeat'; heartbeat: Heartbeat };

export const managerLinkLogic = setup({
  types: {
    context: {} as LinkContext,
    events: {} as LinkEvent,
    input: {} as LinkInput,
  },
  actors: {
    /** Provided by the agent tree: send NodeHello, resolve with the reply or reject. */
    sayHello: fromPromise<HelloReply, void>(async () => {
      throw new Error('sayHello not provided');
    }),
  },
  delays: {
    backoff: ({ context }) => Math.min(context.heartbeatIntervalMs * 5, 100 * 2 ** Math.min(context.attempts, 10)),
    lossTimeout: ({ context }) => context.heartbeatIntervalMs * context.missedBeats,
  },
  guards: {
    fromOtherInstance: ({ context, event }) => event.heartbeat.instanceId !== context.managerInstanceId,
  },
}).createMachine({
  id: 'managerLink',
  context: ({ input }) => ({ ...input, managerInstanceId: undefined, attempts: 0, hellos: 0 }),
  initial: 'hello',
  states: {
    hello: {
      invoke: {
        src: 'sayHello',
        onDone: {
          target: 'linked',
          actions: [
            assign({
              managerInstanceId: ({ event }) => event.output.instanceId,
              attempts: 0,
              hellos: ({ context }) => context.hellos + 1,
            }),
            ({ context, event }) =>
              context.logger.info(
                { manager: event.output.instanceId, revision: event.output.stateRevision, resync: event.output.resyncRequested },
                'registered with manager',
              ),
          ],
        },
        onError: {
          target: 'waiting',
          actions: [
            assign({ attempts: ({ context }) => context.attempts + 1 }),
            ({ context, event }) =>
              context.logger[context.attempts === 0 ? 'info' : 'debug'](
                { err: event.error, attempt: context.attempts + 1 },
                'manager not answering hello yet',
              ),
          ],
        },
      },
    },
    waiting: { after: { backoff: 'hello' } },
    linked: {
      initial: 'alive',
      on: {
        'manager.heartbeat': [
          {
            guard: 'fromOtherInstance',
            target: 'hello',
            actions: ({ context, event }) =>
              context.logger.info({ manager: event.heartbeat.instanceId, previous: context.managerInstanceId }, 'manager restarted'),
          },
          { target: '.alive', reenter: true },
        ],
      },
      states: {
        alive: {
          after: {
            lossTimeout: {
              target: '#managerLink.hello',
              actions: ({ context }) => context.logger.warn({ manager: context.managerInstanceId }, 'manager lost: no heartbeat'),
            },
          },
        },
      },
    },
  },
});

export type ManagerLinkRef = ActorRefFrom<typeof managerLinkLogic>;
