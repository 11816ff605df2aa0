/**
 * The `ip` command line over the model: global options (`-d`, `-j`, `-4`), objects and
 * commands abbreviated the way iproute2 matches them (`l` = link, `a` = address, `r` = route),
 * arguments parsed completely before anything changes (a malformed command changes nothing),
 * and iproute2's messages for what it refuses itself (bad names, values, unknown devices).
 *
 * Exactly the shapes the agent uses are modelled:
 *
 *   [-d] [-j] [-4] link show [[dev] NAME]
 *   link set [dev] NAME { up | down | name NEW | mtu N | netns NS } …
 *   tuntap add [dev] NAME mode { tap | tun }
 *   [-j] [-4] addr show [[dev] NAME]
 *   addr { replace | del } A[/L] dev NAME          addr flush dev NAME
 *   [-j] [-4] route show [dev NAME]
 *   route replace DST [via GW] [dev NAME] [scope S] [onlink]
 *   route del DST [via GW] [dev NAME] [scope S]
 *   netns { add | del } NAME
 *
 * Anything else that real iproute2 knows (`link add`, `neigh`, `addr add`, metrics, tables…)
 * is refused with a message saying it is not modelled, so nothing silently "succeeds".
 *
 * @example
 * const out = await runCommand(env, ['-j', '-4', 'addr', 'show', 'dev', 'eth0']);
 */
import { IpFailure } from './errors.js';
import { parseIpv4, parsePrefix, type Prefix } from './ipv4.js';
import { cannotFind, type KernelModel } from './model.js';
import { addrJson, addrText, byIndex, linkJson, linkText, routeJson, routeText } from './render.js';
import type { LinkState, Scope } from './state.js';

/** What a command runs against: the model, where it runs, and the namespace operations that touch the kernel directory. */
export interface CommandEnv {
  readonly model: KernelModel;
  /** The key of the namespace the command runs in. */
  readonly execNs: string;
  /** A `link set … netns VALUE` target → a namespace key; undefined when iproute2 finds none. */
  resolveTarget(value: string): string | undefined;
  /** `ip netns add NAME` (the marker file and the model); throws IpFailure. */
  addNamespace(name: string): Promise<void>;
  /** `ip netns del NAME`; throws IpFailure. */
  delNamespace(name: string): Promise<void>;
}

interface Globals {
  details: boolean;
  json: boolean;
  only4: boolean;
}

/** iproute2's matches(): `word` is a non-empty prefix of `full`. */
const matches = (word: string, full: string): boolean => word.length > 0 && full.startsWith(word);

/** ip's object table, in the order iproute2 tries it (so abbreviations resolve the same way). */
const OBJECTS = [
  'address', 'addrlabel', 'maddress', 'route', 'rule', 'neighbor', 'neighbour', 'ntable', 'ntbl', 'link', 'l2tp', 'fou', 'ila',
  'macsec', 'tunnel', 'tuntap', 'tap', 'token', 'tcpmetrics', 'tcp_metrics', 'monitor', 'xfrm', 'mroute', 'mrule', 'netns',
  'netconf', 'vrf', 'sr', 'nexthop', 'mptcp', 'ioam', 'stats', 'help',
];

/** iproute2's other global options: known, not modelled. */
const KNOWN_OPTIONS = ['6', '0', 'o', 'oneline', 's', 'stats', 'statistics', 'r', 'resolve', 'f', 'family', 'l', 'loops', 'p', 'pretty', 'br', 'brief', 'c', 'color', 'a', 'all', 't', 'timestamp', 'ts', 'tshort', 'rc', 'rcvbuf', 'iec', 'h', 'human', 'human-readable', 'N', 'Numeric', 'V', 'Version', 'M', 'B', 'force', 'b'];

const notModelled = (args: readonly string[], what: string): IpFailure => new IpFailure(`synthetic kernel: "ip ${args.join(' ')}" is not modelled (${what})`, 255);
const invalidArg = (value: string, why: string): IpFailure => new IpFailure(`Error: argument "${value}" is wrong: ${why}\n`, 255);

