/**
 * npm run fuzz:corpus -- [--seed S] [--per-kind K] [--out DIR]
 *
 * Adds cases to the corpus npm test replays: for the CNI plugin, K generated cases of every kind
 * for seed S, each stored with its input and the outcome the oracle predicts (simulations/fuzz/
 * corpus.ts). Re-running with the same seed rewrites the same files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../../core/random.js';
import { CNI_JSON_KINDS, cniJsonCases, predictPlugin } from './cni-json.js';
import { saveCorpus, toCorpus } from './corpus.js';
import { worldIn } from './cni-fuzz.js';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, 'per-kind': { type: 'string', default: '2' }, out: { type: 'string', default: 'test/fuzz/corpus/cni-plugin' } } });
const seed = Number(values.seed);
const perKind = Number(values['per-kind']);
if (!Number.isInteger(seed) || !Number.isInteger(perKind) || perKind < 1) {
  console.error('usage: npm run fuzz:corpus -- [--seed S] [--per-kind K] [--out DIR]');
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'ioff-corpus-'));
try {
  const world = worldIn(dir);
  const cases = [...cniJsonCases({ world, random: seededRandom(seed), count: perKind * CNI_JSON_KINDS.length })];
  const names = await saveCorpus(values.out, cases.map((c) => toCorpus(c, predictPlugin(c, world), world, seed)));
  console.log(`${names.length} cases written to ${values.out}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
