/**
 * Malformed input for the CNI plugin: network configurations on stdin and CNI_* environments,
 * built from captured valid calls (ADD, DEL, CHECK as a runtime makes them) with one thing
 * broken per case — wrong JSON types, huge numbers, 100k-deep nesting, truncation at any byte,
 * invalid UTF-8, missing, extra and duplicate fields, wrong cniVersion, prevResult garbage,
 * environment anomalies, random bytes.
 *
 * Cases cycle through CNI_JSON_KINDS; each draws from its own Random, seeded from the run's seed
 * and its index, so the same seed (and world) gives the same bytes and case i is the same
 * whatever `start` and `count` are.
 *
 * `predictPlugin` is the oracle: an independent statement of what the plugin must do with a
 * case (the CNI 1.0.0 rules and our netconf's documented fields, not a call into cni/spec.ts),
 * so a runner can count every disagreement.
 *
 * @example
 * const world = { binDir: '/tmp/x/bin', ipamType: 'fuzz-ipam', liveSocket: '/tmp/x/peer.sock', deadSocket: '/tmp/x/none.sock' };
 * for (const c of cniJsonCases({ world, random: seededRandom(7), count: 100 })) {
 *   const expected = predictPlugin(c, world);
 *   const got = await runPlugin(c.env, Buffer.from(c.stdin).toString('utf8'));
 *   if (got.exitCode !== expected.exitCode) console.log(`#${c.index} ${c.kind}: ${c.note}`);
 * }
 */
import { seededRandom, type Random } from '../../core/random.js';
import { MAX_NETCONF_DEPTH } from '../../cni/spec.js';
import { randomBytes } from './random-bytes.js';

