/**
 * The agent stand-in as a process of its own (so the manager can be killed while it keeps the
 * truth), driven over stdin/stdout with JSON lines:
 *
 *   argv:   --nats URL --node NAME --seed N [--heartbeat-ms 100] [--pods 200] [--services 100]
 *           [--rounds 24] [--concurrency 16]
 *   stdout: {"ready":true,"instanceId":"…"}
 *   stdin:  {"cmd":"round","index":3,"mark":40}   run round 3 of the seeded workload;
 *   stdout: {"event":"mark","index":3}             once 40 of its requests were answered;
 *           {"event":"round.done","index":3,"outcome":{…},"truth":{…FullState}}
 *   stdin:  {"cmd":"stop"}                          stop serving and exit 0
 *
 * @example
 * node --import tsx simulations/agent-standin-process.ts --nats nats://127.0.0.1:4222 --node node-1 --seed 7
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AgentStandin } from './agent-standin.js';
import { buildWorkload } from './workload.js';

const { values } = parseArgs({
  options: {
    nats: { type: 'string' },
    node: { type: 'string', default: 'node-1' },
    seed: { type: 'string', default: '1' },
    'heartbeat-ms': { type: 'string', default: '100' },
    pods: { type: 'string', default: '200' },
    services: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '24' },
    concurrency: { type: 'string', default: '16' },
  },
});
if (!values.nats) {
  console.error('agent-standin: --nats URL is required');
  process.exit(2);
}
const node = values.node;
const seed = Number(values.seed);
const rounds = buildWorkload({ node, seed, pods: Number(values.pods), services: Number(values.services), rounds: Number(values.rounds) });
const standin = await AgentStandin.start({
  servers: values.nats,
  node,
  seed,
  heartbeatMs: Number(values['heartbeat-ms']),
  concurrency: Number(values.concurrency),
});
const say = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');
say({ ready: true, instanceId: standin.instanceId, rounds: rounds.length });

let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd: { cmd?: string; index?: number; mark?: number };
  try {
    cmd = JSON.parse(line) as typeof cmd;
  } catch {
    return;
  }
  queue = queue.then(async () => {
    if (cmd.cmd === 'stop') {
      await standin.stop();
      process.exit(0);
    }
    if (cmd.cmd !== 'round' || cmd.index === undefined || !rounds[cmd.index]) return;
    const index = cmd.index;
    let base: number | undefined;
    standin.onAnswered = (count) => {
      base ??= count - 1;
      if (cmd.mark !== undefined && count - base === cmd.mark) say({ event: 'mark', index });
    };
    const outcome = await standin.run(rounds[index]!);
    standin.onAnswered = undefined;
    say({ event: 'round.done', index, outcome, truth: standin.truth.fullState() });
  });
});
process.once('SIGTERM', () => void standin.stop().then(() => process.exit(0)));
