/**
 * The kustomize instance bin/render-config writes under <out>/k8s: a copy of deploy/k8s (lib/),
 * the overlay of the chosen mode once, one small kustomization per node that includes the
 * overlay's node part with a name suffix and pins it to that node, and the inputs of the
 * ConfigMap and Secret generators (the rendered configurations; the certificates from
 * deploy/certs). Generated names carry a content hash, so a changed configuration or a renewed
 * certificate rolls exactly the pods that mount it.
 *
 * @example
 * const files = kustomizeInstance(config); // [{ path: 'kustomization.yaml', … }, { path: 'nodes/node-1/kustomization.yaml', … }]
 */
import { stringify } from 'yaml';
import type { NodeEntry, OffloadConfig } from './schema.js';

export const KUSTOMIZE_API = 'kustomize.config.k8s.io/v1beta1';
/** Label on every per-node object (and selector): which node it belongs to. */
export const NODE_LABEL = 'infra-offload/node';
/** Names of the generated ConfigMaps and Secrets, as the manifests reference them (before the suffixes). */
export const GENERATED_NAMES = {
  agentConfig: 'infra-offload-agent-config',
  managerConfig: 'infra-offload-manager-config',
  pool: 'infra-offload-pool',
  agentBus: 'infra-offload-agent-bus',
  managerBus: 'infra-offload-manager-bus',
  managerP4: 'infra-offload-manager-p4',
  natsConfig: 'infra-offload-nats',
  natsTls: 'infra-offload-nats-tls',
} as const;

/** Under k8s/: where each node's generator inputs go. */
export function nodeDir(node: string): string {
  return `nodes/${node}`;
}

/** The TLS Secret inputs of a node, by Secret: files under nodes/<node>/tls/<secret>/. */
export function nodeSecrets(config: OffloadConfig): readonly ('agent-bus' | 'manager-bus' | 'manager-p4')[] {
  return config.mode === 'host' ? ['agent-bus', 'manager-bus', 'manager-p4'] : ['agent-bus'];
}

const TLS_KEYS = ['tls.crt', 'tls.key', 'ca.crt'] as const;

function tlsSecret(name: string, dir: string): Record<string, unknown> {
  return { name, type: 'kubernetes.io/tls', files: TLS_KEYS.map((k) => `${k}=${dir}/${k}`) };
}

/** An image reference split as kustomize's `images` wants it. */
export function imageOverride(name: string, ref: string): Record<string, string> {
  const at = ref.indexOf('@');
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  const tagged = colon > slash;
  return {
    name,
    newName: tagged ? base.slice(0, colon) : base,
    ...(tagged ? { newTag: base.slice(colon + 1) } : {}),
    ...(digest ? { digest } : {}),
  };
}

type Op = { op: 'replace' | 'add'; path: string; value: unknown };

function jsonPatch(ops: Op[]): string {
  return stringify(ops, { lineWidth: 0 });
}

const AFFINITY_VALUES = '/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values';

function probePorts(port: number): Op[] {
  return ['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => ({ op: 'replace', path: `/spec/template/spec/containers/0/${p}/httpGet/port`, value: port }));
}

function pullPolicy(config: OffloadConfig, paths: string[]): Op[] {
  return paths.map((p) => ({ op: 'replace', path: `/spec/template/spec/${p}/imagePullPolicy`, value: config.imagePullPolicy }));
}

/** One node's kustomization (nodes/<node>/kustomization.yaml). */
export function nodeKustomization(config: OffloadConfig, node: NodeEntry): Record<string, unknown> {
  const host = config.mode === 'host';
  const n = node.name;
  const patches: Record<string, unknown>[] = [
    {
      target: { kind: 'DaemonSet', name: 'infra-offload-agent' },
      patch: jsonPatch([
        { op: 'replace', path: AFFINITY_VALUES, value: [n] },
        ...probePorts(config.health.agentPort),
        ...pullPolicy(config, ['initContainers/0', 'containers/0']),
      ]),
    },
    {
      target: { kind: 'ClusterRole', name: 'infra-offload-agent-self' },
      patch: jsonPatch([{ op: 'replace', path: '/rules/0/resourceNames', value: [n] }]),
    },
  ];
  if (host) {
    patches.push({
      target: { kind: 'DaemonSet', name: 'infra-offload-manager' },
      patch: jsonPatch([{ op: 'replace', path: AFFINITY_VALUES, value: [n] }, ...probePorts(config.health.managerPort), ...pullPolicy(config, ['containers/0'])]),
    });
  }
  return {
    apiVersion: KUSTOMIZE_API,
    kind: 'Kustomization',
    resources: [`../../lib/overlays/${config.mode}/node`],
    nameSuffix: `-${n}`,
    labels: [{ pairs: { [NODE_LABEL]: n }, includeSelectors: true, includeTemplates: true }],
    configMapGenerator: [
      { name: GENERATED_NAMES.agentConfig, files: ['agent.yaml', '10-infra-offload.conflist'] },
      { name: GENERATED_NAMES.pool, literals: [`POOL_PREFIX=${config.pool.prefix}`, `POOL_SIZE=${config.pool.size}`, `GATEWAY_NETNS=${config.pool.gatewayNetns}`] },
      ...(host ? [{ name: GENERATED_NAMES.managerConfig, files: ['manager.yaml'] }] : []),
    ],
    secretGenerator: nodeSecrets(config).map((s) => tlsSecret(`infra-offload-${s}`, `tls/${s}`)),
    patches,
  };
}

/** The instance's root kustomization (k8s/kustomization.yaml). */
export function rootKustomization(config: OffloadConfig): Record<string, unknown> {
  const cluster = config.nats.placement === 'cluster';
  const patches: Record<string, unknown>[] = [];
  if (cluster) {
    const port = config.nats.port;
    patches.push(
      {
        target: { kind: 'StatefulSet', name: 'infra-offload-nats' },
        patch: jsonPatch([
          { op: 'replace', path: AFFINITY_VALUES, value: [config.nats.node] },
          { op: 'replace', path: '/spec/template/spec/containers/0/ports/0/containerPort', value: port },
          { op: 'replace', path: '/spec/template/spec/containers/0/ports/0/hostPort', value: port },
          ...pullPolicy(config, ['containers/0']),
        ]),
      },
      {
        target: { kind: 'Service', name: 'infra-offload-nats' },
        patch: jsonPatch([
          { op: 'replace', path: '/spec/ports/0/port', value: port },
          { op: 'replace', path: '/spec/ports/0/targetPort', value: port },
        ]),
      },
    );
  }
  return {
    apiVersion: KUSTOMIZE_API,
    kind: 'Kustomization',
    namespace: config.namespace,
    resources: [`lib/overlays/${config.mode}`, ...(cluster ? ['lib/nats'] : []), ...config.nodes.map((n) => nodeDir(n.name))],
    images: [imageOverride('infra-offload', config.image), ...(cluster ? [imageOverride('nats', config.nats.image)] : [])],
    ...(cluster
      ? {
          configMapGenerator: [{ name: GENERATED_NAMES.natsConfig, files: ['nats/nats-server.conf'] }],
          secretGenerator: [tlsSecret(GENERATED_NAMES.natsTls, 'nats/tls')],
        }
      : {}),
    ...(patches.length > 0 ? { patches } : {}),
  };
}

/** A kustomization as YAML, with a header saying where it came from. */
export function kustomizationText(value: Record<string, unknown>, what: string): string {
  return `# Generated by bin/render-config (${what}): edit the deployment configuration and render again.\n${stringify(value, { lineWidth: 0 })}`;
}
