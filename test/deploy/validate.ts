/**
 * Validation of rendered Kubernetes objects without a cluster, in three layers:
 *
 * 1. **Schema**: every object against the Kubernetes OpenAPI schema of its kind, with
 *    kubernetes-models (+ @kubernetes-models/validate): types, required fields, enums, formats.
 * 2. **Unknown fields**: what `kubectl apply --validate=strict` refuses and the OpenAPI schema
 *    lets through (it does not forbid extra properties): a field the API does not know, e.g. a
 *    typo such as `hostNetwrok`, checked against @kubernetes/client-node's model type map.
 * 3. **The API server's own rules** that no schema expresses, for what these manifests use: a
 *    selector matching its template, volume mounts naming a volume, Bidirectional propagation
 *    only in a privileged container, allowPrivilegeEscalation: false never with privileged or
 *    SYS_ADMIN, host ports equal to container ports on the host network, names and label values
 *    in their formats — and, for a whole instance, that every ConfigMap, Secret, ServiceAccount
 *    and ClusterRole referenced is in the set.
 *
 * @example
 * const problems = await validateObjects(objects, { references: true });
 * expect(problems).to.deep.equal([]);
 */
import * as k8s from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface Problem {
  /** kind/name (namespace/name for namespaced objects). */
  readonly object: string;
  readonly message: string;
}

export function objectId(o: KubeObject): string {
  return `${o.kind ?? '?'}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

const models = new Map<string, ModelClass | undefined>();

/** The kubernetes-models class of an apiVersion/kind ("apps/v1" DaemonSet → kubernetes-models/apps/v1/DaemonSet). */
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const key = `${apiVersion}/${kind}`;
  if (!models.has(key)) {
    let cls: ModelClass | undefined;
    if (/^[a-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion) && /^[A-Z][A-Za-z0-9]*$/.test(kind)) {
      try {
        const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
        cls = mod[kind] as ModelClass | undefined;
      } catch {
        cls = undefined;
      }
    }
    models.set(key, cls);
  }
  return models.get(key);
}

/**
 * The object as the API server decodes it: Secret data is base64 that kustomize wraps at 76
 * columns, and Go's decoder ignores the line breaks (the schema's "byte" format does not).
 */
function forDecoding(o: KubeObject): KubeObject {
  if (o.kind !== 'Secret' || typeof o.data !== 'object' || o.data === null) return o;
  return { ...o, data: Object.fromEntries(Object.entries(o.data as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v])) };
}

/** Layer 1: the OpenAPI schema of the object's kind. */
async function schemaProblems(o: KubeObject): Promise<string[]> {
  const Model = await modelFor(String(o.apiVersion ?? ''), String(o.kind ?? ''));
  if (!Model) return [`unknown apiVersion/kind ${String(o.apiVersion)}/${String(o.kind)}`];
  try {
    new Model(forDecoding(o)).validate();
    return [];
  } catch (e) {
    return [`schema: ${(e as Error).message}`];
  }
}

type AttributeMap = { baseName: string; type: string }[];
const PRIMITIVES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString', 'RuntimeRawExtension']);

function attributes(type: string): AttributeMap | undefined {
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap } | undefined>)[type];
  return cls?.getAttributeTypeMap?.();
}

/** Layer 2: fields the API does not know (kubectl --validate=strict). */
function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined || PRIMITIVES.has(type)) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const attrs = attributes(type);
  if (!attrs || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const a = attrs.find((x) => x.baseName === key);
    if (!a) out.push(`unknown field ${path ? `${path}.` : ''}${key}`);
    else unknownFields(v, a.type, path ? `${path}.${key}` : key, out);
  }
}

/** The client-node model of an apiVersion/kind: V1DaemonSet, V1ClusterRole… */
function typeOf(o: KubeObject): string | undefined {
  const version = String(o.apiVersion ?? '').split('/').pop() ?? '';
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${String(o.kind ?? '')}`;
  return attributes(name) ? name : undefined;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAMES = new Set(['Namespace', 'Service']);

interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
  hostNetwork?: boolean;
  serviceAccountName?: string;
}
interface Container {
  name: string;
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string }[];
  ports?: { containerPort: number; hostPort?: number }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: { privileged?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { add?: string[] } };
}

/** The pod template of a workload, if it is one. */
export function podSpecOf(o: KubeObject): PodSpec | undefined {
  const spec = o.spec as { template?: { spec?: PodSpec } } | undefined;
  return ['DaemonSet', 'StatefulSet', 'Deployment', 'Job'].includes(String(o.kind)) ? spec?.template?.spec : undefined;
}

