/**
 * The node's interface pool as the agent runs it: on every start, find the pool, put the gateway
 * TAP (index 0) into the gateway namespace, open the allocator (reconciling its records with the
 * kernel and re-creating destroyed TAPs), set up the host interface (index 1), write the port map
 * and register the host interface with the manager (retried until acknowledged).
 *
 * The child's start awaits preparePool (a failure is a failed start: the supervisor retries it
 * with backoff), then runs   registering ⇄ waiting ──▶ ready.
 *
 * @example
 * const prepared = await preparePool(execIp, { pods: config.pods, nodeIp: '10.0.0.5', podCidrs: ['10.244.1.0/24'] });
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { assign, fromPromise, setup } from 'xstate';
import { err, ok, toError, type Result } from '../../../core/result.js';
import type { BusError } from '../../../messages/errors.js';
import { formatIpv4, parseMac, parseIpv4 } from '../../../messages/validate.js';
import type { HostInterface } from '../../../protocol/intent.js';
import type { PodsSection } from '../../process-config.js';
import { GATEWAY_PORT, HOST_PORT, PoolAllocator, type ReconcileReport } from '../pool/allocator.js';
import { PoolStateError } from '../pool/errors.js';
import { listLinks, poolName, validatePool, type DiscoveredPool } from '../pool/discover.js';
import { fsFiles, type AgentFiles } from '../pool/files.js';
import type { IpRunner } from '../pool/ip.js';
import { readState, writeJsonAtomic } from '../pool/state-file.js';
import { setupGateway, setupHost } from './gateway.js';

export interface PreparedPool {
  readonly pool: DiscoveredPool;
  readonly allocator: PoolAllocator;
  readonly report: ReconcileReport & { readonly restored: readonly number[] };
  readonly gatewayMac: string;
  readonly host: { readonly name: string; readonly mac: string; readonly address: string };
  readonly portMapFile: string;
  /** Where pool.json and portmap.json are written. */
  readonly files: AgentFiles;
}

export interface PrepareOptions {
  readonly pods: PodsSection;
  readonly nodeIp: string;
  /** Routed to the pods through the host interface. */
  readonly podCidrs: readonly string[];
  /** The filesystem of `pods.stateDir`: the machine's unless given (the in-process simulator's in memory). */
  readonly files?: AgentFiles;
}

/** Steps 1–5 of the header; every one idempotent. */
export async function preparePool(ip: IpRunner, opts: PrepareOptions): Promise<Result<PreparedPool, Error>> {
  const { pods } = opts;
  const files = opts.files ?? fsFiles;
  const poolNetns = pods.poolNetns;
  const gwName = poolName(pods.prefix, GATEWAY_PORT);
  const home = await listLinks(ip, poolNetns);
  if (!home.ok) return home;
  const atGateway = await listLinks(ip, pods.gatewayNetns);
  const gatewayLinks = atGateway.ok ? atGateway.value.filter((l) => l.name === gwName) : [];
  if (gatewayLinks.length === 0 && !home.value.some((l) => l.name === gwName)) {
    // The gateway TAP went with its namespace: make it again before moving it.
    const made = await ip.run(['tuntap', 'add', 'dev', gwName, 'mode', 'tap'], poolNetns);
    if (!made.ok) return made;
  }
  const gateway = await setupGateway(ip, { tap: gwName, ...(poolNetns ? { poolNetns } : {}), gatewayNetns: pods.gatewayNetns });
  if (!gateway.ok) return gateway;
  const links = await listLinks(ip, poolNetns);
  if (!links.ok) return links;
  try {
    await files.makeDir(pods.stateDir, 0o700);
  } catch (e) {
    return err(new PoolStateError(`cannot make ${pods.stateDir}: ${toError(e).message}`, { cause: e }));
  }
  const stateFile = join(pods.stateDir, 'pool.json');
  const state = await readState(stateFile, files);
  if (!state.ok) return state;
  // Members that are away on purpose count as present: the gateway TAP, and the TAPs the
  // records say are in pods' namespaces (the allocator then checks which really are).
  const tap = (name: string) => ({ name, kind: 'tun', tunType: 'tap' });
  const away = [tap(gwName), ...(state.value?.prefix === pods.prefix ? state.value.allocations : []).filter((a) => a.netns !== null).map((a) => tap(poolName(pods.prefix, a.index)))];
  const awayNames = new Set(away.map((l) => l.name));
  const pool = validatePool([...links.value.filter((l) => !awayNames.has(l.name)), ...away], pods.prefix, poolNetns);
  if (!pool.ok) return pool;
  const opened = await PoolAllocator.open({
    ip,
    pool: pool.value,
    stateFile,
    files,
    state: { value: state.value }, // read once, above
    away: [{ index: GATEWAY_PORT, netns: pods.gatewayNetns }],
  });
  if (!opened.ok) return opened;
  const restored = await opened.value.allocator.restore();
  if (!restored.ok) return restored;
  const address = pods.hostAddress ? formatIpv4(pods.hostAddress) : opts.nodeIp;
  const hostName = pool.value.names[HOST_PORT]!;
  const host = await setupHost(ip, { tap: hostName, ...(poolNetns ? { netns: poolNetns } : {}), address, podCidrs: opts.podCidrs });
  if (!host.ok) return host;
  const prepared: PreparedPool = {
    pool: pool.value,
    allocator: opened.value.allocator,
    report: { ...opened.value.report, restored: restored.value },
    gatewayMac: gateway.value.mac,
    host: { name: hostName, mac: host.value.mac, address },
    portMapFile: join(pods.stateDir, 'portmap.json'),
    files,
  };
  const written = await writePortMap(prepared);
  if (!written.ok) return written;
  return ok(prepared);
}

