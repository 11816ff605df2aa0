/**
 * The CNI commands of the infra-offload plugin. `runPlugin` takes what a runtime gives an
 * exec'd plugin (environment, stdin) and returns what it prints and its exit code; it never
 * throws. ADD: IPAM ADD, then the agent's Add; if the agent fails, IPAM DEL. DEL: the agent's
 * Del first (NOT_FOUND counts as done), then IPAM DEL — so an address is never released while
 * the dataplane may still route it; an unreachable agent fails DEL with code 11 and keeps the
 * lease, and the runtime retries. CHECK: IPAM CHECK, then the agent's Check.
 *
 * @example
 * const { stdout, exitCode } = await runPlugin(process.env, stdinText);
 */
import { ERROR_CODES } from '../messages/errors.js';
import { CNI_CODES, CniError, asCniError } from './errors.js';
import { connectAgent, unaryCall, type AgentConnection } from './grpc-client.js';
import { execIpam, type IpamCall } from './ipam.js';
import { CNI_VERSION, SUPPORTED_VERSIONS, parseCidr, parseEnv, parseNetConf, type CniEnv, type CniResult, type NetConf } from './spec.js';
import * as wire from './wire.js';

const SERVICE = '/infra.v1.CniBackend';
const NOT_FOUND = ERROR_CODES.indexOf('NOT_FOUND');
const RETRYABLE = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'].map((c) => ERROR_CODES.indexOf(c as (typeof ERROR_CODES)[number])));

export interface PluginOutput {
  stdout: string;
  exitCode: number;
}

/** A typed refusal of the agent as a CNI error: retryable ones are 11, others 100 + code. */
export function backendError(e: wire.WireError): CniError {
  const name = ERROR_CODES[e.code] ?? `code ${e.code}`;
  const code = RETRYABLE.has(e.code) ? CNI_CODES.TRY_AGAIN_LATER : CNI_CODES.BACKEND_BASE + e.code;
  return new CniError(code, `agent refused: ${e.message || name}`, `ERROR_CODE_${name}${e.field ? ` (field ${e.field})` : ''}`);
}

function podRef(env: CniEnv, conf: NetConf): wire.PodRef {
  return {
    containerId: env.containerId,
    netns: env.netns,
    ifname: env.ifname,
    podNamespace: env.args.K8S_POD_NAMESPACE ?? '',
    podName: env.args.K8S_POD_NAME ?? '',
    network: conf.name,
  };
}

function cidr(text: unknown, what: string): { address: number; prefixLength: number } {
  const parsed = typeof text === 'string' ? parseCidr(text) : undefined;
  if (!parsed) throw new CniError(CNI_CODES.INVALID_NETCONF, `${what}: ${JSON.stringify(text ?? null).slice(0, 64)} is not IPv4 CIDR`);
  return parsed;
}

function ipOrZero(text: unknown, what: string): number {
  if (text === undefined || text === '') return 0;
  if (typeof text !== 'string') throw new CniError(CNI_CODES.INVALID_NETCONF, `${what}: not an IPv4 address`);
  return cidr(`${text}/32`, what).address;
}

/** The result's ips and routes in wire form. */
function wireAddressing(result: CniResult, what: string): { ips: wire.IpConfig[]; routes: wire.Route[] } {
  const ips = (result.ips ?? []).map((ip, i) => ({ ...cidr(ip.address, `${what}.ips[${i}].address`), gateway: ipOrZero(ip.gateway, `${what}.ips[${i}].gateway`) }));
  const routes = (result.routes ?? []).map((r, i) => {
    const dst = cidr(r.dst, `${what}.routes[${i}].dst`);
    return { dst: dst.address, dstPrefixLength: dst.prefixLength, gateway: ipOrZero(r.gw, `${what}.routes[${i}].gw`) };
  });
  return { ips, routes };
}

/** Our interface after those of earlier plugins in the chain, our addresses pointing at it. */
function buildResult(conf: NetConf, ipam: CniResult, reply: wire.AddReply, env: CniEnv): CniResult {
  const prev = conf.prevResult ?? { cniVersion: conf.cniVersion };
  const interfaces = [...(prev.interfaces ?? []), { name: reply.ifname || env.ifname, mac: reply.mac, sandbox: reply.sandbox || env.netns }];
  const index = interfaces.length - 1;
  const ips = [...(prev.ips ?? []), ...(ipam.ips ?? []).map((ip) => ({ ...ip, interface: index }))];
  const routes = [...(prev.routes ?? []), ...(ipam.routes ?? [])];
  const dns = ipam.dns && Object.keys(ipam.dns).length > 0 ? ipam.dns : prev.dns;
  return { cniVersion: conf.cniVersion, interfaces, ips, ...(routes.length ? { routes } : {}), ...(dns ? { dns } : {}) };
}

