/**
 * The agent as a separate process serving CNI, for fuzzing its CniBackend: a local node
 * (nats-server, one manager, the agent; no P4 target, no Kubernetes stand-in, no TLS) whose
 * agent has a TAP pool in namespaces the caller made. What the fuzzer watches is here too: the
 * agent's PID and RSS, whether it restarted, the errors it logged, its pool's state files.
 *
 * SAFETY: the pool and gateway namespaces are the caller's (never the root namespace); the agent
 * moves TAPs only between them and pod namespaces the caller names.
 *
 * @example
 * const agent = await startFuzzAgent({ prefix: net.prefix, poolNetns: hostNs, gatewayNetns: net.ns('gw') });
 * await runGrpcFuzz({ target: { socket: agent.socket, stateFiles: agent.stateFiles, pid: agent.pid, pod }, seed: 1, cases: 2000 });
 * await agent.stop();
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { startLocalNode, type LocalNode } from '../local-node.js';

export interface FuzzAgentOptions {
  /** The pool's TAP prefix (pool index i is `${prefix}${i}`), made by the caller in poolNetns. */
  readonly prefix: string;
  readonly poolNetns: string;
  /** Created by the agent when missing; the caller removes it afterwards. */
  readonly gatewayNetns: string;
  /** Default 10.244.0.0/24. */
  readonly podCidr?: string;
  /** How long to wait for the CNI socket. Default 20 s. */
  readonly readyMs?: number;
}

export interface FuzzAgent {
  readonly node: LocalNode;
  readonly socket: string;
  /** The pool's allocations and port map: only valid requests may change them. */
  readonly stateFiles: readonly string[];
  /** The agent's PID when it became ready. */
  readonly pid: number;
  /** Lines the agent logged at level error or worse (or not as JSON). */
  readonly errors: readonly string[];
  /** Malformed-request warnings the agent logged. */
  readonly refusals: () => number;
  /** Starts of the agent process (1: it never restarted). */
  readonly starts: () => number;
  /** Stops the node (SIGTERM by PID); resolves with the agent's exit code. */
  stop(): Promise<number | null>;
}

/**
 * Boots the node and waits until the agent's CNI socket exists. The manager may still be
 * electing itself: the first ADD's registration retries until its deadline.
 *
 * @example
 * const agent = await startFuzzAgent({ prefix: 'io1a2b3c_', poolNetns: 'ioff-1a2b3c-host', gatewayNetns: 'ioff-1a2b3c-gw' });
 */
export async function startFuzzAgent(options: FuzzAgentOptions): Promise<FuzzAgent> {
  const errors: string[] = [];
  let refusals = 0;
  const node = await startLocalNode({
    tls: false,
    kube: false,
    target: false,
    restartAfterMs: null,
    logLevel: 'warn',
    heartbeatMs: 200,
    podCidr: options.podCidr ?? '10.244.0.0/24',
    pods: { prefix: options.prefix, poolNetns: options.poolNetns, gatewayNetns: options.gatewayNetns },
    onLog: (name, line) => {
      if (name !== 'agent') return;
      if (typeof line === 'string') errors.push(line);
      else if (line.level >= 50) errors.push(line.msg);
      else if (line.msg === 'malformed CNI request refused') refusals++;
    },
  });
  const socket = node.cniSocket!;
  const deadline = Date.now() + (options.readyMs ?? 20_000);
  while (!(await access(socket).then(() => true, () => false))) {
    if (Date.now() > deadline || !node.agent.running) {
      await node.stop();
      throw new Error(`the agent's CNI socket ${socket} did not appear${node.agent.running ? '' : ' (the agent exited)'}: ${errors.join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const stateDir = join(node.dir, 'agent-state');
  return {
    node,
    socket,
    stateFiles: [join(stateDir, 'pool.json'), join(stateDir, 'portmap.json')],
    pid: node.agent.pid!,
    errors,
    refusals: () => refusals,
    starts: () => node.agent.starts,
    stop: async () => (await node.stop()).agent,
  };
}
