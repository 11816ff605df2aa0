/**
 * One configuration file per process (YAML or JSON), validated with a zod schema. Every problem
 * is reported with the dotted path of its field, e.g. `node.ip: required (the node's
 * InternalIP)`, and a process that gets a ConfigError does not start.
 *
 * @example
 * const r = await loadConfigFile('/etc/infra/manager.yaml', managerConfigSchema);
 * if (!r.ok) { console.error(r.error.message); process.exit(2); }
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { err, ok, type Result } from './result.js';
import { LOG_LEVELS } from './logger.js';

export interface ConfigProblem {
  /** Dotted path of the field ('' for the whole file). */
  readonly field: string;
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`invalid configuration ${source}:\n${problems.map((p) => `  - ${p.field || '(file)'}: ${p.message}`).join('\n')}`);
  }
}

/** Validates an already-parsed value against a schema. */
export function parseConfig<S extends z.ZodType>(value: unknown, schema: S, source = '(inline)'): Result<z.output<S>, ConfigError> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return ok(r.data);
  return err(new ConfigError(source, r.error.issues.map(toProblem)));
}

/** Reads a YAML or JSON file and validates it. */
export async function loadConfigFile<S extends z.ZodType>(path: string, schema: S): Promise<Result<z.output<S>, ConfigError>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return err(new ConfigError(path, [{ field: '', message: `cannot read: ${(e as Error).message}` }]));
  }
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    return err(new ConfigError(path, [{ field: '', message: `not YAML or JSON: ${(e as Error).message}` }]));
  }
  return parseConfig(value, schema, path);
}

function toProblem(issue: z.core.$ZodIssue): ConfigProblem {
  const field = issue.path.map(String).join('.');
  if (issue.code === 'invalid_type' && issue.input === undefined) return { field, message: 'required' };
  if (issue.code === 'unrecognized_keys') {
    return { field: [field, ...issue.keys].filter(Boolean).join('.'), message: 'unknown field' };
  }
  return { field, message: issue.message };
}

// Shared pieces of the process configurations.

export const loggingSchema = z
  .object({
    level: z.enum(LOG_LEVELS).default('info'),
    modules: z.record(z.string(), z.enum(LOG_LEVELS)).default({}),
  })
  .strict()
  .default({ level: 'info', modules: {} });

export const tlsSchema = z
  .object({
    caFile: z.string().min(1),
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
  })
  .strict();

export const natsSchema = z
  .object({
    servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s]+$/, 'expected nats://host:port or tls://host:port')).min(1),
    tls: tlsSchema.optional(),
    /** This identity's reply subjects (NATS permissions give each identity its own, e.g. _INBOX_agent_node-1). */
    inboxPrefix: z.string().regex(/^_INBOX[A-Za-z0-9_-]*$/, 'expected _INBOX followed by letters, digits, _ or -').optional(),
    timeoutMs: z.number().int().min(10).max(600_000).default(2000),
    /** Mutual TLS is the default: a bus without it must be asked for (tests, a throwaway bus). */
    insecure: z.boolean().default(false),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (!v.tls && !v.insecure) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'required: mutual TLS is the default (set nats.insecure: true only for a test bus)' });
  });

export const heartbeatSchema = z
  .object({
    intervalMs: z.number().int().min(10).max(600_000).default(1000),
    /** Heartbeats missed before the peer counts as lost. */
    missedBeats: z.number().int().min(1).max(100).default(3),
  })
  .strict()
  .default({ intervalMs: 1000, missedBeats: 3 });
