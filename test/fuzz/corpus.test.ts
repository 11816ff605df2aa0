/**
 * Replays the fuzz corpus on disk (test/fuzz/corpus/<target>/): every stored case must still get
 * the outcome class it was stored with, from the target and from the oracle alike. Generated cases
 * (npm run fuzz:corpus) and the minimised regression cases of what the fuzzers found
 * (npm run fuzz -- --save-findings test/fuzz/corpus) live here forever; each target's fixture
 * starts only when its directory holds cases.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';
import { predictPlugin } from '../../simulations/fuzz/cni-json.js';
import { fromCorpus, loadCorpus, toCorpus, type AnyCorpusCase, type BusCorpusCase, type CorpusCase, type GrpcCorpusCase, type P4rtBatchCorpusCase, type P4rtRawCorpusCase, type ReplayCorpusCase } from '../../simulations/fuzz/corpus.js';
import { checkBatchCase } from '../../simulations/fuzz/p4rt-bisect.js';
import { BusReplayer, checkBusCase } from '../../simulations/fuzz/replay-bus.js';
import { checkGrpcCase, StandaloneGrpcReplayer } from '../../simulations/fuzz/replay-grpc.js';
import { checkP4rtRawCase, P4rtRawReplayer } from '../../simulations/fuzz/replay-p4rt.js';
import { checkPluginCase, PluginReplayer } from '../../simulations/fuzz/replay-plugin.js';
import { checkReplayCase } from '../../simulations/fuzz/replay-runs.js';

const ROOT = fileURLToPath(new URL('./corpus', import.meta.url));
const present = (target: string): boolean => {
  try {
    return readdirSync(join(ROOT, target)).some((f) => f.endsWith('.json'));
  } catch {
    return false;
  }
};

/** Replays every case of a target's directory with `check`; collects what is wrong. */
async function replayAll<T extends AnyCorpusCase>(target: string, check: (entry: T) => Promise<string | undefined>): Promise<string[]> {
  const wrong: string[] = [];
  for (const { file, entry } of await loadCorpus<T>(join(ROOT, target))) {
    expect(entry.target, file).to.equal(target);
    const problem = await check(entry);
    if (problem) wrong.push(`${target}/${file}: ${problem}`);
  }
  return wrong;
}

async function scratch(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

describe('fuzz corpus replay', function () {
  this.timeout(90_000);

  describe('cni-plugin: the plugin’s entry in-process', () => {
    let dir: { path: string; remove(): Promise<void> };
    let replayer: PluginReplayer;
    let entries: { file: string; entry: CorpusCase }[];

    before(async () => {
      dir = await scratch('ioff-corpus-replay-');
      replayer = await PluginReplayer.start(dir.path);
      entries = await loadCorpus(join(ROOT, 'cni-plugin'));
    });
    after(async () => {
      await replayer?.close();
      await dir?.remove();
    });

    it('holds cases of every category and the regression cases', () => {
      expect(entries.length).to.be.at.least(30);
      expect(entries.filter((e) => e.entry.category.startsWith('regression-')).length).to.be.at.least(4);
    });

    it('every stored case gets its stored outcome from the plugin, and the oracle still predicts it', async () => {
      expect(await replayAll<CorpusCase>('cni-plugin', (e) => checkPluginCase(replayer, e))).to.deep.equal([]);
    });

    it('stores a case so that it comes back the same in another directory', () => {
      const { entry } = entries.find((e) => e.entry.category === 'regression-ipam-dot')!;
      const c = fromCorpus(entry, replayer.world);
      expect(c.env.CNI_PATH).to.equal(replayer.world.binDir);
      expect(toCorpus(c, predictPlugin(c, replayer.world), replayer.world, entry.seed)).to.deep.equal(entry);
    });
  });

  if (present('cni-exec')) {
    it('cni-exec: every stored case gets its stored outcome from the bundled plugin, exec’d', async function () {
      const dir = await scratch('ioff-corpus-exec-');
      const replayer = await PluginReplayer.start(dir.path, { bundle: await bundleCniPlugin(join(dir.path, 'infra-cni.cjs')) });
      try {
        expect(await replayAll<CorpusCase>('cni-exec', (e) => checkPluginCase(replayer, e))).to.deep.equal([]);
      } finally {
        await replayer.close();
        await dir.remove();
      }
    });
  }

  it('bus: every stored request gets its typed error from a live node, which keeps its state', async function () {
    expect(present('bus'), 'test/fuzz/corpus/bus holds cases').to.equal(true);
    const replayer = await BusReplayer.start();
    try {
      expect(await replayAll<BusCorpusCase>('bus', (e) => checkBusCase(replayer, e))).to.deep.equal([]);
    } finally {
      await replayer.close();
    }
  });

  it('cni-grpc: every stored CniBackend request gets its typed error from the agent’s server, which stays up', async function () {
    expect(present('cni-grpc'), 'test/fuzz/corpus/cni-grpc holds cases').to.equal(true);
    const dir = await scratch('ioff-corpus-grpc-');
    const replayer = await StandaloneGrpcReplayer.start(dir.path);
    try {
      expect(await replayAll<GrpcCorpusCase>('cni-grpc', (e) => checkGrpcCase(replayer, e))).to.deep.equal([]);
    } finally {
      await replayer.close();
      await dir.remove();
    }
  });

  it('p4rt: raw requests get a status and change nothing; stored batches get the statuses and tables the model predicts', async function () {
    expect(present('p4rt'), 'test/fuzz/corpus/p4rt holds cases').to.equal(true);
    const entries = await loadCorpus<P4rtRawCorpusCase | P4rtBatchCorpusCase>(join(ROOT, 'p4rt'));
    expect(entries.some((e) => e.entry.kind === 'batch')).to.equal(true);
    const replayer = await P4rtRawReplayer.start();
    try {
      expect(await replayAll<P4rtRawCorpusCase | P4rtBatchCorpusCase>('p4rt', (e) => (e.kind === 'raw' ? checkP4rtRawCase(replayer, e) : checkBatchCase(e)))).to.deep.equal([]);
    } finally {
      await replayer.close();
    }
  });

  for (const target of ['http2-target', 'http2-cni', 'evil-target', 'evil-kube'] as const) {
    if (!present(target)) continue;
    it(`${target}: every stored run is survived`, async function () {
      this.timeout(300_000);
      expect(await replayAll<ReplayCorpusCase>(target, checkReplayCase)).to.deep.equal([]);
    });
  }
});
