'use strict';
// Mocha's spec reporter plus two things CI and people need: the wall time of every test file,
// and a closing "N passed, N failed" line that any CI log reader understands.
const Mocha = require('mocha');
const path = require('node:path');

const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } =
  Mocha.Runner.constants;

class FileTimingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const started = new Map();
    const durations = [];
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on(EVENT_TEST_PASS, () => passed++);
    runner.on(EVENT_TEST_FAIL, () => failed++);
    runner.on(EVENT_TEST_PENDING, () => skipped++);
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (suite.file && suite.parent && suite.parent.root && !started.has(suite.file)) {
        started.set(suite.file, process.hrtime.bigint());
      }
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      if (suite.file && suite.parent && suite.parent.root && started.has(suite.file)) {
        const ms = Number(process.hrtime.bigint() - started.get(suite.file)) / 1e6;
        started.delete(suite.file);
        const rel = path.relative(process.cwd(), suite.file);
        durations.push([rel, ms]);
        process.stdout.write(`    ⏱  ${rel}: ${(ms / 1000).toFixed(2)} s\n`);
      }
    });
    runner.once(EVENT_RUN_END, () => {
      process.stdout.write('\nTest file durations:\n');
      for (const [file, ms] of durations.sort((a, b) => b[1] - a[1])) {
        process.stdout.write(`  ${(ms / 1000).toFixed(2).padStart(8)} s  ${file}\n`);
      }
      process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}

module.exports = FileTimingReporter;
