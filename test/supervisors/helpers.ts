/**
 * Shared fixtures for the supervisor tests: a manual clock and seeded random, a logger whose
 * lines can be read back, and a "fleet" of worker machines that log when they acquire and
 * release their resource, so tests can check start/stop order and actor identity.
 */
import { pino, type Logger } from 'pino';
import { createActor, fromCallback, setup, type AnyActor } from 'xstate';
import { ManualClock, settle } from '../../core/clock.js';
import { seededRandom, type Random } from '../../core/random.js';
import type { ChildSpec } from '../../supervisors/index.js';

export interface CapturedLogs {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  /** Lines that are supervisor reports, optionally of one context. */
  reports(context?: string): Record<string, unknown>[];
}

export function captureLogs(level: pino.Level = 'info'): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return {
    logger,
    lines,
    reports: (context) => lines.filter((l) => 'context' in l && (context === undefined || l.context === context)),
  };
}

export interface TestEnv {
  readonly clock: ManualClock;
  readonly random: Random;
  readonly logs: CapturedLogs;
  readonly logger: Logger;
}

export function testEnv(seed = 1): TestEnv {
  const logs = captureLogs();
  return { clock: new ManualClock(0), random: seededRandom(seed), logs, logger: logs.logger };
}

/** Lets xstate notifications and queued supervisor operations run (no clock movement). */
export async function flush(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await settle();
}

/**
 * A worker that holds a resource for its whole life (a root-level invoked callback whose cleanup
 * logs `release:<name>`), crashes on CRASH (a throwing action), finishes on FINISH (final state).
 */
export function workerMachine(log: string[], name: string) {
  return setup({
    actors: {
      resource: fromCallback(() => {
        log.push(`acquire:${name}`);
        return () => void log.push(`release:${name}`);
      }),
    },
    actions: {
      boom: () => {
        throw new Error(`${name} crashed`);
      },
    },
  }).createMachine({
    id: name,
    invoke: { src: 'resource' },
    initial: 'idle',
    states: {
      idle: { on: { CRASH: { actions: 'boom' }, FINISH: 'finished', WORK: 'working' } },
      working: { on: { CRASH: { actions: 'boom' }, FINISH: 'finished', REST: 'idle' } },
      finished: { type: 'final' },
    },
  });
}

/** Creates worker actors on demand and remembers every incarnation per child id. */
export class Fleet {
  readonly log: string[] = [];
  private readonly incarnations = new Map<string, AnyActor[]>();

  /** A child spec whose start creates (but does not start) a worker actor. */
  spec(id: string, extra: Partial<ChildSpec> = {}): ChildSpec {
    return { id, start: (ctx) => this.create(ctx.id), ...extra };
  }

  create(id: string): AnyActor {
    const actor = createActor(workerMachine(this.log, id));
    const list = this.incarnations.get(id) ?? [];
    list.push(actor);
    this.incarnations.set(id, list);
    return actor;
  }

  current(id: string): AnyActor {
    const list = this.incarnations.get(id);
    const actor = list?.[list.length - 1];
    if (!actor) throw new Error(`no actor for ${id}`);
    return actor;
  }

  starts(id: string): number {
    return this.incarnations.get(id)?.length ?? 0;
  }

  send(id: string, type: 'CRASH' | 'FINISH' | 'WORK' | 'REST'): void {
    this.current(id).send({ type });
  }

  status(id: string): string {
    return (this.current(id).getSnapshot() as { status: string }).status;
  }
}