/** Linux's dev_valid_name plus iproute2's check: 1–15 characters, no '/', ':' or blank. */
export function validIfname(name: string): boolean {
  return name.length > 0 && name.length < 16 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

/** Runs one command (arguments as `ip` gets them, after `-n`); returns its stdout. */
export async function runCommand(env: CommandEnv, args: readonly string[], inBatch = false): Promise<string> {
  const globals: Globals = { details: false, json: false, only4: false };
  let i = 0;
  while (!inBatch && i < args.length && args[i]!.startsWith('-') && args[i] !== '-') {
    const opt = args[i]!.replace(/^--?/, '');
    if (matches(opt, 'details')) globals.details = true;
    else if (matches(opt, 'json')) globals.json = true;
    else if (opt === '4') globals.only4 = true;
    else if (opt === 'batch' || opt === 'netns' || opt === 'n') throw notModelled(args, 'pass the namespace and batches through IpRunner');
    else if (KNOWN_OPTIONS.includes(opt)) throw notModelled(args, 'modelled options: -d, -j, -4');
    else throw new IpFailure(`Option "${args[i]}" is unknown, try "ip -help".`, 255);
    i++;
  }
  const object = args[i];
  const rest = args.slice(i + 1);
  if (object === undefined) throw notModelled(args, 'no object');
  const full = OBJECTS.find((o) => matches(object, o));
  switch (full) {
    case 'link':
      return linkCommand(env, globals, rest, args);
    case 'address':
      return addrCommand(env, globals, rest, args);
    case 'route':
      return routeCommand(env, globals, rest, args);
    case 'tuntap':
    case 'tap':
      return tuntapCommand(env, rest, args);
    case 'netns':
      return netnsCommand(env, rest, args);
    case undefined:
      throw new IpFailure(`Object "${object}" is unknown, try "ip help".`, 1);
    default:
      throw notModelled(args, `modelled objects: link, address, route, tuntap, netns`);
  }
}

// ---- link ----

function linkCommand(env: CommandEnv, g: Globals, rest: readonly string[], args: readonly string[]): string {
  const cmd = rest[0];
  if (cmd === undefined) return linkShow(env, g, [], args);
  // iproute2's order: "s" is set, "sh" show.
  if (matches(cmd, 'add')) throw notModelled(args, 'modelled: link show, link set');
  if (matches(cmd, 'set') || matches(cmd, 'change')) {
    linkSet(env, rest.slice(1), args);
    return '';
  }
  if (matches(cmd, 'replace') || matches(cmd, 'delete')) throw notModelled(args, 'modelled: link show, link set');
  if (matches(cmd, 'show') || matches(cmd, 'lst') || matches(cmd, 'list')) return linkShow(env, g, rest.slice(1), args);
  if (['xstats', 'afstats', 'property', 'help'].some((c) => matches(cmd, c))) throw notModelled(args, 'modelled: link show, link set');
  throw new IpFailure(`Command "${cmd}" is unknown, try "ip link help".`, 255);
}

/** `[dev] NAME` as the only filter of a `show`; undefined = every link. */
function showTarget(rest: readonly string[], args: readonly string[]): string | undefined {
  if (rest.length === 0) return undefined;
  if (rest.length === 1 && rest[0] !== 'dev') return rest[0];
  if (rest.length === 2 && rest[0] === 'dev') return rest[1];
  throw notModelled(args, 'show takes [dev] NAME only');
}

function linkShow(env: CommandEnv, g: Globals, rest: readonly string[], args: readonly string[]): string {
  const ns = env.model.ns(env.execNs)!;
  const name = showTarget(rest, args);
  let links = byIndex(ns);
  if (name !== undefined) {
    links = links.filter((l) => l.name === name);
    if (links.length === 0) throw new IpFailure(`Device "${name}" does not exist.`, 1);
  }
  if (g.json) return `${JSON.stringify(links.map((l) => linkJson(l, g.details)))}\n`;
  if (g.details) throw notModelled(args, 'details in text form; use -j');
  return links.map(linkText).join('');
}

function linkSet(env: CommandEnv, rest: readonly string[], args: readonly string[]): void {
  let dev: string | undefined;
  const change: { netns?: string; mtu?: number; name?: string; up?: boolean } = {};
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined) throw new IpFailure(`Command line is not complete. Try option "help"`, 255);
      return v;
    };
    if (word === 'up') change.up = true;
    else if (word === 'down') change.up = false;
    else if (word === 'dev') dev = value();
    else if (word === 'name') {
      const n = value();
      if (!validIfname(n)) throw invalidArg(n, '"name" not a valid ifname');
      change.name = n;
    } else if (word === 'mtu') {
      const m = value();
      if (!/^[0-9]+$/.test(m) || Number(m) > 0xffffffff) throw invalidArg(m, 'Invalid "mtu" value');
      change.mtu = Number(m);
    } else if (word === 'netns') {
      const ns = value();
      const key = env.resolveTarget(ns);
      if (key === undefined) throw invalidArg(ns, 'Invalid "netns" value');
      change.netns = key;
    } else if (dev === undefined && !isLinkSetKeyword(word)) dev = word;
    else throw notModelled(args, `link set modelled: up, down, name, mtu, netns; not "${word}"`);
  }
  if (dev === undefined) throw new IpFailure('Not enough information: "dev" argument is required.', 255);
  if (!env.model.link(env.execNs, dev)) throw cannotFind(dev);
  env.model.setLink(env.execNs, dev, change);
}

