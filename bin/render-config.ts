#!/usr/bin/env node
/**
 * Renders a deployment from the one user-edited configuration (deploy/config/offload.example.yaml):
 *
 *   render-config --config FILE --out DIR [--certs DIR]   validate, make or renew the certificates
 *                                                          (deploy/certs; default DIR/certs), render
 *                                                          and write DIR/k8s, DIR/acc|hosts, DIR/nats
 *   render-config --config FILE --check                   validate only; writes nothing
 *   render-config --config FILE --dry-run [--json]        render in memory (throwaway certificates)
 *                                                          and list the files; writes nothing
 *
 * A problem in the file is reported with its field (`nodes.1.podCidr: overlaps …`) and exits 2
 * before anything is written; a failure after that (certificates, disk) exits 1 and leaves the
 * previous rendering in place. See deploy/config/render.ts for the output's layout.
 *
 * @example
 * node dist/bin/render-config.js --config /root/offload.yaml --out /root/infra-offload
 * kubectl apply -k /root/infra-offload/k8s
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../core/config.js';
import { checkOutputDir, ensureCertificates, renderDeployment, writeDeployment, type RenderedFile } from '../deploy/config/render.js';
import { offloadConfigSchema, type OffloadConfig } from '../deploy/config/schema.js';

const USAGE = 'usage: render-config --config FILE (--out DIR [--certs DIR] | --check | --dry-run) [--json]';

function fail(message: string, code: number): never {
  console.error(`render-config: ${message}`);
  if (code === 2 && !message.includes('\n')) console.error(USAGE);
  process.exit(code);
}

function parse(): { config: string; out?: string; certs?: string; check: boolean; dryRun: boolean; json: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        out: { type: 'string', short: 'o' },
        certs: { type: 'string' },
        check: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    fail((e as Error).message, 2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.config) fail('--config FILE is required', 2);
  const modes = [values.out !== undefined, values.check, values['dry-run']].filter(Boolean).length;
  if (modes !== 1) fail('give exactly one of --out DIR, --check, --dry-run', 2);
  if (values.certs !== undefined && values.out === undefined) fail('--certs goes with --out', 2);
  return {
    config: values.config,
    ...(values.out !== undefined ? { out: values.out } : {}),
    ...(values.certs !== undefined ? { certs: values.certs } : {}),
    check: values.check,
    dryRun: values['dry-run'],
    json: values.json,
  };
}

function summary(config: OffloadConfig, files: readonly RenderedFile[]): Record<string, unknown> {
  const tops = new Map<string, number>();
  for (const f of files) tops.set(f.path.split('/')[0]!, (tops.get(f.path.split('/')[0]!) ?? 0) + 1);
  return { mode: config.mode, nats: config.nats.placement, nodes: config.nodes.map((n) => n.name), files: Object.fromEntries(tops) };
}

async function main(): Promise<void> {
  const args = parse();
  const loaded = await loadConfigFile(args.config, offloadConfigSchema);
  if (!loaded.ok) fail(loaded.error.message, 2);
  const config = loaded.value;
  if (args.check) {
    console.log(args.json ? JSON.stringify({ valid: true, ...summary(config, []) }) : `${args.config}: valid (${config.mode} mode, ${config.nodes.length} nodes, NATS ${config.nats.placement})`);
    return;
  }
  if (args.out !== undefined) {
    // Before the certificates are made in it: an unsuitable directory changes nothing.
    const usable = await checkOutputDir(args.out);
    if (!usable.ok) fail(usable.error.message, 1);
  }
  const scratch = args.dryRun ? await mkdtemp(join(tmpdir(), 'render-config-')) : undefined;
  try {
    const certsDir = scratch ?? resolve(args.certs ?? join(args.out!, 'certs'));
    const certs = await ensureCertificates(config, certsDir);
    const rendered = await renderDeployment(config, { certs: certs.paths });
    if (!rendered.ok) fail(rendered.error.message, 1);
    const files = rendered.value;
    if (args.dryRun) {
      if (args.json) console.log(JSON.stringify({ ...summary(config, files), paths: files.map((f) => f.path) }));
      else for (const f of files) console.log(`${f.mode.toString(8).padStart(4, '0')} ${f.path}`);
      return;
    }
    await writeDeployment(args.out!, files);
    const out = resolve(args.out!);
    const renewed = certs.actions.filter((a) => a.action !== 'kept');
    if (args.json) {
      console.log(JSON.stringify({ out, certs: certsDir, certificates: renewed, ...summary(config, files) }));
      return;
    }
    for (const a of renewed) console.log(`certificate ${a.action.padEnd(7)} ${a.file}${a.reason ? `  (${a.reason})` : ''}`);
    console.log(`rendered ${files.length} files into ${out} (${config.mode} mode, NATS ${config.nats.placement}; certificates in ${certsDir})`);
    console.log(`\nKubernetes:  kubectl apply -k ${join(out, 'k8s')}`);
    for (const n of config.nodes) {
      if (config.mode === 'split') console.log(`ACC of ${n.name}: rsync -a ${join(out, 'acc', n.name)}/ root@${n.acc!.address}:/`);
    }
    if (config.nats.placement === 'external') console.log(`your nats-server: include ${join(out, 'nats/etc/infra-offload/nats-auth.conf')} (copy nats/ to its root)`);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e), 1));
