/**
 * The bus inside the supervision tree: a connection actor that fails when its connection closes
 * for good (so the supervisor reconnects and restarts what depends on it) and a serving actor
 * that owns one `serve` subscription and fails if the subscription ends on its own.
 *
 * Both are promise actors: stopping them aborts their signal, which drains the subscription or
 * the connection.
 *
 * @example
 * createActor(servingLogic, { input: { bus, prefix: prefix(node, 'manager'), routes } });
 */
import { fromPromise } from 'xstate';
import type { Bus, Route, ServeOptions, Served } from './bus.js';

export const connectionLogic = fromPromise<void, { bus: Bus }>(async ({ input, signal }) => {
  signal.addEventListener('abort', () => void input.bus.close(), { once: true });
  const error = await input.bus.closed();
  if (!signal.aborted) throw error ?? new Error('bus connection closed');
});

export interface ServingInput {
  readonly bus: Bus;
  readonly prefix: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly routes: readonly Route<any, any>[];
  readonly options?: ServeOptions;
  /** Receives the running serve (its counters), e.g. for a state summary. */
  readonly onServing?: (served: Served) => void;
}

export const servingLogic = fromPromise<void, ServingInput>(async ({ input, signal }) => {
  const served = input.bus.serve(input.prefix, input.routes, input.options);
  input.onServing?.(served);
  signal.addEventListener('abort', () => void served.stop(), { once: true });
  const error = await served.closed;
  if (!signal.aborted) throw error ?? new Error(`subscription ${served.subject} ended`);
});
