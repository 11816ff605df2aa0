/**
 * offloadctl's command line: global options (where the bus is, which identity, which node, how
 * to print) and one command with its own options, parsed into a checked Invocation or a
 * UsageError (exit 2). Options may come before or after the command.
 *
 * @example
 * parseInvocation(['--insecure', '--node', 'node-1', 'tables', '--limit', '50', '-o', 'json']);
 * // { ok: true, value: { command: { name: 'tables', table: '', limit: 50 }, output: 'json', … } }
 */
import { parseArgs } from 'node:util';
import { err, ok, type Result } from '../../core/result.js';
import { nodeName } from '../../messages/validate.js';
import { MAX_VIEW_LIMIT } from '../../protocol/ctl.js';

export const USAGE = `usage: offloadctl [--server nats://HOST:PORT] [--tls-ca F --tls-cert F --tls-key F | --insecure]
                  [--inbox-prefix P] [--timeout MS] --node NODE <command> [-o table|json]

commands:
  tables [--table NAME] [--limit N]   entries programmed on the device, per table (read back through the manager)
  flows [--table NAME] [--limit N]    learned connections (ct_forward, ct_reverse)
  services [--limit N]                services, their endpoints and member/group ids
  pods [--limit N]                    pods of the manager's intent; the agent's pod interfaces and port map
  tree [manager|agent]                supervision trees with states and restart counts
  leadership                          the lease holder, epoch, and the hardware session
  health                              one line each: manager, agent, leadership

The server defaults to $NATS_URL, then nats://127.0.0.1:4222. With TLS the inbox prefix is the
operator's (_INBOX_ctl_<CN of --tls-cert>). Exit 0 on success, 1 when a query fails, 2 on a usage error.`;

export const COMMANDS = ['tables', 'flows', 'services', 'pods', 'tree', 'leadership', 'health'] as const;
export type CommandName = (typeof COMMANDS)[number];
export type TreeRole = 'manager' | 'agent';

export type Command =
  | { readonly name: 'tables' | 'flows'; readonly table: string; readonly limit: number }
  | { readonly name: 'services' | 'pods'; readonly limit: number }
  | { readonly name: 'tree'; readonly roles: readonly TreeRole[] }
  | { readonly name: 'leadership' | 'health' };

export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface Invocation {
  readonly servers: readonly string[];
  /** Undefined with --insecure. */
  readonly tls: TlsFiles | undefined;
  /** Explicit --inbox-prefix; otherwise derived from the certificate. */
  readonly inboxPrefix: string | undefined;
  readonly node: string;
  readonly timeoutMs: number;
  readonly output: 'table' | 'json';
  readonly command: Command;
}

/** A bad command line: print the message and the usage, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** --help: print the usage, exit 0. */
export interface HelpRequest {
  readonly help: true;
}

const OPTIONS = {
  server: { type: 'string', short: 's' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  insecure: { type: 'boolean' },
  'inbox-prefix': { type: 'string' },
  node: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
  table: { type: 'string' },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const INBOX = /^[A-Za-z0-9_-]{1,64}$/;

function integer(text: string, flag: string, min: number, max: number): Result<number, UsageError> {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) return err(new UsageError(`${flag} must be an integer from ${min} to ${max}, not "${text}"`));
  return ok(n);
}

function servers(flag: string | undefined, env: string | undefined): Result<string[], UsageError> {
  const list = (flag ?? env ?? 'nats://127.0.0.1:4222')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of list) if (!/^(nats|tls):\/\/[^\s/]+$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) return err(new UsageError(`--server "${s}" is not nats://HOST:PORT`));
  return list.length > 0 ? ok(list) : err(new UsageError('--server is empty'));
}

