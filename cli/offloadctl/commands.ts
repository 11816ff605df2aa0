/**
 * offloadctl's commands: which ctl queries each one sends (to the manager, the agent or both),
 * and what comes out — one JSON document and the human-readable text — plus a message for each
 * query that failed (said plainly: nobody answers, a timeout, the process's own refusal). The
 * bus is behind a small CtlClient interface, so the commands are tested without NATS.
 *
 * @example
 * const outcome = await runCommand({ name: 'services', limit: 0 }, 'node-1', client);
 * process.stdout.write(outcome.text + '\n'); // or JSON.stringify(outcome.json)
 */
import type { Result } from '../../core/result.js';
import type { BusError } from '../../messages/errors.js';
import type { Method } from '../../messages/method.js';
import { ctlMethods } from '../../protocol/methods.js';
import type { Command, TreeRole } from './args.js';
import { healthRows, renderLeadership, renderPods, renderServices, renderTables, renderTree, tablesJson, type HealthPart } from './render.js';

/** Sends one ctl query to the node's manager or agent. */
export interface CtlClient {
  request<Req, Res>(role: TreeRole, method: Method<Req, Res>, request: Req): Promise<Result<Res, BusError>>;
}

export interface Outcome {
  /** The one JSON document `-o json` prints. */
  readonly json: unknown;
  /** The human-readable output. */
  readonly text: string;
  /** One line per failed query (printed on stderr; the exit status is then 1). */
  readonly errors: readonly string[];
  /** A query failed, or `health` found something unhealthy. */
  readonly failed: boolean;
}

/**
 * A failed query said for an operator.
 *
 * @example
 * describeFailure('manager', 'node-1', 'tables', new NoRespondersError(subject));
 * // "no manager answers for node node-1 (is it running, and is node-1 the node's name?)"
 */
export function describeFailure(role: TreeRole, node: string, op: string, e: BusError): string {
  if (e.name === 'NoRespondersError') return `no ${role} answers for node ${node} (is it running, and is ${node} the node's name?)`;
  if (e.name === 'TimeoutError') return `the ${role} of ${node} did not answer ${op} in time (${e.message})`;
  if (e.name === 'ConnectionClosedError') return `the bus connection closed: ${e.message}`;
  if (e.name === 'RemoteError') return `${role} of ${node} refused ${op}: ${e.code}: ${e.message}${e.field ? ` (field ${e.field})` : ''}`;
  if (/Permissions Violation/i.test(e.message)) return `the NATS server does not let this identity ask ${op} of the ${role} (${e.message})`;
  return `${op} of the ${role} of ${node} failed: ${e.code}: ${e.message}`;
}

type Part<T> = HealthPart<T>;

async function ask<Req, Res>(client: CtlClient, role: TreeRole, node: string, method: Method<Req, Res>, request: Req): Promise<Part<Res>> {
  const r = await client.request(role, method, request);
  return r.ok ? r : { ok: false, error: describeFailure(role, node, method.op, r.error) };
}

const jsonOf = <T>(p: Part<T>, shape: (v: T) => unknown = (v) => v): unknown => (p.ok ? shape(p.value) : { error: p.error });

/** Runs one command; never throws for a failed query. */
export async function runCommand(command: Command, node: string, client: CtlClient): Promise<Outcome> {
  switch (command.name) {
    case 'tables':
    case 'flows': {
      const flows = command.name === 'flows';
      const r = await ask(client, 'manager', node, ctlMethods.tables, { node, table: command.table, limit: command.limit, learnedOnly: flows && command.table === '' });
      if (!r.ok) return { json: { error: r.error }, text: '', errors: [r.error], failed: true };
      return { json: tablesJson(r.value), text: renderTables(r.value, flows), errors: [], failed: false };
    }
    case 'services': {
      const r = await ask(client, 'manager', node, ctlMethods.services, { node, limit: command.limit });
      if (!r.ok) return { json: { error: r.error }, text: '', errors: [r.error], failed: true };
      return { json: r.value, text: renderServices(r.value), errors: [], failed: false };
    }
    case 'leadership': {
      const r = await ask(client, 'manager', node, ctlMethods.leadership, { node });
      if (!r.ok) return { json: { error: r.error }, text: '', errors: [r.error], failed: true };
      return { json: r.value, text: renderLeadership(r.value), errors: [], failed: false };
    }
    case 'pods': {
      const [manager, agent] = await Promise.all(
        (['manager', 'agent'] as const).map((role) => ask(client, role, node, ctlMethods.pods, { node, limit: command.limit })),
      );
      const parts = [manager!, agent!].filter((p) => p.ok).map((p) => renderPods(p.value));
      const errors = [manager!, agent!].flatMap((p) => (p.ok ? [] : [p.error]));
      return { json: { manager: jsonOf(manager!), agent: jsonOf(agent!) }, text: parts.join('\n\n'), errors, failed: errors.length > 0 };
    }
    case 'tree': {
      const replies = await Promise.all(command.roles.map((role) => ask(client, role, node, ctlMethods.tree, { node })));
      const json = Object.fromEntries(command.roles.map((role, i) => [role, jsonOf(replies[i]!)]));
      const errors = replies.flatMap((p) => (p.ok ? [] : [p.error]));
      const text = replies.flatMap((p) => (p.ok ? [renderTree(p.value)] : [])).join('\n\n');
      return { json, text, errors, failed: errors.length > 0 };
    }
    case 'health': {
      const [manager, agent, leadership] = await Promise.all([
        ask(client, 'manager', node, ctlMethods.state, { node }),
        ask(client, 'agent', node, ctlMethods.state, { node }),
        ask(client, 'manager', node, ctlMethods.leadership, { node }),
      ]);
      const rows = healthRows(manager, agent, leadership);
      const errors = [manager, agent, leadership].flatMap((p) => (p.ok ? [] : [p.error]));
      return {
        json: { node, healthy: rows.healthy, manager: jsonOf(manager), agent: jsonOf(agent), leadership: jsonOf(leadership) },
        text: rows.text,
        errors,
        failed: !rows.healthy,
      };
    }
  }
}
