/**
 * Test helpers for the agent's pods: a manager stand-in on the bus that records what the agent
 * registers (and can stop answering), and an agent tree configured with a pool in namespaces of
 * the test's own.
 */
import { agentTree, type AgentTree } from '../../actors/agent/tree.js';
import { agentConfigSchema } from '../../actors/process-config.js';
import { silentLogs } from '../../core/logger.js';
import { parseConfig } from '../../core/config.js';
import { systemClock } from '../../core/clock.js';
import { seededRandom } from '../../core/random.js';
import { ok } from '../../core/result.js';
import type { Bus } from '../../messages/bus.js';
import { route } from '../../messages/bus.js';
import { prefix } from '../../messages/subjects.js';
import { formatIpv4, formatMac } from '../../messages/validate.js';
import type { HostInterface, PodInterface } from '../../protocol/intent.js';
import { managerMethods } from '../../protocol/methods.js';

/** A manager on the bus that holds the pods and the host interface the agent registers. */
export class PodManager {
  readonly pods = new Map<string, PodInterface>();
  host: HostInterface | undefined;
  readonly log: string[] = [];
  private stopServing: (() => Promise<void>) | undefined;

  constructor(
    private readonly bus: Bus,
    readonly node: string,
  ) {}

  /** Serves (again); `stop()` makes the manager unreachable (no responders). */
  start(): void {
    if (this.stopServing) return;
    let revision = 0;
    const served = this.bus.serve(prefix(this.node, 'manager'), [
      route(managerMethods.hello, () => ok({ node: this.node, instanceId: 'podmanager1', stateRevision: 0, resyncRequested: false, heartbeatIntervalMs: 1000 })),
      route(managerMethods.podAdd, (p) => {
        this.pods.set(p.containerId, p);
        this.log.push(`add ${p.containerId} ${p.portId}`);
        return ok({ revision: ++revision, changed: true });
      }),
      route(managerMethods.podDelete, (d) => {
        this.pods.delete(d.containerId);
        this.log.push(`delete ${d.containerId}`);
        return ok({ revision: ++revision, changed: true });
      }),
      route(managerMethods.hostSetup, (h) => {
        this.host = h;
        return ok({ revision: ++revision, changed: true });
      }),
    ]);
    this.stopServing = () => served.stop();
  }

  async stop(): Promise<void> {
    const stop = this.stopServing;
    this.stopServing = undefined;
    await stop?.();
  }

  /** "ip mac port" of a registered pod. */
  describe(containerId: string): string | undefined {
    const p = this.pods.get(containerId);
    return p && `${formatIpv4(p.ipv4)} ${formatMac(p.mac)} ${p.portId}`;
  }
}

export interface PodAgentOptions {
  readonly node: string;
  readonly natsUrl: string;
  readonly prefix: string;
  readonly poolNetns: string;
  readonly gatewayNetns: string;
  readonly stateDir: string;
  readonly socket: string;
  readonly instanceId?: string;
  readonly addTimeoutMs?: number;
}

export const NODE_IP = '192.0.2.10';
export const POD_CIDR = '10.244.77.0/24';

export async function startPodAgent(o: PodAgentOptions): Promise<AgentTree> {
  const raw = {
    node: { name: o.node, ip: NODE_IP, podCidr: POD_CIDR },
    nats: { servers: [o.natsUrl], timeoutMs: 1000, insecure: true },
    heartbeat: { intervalMs: 200 },
    pods: {
      prefix: o.prefix,
      poolNetns: o.poolNetns,
      gatewayNetns: o.gatewayNetns,
      stateDir: o.stateDir,
      socket: o.socket,
      addTimeoutMs: o.addTimeoutMs ?? 5000,
      retryMs: 50,
    },
  };
  const config = parseConfig(raw, agentConfigSchema);
  if (!config.ok) throw config.error;
  const tree = agentTree({
    config: config.value,
    logs: silentLogs(),
    clock: systemClock,
    random: seededRandom(11),
    instanceId: o.instanceId ?? 'agent1',
  });
  const started = await tree.supervisor.start();
  if (!started.ok) throw new Error(`agent did not start: ${JSON.stringify(started)}`);
  return tree;
}
