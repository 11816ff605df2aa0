/**
 * What bin/manager and bin/agent share: read `--config FILE`, validate it (exit 2 with every
 * problem named), set up per-module logs, build the tree and run it as the process root
 * (SIGTERM/SIGINT stop it cleanly; an escalation exits 1 for systemd or Kubernetes to restart).
 * With `health.listen`, /healthz, /readyz and /metrics are served there: the process's one
 * metrics registry and its role's readiness come from the Observability handed to the tree.
 */
import { readFileSync, watchFile } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { systemClock, type Clock } from '../core/clock.js';
import { loadConfigFile } from '../core/config.js';
import { createLogs, type LoggingConfig, type Logs } from '../core/logger.js';
import { systemRandom, type Random } from '../core/random.js';
import { runRoot, type Supervisor } from '../supervisors/index.js';
import { inspectTlsFiles } from '../deploy/certs/check.js';
import { startHealth, type HealthServer } from './health.js';
import { Observability } from './metrics/observability.js';
import { newInstanceId } from './process-identity.js';
import { watchParent } from '../core/parent-watch.js';

interface TlsConfigs {
  readonly nats?: { readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string } };
  readonly p4?: { readonly tls?: { readonly caFile: string; readonly certFile?: string; readonly keyFile?: string } };
}

/**
 * Checks every certificate a process is configured with before it starts: a missing, unreadable,
 * corrupted, expired or wrong-CA file stops start-up with a clear message (Node's TLS would
 * accept a garbage CA silently and then fail every connection: started, but degraded).
 */
function checkTls(config: TlsConfigs): string | undefined {
  for (const [what, tls] of [['nats.tls', config.nats?.tls], ['p4.tls', config.p4?.tls]] as const) {
    if (!tls) continue;
    const r = inspectTlsFiles({ caFile: tls.caFile, ...(tls.certFile ? { certFile: tls.certFile } : {}), ...(tls.keyFile ? { keyFile: tls.keyFile } : {}) }, { usage: 'client' });
    if (!r.ok) return `${what}: ${r.error.message}`;
  }
  return undefined;
}

/**
 * Test-only: with INFRA_CLOCK_OFFSET_DIR set (by the fault-injection simulator's clock jumps,
 * never in production), the process's clock reads the system time plus the offset in ms written
 * in `<dir>/<pid>.offset` (re-read when the file changes, polled every 100 ms): what this process
 * reads as the time moves, as an NTP step would move it, without touching the machine's clock.
 * Timers keep running on the system clock. Unset, the process gets the system clock itself.
 */
function processClock(): Clock {
  const dir = process.env.INFRA_CLOCK_OFFSET_DIR;
  if (!dir) return systemClock;
  const file = join(dir, `${process.pid}.offset`);
  let offset = 0;
  const read = (): void => {
    try {
      const v = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(v)) offset = v;
    } catch {
      // no jump yet
    }
  };
  read();
  watchFile(file, { interval: 100, persistent: false }, read);
  return {
    now: () => systemClock.now() + offset,
    setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
    clearTimeout: (handle) => systemClock.clearTimeout(handle),
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  };
}

export interface ProcessBuild<C> {
  readonly config: C;
  readonly logs: Logs;
  readonly clock: Clock;
  readonly random: Random;
  readonly instanceId: string;
  /** The process's metrics registry and readiness hook (served on the health listener). */
  readonly observability: Observability;
}

export async function runProcess<S extends z.ZodType<{ logging: LoggingConfig; node: { name: string }; health?: { listen: string } | undefined }>>(
  name: 'manager' | 'agent',
  schema: S,
  build: (deps: ProcessBuild<z.output<S>>) => Supervisor,
): Promise<void> {
  let configPath: string | undefined;
  try {
    configPath = parseArgs({ options: { config: { type: 'string', short: 'c' } } }).values.config;
  } catch (e) {
    console.error(`${name}: ${(e as Error).message}\nusage: ${name} --config FILE`);
    process.exit(2);
  }
  if (!configPath) {
    console.error(`${name}: missing --config FILE`);
    process.exit(2);
  }
  const loaded = await loadConfigFile(configPath, schema);
  if (!loaded.ok) {
    console.error(`${name}: ${loaded.error.message}`);
    process.exit(2);
  }
  const config = loaded.value;
  const tlsProblem = checkTls(config as unknown as TlsConfigs);
  if (tlsProblem) {
    console.error(`${name}: ${tlsProblem}`);
    process.exit(2);
  }
  watchParent();
  const logs = createLogs(config.logging, name);
  const instanceId = newInstanceId(systemRandom);
  logs.for('process').info({ node: config.node.name, instanceId, config: configPath }, `${name} starting`);
  const observability = new Observability({ processMetrics: config.health !== undefined });
  const tree = build({ config, logs, clock: processClock(), random: systemRandom, instanceId, observability });
  let health: HealthServer | undefined;
  if (config.health) {
    try {
      health = await startHealth({
        listen: config.health.listen,
        supervisor: tree,
        role: name,
        node: config.node.name,
        instanceId,
        logger: logs.for('health'),
        metrics: observability.registry,
        readiness: () => observability.readiness(),
      });
    } catch (e) {
      console.error(`${name}: health.listen ${config.health.listen}: ${(e as Error).message}`);
      process.exit(2);
    }
  }
  const exit = (code: number): void => {
    void (health?.close() ?? Promise.resolve()).finally(() => process.exit(code));
  };
  const root = await runRoot(tree, { logger: logs.for('supervisor'), exit });
  if (root.started.ok) logs.for('process').info({ node: config.node.name }, `${name} running`);
}