function command(positionals: readonly string[], values: { table?: string; limit?: string }): Result<Command, UsageError> {
  const [name, ...rest] = positionals;
  if (name === undefined) return err(new UsageError('no command given'));
  if (!(COMMANDS as readonly string[]).includes(name)) return err(new UsageError(`unknown command "${name}" (commands: ${COMMANDS.join(', ')})`));
  const cmd = name as CommandName;
  if (cmd !== 'tree' && rest.length > 0) return err(new UsageError(`${cmd} takes no argument "${rest[0]}"`));
  if (values.table !== undefined && cmd !== 'tables' && cmd !== 'flows') return err(new UsageError(`--table applies to tables and flows, not ${cmd}`));
  const takesLimit = cmd === 'tables' || cmd === 'flows' || cmd === 'services' || cmd === 'pods';
  if (values.limit !== undefined && !takesLimit) return err(new UsageError(`--limit applies to tables, flows, services and pods, not ${cmd}`));
  let limit = 0;
  if (values.limit !== undefined) {
    const n = integer(values.limit, '--limit', 1, MAX_VIEW_LIMIT);
    if (!n.ok) return n;
    limit = n.value;
  }
  switch (cmd) {
    case 'tables':
    case 'flows': {
      const table = values.table ?? '';
      if (table !== '' && !/^[A-Za-z_][A-Za-z0-9_.]{0,127}$/.test(table)) return err(new UsageError(`--table "${table.slice(0, 64)}" is not a table name`));
      return ok({ name: cmd, table, limit });
    }
    case 'services':
    case 'pods':
      return ok({ name: cmd, limit });
    case 'tree': {
      if (rest.length > 1) return err(new UsageError(`tree takes one role at most, not "${rest.join(' ')}"`));
      const role = rest[0];
      if (role !== undefined && role !== 'manager' && role !== 'agent') return err(new UsageError(`tree: "${role}" is neither manager nor agent`));
      return ok({ name: 'tree', roles: role ? [role] : ['manager', 'agent'] });
    }
    default:
      return ok({ name: cmd });
  }
}

/** Parses argv (without node and the script); `env` gives NATS_URL. */
export function parseInvocation(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Result<Invocation | HelpRequest, UsageError> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    return err(new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, '')));
  }
  const v = parsed.values;
  if (v.help) return ok({ help: true });
  const cmd = command(parsed.positionals, v);
  if (!cmd.ok) return cmd;
  if (v.node === undefined) return err(new UsageError('--node NODE is required'));
  let node: string;
  try {
    node = nodeName(v.node, '--node');
  } catch (e) {
    return err(new UsageError((e as Error).message));
  }
  const output = v.output ?? 'table';
  if (output !== 'table' && output !== 'json') return err(new UsageError(`-o must be table or json, not "${output}"`));
  const tlsGiven = [v['tls-ca'], v['tls-cert'], v['tls-key']].filter((x) => x !== undefined).length;
  if (v.insecure && tlsGiven > 0) return err(new UsageError('--insecure and --tls-* exclude each other'));
  if (!v.insecure && tlsGiven < 3) {
    return err(new UsageError(tlsGiven === 0 ? 'give --tls-ca, --tls-cert and --tls-key (or --insecure for a bus without TLS)' : '--tls-ca, --tls-cert and --tls-key go together'));
  }
  const inbox = v['inbox-prefix'];
  if (inbox !== undefined && !INBOX.test(inbox)) return err(new UsageError(`--inbox-prefix "${inbox.slice(0, 64)}" is not one subject token`));
  const timeout = integer(v.timeout ?? '10000', '--timeout', 100, 600_000);
  if (!timeout.ok) return timeout;
  const list = servers(v.server, env.NATS_URL);
  if (!list.ok) return list;
  return ok({
    servers: list.value,
    tls: v.insecure ? undefined : { caFile: v['tls-ca']!, certFile: v['tls-cert']!, keyFile: v['tls-key']! },
    inboxPrefix: inbox,
    node,
    timeoutMs: timeout.value,
    output,
    command: cmd.value,
  });
}
