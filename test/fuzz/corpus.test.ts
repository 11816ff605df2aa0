/**
 * Replays the fuzz corpus on disk (test/fuzz/corpus/): every stored case must still get the
 * outcome class it was stored with, from the plugin and from the oracle alike. The regression
 * cases of what the fuzzers found live here forever.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPlugin } from '../../cni/plugin.js';
import { startCniPeer, type CniPeer } from '../../simulations/cni-peer.js';
import { predictPlugin } from '../../simulations/fuzz/cni-json.js';
import { checkAnswer, pluginWorld, type PluginWorld } from '../../simulations/fuzz/cni-fuzz.js';
import { fromCorpus, loadCorpus, toCorpus, type CorpusCase } from '../../simulations/fuzz/corpus.js';

const CORPUS = fileURLToPath(new URL('./corpus/cni-plugin', import.meta.url));

describe('fuzz corpus replay', function () {
  this.timeout(60_000);
  let dir: string;
  let world: PluginWorld;
  let peer: CniPeer;
  let entries: { file: string; entry: CorpusCase }[];

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'ioff-corpus-replay-'));
    world = await pluginWorld(dir);
    peer = await startCniPeer({ socketPath: world.liveSocket });
    entries = await loadCorpus(CORPUS);
  });

  after(async function () {
    await peer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds cases of every category and the regression cases', function () {
    expect(entries.length).to.be.at.least(30);
    expect(entries.filter((e) => e.entry.category.startsWith('regression-')).length).to.be.at.least(4);
  });

  it('every stored case gets its stored outcome from the plugin, and the oracle still predicts it', async function () {
    const wrong: string[] = [];
    for (const { file, entry } of entries) {
      const c = fromCorpus(entry, world);
      const predicted = predictPlugin(c, world);
      if (predicted.exitCode !== entry.expected.exitCode || predicted.code !== entry.expected.code || predicted.output !== entry.expected.output) {
        wrong.push(`${file}: the oracle now says ${JSON.stringify({ exitCode: predicted.exitCode, code: predicted.code, output: predicted.output })}`);
        continue;
      }
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...c.env };
      const out = await runPlugin(env, Buffer.from(c.stdin).toString('utf8'));
      const problem = checkAnswer(c, predicted, out.exitCode, out.stdout);
      if (problem) wrong.push(`${file}: ${problem}`);
    }
    expect(wrong).to.deep.equal([]);
  });

  it('stores a case so that it comes back the same in another directory', function () {
    const { entry } = entries.find((e) => e.entry.category === 'regression-ipam-dot')!;
    const c = fromCorpus(entry, world);
    expect(c.env.CNI_PATH).to.equal(world.binDir);
    expect(toCorpus(c, predictPlugin(c, world), world, entry.seed)).to.deep.equal(entry);
  });
});
