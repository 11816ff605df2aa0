/**
 * Targets for the harness's own tests, known to the CLI only with INFRA_FUZZ_TEST_TARGETS=1 and
 * never part of `--target all`:
 * - `test-die`: reports some progress, then its process dies (SIGKILL): the coordinator must report
 *   the child as a finding and go on;
 * - `test-hang`: reports some progress, then nothing, ever: the coordinator must stop it after its
 *   idle limit and report a hang;
 * - `test-planted-grpc`: the CniBackend fuzz against the standalone server (grpc-standalone.ts)
 *   with a planted crash on the bytes INFRA_FUZZ_PLANT_HEX (hex);
 * - `test-planted-plugin`: the CNI plugin fuzz with a planted bug: an answer of success, nothing on
 *   stdout, for any stdin holding the JSON key INFRA_FUZZ_PLANT_KEY.
 * Their findings are minimised and saved like any target's (`--save-findings`).
 *
 * @example
 * INFRA_FUZZ_TEST_TARGETS=1 INFRA_FUZZ_PLANT_KEY=portMappings npm run fuzz -- --target test-planted-plugin --cases 300 --save-findings /tmp/c
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPlugin } from '../../cni/plugin.js';
import { runPluginTarget } from './adapters.js';
import type { PluginRunner } from './cni-fuzz.js';
import { grpcInputs, podRequests } from './cni-fuzz.js';
import { runStandaloneGrpcFuzz, STANDALONE_POD } from './grpc-standalone.js';
import { row, type FuzzAdapter, type FuzzRow } from './harness.js';
import { saveGrpcFindings } from './save-findings.js';

/** A plugin entry that answers success with nothing on stdout when stdin holds the JSON key `key`. */
export function plantedPluginRunner(key: string): PluginRunner {
  const marker = JSON.stringify(key);
  return async (env, stdin) => (stdin.includes(marker) ? { exitCode: 0, stdout: '' } : runPlugin(env, stdin));
}

/** The inputs a standalone CniBackend run of this seed and size sends (to choose a marker from). */
export function standaloneInputs(seed: number, cases: number): Uint8Array[] {
  return [...grpcInputs(seed, cases, podRequests(STANDALONE_POD).valid)].map((i) => i.bytes);
}

export const testDieAdapter: FuzzAdapter = {
  name: 'test-die',
  casesPerSecond: 1000,
  minCases: 1,
  async run({ cases, progress }) {
    progress(Math.floor(cases / 2));
    // Let the progress line reach the coordinator, then die as a crashed process would.
    await new Promise((r) => setTimeout(r, 300));
    process.kill(process.pid, 'SIGKILL');
    return [];
  },
};

export const testHangAdapter: FuzzAdapter = {
  name: 'test-hang',
  casesPerSecond: 1000,
  minCases: 1,
  async run({ cases, progress }) {
    progress(Math.floor(cases / 2));
    await new Promise(() => setInterval(() => undefined, 60_000));
    return [];
  },
};

export const testPlantedGrpcAdapter: FuzzAdapter = {
  name: 'test-planted-grpc',
  casesPerSecond: 100,
  minCases: 1,
  async run(o) {
    const hex = process.env.INFRA_FUZZ_PLANT_HEX ?? '';
    const dir = await mkdtemp(join(tmpdir(), 'ioff-fuzz-planted-'));
    try {
      const report = await runStandaloneGrpcFuzz({ dir, seed: o.seed, cases: o.cases, ...(hex ? { plantCrash: Buffer.from(hex, 'hex') } : {}), onProgress: o.progress });
      const rows = new Map<string, FuzzRow>();
      for (const [kind, n] of Object.entries(report.byKind)) {
        const r = row('test-planted-grpc', `grpc-${kind}`);
        r.cases = n ?? 0;
        rows.set(kind, r);
      }
      const first = [...rows.values()][0] ?? row('test-planted-grpc', 'grpc');
      first.crashes += report.byClass.crash;
      first.hangs += report.byClass.hang;
      first.mismatches += report.byClass.mismatch;
      for (const f of report.failures.slice(0, 5)) first.findings.push(`${f.input}: ${f.got}`.slice(0, 300));
      try {
        if (o.saveFindings && report.failures.length > 0) {
          first.findings.push(...(await saveGrpcFindings(o.saveFindings, o.seed, report.failures, (m, b) => report.replayer.verdict(m, b), o.minimise ?? {})));
        }
      } finally {
        await report.replayer.close();
      }
      return [...rows.values()];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export const testPlantedPluginAdapter: FuzzAdapter = {
  name: 'test-planted-plugin',
  casesPerSecond: 300,
  minCases: 1,
  run: (o) => runPluginTarget(o, 'test-planted-plugin', plantedPluginRunner(process.env.INFRA_FUZZ_PLANT_KEY ?? 'x-planted')),
};

export const TEST_ADAPTERS: readonly FuzzAdapter[] = [testDieAdapter, testHangAdapter, testPlantedGrpcAdapter, testPlantedPluginAdapter];
