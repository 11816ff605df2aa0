/**
 * Renders a whole deployment from the one user-edited configuration (schema.ts):
 *
 *   <out>/k8s/                  kubectl apply -k <out>/k8s  (kustomize.ts)
 *     kustomization.yaml        the instance: the mode's overlay, NATS, one entry per node
 *     lib/                      a copy of deploy/k8s (so the instance stands alone)
 *     nodes/<node>/             agent.yaml, manager.yaml (host), the CNI network list, TLS inputs
 *     nats/                     nats-server.conf and its TLS inputs (placement cluster)
 *   <out>/acc/<node>/           split mode: a tree for the ACC's root (node-files.ts)
 *   <out>/hosts/<node>/         host mode: a tree for the host's P4Runtime target
 *   <out>/nats/                 placement external: the include for your nats-server
 *
 * The certificates come from the certificate tool (deploy/certs), run here with the names the
 * configuration implies (what each client dials); it keeps what is still good. Everything is
 * rendered in memory and checked with the processes' own loaders before a file is written, and
 * the output's directories are replaced whole, so a failure leaves the previous rendering as it was.
 *
 * @example
 * const certs = await ensureCertificates(config, '/root/infra-offload/certs');
 * const files = await renderDeployment(config, { certs: certs.paths });
 * if (files.ok) await writeDeployment('/root/infra-offload', files.value);
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { err, ok, type Result } from '../../core/result.js';
import { generateDeployment, type DeploymentPaths, type DeploymentReport } from '../certs/deployment.js';
import { ensurePrivateDir, writeAtomic } from '../certs/files.js';
import { kustomizationText, nodeDir, nodeKustomization, nodeSecrets, rootKustomization } from './kustomize.js';
import { CNI } from './layout.js';
import { clusterNatsConfig, natsSans } from './nats-config.js';
import { accTree, externalNatsTree, FILE_MODE, hostTree, SECRET_MODE, type CertReader, type RenderedFile, type Units } from './node-files.js';
import { agentConfig, checkRendered, conflist, GENERATED, managerConfig, RenderError } from './process-configs.js';
import type { OffloadConfig } from './schema.js';

export { RenderError } from './process-configs.js';
export type { RenderedFile } from './node-files.js';

/** The top-level directories of the output the renderer owns (replaced whole on every run). */
export const OUTPUT_DIRS = ['k8s', 'acc', 'hosts', 'nats'] as const;
/** Marks a directory as the renderer's output, so a later run may replace its directories. */
export const OUTPUT_MARKER = '.infra-offload-render';

/**
 * Refuses an output directory that holds anything but an earlier rendering (or only the
 * certificates): replacing `hosts/` of `--out /etc` would delete /etc/hosts.
 */
