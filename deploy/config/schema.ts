/**
 * The one configuration file an operator edits (deploy/config/offload.example.yaml): the whole
 * cluster's deployment — its nodes (IP, pod CIDR, the ACC's comms address), where NATS runs, the
 * interface pool, MTU, log levels and the mode (host | split). bin/render-config validates it
 * here and renders every process's configuration, the NATS server's, the Kubernetes manifests'
 * inputs and, in split mode, the ACC's files from it (render.ts).
 *
 * Every field is checked, and so is how they fit together (a NATS node that is not a node, an ACC
 * address missing in split mode, overlapping pod CIDRs…): a problem is a ConfigError naming the
 * field by its dotted path (`nodes.1.podCidr: overlaps nodes.0.podCidr (10.244.0.0/16)`), as
 * the processes' own loaders do (core/config.ts).
 *
 * @example
 * const r = await loadConfigFile('offload.yaml', offloadConfigSchema);
 * if (!r.ok) { console.error(r.error.message); process.exit(2); }
 * r.value.nodes[0].name; // "node-1"
 */
import { z } from 'zod';
import { LOG_LEVELS } from '../../core/logger.js';
import { dnsLabel, ipv4Cidr, nodeName, unicastIpv4 } from '../../messages/validate.js';

/** A string checked by one of our validators (messages/validate.ts), kept as text. */
function text(check: (value: unknown, field: string) => unknown) {
  return z.string().superRefine((value, ctx) => {
    try {
      check(value, '');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^: /, '') });
    }
  });
}

const ipv4 = text(unicastIpv4);
const cidr = text(ipv4Cidr);
const name = text(nodeName);
const port = z.number().int().min(1).max(65535);
/** An image reference: [registry/]path[:tag][@sha256:digest], no whitespace. */
const IMAGE = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._/-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;
/** Interface names: the kernel's IFNAMSIZ leaves 15 characters. */
const IFNAMSIZ = 15;

export const nodeEntrySchema = z
  .object({
    name,
    /** The node's InternalIP: where its agent says it is, and the NATS address if NATS runs there. */
    ip: ipv4,
    /** The node's spec.podCIDR: host-local IPAM hands out its addresses. */
    podCidr: cidr,
    /** Split mode: the node's ACC, reached from the host at its comms-channel address. */
    acc: z.object({ address: ipv4 }).strict().optional(),
  })
  .strict();

const natsSchema = z
  .object({
    /**
     * cluster: a nats-server StatefulSet on `node` (host network); acc: one nats-server on each
     * node's ACC (split mode); external: one you run, at `servers` (include the rendered
     * authorisation in its configuration).
     */
    placement: z.enum(['cluster', 'acc', 'external']),
    node: name.optional(),
    port: port.default(4222),
    servers: z.array(z.string().regex(/^tls:\/\/[^\s/:]+:\d{1,5}$/, 'expected tls://host:port')).default([]),
    /** More names for the NATS server certificate (what clients dial must be in it). */
    extraSans: z.array(z.string().regex(/^[A-Za-z0-9.:-]+$/, 'a host name or an IP address')).default([]),
    image: z.string().regex(IMAGE, 'an image reference, e.g. nats:2.10.24-alpine').default('nats:2.10.24-alpine'),
    /** JetStream's store on the NATS node (or the ACC). */
    storeDir: z.string().startsWith('/').default('/var/lib/infra-offload/nats'),
  })
  .strict();

const poolSchema = z
  .object({
    /** TAPs per node: a power of two, more than 4 (pool index 0: gateway, 1: host, the rest: pods). */
    size: z.number().int().default(16),
    prefix: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'letters, digits and _').max(12).default('P4TAP_'),
    gatewayNetns: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/).max(64).default('infra-offload-gw'),
  })
  .strict()
  .default({ size: 16, prefix: 'P4TAP_', gatewayNetns: 'infra-offload-gw' });

const p4Schema = z
  .object({
    /** The P4Runtime target (infrap4d or bin/target) listens on 127.0.0.1:PORT of the host (host mode) or the ACC (split). */
    port: port.default(9559),
    deviceId: z.number().int().min(1).default(1),
    resyncMs: z.number().int().min(100).max(86_400_000).default(60_000),
  })
  .strict()
  .default({ port: 9559, deviceId: 1, resyncMs: 60_000 });

const loggingSchema = z
  .object({ level: z.enum(LOG_LEVELS).default('info'), modules: z.record(z.string(), z.enum(LOG_LEVELS)).default({}) })
  .strict()
  .default({ level: 'info', modules: {} });

const healthSchema = z
  .object({ agentPort: port.default(9301), managerPort: port.default(9302) })
  .strict()
  .default({ agentPort: 9301, managerPort: 9302 });

