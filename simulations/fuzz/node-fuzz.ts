/**
 * The bus fuzz against a node's real processes: seed a baseline intent, record each process's
 * state summary and PID, fuzz every subject, then check that both processes are the same ones,
 * still answering, with exactly the state they had.
 */
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { ctlPrefix, subjects } from '../../messages/subjects.js';
import { ctlMethods, managerMethods } from '../../protocol/methods.js';
import type { StateSummary } from '../../protocol/sync.js';
import type { LocalNode } from '../local-node.js';
import { baselineIntent, busTargets, type Baseline } from './bus-targets.js';
import { runBusFuzz, type BusFuzzReport } from './bus-fuzz.js';

export interface NodeFuzzOutcome {
  readonly report: BusFuzzReport;
  readonly before: { manager: StateSummary; agent: StateSummary; pids: [number?, number?] };
  readonly after: { manager: StateSummary; agent: StateSummary; pids: [number?, number?] };
  readonly starts: { manager: number; agent: number };
}

export interface NodeFuzzOptions {
  readonly seed: number;
  readonly randomCases: number;
  readonly malformedCases: number;
  readonly concurrency?: number;
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

/** Asks a process of the node for its state summary, retrying while it starts. */
export async function stateOf(bus: Bus, node: string, role: 'manager' | 'agent', waitMs = 15_000): Promise<StateSummary> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await bus.request(`${ctlPrefix(node, role)}.state`, ctlMethods.state, { node }, { timeoutMs: 1000 });
    if (r.ok) return r.value;
    if (Date.now() > deadline) throw new Error(`${role} of ${node} does not answer: ${r.error.message}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Waits until the manager has registered the agent and pulled its state. */
export async function waitForRegistration(bus: Bus, node: string, waitMs = 15_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  const agent = await stateOf(bus, node, 'agent', waitMs);
  const hello = managerMethods.hello;
  for (;;) {
    const r = await bus.request(subjects.manager(node, hello.op), hello, {
      node,
      role: 'agent',
      instanceId: agent.instanceId,
      startedAtMs: 1,
      version: 'probe',
      nodeIp: 0,
      podCidr: '',
    });
    if (r.ok && !r.value.resyncRequested) return;
    if (Date.now() > deadline) throw new Error(`manager of ${node} never synced the agent's state`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Sends the baseline intent to the manager (the agent's role in production). */
export async function seedBaseline(bus: Bus, node: string, baseline: Baseline): Promise<void> {
  const m = managerMethods;
  const results = [
    await bus.request(subjects.manager(node, m.hostSetup.op), m.hostSetup, baseline.host),
    ...(await Promise.all(baseline.pods.map((p) => bus.request(subjects.manager(node, m.podAdd.op), m.podAdd, p)))),
    ...(await Promise.all(
      baseline.services.map((service) => bus.request(subjects.manager(node, m.serviceUpsert.op), m.serviceUpsert, { node, service })),
    )),
  ];
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) throw new Error(`baseline refused: ${failed.error.message}`);
}

export async function fuzzNode(local: LocalNode, options: NodeFuzzOptions): Promise<NodeFuzzOutcome> {
  const bus = await Bus.connect({ servers: local.nats.url, name: 'bus-fuzz', logger: silentLogs().root, timeoutMs: 5000 });
  try {
    const node = local.node;
    await waitForRegistration(bus, node);
    const baseline = baselineIntent(node);
    await seedBaseline(bus, node, baseline);
    const snapshot = async (): Promise<NodeFuzzOutcome['before']> => ({
      manager: await stateOf(bus, node, 'manager'),
      agent: await stateOf(bus, node, 'agent'),
      pids: [local.manager.pid, local.agent.pid],
    });
    const before = await snapshot();
    const targets = busTargets(node, baseline, before.agent.instanceId);
    const report = await runBusFuzz({ bus, targets, ...options });
    const after = await snapshot();
    return { report, before, after, starts: { manager: local.manager.starts, agent: local.agent.starts } };
  } finally {
    await bus.close();
  }
}
