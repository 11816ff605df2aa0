#!/usr/bin/env node
/**
 * Creates the TAP pool before the agent starts (the seed's create_interfaces.sh):
 *
 *   create-interfaces [--prefix P4TAP_] [--count 8] [--netns NAME]
 *
 * The count must be a power of two and more than 4. TAPs already there are kept, so running it
 * again is harmless. Exit 0 on success, 1 when `ip` fails, 2 on bad input.
 *
 * @example
 * node dist/bin/create-interfaces.js --prefix P4TAP_ --count 8 --netns ioff-node-1
 */
import { parseArgs } from 'node:util';
import { createPool, execIp, PoolNameError, PoolSizeError } from '../actors/agent/pool/mod.js';

const USAGE = 'usage: create-interfaces [--prefix P4TAP_] [--count 8] [--netns NAME]';

function fail(message: string, code: number): never {
  console.error(`create-interfaces: ${message}`);
  if (code === 2) console.error(USAGE);
  process.exit(code);
}

function parse(argv: string[]): { prefix: string; count: number; netns: string | undefined } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        prefix: { type: 'string', default: 'P4TAP_' },
        count: { type: 'string', default: '8' },
        netns: { type: 'string' },
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
  const count = Number(values.count);
  if (!/^[0-9]+$/.test(values.count)) fail(`--count must be a whole number, not "${values.count}"`, 2);
  return { prefix: values.prefix, count, netns: values.netns };
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const r = await createPool(execIp, opts);
  if (!r.ok) fail(r.error.message, r.error instanceof PoolSizeError || r.error instanceof PoolNameError ? 2 : 1);
  const where = opts.netns ? `namespace ${opts.netns}` : 'the current namespace';
  console.log(`created ${r.value.created.length}, kept ${r.value.kept.length} TAP interfaces ${opts.prefix}0..${opts.prefix}${opts.count - 1} in ${where}`);
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e), 1));
