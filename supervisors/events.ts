/**
 * What a supervisor announces as it works: children started, exited, restarted, stopped, and the
 * supervisor itself escalating or stopping. Tests await these instead of sleeping; a CLI can
 * stream them. A throwing listener is isolated (reported, never propagated into the supervisor).
 */
import type { ErrorInfo } from './errors.js';
import type { SupervisorReport } from './report.js';

/** How a child ended: 'normal' (final state / resolved), 'shutdown' (stopped), 'error' (crashed). */
export type ExitKind = 'normal' | 'shutdown' | 'error';

interface Base {
  /** Id of the supervisor that emitted the event. */
  readonly supervisor: string;
  /** Clock time of the event. */
  readonly at: number;
}

export type SupervisorEvent =
  | (Base & { readonly type: 'child_started'; readonly childId: string })
  | (Base & {
      readonly type: 'child_exited';
      readonly childId: string;
      readonly exit: ExitKind;
      readonly error?: ErrorInfo;
      readonly willRestart: boolean;
    })
  | (Base & { readonly type: 'child_restarted'; readonly childId: string; readonly restarts: number })
  | (Base & { readonly type: 'child_stopped'; readonly childId: string })
  | (Base & { readonly type: 'escalated'; readonly report: SupervisorReport })
  | (Base & { readonly type: 'stopped' });

export type SupervisorEventType = SupervisorEvent['type'];
export type EventOf<T extends SupervisorEventType> = Extract<SupervisorEvent, { type: T }>;
export type SupervisorEventListener = (event: SupervisorEvent) => void;

/** Anything with `onEvent`, so helpers work on a Supervisor or a fake. */
export interface EventSource {
  onEvent(listener: SupervisorEventListener): () => void;
}

/** A minimal typed emitter; listener errors go to `onListenerError`, never to the emitter. */
export class EventHub implements EventSource {
  private readonly listeners = new Set<SupervisorEventListener>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  onEvent(listener: SupervisorEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: SupervisorEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

/**
 * Resolves with the next event of `type` matching `where`. Subscribe before causing the event.
 *
 * @example
 * const restarted = waitForEvent(sup, 'child_restarted', (e) => e.childId === 'bus');
 * actor.send({ type: 'CRASH' });
 * await clock.advance(100);
 * await restarted;
 */
export function waitForEvent<T extends SupervisorEventType>(
  source: EventSource,
  type: T,
  where: (event: EventOf<T>) => boolean = () => true,
): Promise<EventOf<T>> {
  return new Promise((resolve) => {
    const off = source.onEvent((event) => {
      if (event.type !== type) return;
      const typed = event as EventOf<T>;
      if (!where(typed)) return;
      off();
      resolve(typed);
    });
  });
}
