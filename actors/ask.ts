/**
 * The ask pattern: send an actor an event that carries a reply callback, and await the reply
 * with a deadline on the injected clock. Bus handlers use it to hand each request to the
 * supervised actor that owns the state, so the handler itself holds nothing.
 *
 * @example
 * const r = await ask(store, (reply) => ({ type: 'pod.add', pod, reply }), { clock, timeoutMs: 1000 });
 */
import type { AnyActorRef, EventObject } from 'xstate';
import type { Clock } from '../core/clock.js';
import { err, type Result } from '../core/result.js';
import { BusError } from '../messages/errors.js';

export type Reply<R> = (result: Result<R, BusError>) => void;

export interface AskOptions {
  readonly clock: Clock;
  readonly timeoutMs: number;
}

export function ask<R>(
  actor: AnyActorRef | undefined,
  build: (reply: Reply<R>) => EventObject,
  options: AskOptions,
): Promise<Result<R, BusError>> {
  if (!actor || (actor.getSnapshot() as { status?: string }).status !== 'active') {
    return Promise.resolve(err(new BusError('UNAVAILABLE', 'the actor that owns this request is restarting')));
  }
  return new Promise((resolve) => {
    let settled = false;
    const timer = options.clock.setTimeout(() => {
      if (settled) return;
      settled = true;
      resolve(err(new BusError('DEADLINE_EXCEEDED', `no answer within ${options.timeoutMs} ms`)));
    }, options.timeoutMs);
    const reply: Reply<R> = (result) => {
      if (settled) return;
      settled = true;
      options.clock.clearTimeout(timer);
      resolve(result);
    };
    actor.send(build(reply));
  });
}