const LINK_SET_KEYWORDS = ['address', 'broadcast', 'brd', 'peer', 'txqueuelen', 'txqlen', 'qlen', 'arp', 'multicast', 'allmulticast', 'promisc', 'trailers', 'dynamic', 'carrier', 'master', 'nomaster', 'vrf', 'alias', 'group', 'type', 'vf', 'xdp', 'protodown', 'gso_max_size', 'gso_max_segs', 'addrgenmode', 'link-netns', 'link-netnsid', 'altname'];
const isLinkSetKeyword = (word: string): boolean => LINK_SET_KEYWORDS.includes(word);

// ---- tuntap ----

function tuntapCommand(env: CommandEnv, rest: readonly string[], args: readonly string[]): string {
  const cmd = rest[0];
  if (cmd === undefined || !matches(cmd, 'add')) {
    if (cmd !== undefined && (matches(cmd, 'delete') || matches(cmd, 'show') || matches(cmd, 'list') || matches(cmd, 'lst'))) throw notModelled(args, 'modelled: tuntap add');
    throw new IpFailure(`Command "${cmd ?? ''}" is unknown, try "ip tuntap help".`, 255);
  }
  let name: string | undefined;
  let mode: 'tap' | 'tun' | undefined;
  for (let i = 1; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === 'mode') {
      const m = rest[++i];
      if (m !== 'tap' && m !== 'tun') throw new IpFailure(`Unknown tunnel mode "${m ?? ''}"`, 255);
      mode = m;
    } else if (word === 'dev' || word === 'name') {
      name = rest[++i];
      if (name === undefined) throw new IpFailure(`Command line is not complete. Try option "help"`, 255);
      if (!validIfname(name)) throw invalidArg(name, '"dev" not a valid ifname');
    } else if (name === undefined && !['user', 'group', 'one_queue', 'pi', 'vnet_hdr', 'multi_queue', 'numa'].includes(word)) {
      if (!validIfname(word)) throw invalidArg(word, '"dev" not a valid ifname');
      name = word;
    } else {
      throw notModelled(args, `tuntap add modelled: dev NAME mode tap|tun; not "${word}"`);
    }
  }
  if (mode === undefined) throw new IpFailure('You failed to specify a tunnel mode', 255);
  if (name === undefined) throw notModelled(args, 'a name chosen by the kernel');
  env.model.tuntapAdd(env.execNs, name, mode);
  return '';
}

// ---- addr ----

