/**
 * Bundles the CNI plugin (bin/cni-plugin.ts) into one CommonJS file with a node shebang: what a
 * container runtime execs from its CNI bin directory once per pod operation. CommonJS, not ESM:
 * Node 20 loads a CJS file a few milliseconds faster, and the exec is on every pod's start-up
 * path. `install` copies it to a CNI bin directory (mode 0755) as `infra-cni`.
 *
 * @example
 * await bundleCniPlugin('dist/cni/infra-cni.cjs');
 * // node --import tsx deploy/cni/bundle.ts [--install /opt/cni/bin]
 */
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The repository root, from sources or from dist/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The plugin's file name in a CNI bin directory (the netconf's "type"). */
export const PLUGIN_TYPE = 'infra-cni';

/** Writes the bundle to `outfile` (made executable); returns its path. */
export async function bundleCniPlugin(outfile: string): Promise<string> {
  await mkdir(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(repoRoot(), 'bin/cni-plugin.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'silent',
  });
  await chmod(outfile, 0o755);
  return outfile;
}

/** Copies a bundle into a CNI bin directory as `infra-cni`. */
export async function installCniPlugin(bundle: string, binDir: string): Promise<string> {
  await mkdir(binDir, { recursive: true });
  const target = join(binDir, PLUGIN_TYPE);
  await copyFile(bundle, target);
  await chmod(target, 0o755);
  return target;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await bundleCniPlugin(join(repoRoot(), 'dist/cni/infra-cni.cjs'));
  const at = process.argv.indexOf('--install');
  if (at > 0) {
    const dir = process.argv[at + 1];
    if (!dir) {
      console.error('--install needs a directory, e.g. --install /opt/cni/bin');
      process.exit(2);
    }
    console.log(`installed ${await installCniPlugin(out, dir)}`);
  } else {
    console.log(`bundled ${out}`);
  }
}