/** Where the cases run: the IPAM plugin on CNI_PATH and the agent sockets the confs name. */
export interface CniWorld {
  /** A directory holding the IPAM plugin (CNI_PATH names it). */
  readonly binDir: string;
  /** The IPAM plugin's file name in binDir (ipam.type); it must succeed for every command. */
  readonly ipamType: string;
  /** Where an agent (or a protocol peer) answers every call with success. */
  readonly liveSocket: string;
  /** Where nothing listens. */
  readonly deadSocket: string;
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/**
 * Every kind of case, in the order the generator cycles through them:
 * - `valid` a captured valid call, in one of several JSON layouts
 * - `truncated` the conf cut at a byte (valid only when the cut leaves the whole object)
 * - `wrong_type` a known field holding another JSON type (or an edge value of its own type)
 * - `huge_number` number literals at the edges of JSON (1e309, 400 digits, -0, 2^53+1…) in numeric fields
 * - `deep_nesting` arrays or objects nested 100–100,000 deep in a known or an unknown field
 * - `invalid_utf8` invalid UTF-8 inside a string, a key, or between tokens
 * - `missing_field` a known field (or a required result field) left out
 * - `extra_field` unknown fields, including `__proto__`, `constructor`, empty and control-character keys
 * - `duplicate_key` a known key given twice, the wrong value first or last
 * - `wrong_version` cniVersion other than 1.0.0: older, newer, padded, not a string
 * - `prev_result_garbage` prevResult or its lists of the wrong shape, huge, or not naming our interface
 * - `not_object` stdin that is JSON but not an object, or an object with trailing garbage, a BOM…
 * - `random_bytes` uniform random bytes
 * - `long_string` a field holding 10 KB–256 KB of text
 * - `env_anomaly` one CNI_* variable missing, empty or odd (lower-case command, long id, bad ifname…)
 */
export const CNI_JSON_KINDS = [
  'valid',
  'truncated',
  'wrong_type',
  'huge_number',
  'deep_nesting',
  'invalid_utf8',
  'missing_field',
  'extra_field',
  'duplicate_key',
  'wrong_version',
  'prev_result_garbage',
  'not_object',
  'random_bytes',
  'long_string',
  'env_anomaly',
] as const;

export type CniJsonKind = (typeof CNI_JSON_KINDS)[number];

export interface CniCase {
  readonly index: number;
  readonly kind: CniJsonKind;
  /** The command the valid call was for (CNI_COMMAND may have been broken since). */
  readonly command: CniCommand;
  /** The whole environment of the exec (no PATH: the runner adds what it needs to exec). */
  readonly env: Readonly<Record<string, string>>;
  /** The bytes on stdin. */
  readonly stdin: Uint8Array;
  readonly note: string;
}

export interface CniJsonOptions {
  readonly world: CniWorld;
  readonly random: Random;
  readonly count: number;
  /** Index of the first case. Default 0. */
  readonly start?: number;
  /** Only these kinds, cycled in this order. Default CNI_JSON_KINDS. */
  readonly kinds?: readonly CniJsonKind[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Path = readonly (string | number)[];

interface Call {
  readonly command: CniCommand;
  readonly env: Record<string, string>;
  readonly conf: JsonObject;
}

interface Draft {
  readonly env: Record<string, string>;
  readonly stdin: Uint8Array;
  readonly note: string;
}

type KindGenerator = (r: Random, call: Call, world: CniWorld) => Draft;

const utf8 = new TextEncoder();
/** Stands for a value spliced in as raw JSON text (numbers JSON.stringify cannot write, nesting). */
const RAW = '@@cni-fuzz-raw@@';
/** Marks where invalid UTF-8 goes: a private-use character no base value contains. */
const MARK = '\uE000';
const MARK_BYTES = [0xee, 0x80, 0x80];

/**
 * CNI calls built from captured valid ones with one thing broken, generated lazily (deep-nesting
 * cases are a few hundred KB each).
 *
 * @example
 * const cases = [...cniJsonCases({ world, random: seededRandom(1), count: 300 })];
 */
export function cniJsonCases(options: CniJsonOptions): IterableIterator<CniCase> {
  const kinds = options.kinds ?? CNI_JSON_KINDS;
  const start = options.start ?? 0;
  if (!Number.isInteger(options.count) || options.count < 0) throw new RangeError(`count must be a non-negative integer, got ${options.count}`);
  if (!Number.isInteger(start) || start < 0) throw new RangeError(`start must be a non-negative integer, got ${start}`);
  if (kinds.length === 0) throw new RangeError('kinds must name at least one kind');
  for (const k of kinds) if (!(k in GENERATORS)) throw new RangeError(`unknown kind ${String(k)}`);
  const runSeed = options.random.int(0, 0xffffffff);
  const world = options.world;
  return (function* generate(): Generator<CniCase> {
    for (let index = start; index < start + options.count; index++) {
      const kind = kinds[index % kinds.length]!;
      const r = seededRandom(caseSeed(runSeed, index));
      const call = baseCall(r, world);
      const draft = GENERATORS[kind](r, call, world);
      yield { index, kind, command: call.command, env: draft.env, stdin: draft.stdin, note: draft.note };
    }
  })();
}

/**
 * Every strict prefix of one valid ADD conf (cut at each byte, 0 .. n-1) plus the whole text:
 * "truncated at every byte boundary" as a finite list.
 *
 * @example
 * for (const c of allConfTruncations(world, seededRandom(3))) expect(predictPlugin(c, world).code).to.equal(6);
 */
export function allConfTruncations(world: CniWorld, random: Random): CniCase[] {
  const r = seededRandom(random.int(0, 0xffffffff));
  const call = baseCall(r, world, 'ADD');
  const bytes = utf8.encode(JSON.stringify(call.conf));
  const out: CniCase[] = [];
  for (let cut = 0; cut <= bytes.length; cut++) {
    out.push({ index: cut, kind: 'truncated', command: 'ADD', env: call.env, stdin: bytes.slice(0, cut), note: `cut at byte ${cut} of ${bytes.length}` });
  }
  return out;
}

/** A 32-bit seed from (run seed, index), well mixed so neighbouring cases look unrelated. */
function caseSeed(runSeed: number, index: number): number {
  let h = Math.imul(runSeed ^ 0x632be5ab, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

function choose<T>(r: Random, items: readonly T[]): T {
  return items[r.int(0, items.length - 1)]!;
}

function hex(r: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[r.int(0, 15)];
  return s;
}

// ---------------------------------------------------------------------------------------------
// The captured valid calls.

/** A call as a runtime makes it: containerd's environment, a conf like our manifests' (and a prevResult for CHECK). */
function baseCall(r: Random, world: CniWorld, fixed?: CniCommand): Call {
  const command = fixed ?? choose<CniCommand>(r, ['ADD', 'ADD', 'DEL', 'CHECK']);
  const containerId = hex(r, 64);
  const ifname = choose(r, ['eth0', 'eth0', 'net1']);
  const netns = choose(r, [`/var/run/netns/cni-${hex(r, 8)}`, `/proc/${r.int(2, 99999)}/ns/net`]);
  const pod = `web-${hex(r, 5)}`;
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: netns,
    CNI_IFNAME: ifname,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${containerId}`,
    CNI_PATH: choose(r, [world.binDir, world.binDir, `/opt/cni/absent-${hex(r, 4)}:${world.binDir}`, `${world.binDir}:`]),
  };
  const conf: JsonObject = {
    cniVersion: '1.0.0',
    name: choose(r, ['infra-offload', 'k8s-pod-network', 'réseau-ü']),
    type: 'infra-cni',
    agentSocket: r.next() < 0.75 ? world.liveSocket : world.deadSocket,
  };
  const timeout = choose<number | undefined>(r, [undefined, 2000, 5000, 0]);
  if (timeout !== undefined) conf.agentTimeoutMs = timeout;
  const mtu = choose<number | undefined>(r, [undefined, 1400, 1500, 9000, 0]);
  if (mtu !== undefined) conf.mtu = mtu;
  conf.ipam = { type: world.ipamType, ranges: [[{ subnet: '10.244.77.0/24', gateway: '10.244.77.1' }]], routes: [{ dst: '0.0.0.0/0' }] };
  if (r.next() < 0.3) conf.capabilities = { portMappings: true };
  if (command === 'CHECK' || r.next() < 0.25) conf.prevResult = prevResult(r, env, command === 'CHECK');
  return { command, env, conf };
}

/** A previous result: a loopback of an earlier plugin, and (for CHECK) our own interface. */
function prevResult(r: Random, env: Record<string, string>, ours: boolean): JsonObject {
  const interfaces: Json[] = [{ name: 'lo', sandbox: env.CNI_NETNS! }];
  const ips: Json[] = [];
  if (ours) {
    interfaces.push({ name: env.CNI_IFNAME!, mac: `02:42:0a:f4:4d:${hex(r, 2)}`, sandbox: env.CNI_NETNS! });
    ips.push({ address: `10.244.77.${r.int(2, 250)}/24`, gateway: '10.244.77.1', interface: 1 });
  }
  const prev: JsonObject = { cniVersion: '1.0.0', interfaces, ips, routes: [{ dst: '0.0.0.0/0' }] };
  if (r.next() < 0.3) prev.dns = { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] };
  return prev;
}

/** The conf as a runtime might write it: compact, indented, with surrounding whitespace. */
function layout(r: Random, conf: Json): string {
  const n = r.int(0, 3);
  if (n === 0) return JSON.stringify(conf);
  if (n === 1) return JSON.stringify(conf, null, 2);
  if (n === 2) return `${JSON.stringify(conf, null, '\t')}\n`;
  return ` \n${JSON.stringify(conf)}\r\n`;
}

function draft(call: Call, text: string, note: string, env: Record<string, string> = call.env): Draft {
  return { env, stdin: utf8.encode(text), note };
}

// ---------------------------------------------------------------------------------------------
// Paths into the conf.

function clone(conf: JsonObject): JsonObject {
  return structuredClone(conf);
}

function getAt(root: Json, path: Path): Json | undefined {
  let node: Json | undefined = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, Json>)[key];
  }
  return node;
}

/** Sets (or with `undefined`, deletes) the value at `path`, which must lead through objects and arrays. */
function setAt(root: JsonObject, path: Path, value: Json | undefined): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  if (value === undefined) delete parent[key];
  else parent[key] = value;
}

const show = (path: Path): string => path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').slice(1);

/** The known fields present in this conf; `agentSocket` only where a value stays a non-empty string. */
function knownPaths(conf: JsonObject): Path[] {
  const paths: Path[] = [['cniVersion'], ['name'], ['type'], ['agentTimeoutMs'], ['mtu'], ['ipam'], ['ipam', 'type']];
  if (conf.prevResult !== undefined) {
    paths.push(['prevResult'], ['prevResult', 'interfaces'], ['prevResult', 'ips'], ['prevResult', 'routes']);
    paths.push(['prevResult', 'interfaces', 0, 'name'], ['prevResult', 'interfaces', 0, 'sandbox'], ['prevResult', 'routes', 0, 'dst']);
    if (getAt(conf, ['prevResult', 'interfaces', 1]) !== undefined) paths.push(['prevResult', 'interfaces', 1, 'name'], ['prevResult', 'interfaces', 1, 'mac']);
    if (getAt(conf, ['prevResult', 'ips', 0]) !== undefined) {
      paths.push(['prevResult', 'ips', 0, 'address'], ['prevResult', 'ips', 0, 'gateway'], ['prevResult', 'ips', 0, 'interface']);
    }
    if (getAt(conf, ['prevResult', 'dns']) !== undefined) paths.push(['prevResult', 'dns']);
  }
  return paths;
}

/** `conf` as text with `raw` (JSON text) at `path`. */
function withRaw(r: Random, conf: JsonObject, path: Path, raw: string): string {
  const c = clone(conf);
  setAt(c, path, RAW);
  return layout(r, c).replace(`"${RAW}"`, () => raw);
}

// ---------------------------------------------------------------------------------------------
// Values.

/** No deadline under 1000 ms among them: a live agent meets every agentTimeoutMs written here (0 means the default). */
const SCALARS: readonly Json[] = [null, true, false, 0, -1, 1.5, 1400, 65536, 1e308, -1e-7, '', ' ', 'x', '1.0.0', '0', 'eth0', '/', '.', '..'];
const SHAPES: readonly Json[] = [[], {}, [1, 2], ['eth0'], { a: 1 }, { type: 'x' }, [{}], [null], [[]]];
const ALPHABET = ['a', 'z', '0', '-', '.', '_', ' ', '"', '\\', '/', '\n', '\u0000', '\u007f', 'é', '中', '😀', '\ud800', '\u2028'];

function randomString(r: Random, max: number): string {
  let s = '';
  const n = r.int(0, max);
  for (let i = 0; i < n; i++) s += choose(r, ALPHABET);
  return s;
}

/** Any JSON value, nested at most `depth` deep. */
function randomJson(r: Random, depth: number): Json {
  const n = r.int(0, depth > 0 ? 7 : 4);
  if (n === 0) return null;
  if (n === 1) return r.next() < 0.5;
  if (n === 2) return choose(r, [0, -1, 2 ** 53, 1e300, -0.5, r.int(-1e6, 1e6)]);
  if (n <= 4) return randomString(r, 12);
  if (n === 5) return Array.from({ length: r.int(0, 4) }, () => randomJson(r, depth - 1));
  const o: JsonObject = {};
  for (let i = r.int(0, 4); i > 0; i--) o[randomString(r, 6)] = randomJson(r, depth - 1);
  return o;
}

// ---------------------------------------------------------------------------------------------
// The kinds.

const valid: KindGenerator = (r, call) => draft(call, layout(r, call.conf), `a valid ${call.command}`);

const truncated: KindGenerator = (r, call) => {
  const bytes = utf8.encode(layout(r, call.conf));
  const cut = r.next() < 0.1 ? bytes.length - r.int(0, 3) : r.int(0, bytes.length - 1);
  return { env: call.env, stdin: bytes.slice(0, cut), note: `${call.command} conf cut at byte ${cut} of ${bytes.length}` };
};

const wrongType: KindGenerator = (r, call) => {
  const path = choose(r, knownPaths(call.conf));
  const value = choose(r, r.next() < 0.6 ? SCALARS : SHAPES);
  const c = clone(call.conf);
  setAt(c, path, value);
  return draft(call, layout(r, c), `${show(path)} = ${JSON.stringify(value)}`);
};

const NUMBER_TEXTS = [
  '1e309', '-1e309', '1e308', '9'.repeat(400), `-${'9'.repeat(400)}`, '1' + '0'.repeat(30), '-0', '0.0', '0e0', '1e-400', '5e-324',
  '65535', '65536', '120000', '120001', '1400.0', '1.4e3', '1E3', '2.5', '9007199254740993', '-9223372036854775808', '18446744073709551616',
];

const hugeNumber: KindGenerator = (r, call) => {
  const numeric: Path[] = [['mtu'], ['agentTimeoutMs'], ['x-limit'], ['ipam', 'x-count']];
  if (getAt(call.conf, ['prevResult', 'ips', 0]) !== undefined) numeric.push(['prevResult', 'ips', 0, 'interface']);
  const path = choose(r, numeric);
  const text = choose(r, NUMBER_TEXTS);
  return draft(call, withRaw(r, call.conf, path, text), `${show(path)} = ${text.length > 24 ? `${text.slice(0, 12)}…(${text.length} chars)` : text}`);
};

const deepNesting: KindGenerator = (r, call) => {
  const depth = choose(r, [100_000, 100_000, 100_000, 10_000, 1_000, 600, MAX_NETCONF_DEPTH - 1, MAX_NETCONF_DEPTH, 100]);
  const arrays = r.next() < 0.6;
  const raw = arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
  const sites: Path[] = [['x-deep'], ['capabilities'], ['ipam', 'x-deep'], ['mtu'], ['name']];
  if (call.conf.prevResult !== undefined) sites.push(['prevResult', 'dns'], ['prevResult', 'interfaces'], ['prevResult', 'interfaces', 0, 'x-deep']);
  const path = choose(r, sites);
  return draft(call, withRaw(r, call.conf, path, raw), `${show(path)} = ${arrays ? 'arrays' : 'objects'} nested ${depth} deep`);
};

const INVALID_UTF8: readonly (readonly number[])[] = [[0xff], [0xfe], [0x80], [0xc0, 0x80], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];

const invalidUtf8: KindGenerator = (r, call) => {
  const bad = choose(r, INVALID_UTF8);
  const c = clone(call.conf);
  const site = r.int(0, 4);
  let where: string;
  if (site === 0) {
    const path = choose(r, knownPaths(c).filter((p) => typeof getAt(c, p) === 'string'));
    const v = getAt(c, path) as string;
    const at = r.int(0, v.length);
    setAt(c, path, v.slice(0, at) + MARK + v.slice(at));
    where = `in ${show(path)}`;
  } else if (site === 1) {
    const key = choose(r, ['name', 'cniVersion', 'x-note']);
    const v = c[key];
    delete c[key];
    c[`${key.slice(0, 2)}${MARK}${key.slice(2)}`] = v ?? 'note';
    where = `in the key "${key}"`;
  } else if (site <= 3) {
    c['x-note'] = `fuzz ${MARK} note`;
    where = 'in an unknown field';
  } else where = 'outside any string';
  let text = layout(r, c);
  if (site === 4) text = r.next() < 0.5 ? `${MARK}${text}` : `${text}${MARK}`;
  const encoded = Array.from(utf8.encode(text));
  const out: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === MARK_BYTES[0] && encoded[i + 1] === MARK_BYTES[1] && encoded[i + 2] === MARK_BYTES[2]) {
      out.push(...bad);
      i += 2;
    } else out.push(encoded[i]!);
  }
  return { env: call.env, stdin: Uint8Array.from(out), note: `bytes ${bad.map((b) => b.toString(16)).join(' ')} ${where}` };
};

const missingField: KindGenerator = (r, call) => {
  const path = choose(r, [...knownPaths(call.conf), ['ipam', 'ranges'], ['capabilities']]);
  const c = clone(call.conf);
  setAt(c, path, undefined);
  return draft(call, layout(r, c), `${show(path)} left out`);
};

const EXTRA_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', ' ', 'CNI_COMMAND', '\u0000', '😀', 'runtimeConfig', 'args', 'k'.repeat(300)];

const extraField: KindGenerator = (r, call) => {
  const c = clone(call.conf);
  const hosts: Path[] = [[], [], ['ipam']];
  if (c.prevResult !== undefined) hosts.push(['prevResult'], ['prevResult', 'interfaces', 0]);
  const host = choose(r, hosts);
  const target = (host.length === 0 ? c : getAt(c, host)) as JsonObject;
  const keys: string[] = [];
  for (let i = r.int(1, 3); i > 0; i--) {
    const key = r.next() < 0.6 ? choose(r, EXTRA_KEYS) : randomString(r, 8);
    target[key] = randomJson(r, 3);
    keys.push(JSON.stringify(key).slice(0, 20));
  }
  return draft(call, layout(r, c), `unknown ${keys.join(', ')} in ${host.length ? show(host) : 'the conf'}`);
};

const duplicateKey: KindGenerator = (r, call) => {
  const key = choose(r, ['cniVersion', 'name', 'type', 'mtu', 'agentTimeoutMs', 'ipam', 'prevResult']);
  const other = choose(r, [...SCALARS, ...SHAPES, { type: 'host-local' }]);
  const text = JSON.stringify(call.conf);
  const pair = `${JSON.stringify(key)}:${JSON.stringify(other)}`;
  const first = r.next() < 0.5;
  // `{` + pair + `,` + rest: our pair first, the real one (if any) later wins; or pair appended last.
  const out = first ? `{${pair},${text.slice(1)}` : `${text.slice(0, -1)},${pair}}`;
  return draft(call, out, `"${key}" also ${JSON.stringify(other)}, ${first ? 'first' : 'last'}`);
};

const VERSIONS: readonly Json[] = ['0.4.0', '0.3.1', '0.1.0', '1.1.0', '2.0.0', '1.0', '1', '1.0.0 ', ' 1.0.0', 'v1.0.0', '1.0.0\u0000', '１.0.0', '', 'x'.repeat(5000), 1, 1.0, null, true, ['1.0.0'], { v: '1.0.0' }];

const wrongVersion: KindGenerator = (r, call) => {
  const v = choose(r, VERSIONS);
  const c = clone(call.conf);
  setAt(c, ['cniVersion'], v);
  return draft(call, layout(r, c), `cniVersion ${JSON.stringify(v).slice(0, 24)}`);
};

function hugeList(n: number, make: (i: number) => Json): Json[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

const prevResultGarbage: KindGenerator = (r, call) => {
  const c = clone(call.conf);
  if (c.prevResult === undefined) c.prevResult = prevResult(r, call.env, call.command === 'CHECK');
  const garbage: [Path, Json | undefined][] = [
    [['prevResult'], choose(r, ['x', 1, null, true, [], [{}]])],
    [['prevResult', 'interfaces'], choose(r, [5, 'abc', {}, [null], [1], [[]], [{}], [{ name: 5 }], [{ name: 'eth0', mac: 5 }], [{ name: 'eth0', sandbox: [] }]])],
    [['prevResult', 'ips'], choose(r, [5, 'x', {}, [null], [{}], [{ address: 5 }], [{ address: '10.0.0.2/24', interface: -1 }], [{ address: '10.0.0.2/24', interface: 1.5 }], [{ address: '10.0.0.2/24', interface: '1' }], [{ address: '10.0.0.2/24', gateway: 7 }]])],
    [['prevResult', 'routes'], choose(r, ['xy', 5, {}, [null], [{}], [{ dst: 5 }], [{ dst: '0.0.0.0/0', gw: false }]])],
    [['prevResult', 'dns'], choose(r, [[], 'x', 5, null])],
    [['prevResult', 'ips', 0, 'address'], choose(r, ['nope', '10.0.0.1', '10.0.0.1/33', '300.1.1.1/24', '10.0.0.01/24', '10.0.0.1/024', '::1/128', '10.0.0.1/8/8'])],
    [['prevResult', 'ips', 0, 'gateway'], choose(r, ['nope', '10.0.0.1/24', '', '10.0.0.256'])],
    [['prevResult', 'routes', 0, 'dst'], choose(r, ['nope', '0.0.0.0', 'default', '10.0.0.0/99'])],
    [['prevResult', 'interfaces', 1, 'name'], choose(r, ['eth9', 'lo', ''])],
    [['prevResult', 'interfaces', 1, 'sandbox'], choose(r, ['/elsewhere', ''])],
    [['prevResult', 'interfaces'], hugeList(r.int(1000, 20_000), (i) => ({ name: `if${i}` }))],
    [['prevResult', 'ips'], hugeList(r.int(1000, 20_000), (i) => ({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32` }))],
  ];
  const usable = garbage.filter(([p]) => p.length <= 2 || getAt(c, p.slice(0, -1)) !== undefined);
  const [path, value] = choose(r, usable);
  setAt(c, path, value);
  const shown = Array.isArray(value) && value.length > 100 ? `${value.length} entries` : JSON.stringify(value);
  return draft(call, layout(r, c), `${show(path)} = ${shown}`);
};

const notObject: KindGenerator = (r, call) => {
  const text = JSON.stringify(call.conf);
  const options: [string, string][] = [
    ['[]', 'an array'],
    [`[${text}]`, 'the conf in an array'],
    ['"1.0.0"', 'a string'],
    ['1', 'a number'],
    ['null', 'null'],
    ['true', 'true'],
    ['{}', 'an empty object'],
    ['', 'nothing'],
    [' \n\t\r\n', 'whitespace'],
    ['\u0000', 'a NUL byte'],
    [`\ufeff${text}`, 'the conf after a byte order mark'],
    [`${text}${text}`, 'the conf twice'],
    [`${text} x`, 'the conf and trailing garbage'],
    [`${text}\n\n`, 'the conf and blank lines'],
    [text.replace(/"/g, "'"), 'the conf with single quotes'],
    [`${text.slice(0, -1)},}`, 'the conf with a trailing comma'],
    [`// conf\n${text}`, 'the conf after a comment'],
  ];
  const [body, note] = choose(r, options);
  return draft(call, body, note);
};

const randomBytesCase: KindGenerator = (r, call) => {
  const bytes = randomBytes(r, r.int(0, r.next() < 0.5 ? 16 : 512));
  return { env: call.env, stdin: bytes, note: `${bytes.length} uniform random bytes` };
};

const longString: KindGenerator = (r, call) => {
  const n = choose(r, [10_000, 65_536, 262_144]);
  const text = choose(r, ['a', 'é', '😀', '\\', '\u0001']).repeat(n);
  const path = choose<Path>(r, [['name'], ['type'], ['ipam', 'type'], ['x-blob'], ['cniVersion'], ...(call.conf.prevResult ? [['prevResult', 'interfaces', 0, 'name'] as Path] : [])]);
  const c = clone(call.conf);
  setAt(c, path, text);
  return draft(call, layout(r, c), `${show(path)} = ${n} × ${JSON.stringify(text[0])}`);
};

const ENV_VALUES: Record<string, readonly (string | undefined)[]> = {
  CNI_COMMAND: [undefined, '', 'add', ' ADD', 'ADD\n', 'UPDATE', 'GC', 'STATUS', 'VERSION', 'A'.repeat(5000), 'DEL', 'CHECK'],
  CNI_CONTAINERID: [undefined, '', '-abc', 'a b', 'ç', '.hidden', 'a/b', 'x'.repeat(257), 'x'.repeat(256), 'a..b', 'a_b-c.d'],
  CNI_IFNAME: [undefined, '', 'eth0 ', 'a'.repeat(16), 'a'.repeat(15), '.', '..', 'eth/0', 'eth:0', 'é', 'eth\t0', 'lo', '~'],
  CNI_NETNS: [undefined, '', '/nonexistent', 'relative', '/'.repeat(300), 'n'.repeat(5000), '/var/run/netns/../../etc'],
  CNI_ARGS: [undefined, '', ';;', 'K8S_POD_NAME', '=x', 'A=', 'A=B=C', ';K=V;', 'IgnoreUnknown=1;K8S_POD_NAME=' + 'p'.repeat(10_000), 'a'.repeat(10_000), 'K8S_POD_NAMESPACE=Bad Ns;K8S_POD_NAME=-x'],
  CNI_PATH: [undefined, '', ':', '::', '/nonexistent', 'relative/bin', '/'],
  CNI_FUZZ_EXTRA: ['1', '', 'x'.repeat(1000)],
};

const envAnomaly: KindGenerator = (r, call, world) => {
  const key = choose(r, Object.keys(ENV_VALUES));
  let value = choose(r, ENV_VALUES[key]!);
  if (key === 'CNI_PATH' && r.next() < 0.3) value = `${world.binDir}/`;
  const env = { ...call.env };
  if (value === undefined) delete env[key];
  else env[key] = value;
  const shown = value === undefined ? 'unset' : JSON.stringify(value.length > 24 ? `${value.slice(0, 12)}…(${value.length})` : value);
  return draft(call, layout(r, call.conf), `${key} ${shown}`, env);
};

const GENERATORS: Record<CniJsonKind, KindGenerator> = {
  valid,
  truncated,
  wrong_type: wrongType,
  huge_number: hugeNumber,
  deep_nesting: deepNesting,
  invalid_utf8: invalidUtf8,
  missing_field: missingField,
  extra_field: extraField,
  duplicate_key: duplicateKey,
  wrong_version: wrongVersion,
  prev_result_garbage: prevResultGarbage,
  not_object: notObject,
  random_bytes: randomBytesCase,
  long_string: longString,
  env_anomaly: envAnomaly,
};

// ---------------------------------------------------------------------------------------------
// The oracle.

/** What the plugin must do with a case, and the side effects it must have on the way. */
export interface PluginPrediction {
  readonly exitCode: 0 | 1;
  /** The CNI error code (exit code 1). */
  readonly code?: number;
  /** What stdout holds: a result (ADD), nothing (DEL, CHECK), the versions, or an error object. */
  readonly output: 'result' | 'empty' | 'version' | 'error';
  /** Which rule decided, in words. */
  readonly reason: string;
  /** Requests that reach the live agent (0 or 1). */
  readonly agentCalls: number;
  /** Executions of the IPAM plugin, by command. */
  readonly ipam: Readonly<Record<CniCommand, number>>;
  /** For a result: how many interfaces it lists (prevResult's, then ours). */
  readonly interfaces?: number;
}

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION'];
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const NO_IPAM = { ADD: 0, DEL: 0, CHECK: 0 } as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';
const intIn = (v: unknown, max: number): boolean => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max);

function refuse(code: number, reason: string, agentCalls = 0, ipam: Partial<Record<CniCommand, number>> = {}): PluginPrediction {
  return { exitCode: 1, code, output: 'error', reason, agentCalls, ipam: { ...NO_IPAM, ...ipam } };
}

/** CNI_* rules (spec 1.0.0 "Parameters", our validators' documented limits); undefined when fine. */
function envProblem(env: Readonly<Record<string, string>>, command: string): string | undefined {
  const id = env.CNI_CONTAINERID;
  if (!nonEmpty(id) || id.length > 256 || !CONTAINER_ID.test(id)) return 'CNI_CONTAINERID is not a container id';
  const ifname = env.CNI_IFNAME;
  if (!nonEmpty(ifname) || ifname.length > 15 || ifname === '.' || ifname === '..' || !/^[\x21-\x7e]+$/.test(ifname) || /[/:]/.test(ifname)) {
    return 'CNI_IFNAME is not a Linux interface name';
  }
  if (!nonEmpty(env.CNI_NETNS) && command !== 'DEL') return 'CNI_NETNS is required';
  for (const pair of (env.CNI_ARGS ?? '').split(';')) if (pair !== '' && !(pair.indexOf('=') > 0)) return 'CNI_ARGS is not KEY=VALUE;…';
  if (!(env.CNI_PATH ?? '').split(':').some((d) => d !== '')) return 'CNI_PATH is required';
  return undefined;
}

/** Nesting depth of a parsed value (the outer object is 1), without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) max = d;
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
  }
  return max;
}

/** A list of objects whose `required` field is a string and whose `optional` fields, when present, are. */
function listOf(v: unknown, required: string, optional: readonly string[], extra: (e: Record<string, unknown>) => boolean = () => true): boolean {
  if (v === undefined) return true;
  return Array.isArray(v) && v.every((e) => isObject(e) && typeof e[required] === 'string' && optional.every((k) => e[k] === undefined || typeof e[k] === 'string') && extra(e));
}

/** A previous result of the shape spec 1.0.0 gives it, as far as the plugin reads or echoes it. */
function prevShapeOk(p: unknown): boolean {
  if (!isObject(p)) return false;
  return (
    listOf(p.interfaces, 'name', ['mac', 'sandbox']) &&
    listOf(p.ips, 'address', ['gateway'], (e) => intIn(e.interface, Infinity)) &&
    listOf(p.routes, 'dst', ['gw']) &&
    (p.dns === undefined || isObject(p.dns))
  );
}

const cidrOk = (v: unknown): boolean => {
  if (typeof v !== 'string') return false;
  const slash = v.indexOf('/');
  return slash > 0 && IPV4.test(v.slice(0, slash)) && /^[0-9]{1,2}$/.test(v.slice(slash + 1)) && Number(v.slice(slash + 1)) <= 32;
};
const gatewayOk = (v: unknown): boolean => v === undefined || v === '' || (typeof v === 'string' && IPV4.test(v));

/** The netconf rules: our fields (README "CNI") and the spec's; undefined when fine. */
function confProblem(conf: Record<string, unknown>): PluginPrediction | undefined {
  if (!nonEmpty(conf.cniVersion)) return refuse(7, 'cniVersion is required');
  if (conf.cniVersion !== '1.0.0') return refuse(1, `cniVersion ${conf.cniVersion.slice(0, 16)} is not 1.0.0`);
  const ipam = conf.ipam;
  if (!isObject(ipam) || !nonEmpty(ipam.type) || ipam.type.includes('/')) return refuse(7, 'ipam.type must name a plugin');
  if (conf.prevResult !== undefined && !prevShapeOk(conf.prevResult)) return refuse(7, 'prevResult is not a result');
  if (!nonEmpty(conf.name) || !nonEmpty(conf.type)) return refuse(7, 'name and type are required');
  if (conf.agentSocket !== undefined && typeof conf.agentSocket !== 'string') return refuse(7, 'agentSocket must be a string');
  if (!intIn(conf.agentTimeoutMs, 120_000)) return refuse(7, 'agentTimeoutMs must be an integer 0–120000');
  if (!intIn(conf.mtu, 65_535)) return refuse(7, 'mtu must be an integer 0–65535');
  return undefined;
}

/**
 * What the plugin must answer to `c` in `world`, where the IPAM plugin succeeds and the live
 * socket's agent accepts every call. Steps, as cni/plugin.ts documents them: environment (4),
 * stdin decoding (6, including nesting deeper than MAX_NETCONF_DEPTH), version (1), netconf (7);
 * then ADD: IPAM ADD, agent (on failure IPAM DEL, code 11); DEL: agent (11), IPAM DEL; CHECK:
 * prevResult names our interface (7), IPAM CHECK, its addresses are CIDR (7), agent (11).
 * An IPAM plugin not on CNI_PATH is 7 where the IPAM step comes.
 *
 * @example
 * const p = predictPlugin(c, world);
 * if (p.exitCode === 1) expect(JSON.parse(stdout).code).to.equal(p.code);
 */
export function predictPlugin(c: CniCase, world: CniWorld): PluginPrediction {
  const command = c.env.CNI_COMMAND ?? '';
  if (!COMMANDS.includes(command)) return refuse(4, 'CNI_COMMAND is not a command');
  if (command === 'VERSION') return { exitCode: 0, output: 'version', reason: 'VERSION ignores stdin', agentCalls: 0, ipam: NO_IPAM };
  const badEnv = envProblem(c.env, command);
  if (badEnv) return refuse(4, badEnv);
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(c.stdin); // a BOM stays, as Buffer#toString keeps it
  if (text.trim() === '') return refuse(6, 'stdin is empty');
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch {
    return refuse(6, 'stdin is not JSON');
  }
  if (!isObject(conf)) return refuse(6, 'stdin is not a JSON object');
  if (depthOf(conf) > MAX_NETCONF_DEPTH) return refuse(6, `nested deeper than ${MAX_NETCONF_DEPTH}`);
  const bad = confProblem(conf);
  if (bad) return bad;
  const live = conf.agentSocket === world.liveSocket;
  const dirs = (c.env.CNI_PATH ?? '').split(':').map((d) => (d.length > 1 ? d.replace(/\/+$/, '') : d));
  const ipamFound = (conf.ipam as Record<string, unknown>).type === world.ipamType && dirs.includes(world.binDir);
  const prev = conf.prevResult as { interfaces?: Record<string, unknown>[]; ips?: Record<string, unknown>[]; routes?: Record<string, unknown>[] } | undefined;
  if (command === 'ADD') {
    if (!ipamFound) return refuse(7, 'ADD: no IPAM plugin');
    if (!live) return refuse(11, 'ADD: agent unreachable, lease released', 0, { ADD: 1, DEL: 1 });
    const interfaces = (prev?.interfaces?.length ?? 0) + 1;
    return { exitCode: 0, output: 'result', reason: 'ADD succeeds', agentCalls: 1, ipam: { ...NO_IPAM, ADD: 1 }, interfaces };
  }
  if (command === 'DEL') {
    if (!live) return refuse(11, 'DEL: agent unreachable, lease kept');
    if (!ipamFound) return refuse(7, 'DEL: no IPAM plugin', 1);
    return { exitCode: 0, output: 'empty', reason: 'DEL succeeds', agentCalls: 1, ipam: { ...NO_IPAM, DEL: 1 } };
  }
  if (!prev) return refuse(7, 'CHECK without prevResult');
  const ours = (prev.interfaces ?? []).findIndex((i) => i.name === c.env.CNI_IFNAME && (!i.sandbox || i.sandbox === c.env.CNI_NETNS));
  if (ours < 0) return refuse(7, 'CHECK: prevResult lacks our interface');
  if (!ipamFound) return refuse(7, 'CHECK: no IPAM plugin');
  const mine = (prev.ips ?? []).filter((ip) => ip.interface === ours);
  const addressed = mine.every((ip) => cidrOk(ip.address) && gatewayOk(ip.gateway)) && (prev.routes ?? []).every((rt) => cidrOk(rt.dst) && gatewayOk(rt.gw));
  if (!addressed) return refuse(7, 'CHECK: prevResult addresses are not IPv4 CIDR', 0, { CHECK: 1 });
  if (!live) return refuse(11, 'CHECK: agent unreachable', 0, { CHECK: 1 });
  return { exitCode: 0, output: 'empty', reason: 'CHECK succeeds', agentCalls: 1, ipam: { ...NO_IPAM, CHECK: 1 } };
}