function addrCommand(env: CommandEnv, g: Globals, rest: readonly string[], args: readonly string[]): string {
  const cmd = rest[0];
  if (cmd === undefined || matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return addrShow(env, g, rest.slice(1), args);
  if (matches(cmd, 'replace') || matches(cmd, 'delete')) {
    const { prefix, dev } = addrArgs(env, rest.slice(1), args, matches(cmd, 'delete'));
    if (matches(cmd, 'replace')) env.model.replaceAddr(env.execNs, dev, prefix);
    else env.model.delAddr(env.execNs, dev, prefix);
    return '';
  }
  if (matches(cmd, 'flush')) {
    const rest1 = rest.slice(1);
    if (rest1.length !== 2 || rest1[0] !== 'dev') throw notModelled(args, 'modelled: addr flush dev NAME');
    const dev = rest1[1]!;
    if (!env.model.link(env.execNs, dev)) throw new IpFailure(`Device "${dev}" does not exist.`, 1);
    env.model.flushAddrs(env.execNs, dev);
    return '';
  }
  if (['add', 'change', 'chg', 'save', 'restore', 'showdump', 'help'].some((c) => matches(cmd, c))) throw notModelled(args, 'modelled: addr show, replace, del, flush');
  throw new IpFailure(`Command "${cmd}" is unknown, try "ip address help".`, 255);
}

function addrArgs(env: CommandEnv, rest: readonly string[], args: readonly string[], deleting: boolean): { prefix: Prefix; dev: string } {
  let prefix: Prefix | undefined;
  let dev: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === 'dev') {
      dev = rest[++i];
      if (dev === undefined) throw new IpFailure(`Command line is not complete. Try option "help"`, 255);
    } else if (prefix === undefined && (word === 'local' || /^[0-9]/.test(word))) {
      const text = word === 'local' ? (rest[++i] ?? '') : word;
      const p = parsePrefix(text);
      if (!p) throw new IpFailure(`Error: any valid prefix is expected rather than "${text}".`, 1);
      if (!text.includes('/') && deleting) throw notModelled(args, 'a wildcard deletion; give the prefix length');
      prefix = p;
    } else {
      throw notModelled(args, `addr modelled: A/L dev NAME; not "${word}"`);
    }
  }
  if (dev === undefined) throw new IpFailure('Not enough information: "dev" argument is required.', 1);
  if (prefix === undefined) throw notModelled(args, 'no address');
  if (!env.model.link(env.execNs, dev)) throw cannotFind(dev);
  return { prefix, dev };
}

function addrShow(env: CommandEnv, g: Globals, rest: readonly string[], args: readonly string[]): string {
  const ns = env.model.ns(env.execNs)!;
  const name = showTarget(rest, args);
  let links: LinkState[] = byIndex(ns);
  if (name !== undefined) {
    links = links.filter((l) => l.name === name);
    if (links.length === 0) throw new IpFailure(`Device "${name}" does not exist.`, 1);
  }
  if (g.json) return `${JSON.stringify(links.map((l) => addrJson(l, g.only4)).filter((x) => x !== undefined))}\n`;
  if (g.details) throw notModelled(args, 'details in text form; use -j');
  return links.map((l) => addrText(l, g.only4)).join('');
}

// ---- route ----

const SCOPES: Record<string, Scope> = { global: 'global', universe: 'global', link: 'link', host: 'host' };

interface RouteArgs {
  dst: Prefix;
  gateway?: number;
  dev?: string;
  scope?: Scope;
  onlink: boolean;
}

/** What else iproute2 reads in a route: route types and attributes (known, not modelled). */
const ROUTE_KEYWORDS = [
  'table', 'vrf', 'proto', 'protocol', 'metric', 'priority', 'preference', 'src', 'from', 'mtu', 'advmss', 'hoplimit', 'window', 'rtt', 'rttvar',
  'realm', 'realms', 'nexthop', 'nhid', 'tos', 'dsfield', 'encap', 'expires', 'pref', 'pervasive', 'weight', 'initcwnd', 'initrwnd',
  'unicast', 'local', 'blackhole', 'unreachable', 'prohibit', 'broadcast', 'throw', 'nat', 'anycast', 'multicast',
];

