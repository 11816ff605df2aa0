/**
 * The actor that owns a process's intent (IntentState) and serialises every change to it.
 * Requests arrive as events carrying a reply callback (see ask.ts); the actor answers each
 * with a typed result. The agent's store; the manager's leader uses the durable store
 * (durable-store.ts), which answers the same events so routes and ctl are shared.
 */
import { setup, type ActorRefFrom } from 'xstate';
import type { Result } from '../../core/result.js';
import type { BusError } from '../../messages/errors.js';
import type { ChangeReply, HostInterface, PodInterface, ServiceKey, ServicePort } from '../../protocol/intent.js';
import type { FullState } from '../../protocol/sync.js';
import type { Reply } from '../ask.js';
import { IntentState, type IntentCounts } from './intent-state.js';

export interface IntentSnapshot extends IntentCounts {
  readonly revision: number;
  readonly digest: string;
}

export type IntentEvent =
  | { type: 'pod.add'; pod: PodInterface; reply: Reply<ChangeReply> }
  | { type: 'pod.delete'; node: string; containerId: string; reply: Reply<ChangeReply> }
  | { type: 'host.setup'; host: HostInterface; reply: Reply<ChangeReply> }
  | { type: 'service.upsert'; node: string; service: ServicePort; reply: Reply<ChangeReply> }
  | { type: 'service.delete'; node: string; key: ServiceKey; reply: Reply<ChangeReply> }
  | { type: 'state.replace'; state: FullState; reply: Reply<ChangeReply> }
  | { type: 'state.get'; reply: Reply<FullState> }
  | { type: 'state.summary'; reply: Reply<IntentSnapshot> };

/** Answers, and tells the owner of the intent when it changed (e.g. so the session writes). */
function answer<T>(reply: Reply<T>, result: Result<T, BusError>, onChange?: () => void): void {
  reply(result);
  if (onChange && result.ok && (result.value as { changed?: boolean }).changed === true) onChange();
}

export const intentStoreLogic = setup({
  types: {
    context: {} as { intent: IntentState; onChange: (() => void) | undefined },
    events: {} as IntentEvent,
    input: {} as { node: string; onChange?: () => void },
  },
}).createMachine({
  id: 'intent',
  context: ({ input }) => ({ intent: new IntentState(input.node), onChange: input.onChange }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'pod.add': { actions: ({ context, event }) => answer(event.reply, context.intent.addPod(event.pod), context.onChange) },
        'pod.delete': {
          actions: ({ context, event }) => answer(event.reply, context.intent.deletePod(event.node, event.containerId), context.onChange),
        },
        'host.setup': { actions: ({ context, event }) => answer(event.reply, context.intent.setHost(event.host), context.onChange) },
        'service.upsert': {
          actions: ({ context, event }) => answer(event.reply, context.intent.upsertService(event.node, event.service), context.onChange),
        },
        'service.delete': {
          actions: ({ context, event }) => answer(event.reply, context.intent.deleteService(event.node, event.key), context.onChange),
        },
        'state.replace': {
          actions: ({ context, event }) => answer(event.reply, context.intent.replaceAll(event.state), context.onChange),
        },
        'state.get': { actions: ({ context, event }) => event.reply({ ok: true, value: context.intent.fullState() }) },
        'state.summary': {
          actions: ({ context, event }) =>
            event.reply({
              ok: true,
              value: { ...context.intent.counts(), revision: context.intent.revision, digest: context.intent.digest() },
            }),
        },
      },
    },
  },
});

export type IntentStoreRef = ActorRefFrom<typeof intentStoreLogic>;