/**
 * The port map the target reads to attach (or re-attach) its ports: pool index = P4 port id →
 * interface name and the namespace it lives in now.
 */
export function writePortMap(p: PreparedPool): Promise<Result<void, Error>> {
  return writeJsonAtomic(p.portMapFile, { version: 1, prefix: p.pool.prefix, poolNetns: p.pool.netns ?? null, ports: p.allocator.portMap() }, { sync: false, files: p.files });
}

/** The host interface as the manager programs it. */
export function hostInterfaceOf(node: string, nodeIp: string, podCidr: string, p: PreparedPool): Result<HostInterface, Error> {
  const ipv4 = parseIpv4(p.host.address);
  const mac = parseMac(p.host.mac);
  const node4 = parseIpv4(nodeIp);
  if (ipv4 === undefined || mac === undefined || node4 === undefined) return err(new Error(`host interface ${p.host.name} has no usable address or MAC`));
  return ok({ node, interfaceName: p.host.name, portId: HOST_PORT, ipv4, mac, nodeIp: node4, podCidr });
}

export interface NodePoolInput {
  readonly prepared: PreparedPool;
  /** Records the host interface in the intent store and tells the manager. */
  readonly registerHost: (p: PreparedPool) => Promise<Result<void, BusError | Error>>;
  readonly retryMs: number;
  readonly logger: Logger;
}

interface NodePoolContext extends NodePoolInput {
  attempts: number;
}

/** Runs once the pool is prepared (the child's start awaits preparePool): registers the host interface. */
export const nodePoolLogic = setup({
  types: { context: {} as NodePoolContext, input: {} as NodePoolInput },
  actors: {
    register: fromPromise<void, NodePoolContext>(async ({ input }) => {
      const r = await input.registerHost(input.prepared);
      if (!r.ok) throw r.error;
    }),
  },
  delays: { retry: ({ context }) => Math.min(context.retryMs * 2 ** Math.min(context.attempts, 6), 5000) },
}).createMachine({
  id: 'nodePool',
  context: ({ input }) => ({ ...input, attempts: 0 }),
  initial: 'registering',
  entry: ({ context }) => {
    const p = context.prepared;
    context.logger.info(
      { size: p.pool.size, pods: p.allocator.allocations().length, returned: p.report.returned, restored: p.report.restored, dropped: p.report.dropped.length },
      'interface pool ready',
    );
  },
  states: {
    registering: {
      invoke: {
        src: 'register',
        input: ({ context }) => context,
        onDone: { target: 'ready', actions: ({ context }) => context.logger.info({ host: context.prepared.host }, 'host interface registered') },
        onError: {
          target: 'waiting',
          actions: [
            assign({ attempts: ({ context }) => context.attempts + 1 }),
            ({ context, event }) => context.logger.debug({ err: event.error }, 'host interface not acknowledged yet'),
          ],
        },
      },
    },
    waiting: { after: { retry: 'registering' } },
    ready: {},
  },
});