async function add(env: CniEnv, conf: NetConf, ipamCall: IpamCall): Promise<CniResult> {
  // Loading node:http2 (~10 ms) and connecting overlap with the IPAM plugin's run: started
  // right after its exec, not before (loading blocks this thread, and would delay the exec).
  // The Prepare sent then lets the agent move the interface into the pod meanwhile (the
  // kernel's namespace move is the slowest step of plumbing); its outcome does not matter.
  let agent: AgentConnection | undefined;
  let prepared: Promise<unknown> = Promise.resolve();
  const start = (): AgentConnection => {
    const a = connectAgent(conf.agentSocket);
    const prepare = wire.encodePrepareRequest({ containerId: env.containerId, netns: env.netns, ifname: env.ifname, mtu: conf.mtu });
    prepared = a.call(`${SERVICE}/Prepare`, prepare, conf.agentTimeoutMs).catch(() => undefined);
    return a;
  };
  let ipam: CniResult;
  try {
    ipam = (await execIpam('ADD', { ...ipamCall, onStarted: () => (agent = start()) }))!;
  } catch (e) {
    agent?.close();
    throw e;
  }
  agent ??= start();
  try {
    await prepared;
    const request = { ...podRef(env, conf), ...wireAddressing(ipam, 'IPAM result'), mtu: conf.mtu };
    const bytes = await agent.call(`${SERVICE}/Add`, wire.encodeAddRequest(request), conf.agentTimeoutMs);
    const reply = wire.decodeAddReply(bytes);
    if (reply.error) throw backendError(reply.error);
    return buildResult(conf, ipam, reply, env);
  } catch (e) {
    // Best effort: the ADD error is what the runtime must see; host-local DEL is idempotent.
    await execIpam('DEL', ipamCall).catch(() => undefined);
    throw e;
  } finally {
    agent.close();
  }
}

async function del(env: CniEnv, conf: NetConf, ipamCall: IpamCall): Promise<void> {
  const bytes = await unaryCall(conf.agentSocket, `${SERVICE}/Del`, wire.encodeDelRequest(podRef(env, conf)), conf.agentTimeoutMs);
  const reply = wire.decodeStatusReply(bytes);
  if (reply.error && reply.error.code !== NOT_FOUND) throw backendError(reply.error);
  await execIpam('DEL', ipamCall);
}

async function check(env: CniEnv, conf: NetConf, ipamCall: IpamCall): Promise<void> {
  const prev = conf.prevResult;
  if (!prev) throw new CniError(CNI_CODES.INVALID_NETCONF, 'CHECK needs a prevResult');
  const ours = (prev.interfaces ?? []).findIndex((i) => i.name === env.ifname && (!i.sandbox || i.sandbox === env.netns));
  if (ours < 0) throw new CniError(CNI_CODES.INVALID_NETCONF, `prevResult has no interface ${env.ifname} in ${env.netns}`);
  await execIpam('CHECK', ipamCall);
  const mine: CniResult = { cniVersion: prev.cniVersion, ips: (prev.ips ?? []).filter((ip) => ip.interface === ours), ...(prev.routes ? { routes: prev.routes } : {}) };
  const request = { ...podRef(env, conf), ...wireAddressing(mine, 'prevResult'), mtu: conf.mtu, mac: prev.interfaces?.[ours]?.mac ?? '' };
  const bytes = await unaryCall(conf.agentSocket, `${SERVICE}/Check`, wire.encodeCheckRequest(request), conf.agentTimeoutMs);
  const reply = wire.decodeStatusReply(bytes);
  if (reply.error) throw backendError(reply.error);
}

/** One plugin invocation: never throws, errors become the spec's error JSON and exit code 1. */
export async function runPlugin(processEnv: NodeJS.ProcessEnv, stdin: string): Promise<PluginOutput> {
  let version: string = CNI_VERSION;
  try {
    const env = parseEnv(processEnv);
    if (env.command === 'VERSION') {
      return { stdout: JSON.stringify({ cniVersion: CNI_VERSION, supportedVersions: SUPPORTED_VERSIONS }), exitCode: 0 };
    }
    const conf = parseNetConf(stdin);
    version = conf.cniVersion;
    const ipamCall: IpamCall = { path: env.path, type: conf.ipamType, stdin, env: processEnv };
    if (env.command === 'ADD') return { stdout: JSON.stringify(await add(env, conf, ipamCall)), exitCode: 0 };
    if (env.command === 'DEL') await del(env, conf, ipamCall);
    else await check(env, conf, ipamCall);
    return { stdout: '', exitCode: 0 };
  } catch (e) {
    return { stdout: JSON.stringify(asCniError(e).toJSON(version)), exitCode: 1 };
  }
}

