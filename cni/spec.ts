/**
 * CNI spec 1.0.0 inputs and outputs: the CNI_* environment, the network configuration on
 * stdin and the result JSON. Parses into plain internal types; every problem is a CniError
 * with the spec's code (4 invalid env, 6 decode, 7 invalid netconf, 1 incompatible version).
 *
 * @example
 * const env = parseEnv(process.env); const conf = parseNetConf(stdinText);
 */
import { containerId, interfaceName, parseIpv4 } from '../messages/validate.js';
import { CNI_CODES, CniError } from './errors.js';

export const CNI_VERSION = '1.0.0';
export const SUPPORTED_VERSIONS = [CNI_VERSION] as const;
export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: Record<string, string>;
  path: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  ipamType: string;
  agentSocket: string;
  agentTimeoutMs: number;
  mtu: number;
  prevResult?: CniResult;
  /** The raw text, passed unchanged to the IPAM plugin. */
  raw: string;
}

const DEFAULT_AGENT_SOCKET = '/run/infra-offload/cni.sock';
const DEFAULT_AGENT_TIMEOUT_MS = 10_000;
/** Deeper stdin is refused (code 6): no configuration nests so, and a result echoing prevResult goes through JSON.stringify, which recurses. */
export const MAX_NETCONF_DEPTH = 512;

function envValue(env: NodeJS.ProcessEnv, key: string): string {
  return env[key] ?? '';
}

/** CNI_ARGS: "K1=V1;K2=V2". */
export function parseCniArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CniError(CNI_CODES.INVALID_ENV, `CNI_ARGS: "${pair.slice(0, 64)}" is not KEY=VALUE`);
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return args;
}

function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new CniError(CNI_CODES.INVALID_ENV, (e as Error).message);
  }
}

/** The environment of a call; VERSION needs only CNI_COMMAND, DEL tolerates an empty CNI_NETNS. */
export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = envValue(env, 'CNI_COMMAND');
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CNI_CODES.INVALID_ENV, `CNI_COMMAND "${command.slice(0, 32)}" is not one of ${COMMANDS.join(', ')}`);
  }
  const parsed: CniEnv = { command: command as Command, containerId: '', netns: '', ifname: '', args: {}, path: [] };
  if (command === 'VERSION') return parsed;
  parsed.containerId = checked(() => containerId(env.CNI_CONTAINERID, 'CNI_CONTAINERID'));
  parsed.ifname = checked(() => interfaceName(env.CNI_IFNAME, 'CNI_IFNAME'));
  parsed.netns = envValue(env, 'CNI_NETNS');
  if (parsed.netns === '' && command !== 'DEL') throw new CniError(CNI_CODES.INVALID_ENV, 'CNI_NETNS: required');
  parsed.args = parseCniArgs(envValue(env, 'CNI_ARGS'));
  parsed.path = envValue(env, 'CNI_PATH').split(':').filter((p) => p !== '');
  if (parsed.path.length === 0) throw new CniError(CNI_CODES.INVALID_ENV, 'CNI_PATH: required');
  return parsed;
}

function decodeJson(text: string): Record<string, unknown> {
  if (text.trim() === '') throw new CniError(CNI_CODES.DECODE, 'no network configuration on stdin');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CniError(CNI_CODES.DECODE, 'network configuration is not JSON', (e as Error).message);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CniError(CNI_CODES.DECODE, 'network configuration is not a JSON object');
  }
  if (depthOf(text) > MAX_NETCONF_DEPTH) throw new CniError(CNI_CODES.DECODE, `network configuration nests deeper than ${MAX_NETCONF_DEPTH} levels`);
  return value as Record<string, unknown>;
}

/** Nesting depth of valid JSON text (the outer value is 1), counted without recursion. */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A result's lists (spec 1.0.0 "Success"): objects whose first field here is a string, the others strings when present. */
const RESULT_LISTS = { interfaces: ['name', 'mac', 'sandbox'], ips: ['address', 'gateway'], routes: ['dst', 'gw'] } as const;

