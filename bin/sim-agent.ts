#!/usr/bin/env node
/**
 * The real agent — the same tree, pool, pod actors, CNI service and watches as bin/agent — on a
 * synthetic kernel (simulations/kernel/) instead of iproute2, so a simulator runs many nodes'
 * pods without TAPs or root. The kernel lives in `--kernel-dir` and outlives this process: kill
 * it with -9, start it again with the same flags, and it finds its TAPs where it left them.
 *
 *   sim-agent --config agent.yaml --kernel-dir DIR [--kernel-seed N] [--pool N]
 *
 * - `--config`: the usual agent configuration, with a `pods` section whose `poolNetns`,
 *   `gatewayNetns` and `prefix` name namespaces and TAPs of the synthetic kernel.
 * - `--kernel-seed`: the seed of the kernel's MACs when the directory holds no kernel yet
 *   (default 1): the same seed and the same history give the same MACs.
 * - `--pool N`: make the pool namespace and N TAPs once per kernel (as bin/create-interfaces
 *   would before a real agent); later starts leave the kernel as they find it.
 *
 * Pod namespaces are the kernel directory's markers (createNamespace/deleteNamespace in
 * simulations/kernel/synthetic-ip.ts): give the agent `<kernel-dir>/netns/<name>` as CNI_NETNS.
 * The agent checks namespaces through the kernel (IpRunner.netns), so the pool and gateway
 * namespaces are the kernel's too. No address, route or link of the machine is
 * ever touched. Exit 2 on bad flags, a configuration without `pods`, or an unusable kernel
 * directory; otherwise as bin/agent.
 *
 * @example
 * node dist/bin/sim-agent.js --config run/node-1/agent.yaml --kernel-dir run/node-1/kernel --kernel-seed 7 --pool 16
 */
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../core/config.js';
import { agentConfigSchema } from '../actors/process-config.js';
import { checkPoolSize } from '../actors/agent/pool/size.js';

const USAGE = 'usage: sim-agent --config FILE --kernel-dir DIR [--kernel-seed N] [--pool N]';

function fail(message: string): never {
  console.error(`sim-agent: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

function parse(): { config: string; kernelDir: string; seed: number; pool: number | undefined } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        'kernel-dir': { type: 'string' },
        'kernel-seed': { type: 'string', default: '1' },
        pool: { type: 'string' },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (!values.config) fail('missing --config FILE');
  if (!values['kernel-dir']) fail('missing --kernel-dir DIR');
  const seedText = values['kernel-seed'];
  if (!/^-?[0-9]{1,10}$/.test(seedText) || Math.abs(Number(seedText)) > 0x7fffffff) fail(`--kernel-seed must be a 32-bit integer, not "${seedText}"`);
  let pool: number | undefined;
  if (values.pool !== undefined) {
    pool = /^[0-9]{1,7}$/.test(values.pool) ? Number(values.pool) : NaN;
    const sized = checkPoolSize(pool);
    if (!sized.ok) fail(`--pool: ${sized.error.message}`);
  }
  return { config: values.config, kernelDir: values['kernel-dir'], seed: Number(seedText), pool };
}

const args = parse();
const loaded = await loadConfigFile(args.config, agentConfigSchema);
if (!loaded.ok) fail(loaded.error.message);
const pods = loaded.value.pods;
if (!pods) fail(`${args.config} has no pods section: a synthetic kernel has nothing to do`);

// The agent and the kernel load only once the flags and the configuration are known to be good.
const [{ SyntheticKernel }, { bootstrapPool }, { createLogs }, { agentTree }, { runProcess }] = await Promise.all([
  import('../simulations/kernel/synthetic-ip.js'),
  import('../simulations/kernel/bootstrap.js'),
  import('../core/logger.js'),
  import('../actors/agent/tree.js'),
  import('../actors/run-process.js'),
]);
const opened = await SyntheticKernel.open({ kernelDir: args.kernelDir, seed: args.seed });
if (!opened.ok) fail(opened.error.message);
const kernel = opened.value;
const log = createLogs(loaded.value.logging, 'agent').for('kernel');
if (args.pool !== undefined) {
  const made = await bootstrapPool(kernel, { prefix: pods.prefix, count: args.pool, ...(pods.poolNetns ? { netns: pods.poolNetns } : {}) });
  if (!made.ok) fail(`making the pool: ${made.error.message}`);
  if (made.value) log.info({ created: made.value.created.length, netns: pods.poolNetns ?? null }, 'pool created in the synthetic kernel');
}
log.info({ kernelDir: args.kernelDir, created: kernel.created, seed: args.seed }, 'synthetic kernel ready');

// runProcess reads --config from the command line: give it exactly that.
process.argv.splice(2, process.argv.length - 2, '--config', args.config);
await runProcess('agent', agentConfigSchema, (deps) => agentTree({ ...deps, ip: kernel }).supervisor);
