/**
 * What the deploy tests share: the example configuration in each mode, rendered once per test
 * run (certificates included) into a temporary directory; `kubectl kustomize`; and the RBAC
 * grants of a ServiceAccount read from rendered manifests.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../core/config.js';
import { ensureCertificates, renderDeployment, writeDeployment } from '../../deploy/config/render.js';
import { offloadConfigSchema, type OffloadConfig } from '../../deploy/config/schema.js';
import type { DeploymentReport } from '../../deploy/certs/deployment.js';
import type { KubeObject } from './validate.js';

const run = promisify(execFile);

export const EXAMPLE = 'deploy/config/offload.example.yaml';
export const SPLIT_EXAMPLE = 'deploy/config/offload.split.example.yaml';

/** The example's raw YAML as an object (to derive variants from). */
export async function exampleRaw(file = EXAMPLE): Promise<Record<string, unknown>> {
  return parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

export function mustParse(raw: unknown): OffloadConfig {
  const r = parseConfig(raw, offloadConfigSchema, 'test');
  if (!r.ok) throw r.error;
  return r.value;
}

export interface Rendered {
  readonly config: OffloadConfig;
  /** The output directory (k8s/, acc/ or hosts/, certs/). */
  readonly out: string;
  readonly certs: DeploymentReport;
}

const variants = new Map<string, Promise<Rendered>>();
const dirs: string[] = [];

/**
 * An example configuration rendered into a temporary directory, once per test run: 'host' (NATS
 * in the cluster), 'split' (NATS on the ACCs), 'external' (host mode, a NATS of the user's).
 */
export function rendered(variant: 'host' | 'split' | 'external'): Promise<Rendered> {
  let p = variants.get(variant);
  if (!p) {
    p = (async () => {
      const raw = variant === 'split' ? await exampleRaw(SPLIT_EXAMPLE) : await exampleRaw();
      if (variant === 'external') raw.nats = { placement: 'external', servers: ['tls://nats.example.com:4222'] };
      const config = mustParse(raw);
      const out = await mkdtemp(join(tmpdir(), `ioff-deploy-${variant}-`));
      dirs.push(out);
      const certs = await ensureCertificates(config, join(out, 'certs'));
      const files = await renderDeployment(config, { certs: certs.paths });
      if (!files.ok) throw files.error;
      await writeDeployment(out, files.value);
      return { config, out, certs };
    })();
    variants.set(variant, p);
  }
  return p;
}

/** Removes every rendering of this run (a root-level after hook calls it). */
export async function removeRendered(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  variants.clear();
}

/** The instances use kustomize's `labels` and inline `patches`: kustomize 5 (kubectl 1.27 or later). */
export const MIN_KUSTOMIZE_MAJOR = 5;

/** Said when kubectl is missing: CI machines have it, so a missing one is a failure, never a skip. */
export const NO_KUBECTL =
  'kubectl is not installed: the manifests cannot be rendered. Install kubectl 1.27 or later (its built-in kustomize is 5.x), e.g. from the Kubernetes apt repository (pkgs.k8s.io); Debian 12\'s kubernetes-client is 1.20 (kustomize 2) and too old. deploy/install-deps.sh does not install it yet.';

let kubectlChecked: Promise<void> | undefined;

/** Fails loudly (saying how to fix it) when kubectl is missing or its kustomize too old. */
export function requireKubectl(): Promise<void> {
  kubectlChecked ??= run('kubectl', ['version', '--client', '-o', 'json'], { timeout: 30_000 }).then(
    ({ stdout }) => {
      const version = (JSON.parse(stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
      const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? 0);
      if (major < MIN_KUSTOMIZE_MAJOR) throw new Error(`kubectl's built-in kustomize is ${version || 'unknown'}; the manifests need ${MIN_KUSTOMIZE_MAJOR}.x or later. ${NO_KUBECTL.replace(/^kubectl is not installed: /, '')}`);
    },
    (e: NodeJS.ErrnoException) => {
      throw new Error(e.code === 'ENOENT' ? NO_KUBECTL : `kubectl version --client failed: ${e.message}`);
    },
  );
  return kubectlChecked;
}

/** `kubectl kustomize DIR` as objects; a kustomize error is thrown with its message. */
export async function kustomize(dir: string): Promise<KubeObject[]> {
  await requireKubectl();
  let stdout: string;
  try {
    ({ stdout } = await run('kubectl', ['kustomize', dir], { timeout: 60_000, maxBuffer: 64 << 20 }));
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl kustomize ${dir}: ${err.stderr || err.message}`);
  }
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

/** One RBAC permission: verb on a resource of an API group, optionally on one name only. */
export interface Grant {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: string;
  /** '' = every object. */
  readonly name: string;
}

export const grantKey = (g: Grant): string => `${g.verb} ${g.apiGroup || 'core'}/${g.resource}${g.name ? `/${g.name}` : ''}`;

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/**
 * What a ServiceAccount may do according to the (Cluster)RoleBindings and (Cluster)Roles in
 * `objects`, expanded rule by rule into single permissions (wildcards kept as '*').
 */
export function grantsOf(objects: readonly KubeObject[], namespace: string, serviceAccount: string): Grant[] {
  const roles = new Map(objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').map((o) => [`${String(o.kind)}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`, o]));
  const out: Grant[] = [];
  for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const binding = b as unknown as { roleRef: { kind: string; name: string }; subjects?: { kind: string; name: string; namespace?: string }[] };
    if (!(binding.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount && (s.namespace ?? b.metadata?.namespace) === namespace)) continue;
    const roleNs = binding.roleRef.kind === 'ClusterRole' ? '' : (b.metadata?.namespace ?? '');
    const role = roles.get(`${binding.roleRef.kind}/${roleNs}/${binding.roleRef.name}`);
    for (const r of ((role?.rules as Rule[] | undefined) ?? [])) {
      if (r.nonResourceURLs) for (const u of r.nonResourceURLs) for (const v of r.verbs ?? []) out.push({ apiGroup: '', resource: `url:${u}`, verb: v, name: '' });
      for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs ?? []) for (const n of r.resourceNames?.length ? r.resourceNames : ['']) out.push({ apiGroup: g, resource: res, verb: v, name: n });
    }
  }
  return out;
}

// One clean-up for the whole run (mocha's root suite), whichever deploy test files ran.
if (typeof after === 'function') after(removeRendered);

/** Runs bin/render-config from the sources (as the processes' launchers do); never throws. */
export async function renderCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/render-config.ts', ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