/** prevResult as far as ADD echoes it and CHECK reads it: refused (code 7) before anything is done. */
function checkPrevResult(prev: unknown): CniResult {
  const bad = (what: string) => new CniError(CNI_CODES.INVALID_NETCONF, `netconf "prevResult${what}": not a CNI result`);
  if (!isObject(prev)) throw bad('');
  for (const [key, [first, ...rest]] of Object.entries(RESULT_LISTS)) {
    const list = prev[key];
    const fine = (e: unknown) => isObject(e) && typeof e[first] === 'string' && rest.every((k) => e[k] === undefined || typeof e[k] === 'string');
    if (list !== undefined && !(Array.isArray(list) && list.every(fine))) throw bad(`.${key}`);
  }
  const index = (ip: { interface?: unknown }) => ip.interface === undefined || (Number.isInteger(ip.interface) && (ip.interface as number) >= 0);
  if (!((prev.ips ?? []) as { interface?: unknown }[]).every(index)) throw bad('.ips[].interface');
  if (prev.dns !== undefined && !isObject(prev.dns)) throw bad('.dns');
  return prev as unknown as CniResult;
}

function str(obj: Record<string, unknown>, key: string, required = true): string {
  const v = obj[key];
  if (v === undefined && !required) return '';
  if (typeof v !== 'string' || (required && v === '')) throw new CniError(CNI_CODES.INVALID_NETCONF, `netconf "${key}": a non-empty string is required`);
  return v;
}

function positiveInt(obj: Record<string, unknown>, key: string, fallback: number, max: number): number {
  const v = obj[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new CniError(CNI_CODES.INVALID_NETCONF, `netconf "${key}": an integer 0–${max} is required`);
  }
  return v;
}

/** The version check only: VERSION reads stdin for it, the other commands parse everything. */
export function checkVersion(conf: Record<string, unknown>): string {
  const version = conf.cniVersion;
  if (typeof version !== 'string' || version === '') throw new CniError(CNI_CODES.INVALID_NETCONF, 'netconf "cniVersion": required');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(CNI_CODES.INCOMPATIBLE_VERSION, `cniVersion ${version.slice(0, 16)} is not supported`, `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return version;
}

/** Parses the netconf of ADD, DEL and CHECK. */
export function parseNetConf(text: string): NetConf {
  const obj = decodeJson(text);
  const cniVersion = checkVersion(obj);
  const ipam = obj.ipam;
  if (typeof ipam !== 'object' || ipam === null || Array.isArray(ipam)) {
    throw new CniError(CNI_CODES.INVALID_NETCONF, 'netconf "ipam": an object with a "type" is required');
  }
  const ipamType = str(ipam as Record<string, unknown>, 'type');
  if (ipamType.includes('/')) throw new CniError(CNI_CODES.INVALID_NETCONF, 'netconf "ipam.type": a plugin name, not a path');
  const prev = obj.prevResult === undefined ? undefined : checkPrevResult(obj.prevResult);
  return {
    cniVersion,
    name: str(obj, 'name'),
    type: str(obj, 'type'),
    ipamType,
    agentSocket: str(obj, 'agentSocket', false) || DEFAULT_AGENT_SOCKET,
    agentTimeoutMs: positiveInt(obj, 'agentTimeoutMs', DEFAULT_AGENT_TIMEOUT_MS, 120_000) || DEFAULT_AGENT_TIMEOUT_MS,
    mtu: positiveInt(obj, 'mtu', 0, 65_535),
    ...(prev ? { prevResult: prev } : {}),
    raw: text,
  };
}

export { decodeJson };

/** "10.244.77.5/24" → address and prefix; undefined when it is not IPv4 CIDR text. */
export function parseCidr(text: string): { address: number; prefixLength: number } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  const prefixLength = Number(prefixText);
  if (address === undefined || !/^\d{1,2}$/.test(prefixText) || prefixLength > 32) return undefined;
  return { address, prefixLength };
}