/** Layer 3: the API server's validation rules that the schema does not carry. */
function apiRules(o: KubeObject): string[] {
  const out: string[] = [];
  const name = o.metadata?.name ?? '';
  const nameRule = LABEL_NAMES.has(String(o.kind)) ? DNS_LABEL : DNS_SUBDOMAIN;
  if (!nameRule.test(name) || name.length > (LABEL_NAMES.has(String(o.kind)) ? 63 : 253)) out.push(`metadata.name "${name}" is not a valid name for a ${String(o.kind)}`);
  for (const [k, v] of Object.entries(o.metadata?.labels ?? {})) if (v.length > 63 || !LABEL_VALUE.test(v)) out.push(`label ${k}: "${v}" is not a valid label value`);
  const pod = podSpecOf(o);
  if (!pod) return out;
  const spec = o.spec as { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } } };
  const labels = spec.template?.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(spec.selector?.matchLabels ?? {})) if (labels[k] !== v) out.push(`spec.selector ${k}=${v} does not match the template's labels`);
  const volumes = new Set<string>();
  for (const v of pod.volumes ?? []) {
    if (volumes.has(v.name)) out.push(`volume ${v.name} is defined twice`);
    volumes.add(v.name);
  }
  const names = new Set<string>();
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    if (names.has(c.name)) out.push(`container name ${c.name} is used twice`);
    names.add(c.name);
    const sc = c.securityContext ?? {};
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) out.push(`container ${c.name} mounts ${m.name}, which is not a volume`);
      if (m.mountPropagation === 'Bidirectional' && sc.privileged !== true) out.push(`container ${c.name}: Bidirectional mount propagation of ${m.name} needs a privileged container`);
    }
    if (sc.allowPrivilegeEscalation === false && (sc.privileged === true || (sc.capabilities?.add ?? []).some((cap) => cap.replace(/^CAP_/, '') === 'SYS_ADMIN'))) {
      out.push(`container ${c.name}: allowPrivilegeEscalation false is refused with privileged or CAP_SYS_ADMIN`);
    }
    if (pod.hostNetwork) for (const p of c.ports ?? []) if (p.hostPort !== undefined && p.hostPort !== p.containerPort) out.push(`container ${c.name}: with hostNetwork, hostPort ${p.hostPort} must equal containerPort ${p.containerPort}`);
  }
  return out;
}

/** For a whole instance: every object a workload or binding names is in the set. */
function referenceProblems(objects: readonly KubeObject[]): Problem[] {
  const have = new Set(objects.map((o) => `${String(o.kind)}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`));
  const namespaces = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata?.name));
  const out: Problem[] = [];
  const need = (o: KubeObject, kind: string, ns: string, name: string, why: string): void => {
    if (!have.has(`${kind}/${ns}/${name}`)) out.push({ object: objectId(o), message: `${why}: ${kind} ${ns ? `${ns}/` : ''}${name} is not in the manifests` });
  };
  for (const o of objects) {
    const ns = o.metadata?.namespace ?? '';
    if (ns !== '' && !namespaces.has(ns)) out.push({ object: objectId(o), message: `namespace ${ns} is not in the manifests` });
    const pod = podSpecOf(o);
    if (pod) {
      if (pod.serviceAccountName) need(o, 'ServiceAccount', ns, pod.serviceAccountName, 'serviceAccountName');
      for (const v of pod.volumes ?? []) {
        if (v.configMap) need(o, 'ConfigMap', ns, v.configMap.name, `volume ${v.name}`);
        if (v.secret) need(o, 'Secret', ns, v.secret.secretName, `volume ${v.name}`);
      }
      for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef) need(o, 'ConfigMap', ns, e.configMapRef.name, `container ${c.name} envFrom`);
          if (e.secretRef) need(o, 'Secret', ns, e.secretRef.name, `container ${c.name} envFrom`);
        }
      }
    }
    if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') {
      const b = o as unknown as { roleRef: { kind: string; name: string }; subjects?: { kind: string; name: string; namespace?: string }[] };
      need(o, b.roleRef.kind, b.roleRef.kind === 'ClusterRole' ? '' : ns, b.roleRef.name, 'roleRef');
      for (const s of b.subjects ?? []) if (s.kind === 'ServiceAccount') need(o, 'ServiceAccount', s.namespace ?? ns, s.name, 'subject');
    }
  }
  return out;
}

/**
 * Every problem of a set of objects, in the three layers above; `references` also checks that
 * what the objects name is in the set (for a whole instance, not for a template overlay).
 */
export async function validateObjects(objects: readonly KubeObject[], options: { references?: boolean } = {}): Promise<Problem[]> {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    const id = objectId(o);
    if (seen.has(id)) out.push({ object: id, message: 'defined twice' });
    seen.add(id);
    const messages = await schemaProblems(o);
    const type = typeOf(o);
    if (type) unknownFields(o, type, '', messages);
    messages.push(...apiRules(o));
    for (const message of messages) out.push({ object: id, message });
  }
  if (options.references) out.push(...referenceProblems(objects));
  return out;
}
