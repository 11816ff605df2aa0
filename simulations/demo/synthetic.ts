/**
 * The demo without root: no namespaces or TAPs can be made, so the node runs on loopback (NATS,
 * the target, the manager, an agent stand-in that plays a workload of pods and services) and the
 * proofs are the model's synthetic packets traced through the programmed pipeline
 * (TargetAdmin.Process): every pod reaches other pods, every VIP exactly its endpoints, new
 * connections stick to their endpoint.
 *
 * @example
 * const outcome = await runSynthetic({ say: console.log });
 */
import { seededRandom } from '../../core/random.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { PipelineChecker } from '../pipeline-check.js';
import { startStandinNode } from '../standin-node.js';
import type { ProofOutcome, CheckResult } from './proofs.js';

export async function runSynthetic(o: { say: (line: string) => void; seed?: number }): Promise<ProofOutcome> {
  const seed = o.seed ?? 7;
  const node = await startStandinNode({ seed, rounds: 1, logLevel: 'warn' });
  const admin = new TargetAdminClient(node.targetAddress);
  const results: CheckResult[] = [];
  const record = (r: CheckResult) => {
    results.push(r);
    o.say(`  ${r.ok ? '✔' : '✘'} ${r.name}: ${r.detail}`);
  };
  try {
    const done = await node.standin.round(0);
    record({ name: 'the agent stand-in registered its pods and services', ok: done.outcome.errors.length === 0, detail: `${done.truth.pods.length} pods, ${done.truth.services.length} service ports, ${done.outcome.errors.length} refused` });
    const checker = new PipelineChecker(admin, node.node, seededRandom(seed + 1));
    const deadline = Date.now() + 30_000;
    let report = await checker.check(done.truth);
    while (report.failures.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      report = await checker.check(done.truth);
    }
    record({ name: 'synthetic packets: pod → pod, VIP → exactly its endpoints', ok: report.failures.length === 0, detail: `${report.traces} traces, ${report.failures.length} failures${report.failures[0] ? ` (first: ${report.failures[0]})` : ''}` });
    const sticky = await checker.openSticky(done.truth, 12);
    record({ name: 'new connections keep their endpoint', ok: sticky.length === 0, detail: sticky.length === 0 ? '12 learned connections checked' : sticky.slice(0, 3).join('; ') });
  } finally {
    admin.close();
    await node.stop();
  }
  return { checks: results.length, passed: results.filter((r) => r.ok).length, results, iperfMbps: null, vipConnPerS: null };
}