function routeArgs(env: CommandEnv, rest: readonly string[], args: readonly string[]): RouteArgs {
  let dst: Prefix | undefined;
  const out: Omit<RouteArgs, 'dst'> & { dst?: Prefix } = { onlink: false };
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    const next = (): string => {
      const v = rest[++i];
      if (v === undefined) throw new IpFailure(`Command line is not complete. Try option "help"`, 255);
      return v;
    };
    if (word === 'via') {
      const text = next();
      const gw = parseIpv4(text);
      if (gw === undefined) throw new IpFailure(`Error: any valid address is expected rather than "${text}".`, 1);
      out.gateway = gw;
    } else if (word === 'dev' || word === 'oif') {
      out.dev = next();
    } else if (word === 'scope') {
      const text = next();
      const scope = SCOPES[text];
      if (!scope) throw invalidArg(text, 'invalid "scope" value');
      out.scope = scope;
    } else if (word === 'onlink') {
      out.onlink = true;
    } else if (ROUTE_KEYWORDS.includes(word)) {
      throw notModelled(args, `route modelled: DST via GW dev NAME scope S onlink; not "${word}"`);
    } else if (dst === undefined && word !== 'to') {
      const p = parsePrefix(word, true);
      if (!p) throw new IpFailure(`Error: any valid prefix is expected rather than "${word}".`, 1);
      dst = p;
    } else if (word === 'to' && dst === undefined) {
      const text = next();
      const p = parsePrefix(text, true);
      if (!p) throw new IpFailure(`Error: any valid prefix is expected rather than "${text}".`, 1);
      dst = p;
    } else {
      throw notModelled(args, `route modelled: DST via GW dev NAME scope S onlink; not "${word}"`);
    }
  }
  if (dst === undefined) throw notModelled(args, 'no destination');
  if (out.dev !== undefined && !env.model.link(env.execNs, out.dev)) throw cannotFind(out.dev);
  return { ...out, dst };
}

function routeCommand(env: CommandEnv, g: Globals, rest: readonly string[], args: readonly string[]): string {
  const cmd = rest[0];
  if (cmd === undefined || matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return routeShow(env, g, rest.slice(1), args);
  if (['add', 'change', 'chg'].some((c) => matches(cmd, c))) throw notModelled(args, 'modelled: route show, replace, del');
  if (matches(cmd, 'replace')) {
    const r = routeArgs(env, rest.slice(1), args);
    if (r.scope !== undefined && r.scope !== (r.gateway !== undefined ? 'global' : 'link')) throw notModelled(args, 'scope other than the default');
    env.model.replaceRoute(env.execNs, r);
    return '';
  }
  if (matches(cmd, 'delete')) {
    env.model.delRoute(env.execNs, routeArgs(env, rest.slice(1), args));
    return '';
  }
  if (['prepend', 'append', 'test', 'get', 'flush', 'save', 'restore', 'showdump', 'help'].some((c) => matches(cmd, c))) throw notModelled(args, 'modelled: route show, replace, del');
  throw new IpFailure(`Command "${cmd}" is unknown, try "ip route help".`, 255);
}

function routeShow(env: CommandEnv, g: Globals, rest: readonly string[], args: readonly string[]): string {
  const ns = env.model.ns(env.execNs)!;
  let dev: LinkState | undefined;
  if (rest.length > 0) {
    if (rest.length !== 2 || rest[0] !== 'dev') throw notModelled(args, 'route show takes dev NAME only');
    dev = ns.links.find((l) => l.name === rest[1]);
    if (!dev) throw cannotFind(rest[1]!);
  }
  const routes = dev ? ns.routes.filter((r) => r.ifindex === dev.ifindex) : ns.routes;
  if (g.json) return `${JSON.stringify(routes.map((r) => routeJson(r, ns, dev !== undefined)))}\n`;
  if (g.details) throw notModelled(args, 'details in text form; use -j');
  return routes.map((r) => routeText(r, ns, dev !== undefined)).join('');
}

// ---- netns ----

async function netnsCommand(env: CommandEnv, rest: readonly string[], args: readonly string[]): Promise<string> {
  const cmd = rest[0];
  const name = rest[1];
  if (cmd !== undefined && (matches(cmd, 'add') || matches(cmd, 'delete'))) {
    if (name === undefined || rest.length !== 2) throw notModelled(args, 'modelled: netns add NAME, netns del NAME');
    if (matches(cmd, 'add')) await env.addNamespace(name);
    else await env.delNamespace(name);
    return '';
  }
  if (cmd === undefined || ['list', 'exec', 'identify', 'pids', 'monitor', 'set', 'list-id', 'attach', 'help'].some((c) => matches(cmd, c))) throw notModelled(args, 'modelled: netns add, netns del');
  throw new IpFailure(`Command "${cmd}" is unknown, try "ip netns help".`, 255);
}
