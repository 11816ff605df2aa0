/**
 * Builds the TAP I/O addon (tap.c) into dist/native/tap.node with the system C compiler and
 * Node's own headers; no node-gyp. Idempotent: nothing happens while the output is newer than
 * the source. Run directly as a CLI: `node --import tsx p4/target/tap/build.ts`.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

/** The repository root: the nearest folder above this module holding package.json (also from dist/). */
function repoRoot(): string {
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${here}`);
  }
}

/**
 * Where the source is and where the addon goes.
 *
 * @example
 * tapAddonPaths().output; // '/…/dist/native/tap.node'
 */
export function tapAddonPaths(): { readonly source: string; readonly output: string } {
  const root = repoRoot();
  return { source: join(root, 'p4', 'target', 'tap', 'tap.c'), output: join(root, 'dist', 'native', 'tap.node') };
}

/**
 * The folder holding node_api.h: next to this Node's binary, else Debian's; throws naming both.
 *
 * @example
 * nodeIncludeDir(); // '/usr/include/node'
 */
export function nodeIncludeDir(): string {
  const candidates = [resolve(process.execPath, '../../include/node'), '/usr/include/node'];
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  if (found === undefined) {
    throw new Error(`node_api.h not found in ${candidates.join(' or ')}: install Node's headers (NodeSource's nodejs ships them; Debian's nodejs needs libnode-dev)`);
  }
  return found;
}

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Compiles tap.c unless dist/native/tap.node is newer; returns the addon's path. Writes to a
 * temporary file and renames it, so a concurrent build or load never sees half a file. Throws
 * (with the compiler's output) when headers or the compiler are missing or compilation fails.
 *
 * @example
 * const addon = await buildTapAddon(); // '/…/dist/native/tap.node'
 */
export async function buildTapAddon(): Promise<string> {
  const { source, output } = tapAddonPaths();
  const built = mtime(output);
  const src = mtime(source);
  if (src === undefined) {
    if (built !== undefined) return output; // deployed without sources
    throw new Error(`${source} is missing`);
  }
  if (built !== undefined && built > src) return output;
  const include = nodeIncludeDir();
  await mkdir(dirname(output), { recursive: true });
  const tmp = `${output}.${process.pid}.tmp`;
  try {
    await run('cc', ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${include}`, source, '-o', tmp], { timeout: 120_000 });
    await rename(tmp, output);
  } catch (e) {
    await rm(tmp, { force: true });
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`building ${output} failed${stderr ? `:\n${stderr}` : `: ${(e as Error).message}`}`, { cause: e });
  }
  return output;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  buildTapAddon().then(
    (path) => console.error(`[tap] addon ready: ${path}`),
    (e: unknown) => {
      console.error(`[tap] ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
