/**
 * npm run fuzz:bus -- --cases N [--seed S] [--concurrency C]
 *
 * Starts a local node (nats-server, manager and agent processes), sends N random byte strings
 * and N malformed protobuf messages to every subject they serve, with valid probes interleaved,
 * and checks that every malformed request got its typed error, every probe succeeded, and both
 * processes are the same ones with the same state. Exits 1 otherwise. Last line: JSON figures.
 */
import { parseArgs } from 'node:util';
import { startLocalNode } from '../local-node.js';
import { fuzzNode } from './node-fuzz.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    concurrency: { type: 'string', default: '32' },
  },
});
const cases = Number(values.cases);
const seed = Number(values.seed);
const concurrency = Number(values.concurrency);
if (![cases, seed, concurrency].every((n) => Number.isInteger(n) && n >= 0) || concurrency < 1) {
  console.error('usage: fuzz:bus -- --cases N [--seed S] [--concurrency C]  (non-negative integers)');
  process.exit(2);
}

const errors: string[] = [];
const local = await startLocalNode({
      // The fuzzer/test client speaks for every identity at once, so the bus runs without mTLS here;
      // test/security/ and test/simulations/local-node.test.ts cover the secured node.
      tls: false,
  heartbeatMs: 500,
  restartAfterMs: null,
  onLog: (name, line) => {
    if (typeof line === 'string' || line.level >= 50) errors.push(`${name}: ${typeof line === 'string' ? line : line.msg}`);
  },
});
let ok = false;
try {
  console.log(`fuzz:bus seed ${seed}: ${cases} random + ${cases} malformed inputs per subject, ${concurrency} in flight`);
  const outcome = await fuzzNode(local, {
    seed,
    randomCases: cases,
    malformedCases: cases,
    concurrency,
    onProgress: (label, done, total) => {
      if (done === total) console.log(`  ${label.padEnd(24)} done`);
    },
  });
  const { report, before, after, starts } = outcome;
  console.log('\nsubject                  sent  typed-errors  valid(skipped)  refused(>1MiB)  probes-ok');
  for (const [label, t] of Object.entries(report.targets)) {
    console.log(
      `${label.padEnd(24)} ${String(t.sent).padStart(5)} ${String(t.typedErrors).padStart(13)} ${String(t.skippedValid).padStart(15)} ${String(t.refusedByClient).padStart(15)} ${String(t.probesOk).padStart(10)}`,
    );
  }
  const sameState = (['manager', 'agent'] as const).every(
    (r) => before[r].digest === after[r].digest && before[r].revision === after[r].revision && before[r].instanceId === after[r].instanceId,
  );
  const samePids = before.pids[0] === after.pids[0] && before.pids[1] === after.pids[1] && starts.manager === 1 && starts.agent === 1;
  for (const f of report.failures.slice(0, 10)) console.log(`FAIL ${f.target}: ${f.input}\n     expected ${f.expected}, got ${f.got}`);
  for (const e of errors.slice(0, 10)) console.log(`ERROR LOGGED ${e}`);
  console.log(`\n${report.sent} inputs, ${report.probes} probes in ${(report.durationMs / 1000).toFixed(1)} s; ${report.failureCount} failures; state unchanged: ${sameState}; processes unrestarted: ${samePids}`);
  ok = report.failureCount === 0 && sameState && samePids && errors.length === 0;
  console.log(
    JSON.stringify({
      bench: 'fuzz:bus',
      seed,
      cases_per_subject: cases * 2,
      subjects: Object.keys(report.targets).length,
      inputs: report.sent,
      probes: report.probes,
      failures: report.failureCount,
      state_unchanged: sameState,
      processes_unrestarted: samePids,
      duration_s: Math.round(report.durationMs / 100) / 10,
    }),
  );
} finally {
  const codes = await local.stop();
  if (codes.manager !== 0 || codes.agent !== 0 || (codes.target ?? 0) !== 0) {
    console.log(`unclean exit: ${JSON.stringify(codes)}`);
    ok = false;
  }
}
process.exit(ok ? 0 : 1);
