/**
 * offloadctl from argv to exit status: parse the command line (exit 2 with the usage on a
 * mistake), check the TLS files as the processes do, connect to NATS once (no reconnecting: a
 * tool fails rather than waits) as the operator identity — its inbox prefix derived from the
 * certificate's CN unless --inbox-prefix says otherwise — run the command, print the text or one
 * JSON document, and return 0, or 1 when a query failed (each failure said on stderr).
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2), { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), env: process.env });
 */
import { pino } from 'pino';
import { err, ok, toError, type Result } from '../../core/result.js';
import { inspectTlsFiles } from '../../deploy/certs/check.js';
import { DEFAULT_OPERATOR, inboxPrefix, validateIdentity } from '../../deploy/certs/identities.js';
import { Bus } from '../../messages/bus.js';
import { ctlPrefix } from '../../messages/subjects.js';
import { parseInvocation, USAGE, type Invocation } from './args.js';
import { runCommand, type CtlClient } from './commands.js';

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The operator's name in a certificate subject ("CN=offloadctl"), if it is one. */
export function operatorName(subject: string): string | undefined {
  const cn = /(?:^|\n|,\s*)CN=([^,\n]+)/.exec(subject)?.[1]?.trim();
  if (!cn) return undefined;
  try {
    validateIdentity({ kind: 'operator', name: cn });
    return cn;
  } catch {
    return undefined;
  }
}

/** The inbox prefix to use: explicit, the certificate's operator, or NATS's default without TLS. */
function chooseInbox(inv: Invocation): Result<string | undefined, Error> {
  if (inv.inboxPrefix) return ok(inv.inboxPrefix);
  if (!inv.tls) return ok(undefined);
  const checked = inspectTlsFiles(inv.tls, { usage: 'client' });
  if (!checked.ok) return err(checked.error);
  const name = operatorName(checked.value.certificate?.subject ?? '') ?? DEFAULT_OPERATOR;
  return ok(inboxPrefix({ kind: 'operator', name }));
}

async function connect(inv: Invocation, inbox: string | undefined): Promise<Result<Bus, Error>> {
  try {
    const bus = await Bus.connect({
      servers: inv.servers,
      name: 'offloadctl',
      logger: pino({ level: 'silent' }),
      timeoutMs: inv.timeoutMs,
      reconnect: false,
      connectTimeoutMs: Math.min(inv.timeoutMs, 5000),
      ...(inv.tls ? { tls: inv.tls } : {}),
      ...(inbox ? { inboxPrefix: inbox } : {}),
    });
    return ok(bus);
  } catch (e) {
    const parts: string[] = [];
    for (let cur: unknown = e; cur instanceof Error && parts.length < 3; cur = cur.cause) if (!parts.includes(cur.message)) parts.push(cur.message);
    return err(new Error(`cannot connect to ${inv.servers.join(', ')}: ${parts.join(': ') || toError(e).message}`));
  }
}

/** Runs offloadctl; resolves with the exit status. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseInvocation(argv, io.env);
  if (!parsed.ok) {
    io.stderr(`offloadctl: ${parsed.error.message}\n${USAGE}\n`);
    return 2;
  }
  if ('help' in parsed.value) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const inv = parsed.value;
  const inbox = chooseInbox(inv);
  if (!inbox.ok) {
    io.stderr(`offloadctl: ${inbox.error.message}\n`);
    return 1;
  }
  const bus = await connect(inv, inbox.value);
  if (!bus.ok) {
    io.stderr(`offloadctl: ${bus.error.message}\n`);
    return 1;
  }
  const client: CtlClient = {
    request: (role, method, request) => bus.value.request(`${ctlPrefix(inv.node, role)}.${method.op}`, method, request, { timeoutMs: inv.timeoutMs }),
  };
  try {
    const outcome = await runCommand(inv.command, inv.node, client);
    if (inv.output === 'json') io.stdout(`${JSON.stringify(outcome.json, null, 2)}\n`);
    else if (outcome.text) io.stdout(`${outcome.text}\n`);
    for (const e of outcome.errors) io.stderr(`offloadctl: ${e}\n`);
    return outcome.failed ? 1 : 0;
  } finally {
    await bus.value.close();
  }
}