export const offloadConfigSchema = z
  .object({
    /** host: the manager beside the agent on every node; split: the manager on each node's ACC. */
    mode: z.enum(['host', 'split']),
    namespace: text(dnsLabel).default('infra-offload'),
    /** The image with dist/ (node ≥ 20, iproute2, util-linux): see deploy/k8s/README.md. */
    image: z.string().regex(IMAGE, 'an image reference, e.g. registry.example.com/infra-offload:0.1.0'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
    kubernetes: z
      .object({
        /**
         * The API server's own address (https://IP:6443), not the `kubernetes` Service's cluster
         * IP: this system programs cluster IPs, and its agent must not depend on them.
         */
        server: z.string().regex(/^https:\/\/[^\s/]+$/, 'expected https://host:port'),
      })
      .strict(),
    nats: natsSchema,
    nodes: z.array(nodeEntrySchema).min(1),
    pool: poolSchema,
    /** Pod MTU (the original's range; a TAP pool needs at least 1280 for IPv6-ready pods). */
    mtu: z.number().int().min(576).max(9000).default(1500),
    p4: p4Schema,
    logging: loggingSchema,
    /** The health endpoints (GET /healthz, /readyz) listen on 127.0.0.1:PORT of each node. */
    health: healthSchema,
    heartbeatMs: z.number().int().min(10).max(600_000).default(1000),
    /** Operator identities (offloadctl's certificates): read-only queries on every node. */
    operators: z
      .array(z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and -'))
      .min(1)
      .default(['offloadctl']),
  })
  .strict()
  .superRefine(checkCoherence);

export type OffloadConfig = z.output<typeof offloadConfigSchema>;
export type NodeEntry = z.output<typeof nodeEntrySchema>;

type Ctx = z.core.$RefinementCtx;

function issue(ctx: Ctx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

/** How the fields fit together: each problem names the field to change. */
function checkCoherence(c: z.output<z.ZodObject<Record<string, z.ZodType>>>, ctx: Ctx): void {
  const config = c as unknown as OffloadConfig;
  // Runs even when a field failed its own check: only look at what has the right shape.
  if (!Array.isArray(config.nodes) || !config.nodes.every((n) => typeof n === 'object' && n !== null) || typeof config.nats !== 'object' || typeof config.pool !== 'object' || typeof config.health !== 'object' || typeof config.p4 !== 'object') return;
  checkNodes(config, ctx);
  checkNats(config, ctx);
  checkPool(config, ctx);
  const natsHere = config.nats.placement !== 'external';
  const ports: [string[], number][] = [
    // nats-server's monitoring port (nats-config.ts NATS_MONITOR), fixed: listed first, so a clash names the other field.
    ...(natsHere ? [[['nats', '(monitoring port 8222)'], 8222] as [string[], number]] : []),
    ...(natsHere ? [[['nats', 'port'], config.nats.port] as [string[], number]] : []),
    [['health', 'agentPort'], config.health.agentPort],
    [['health', 'managerPort'], config.health.managerPort],
    [['p4', 'port'], config.p4.port],
  ];
  ports.forEach(([path, value], i) => {
    const earlier = ports.slice(0, i).find(([, v]) => v === value);
    if (earlier) issue(ctx, path, `port ${value} is already ${earlier[0].join('.')} (they share the node's network)`);
  });
}

function checkNodes(config: OffloadConfig, ctx: Ctx): void {
  // Fields that failed their own check are still here (zod runs this anyway): judge only what parses.
  const nets: ({ network: number; prefix: number } | undefined)[] = [];
  config.nodes.forEach((n, i) => {
    const earlier = config.nodes.slice(0, i);
    if (earlier.some((e) => e.name === n.name)) issue(ctx, ['nodes', i, 'name'], `"${n.name}" is listed twice`);
    const sameIp = earlier.findIndex((e) => e.ip === n.ip || e.acc?.address === n.ip);
    if (sameIp >= 0) issue(ctx, ['nodes', i, 'ip'], `${n.ip} is already used by nodes.${sameIp}`);
    if (n.acc && (n.acc.address === n.ip || earlier.some((e) => e.ip === n.acc!.address || e.acc?.address === n.acc!.address))) {
      issue(ctx, ['nodes', i, 'acc', 'address'], `${n.acc.address} is already used by another host or ACC`);
    }
    if (config.mode === 'split' && !n.acc) issue(ctx, ['nodes', i, 'acc'], 'required in split mode: the ACC comms-channel address, e.g. { address: 192.168.100.2 }');
    const net = cidrOf(n.podCidr);
    const overlap = net ? nets.findIndex((o) => o !== undefined && overlaps(o, net)) : -1;
    if (overlap >= 0) issue(ctx, ['nodes', i, 'podCidr'], `overlaps nodes.${overlap}.podCidr (${config.nodes[overlap]!.podCidr})`);
    nets.push(net);
  });
}

function checkNats(config: OffloadConfig, ctx: Ctx): void {
  const { nats } = config;
  if (nats.placement === 'cluster') {
    if (nats.node === undefined) issue(ctx, ['nats', 'node'], 'required with placement cluster: the node nats-server runs on');
    else if (!config.nodes.some((n) => n.name === nats.node)) issue(ctx, ['nats', 'node'], `"${nats.node}" is not one of nodes`);
  } else if (nats.node !== undefined) {
    issue(ctx, ['nats', 'node'], `only with placement cluster (placement is ${nats.placement})`);
  }
  if (nats.placement === 'acc' && config.mode !== 'split') issue(ctx, ['nats', 'placement'], 'acc needs mode split (an ACC per node)');
  if (!Array.isArray(nats.servers)) return;
  if (nats.placement === 'external' && nats.servers.length === 0) issue(ctx, ['nats', 'servers'], 'required with placement external: tls://host:port of your nats-server');
  if (nats.placement !== 'external' && nats.servers.length > 0) issue(ctx, ['nats', 'servers'], `only with placement external (placement is ${nats.placement}: the address is derived)`);
}

function checkPool(config: OffloadConfig, ctx: Ctx): void {
  const { size, prefix } = config.pool;
  if (!(size > 4 && (size & (size - 1)) === 0) || size > 4096) issue(ctx, ['pool', 'size'], `${size}: must be a power of two, more than 4 and at most 4096`);
  else if (prefix.length + String(size - 1).length > IFNAMSIZ) {
    issue(ctx, ['pool', 'prefix'], `"${prefix}${size - 1}" is longer than ${IFNAMSIZ} characters (the kernel's limit for interface names)`);
  }
}

function cidrOf(text: string): { network: number; prefix: number } | undefined {
  try {
    return ipv4Cidr(text, '');
  } catch {
    return undefined;
  }
}

function overlaps(a: { network: number; prefix: number }, b: { network: number; prefix: number }): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}
