/**
 * The infra-offload CNI plugin, exec'd by the container runtime once per pod operation
 * (bundled to dist/cni/infra-cni.cjs by `npm run build:cni`, deploy/cni/bundle.ts). Reads stdin, runs the command
 * named by CNI_COMMAND, prints the result or the CNI error JSON, exits 0 or 1.
 */
import { runPlugin } from '../cni/plugin.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// No top-level await: the bundle is CommonJS (it loads faster).
void (async () => {
  const stdin = await readStdin().catch(() => '');
  const { stdout, exitCode } = await runPlugin(process.env, stdin);
  process.stdout.write(stdout, () => process.exit(exitCode));
})();
