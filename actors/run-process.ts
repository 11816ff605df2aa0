/**
 * What bin/manager and bin/agent share: read `--config FILE`, validate it (exit 2 with every
 * problem named), set up per-module logs, build the tree and run it as the process root
 * (SIGTERM/SIGINT stop it cleanly; an escalation exits 1 for systemd or Kubernetes to restart).
 */
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { systemClock, type Clock } from '../core/clock.js';
import { loadConfigFile } from '../core/config.js';
import { createLogs, type LoggingConfig, type Logs } from '../core/logger.js';
import { systemRandom, type Random } from '../core/random.js';
import { runRoot, type Supervisor } from '../supervisors/index.js';
import { newInstanceId } from './process-identity.js';

export interface ProcessBuild<C> {
  readonly config: C;
  readonly logs: Logs;
  readonly clock: Clock;
  readonly random: Random;
  readonly instanceId: string;
}

export async function runProcess<S extends z.ZodType<{ logging: LoggingConfig; node: { name: string } }>>(
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
  const logs = createLogs(config.logging, name);
  const instanceId = newInstanceId(systemRandom);
  logs.for('process').info({ node: config.node.name, instanceId, config: configPath }, `${name} starting`);
  const tree = build({ config, logs, clock: systemClock, random: systemRandom, instanceId });
  const root = await runRoot(tree, { logger: logs.for('supervisor') });
  if (root.started.ok) logs.for('process').info({ node: config.node.name }, `${name} running`);
}