export async function checkOutputDir(outDir: string): Promise<Result<void, RenderError>> {
  const out = resolve(outDir);
  let entries: string[];
  try {
    entries = await readdir(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(new RenderError(`${out}: ${(e as Error).message}`));
  }
  if (entries.includes(OUTPUT_MARKER) || entries.every((e) => e === 'certs')) return ok(undefined);
  return err(new RenderError(`${out} holds other files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}) and no earlier rendering: choose an empty or new directory`));
}

/** The repository root, from sources or from dist/ (deploy/k8s and deploy/acc are read from it). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Makes or refreshes the deployment's certificates (deploy/certs) with the names this configuration needs. */
export function ensureCertificates(config: OffloadConfig, certsDir: string): Promise<DeploymentReport> {
  return generateDeployment({
    outDir: certsDir,
    nodes: config.nodes.map((n) => n.name),
    operators: config.operators,
    natsSans: natsSans(config),
    namespace: config.namespace,
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** deploy/k8s as lib/ files of the instance, and deploy/acc's units. */
async function readLibrary(root: string): Promise<{ lib: RenderedFile[]; units: Units }> {
  const k8s = join(root, 'deploy', 'k8s');
  const lib: RenderedFile[] = [];
  for (const f of await filesUnder(k8s)) {
    lib.push({ path: `k8s/lib/${relative(k8s, f)}`, content: await readFile(f, 'utf8'), mode: f.endsWith('.sh') ? 0o755 : FILE_MODE });
  }
  const units: Record<string, string> = {};
  const acc = join(root, 'deploy', 'acc');
  for (const f of await filesUnder(acc)) if (f.endsWith('.service')) units[relative(acc, f)] = await readFile(f, 'utf8');
  return { lib, units };
}

/** Every certificate file of the layout, read once (rendering itself is synchronous). */
async function certReader(certs: DeploymentPaths, config: OffloadConfig): Promise<CertReader> {
  const files = [certs.busCa.cert, certs.p4Ca.cert, certs.natsServer.cert, certs.natsServer.key];
  for (const n of config.nodes) {
    for (const kind of ['agent', 'manager'] as const) files.push(certs.identity({ kind, node: n.name }).cert, certs.identity({ kind, node: n.name }).key);
    files.push(certs.target(n.name).cert, certs.target(n.name).key, certs.p4Manager(n.name).cert, certs.p4Manager(n.name).key);
  }
  const text = new Map<string, string>();
  for (const f of files) text.set(f, await readFile(f, 'utf8'));
  return (file) => {
    const t = text.get(file);
    if (t === undefined) throw new RenderError(`certificate file ${file} was not read`);
    return t;
  };
}

const yamlFile = (path: string, value: Record<string, unknown>, mode = FILE_MODE): RenderedFile => ({ path, content: GENERATED + stringify(value, { lineWidth: 0 }), mode });

/** The TLS Secret inputs of one node (tls.crt, tls.key, ca.crt per Secret). */
function nodeTls(config: OffloadConfig, node: string, certs: DeploymentPaths, read: CertReader): RenderedFile[] {
  const sources = {
    'agent-bus': { pair: certs.identity({ kind: 'agent', node }), ca: certs.busCa.cert },
    'manager-bus': { pair: certs.identity({ kind: 'manager', node }), ca: certs.busCa.cert },
    'manager-p4': { pair: certs.p4Manager(node), ca: certs.p4Ca.cert },
  };
  return nodeSecrets(config).flatMap((s) => {
    const dir = `k8s/${nodeDir(node)}/tls/${s}`;
    return [
      { path: `${dir}/tls.crt`, content: read(sources[s].pair.cert), mode: FILE_MODE },
      { path: `${dir}/tls.key`, content: read(sources[s].pair.key), mode: SECRET_MODE },
      { path: `${dir}/ca.crt`, content: read(sources[s].ca), mode: FILE_MODE },
    ];
  });
}

/** Every file of the deployment, in memory, each configuration checked by its own loader. */
export async function renderDeployment(config: OffloadConfig, options: { certs: DeploymentPaths; repoRoot?: string }): Promise<Result<RenderedFile[], RenderError>> {
  const { lib, units } = await readLibrary(options.repoRoot ?? repoRoot());
  const read = await certReader(options.certs, config);
  try {
    const files: RenderedFile[] = [...lib, { path: 'k8s/kustomization.yaml', content: kustomizationText(rootKustomization(config), 'the instance'), mode: FILE_MODE }];
    for (const node of config.nodes) {
      const dir = `k8s/${nodeDir(node.name)}`;
      const agent = agentConfig(config, node);
      const cni = conflist(config, node);
      const checks = [checkRendered('agent', agent, `${dir}/agent.yaml`), checkRendered('conflist', cni, `${dir}/${CNI.conflistName}`)];
      files.push(
        { path: `${dir}/kustomization.yaml`, content: kustomizationText(nodeKustomization(config, node), `node ${node.name}`), mode: FILE_MODE },
        yamlFile(`${dir}/agent.yaml`, agent),
        { path: `${dir}/${CNI.conflistName}`, content: `${JSON.stringify(cni, null, 2)}\n`, mode: FILE_MODE },
        ...nodeTls(config, node.name, options.certs, read),
      );
      const manager = managerConfig(config, node);
      checks.push(checkRendered('manager', manager, config.mode === 'host' ? `${dir}/manager.yaml` : `acc/${node.name}/etc/infra-offload/manager.yaml`));
      if (config.mode === 'host') files.push(yamlFile(`${dir}/manager.yaml`, manager), ...hostTree(config, node, options.certs, read, units));
      else files.push(...accTree(config, node, options.certs, read, units));
      for (const c of checks) if (!c.ok) return c;
    }
    if (config.nats.placement === 'cluster') {
      files.push(
        { path: 'k8s/nats/nats-server.conf', content: clusterNatsConfig(config), mode: FILE_MODE },
        { path: 'k8s/nats/tls/tls.crt', content: read(options.certs.natsServer.cert), mode: FILE_MODE },
        { path: 'k8s/nats/tls/tls.key', content: read(options.certs.natsServer.key), mode: SECRET_MODE },
        { path: 'k8s/nats/tls/ca.crt', content: read(options.certs.busCa.cert), mode: FILE_MODE },
      );
    }
    if (config.nats.placement === 'external') files.push(...externalNatsTree(config, options.certs, read));
    return ok(files);
  } catch (e) {
    if (e instanceof RenderError) return err(e);
    throw e;
  }
}

/**
 * Writes the files under `outDir`: each top-level directory (k8s, acc, hosts, nats) is built
 * beside the old one and swapped in whole, so stale files (a node removed from the
 * configuration) go and a failure leaves the previous rendering. Directories are 0700 (keys
 * inside); anything else in `outDir` (the certificates) is left alone.
 */
export async function writeDeployment(outDir: string, files: readonly RenderedFile[]): Promise<void> {
  const out = resolve(outDir);
  const usable = await checkOutputDir(out);
  if (!usable.ok) throw usable.error;
  await ensurePrivateDir(out);
  await writeFile(join(out, OUTPUT_MARKER), 'Written by bin/render-config: k8s/, acc/, hosts/ and nats/ here are replaced on every run.\n');
  for (const top of OUTPUT_DIRS) {
    const st = await lstat(join(out, top)).catch(() => undefined);
    if (st && !st.isDirectory()) throw new RenderError(`${join(out, top)} is not a directory the renderer wrote`);
  }
  const stage = join(out, `.render-${randomBytes(4).toString('hex')}`);
  try {
    for (const f of files) {
      const top = f.path.split('/')[0]!;
      if (!(OUTPUT_DIRS as readonly string[]).includes(top) || f.path.split('/').includes('..')) throw new RenderError(`refusing to write ${f.path}`);
      const target = join(stage, f.path);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await writeAtomic(target, f.content, f.mode);
    }
    const old = join(stage, '.old');
    await mkdir(old);
    const moved: string[] = [];
    try {
      for (const top of OUTPUT_DIRS) {
        if (existsSync(join(out, top))) {
          await rename(join(out, top), join(old, top));
          moved.push(top);
        }
        if (existsSync(join(stage, top))) await rename(join(stage, top), join(out, top));
      }
    } catch (e) {
      // Put back what was there (the staged copy of a directory may already be in place).
      for (const top of moved) if (!existsSync(join(out, top))) await rename(join(old, top), join(out, top));
      throw e;
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
