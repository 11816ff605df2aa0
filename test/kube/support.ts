/**
 * What the Kubernetes tests share: manifests (Services, EndpointSlices, Nodes), a fake manager
 * (a real Bus serving the manager's methods and recording what reaches it), an agent tree with
 * a `kube` section, and polling helpers.
 */
import { agentTree, type AgentTree } from '../../actors/agent/tree.js';
import { agentConfigSchema } from '../../actors/process-config.js';
import { systemClock } from '../../core/clock.js';
import { parseConfig } from '../../core/config.js';
import { silentLogs, type Logs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { ok, type Result } from '../../core/result.js';
import { route, type Bus } from '../../messages/bus.js';
import type { BusError } from '../../messages/errors.js';
import { prefix, subjects } from '../../messages/subjects.js';
import { formatIpv4 } from '../../messages/validate.js';
import { serviceKeyText, type ServicePort } from '../../protocol/intent.js';
import { agentMethods, managerMethods } from '../../protocol/methods.js';
import type { FullState } from '../../protocol/sync.js';
import { pullFullState } from '../../actors/sync-pages.js';
import { type EndpointSpec } from '../../simulations/kube/objects.js';

export { nodeObject, service, slice, type EndpointSpec, type PortSpec } from '../../simulations/kube/objects.js';

export function endpoints(n: number, third = 1, extra: Partial<EndpointSpec> = {}): EndpointSpec[] {
  return Array.from({ length: n }, (_, i) => ({ ip: `10.244.${third}.${i + 1}`, ...extra }));
}

export interface ManagerRequest {
  readonly op: 'upsert' | 'delete';
  /** "10.96.0.10:80/TCP" */
  readonly key: string;
  readonly service?: ServicePort;
}

/** A manager stand-in on the bus: answers hello, records service upserts/deletes, can pull agent.sync. */
export class FakeManager {
  readonly requests: ManagerRequest[] = [];
  readonly state = new Map<string, ServicePort>();
  private stopServing: (() => Promise<void>) | undefined;

  constructor(
    private readonly bus: Bus,
    readonly node: string,
  ) {}

  start(): void {
    const served = this.bus.serve(prefix(this.node, 'manager'), [
      route(managerMethods.hello, () =>
        ok({ node: this.node, instanceId: 'fakemanager1', stateRevision: 0, resyncRequested: false, heartbeatIntervalMs: 1000 }),
      ),
      route(managerMethods.serviceUpsert, (u) => {
        const key = serviceKeyText(u.service);
        this.requests.push({ op: 'upsert', key, service: u.service });
        this.state.set(key, u.service);
        return ok({ revision: this.requests.length, changed: true });
      }),
      route(managerMethods.serviceDelete, (d) => {
        const key = serviceKeyText(d);
        this.requests.push({ op: 'delete', key });
        this.state.delete(key);
        return ok({ revision: this.requests.length, changed: true });
      }),
    ]);
    this.stopServing = () => served.stop();
  }

  async stop(): Promise<void> {
    await this.stopServing?.();
  }

  /** Requests about one ClusterIP:port/protocol. */
  about(key: string): ManagerRequest[] {
    return this.requests.filter((r) => r.key === key);
  }

  /** The endpoints the manager holds for a key, as "ip:port" (sorted), or undefined. */
  endpointsOf(key: string): string[] | undefined {
    return this.state.get(key)?.endpoints.map((e) => `${formatIpv4(e.ipv4)}:${e.port}`).sort();
  }

  /** agent.sync, as the manager's registry pulls it. */
  pull(): Promise<Result<FullState, BusError>> {
    return pullFullState((req) => this.bus.request(subjects.agent(this.node, agentMethods.sync.op), agentMethods.sync, req), {
      node: this.node,
      from: 'manager',
      instanceId: 'fakemanager1',
    });
  }
}

export interface AgentOptions {
  readonly node: string;
  readonly natsUrl: string;
  readonly kubeUrl: string;
  readonly instanceId?: string;
  readonly kube?: Record<string, unknown>;
  readonly logs?: Logs;
}

/** Fast timings for tests: a burst is 100 ms of quiet, back-off 100 ms → 1 s, a silent watch 2.5 s. */
export const TEST_KUBE = {
  watchTimeoutSeconds: 2,
  idleGraceMs: 500,
  requestTimeoutMs: 2000,
  backoff: { initialMs: 100, maxMs: 1000 },
  syncDelayMs: 100,
  maxSyncDelayMs: 1000,
};

export async function startAgent(o: AgentOptions): Promise<AgentTree> {
  const raw = {
    node: { name: o.node, ip: '192.0.2.10', podCidr: '10.244.0.0/24' },
    nats: { servers: [o.natsUrl], timeoutMs: 1000, insecure: true },
    heartbeat: { intervalMs: 200 },
    kube: { server: o.kubeUrl, ...TEST_KUBE, ...o.kube },
  };
  const config = parseConfig(raw, agentConfigSchema);
  if (!config.ok) throw config.error;
  const tree = agentTree({
    config: config.value,
    logs: o.logs ?? silentLogs(),
    clock: systemClock,
    random: seededRandom(7),
    instanceId: o.instanceId ?? 'agent1',
  });
  const started = await tree.supervisor.start();
  if (!started.ok) throw new Error(`agent did not start: ${JSON.stringify(started)}`);
  return tree;
}

/** Polls `check` until it returns true (or throws nothing), up to `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
