/**
 * Structured logs with a level per module (the original's per-module log levels, a seed feature).
 * One pino root per process; `logs.for('bus')` gives the bus its own child at its own level.
 *
 * @example
 * const logs = createLogs({ level: 'info', modules: { bus: 'debug' } }, 'manager');
 * logs.for('bus').debug({ subject }, 'request');
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggingConfig {
  /** Level for modules not listed in `modules`. */
  readonly level: LogLevel;
  /** Per-module levels, e.g. { bus: 'debug', supervisor: 'warn' }. */
  readonly modules?: Readonly<Record<string, LogLevel>>;
}

export interface Logs {
  readonly root: Logger;
  /** The logger of one module, at that module's configured level. Cached per module. */
  for(module: string): Logger;
}

export function createLogs(config: LoggingConfig, processName: string, destination?: DestinationStream): Logs {
  const root = pino(
    { name: processName, level: config.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
  const cache = new Map<string, Logger>();
  return {
    root,
    for(module: string): Logger {
      let child = cache.get(module);
      if (!child) {
        child = root.child({ module }, { level: config.modules?.[module] ?? config.level });
        cache.set(module, child);
      }
      return child;
    },
  };
}

/** Logs that go nowhere, for tests that do not look at them. */
export function silentLogs(): Logs {
  return createLogs({ level: 'silent' }, 'test');
}
