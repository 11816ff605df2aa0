/**
 * The configuration files of the manager and the agent. A missing node IP stops start-up with
 * `node.ip: required`, as the original's NODE_IP check did, but for every field and at once.
 */
import { z } from 'zod';
import { heartbeatSchema, loggingSchema, natsSchema } from '../core/config.js';
import { dnsSubdomain, ipv4Cidr, unicastIpv4 } from '../messages/validate.js';

/** Runs one of our validators inside zod, turning its error into a zod issue. */
function checked<T>(check: (value: unknown, field: string) => T) {
  return z.string().transform((value, ctx): T => {
    try {
      return check(value, '');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^: /, '') });
      return z.NEVER;
    }
  });
}

const ipv4Text = checked(unicastIpv4);
const nodeNameText = checked(dnsSubdomain);
const cidrText = checked(ipv4Cidr);

export const nodeSchema = z
  .object({
    name: nodeNameText,
    /** The node's InternalIP. */
    ip: ipv4Text,
    /** The node's pod range (spec.podCIDR); learned from the Node object when absent. */
    podCidr: cidrText.optional(),
  })
  .strict();

/** Health endpoints (actors/health.ts): off unless configured; keep them on loopback or a pod IP. */
export const healthSchema = z
  .object({ listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9301') })
  .strict();

/** The fields every process has; each process's schema adds its own as later issues need them. */
const processConfigShape = { node: nodeSchema, nats: natsSchema, heartbeat: heartbeatSchema, logging: loggingSchema, health: healthSchema.optional() };

/**
 * Where the agent watches Nodes, Services and EndpointSlices (actors/agent/kube-watchers.ts).
 * Optional: an agent without it serves no services (and answers agent.sync at once).
 */
export const kubeSchema = z
  .object({
    /** The API server, e.g. https://10.0.0.1:6443 or the stand-in's http://127.0.0.1:PORT (no auth yet). */
    server: z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'expected http://host:port or https://host:port'),
    /** Asked of the server per watch; a watch silent for this long plus idleGraceMs counts as dead. */
    watchTimeoutSeconds: z.number().int().min(1).max(3600).default(300),
    idleGraceMs: z.number().int().min(0).max(600_000).default(10_000),
    /** Deadline of one list page. */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    pageSize: z.number().int().min(1).max(10_000).default(500),
    /** Informer restarts after errors: initialMs doubling up to maxMs. Also retries of failed syncs. */
    backoff: z
      .object({ initialMs: z.number().int().min(1).max(600_000).default(200), maxMs: z.number().int().min(1).max(3_600_000).default(30_000) })
      .strict()
      .default({ initialMs: 200, maxMs: 30_000 }),
    /** Recorded changes wait this long for quiet before a sync (a burst becomes one request)… */
    syncDelayMs: z.number().int().min(0).max(600_000).default(100),
    /** …but never longer than this after the first of them. */
    maxSyncDelayMs: z.number().int().min(0).max(600_000).default(1000),
    /** Every this many ms, send every service port to the manager again (0: never). */
    resyncMs: z.number().int().min(0).max(86_400_000).default(0),
    /**
     * A bearer token file, re-read every minute (a ServiceAccount's projected token in a pod:
     * /var/run/secrets/kubernetes.io/serviceaccount/token). None: anonymous (the stand-in).
     */
    tokenFile: z.string().startsWith('/').optional(),
    /** The CA bundle that signed an https server's certificate (in a pod: …/serviceaccount/ca.crt). */
    caFile: z.string().startsWith('/').optional(),
  })
  .strict();

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The node's pods (actors/agent/pod/): the TAP pool made by bin/create-interfaces, the gateway
 * namespace, the CNI socket and where allocations are kept. Optional: an agent without it serves
 * no CNI requests (services only).
 */
export const podsSchema = z
  .object({
    /** The pool's interface prefix (pool index i is `${prefix}${i}`). */
    prefix: z.string().regex(NAME).max(12).default('P4TAP_'),
    /** The namespace the pool lives in (the node's host side); the agent's own when absent. */
    poolNetns: z.string().regex(NAME).max(64).optional(),
    /** Where pool index 0 answers ARP for 169.254.1.1 (created when missing). */
    gatewayNetns: z.string().regex(NAME).max(64).default('infra-offload-gw'),
    /** Allocations (pool.json) and the port map (portmap.json), written atomically. */
    stateDir: z.string().startsWith('/').default('/var/lib/infra-offload'),
    /** The CNI gRPC socket: its directory is made 0700, the socket 0600 (root only). */
    socket: z.string().startsWith('/').default('/run/infra-offload/cni.sock'),
    /** Pod MTU when the network configuration gives none. */
    mtu: z.number().int().min(68).max(65535).default(1500),
    /** The host interface's address (pool index 1); the node IP when absent. */
    hostAddress: ipv4Text.optional(),
    /** Upper bound of one ADD (the plugin's own deadline applies when shorter). */
    addTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** First retry of a registration the manager did not acknowledge (doubling up to 5 s). */
    retryMs: z.number().int().min(1).max(60_000).default(100),
  })
  .strict();

/** The manager's P4 device: where its P4Runtime target listens and how to talk to it. */
const p4Schema = z
  .object({
    /** host:port or unix:///path of the P4Runtime server (infrap4d, or bin/target). */
    target: z.string().min(1),
    deviceId: z.number().int().min(1).default(1),
    tls: z
      .object({ caFile: z.string().min(1), certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional(), serverName: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** Full read-back and repair of drift every so often. */
    resyncMs: z.number().int().min(100).max(86_400_000).default(60_000),
    /** Updates per Write RPC. */
    batchSize: z.number().int().min(1).max(100_000).default(2_000),
    /** Deadline of a unary P4Runtime call (Write, pipeline): a target that stops answering is reconnected. */
    callTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** A Read with no response message for this long is cancelled (a big Read may be long, never silent). */
    readIdleMs: z.number().int().min(100).max(600_000).default(15_000),
    /** Mutual TLS is the default: a target without it must be asked for (tests). */
    insecure: z.boolean().default(false),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (!v.tls && !v.insecure) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'required: mutual TLS is the default (set p4.insecure: true only for a test target)' });
  });

/** Leadership: one manager per node programs the device; the others stand by. */
const leadershipSchema = z
  .object({
    /** A leader that has not renewed for this long is replaced (default 3 heartbeats). */
    ttlMs: z.number().int().min(30).max(600_000).optional(),
    bucket: z.string().regex(/^[A-Za-z0-9_-]+$/).default('infra_leases'),
  })
  .strict()
  .default({ bucket: 'infra_leases' });

export const managerConfigSchema = z.object({ ...processConfigShape, p4: p4Schema.optional(), leadership: leadershipSchema }).strict();
export const agentConfigSchema = z.object({ ...processConfigShape, kube: kubeSchema.optional(), pods: podsSchema.optional() }).strict();

export type ProcessConfig = z.output<z.ZodObject<typeof processConfigShape>>;
export type ManagerConfig = z.output<typeof managerConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema>;
export type KubeSection = z.output<typeof kubeSchema>;
export type PodsSection = z.output<typeof podsSchema>;
