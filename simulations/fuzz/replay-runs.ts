/**
 * Replays a stored finding of a target whose cases are not payloads (corpus.ts ReplayCorpusCase):
 * the HTTP/2 attack, hostile-target run or hostile-API run it names, against a fresh target, and
 * judged by that run's own oracle. What is wrong, or undefined when the target survives it.
 *
 * @example
 * const problem = await checkReplayCase(entry); // undefined once the bug is fixed
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTarget } from '../target-process.js';
import { startCniServerProcess } from './cni-server-process.js';
import type { ReplayCorpusCase } from './corpus.js';
import { runEvilKube } from './evil-kube-process.js';
import { runEvilTarget } from './evil-target-process.js';
import type { AttackKind } from './http2-anomalies.js';
import { cniFuzzTarget, p4rtFuzzTarget, runHttp2Fuzz, type Http2FuzzReport } from './http2-fuzz.js';

const http2Problem = (r: Http2FuzzReport): string | undefined =>
  r.failures.length === 0 && r.alive ? undefined : `${r.failures.length} failures (${r.failures.slice(0, 2).map((f) => `${f.what} ${f.detail}`).join('; ')}), alive ${r.alive}`;

export async function checkReplayCase(entry: ReplayCorpusCase): Promise<string | undefined> {
  const seed = Number(entry.replay.seed ?? entry.seed);
  switch (entry.target) {
    case 'http2-target': {
      const target = await startTarget();
      try {
        return http2Problem(await runHttp2Fuzz({ target: p4rtFuzzTarget(target), seed, rounds: Number(entry.replay.round) + 1, kinds: [entry.replay.kind as AttackKind] }));
      } finally {
        await target.stop();
      }
    }
    case 'http2-cni': {
      const dir = await mkdtemp(join(tmpdir(), 'ioff-replay-cni-'));
      const server = await startCniServerProcess({ socketPath: join(dir, 'cni.sock') });
      try {
        return http2Problem(await runHttp2Fuzz({ target: cniFuzzTarget(server), seed, rounds: Number(entry.replay.round) + 1, kinds: [entry.replay.kind as AttackKind] }));
      } finally {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      }
    }
    case 'evil-target': {
      const r = await runEvilTarget({ seed, attempts: Number(entry.replay.attempts ?? 11), lifeMs: 600 });
      return r.alive && r.fatal.length === 0 && r.probes.failed === 0 && r.converged ? undefined : `alive ${r.alive}, fatal ${r.fatal.length}, failed probes ${r.probes.failed}, converged ${r.converged}`;
    }
    case 'evil-kube': {
      const r = await runEvilKube({ seed, requests: Number(entry.replay.requests ?? 24) });
      return r.alive && r.fatal.length === 0 && r.probes.failed === 0 && r.converged ? undefined : `alive ${r.alive}, fatal ${r.fatal.length}, failed probes ${r.probes.failed}, converged ${r.converged} (${r.last})`;
    }
  }
}
