/**
 * npm run fuzz:corpus -- [--target cni-plugin|bus|cni-grpc|p4rt|all] [--seed S] [--per-kind K] [--out DIR]
 *
 * Adds cases to the corpus npm test replays (test/fuzz/corpus/<target>/), each stored with its
 * input and the outcome the oracle predicts (corpus.ts):
 * - cni-plugin: K generated cases of every kind;
 * - bus: K malformed requests per subject, cycling through the kinds;
 * - cni-grpc: K malformed requests of every kind per CniBackend method;
 * - p4rt: K raw Write/Read requests of every kind, and K batches after a setup.
 * Inputs over 4 KiB are left out (the corpus is read by every npm test). Re-running with the
 * same seed rewrites the same files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../../core/random.js';
import { baselineIntent, busTargets, otherTypeSamples } from './bus-targets.js';
import { grpcInputs, podRequests, worldIn } from './cni-fuzz.js';
import { CNI_JSON_KINDS, cniJsonCases, predictPlugin } from './cni-json.js';
import { saveCorpus, toCorpus, type AnyCorpusCase } from './corpus.js';
import { STANDALONE_POD } from './grpc-standalone.js';
import { MALFORMED_KINDS, malformedCases } from './malformed.js';
import { batchCorpusEntry } from './p4rt-bisect.js';
import { fuzzP4Info, malformedPlan, planBatches } from './p4rt-fuzz.js';
import { SwitchModel } from './p4rt-model.js';
import { busCorpusEntry, expectedBusCode } from './replay-bus.js';
import { expectedGrpc, grpcCorpusEntry } from './replay-grpc.js';
import { p4rtRawCorpusEntry } from './replay-p4rt.js';

const MAX_BYTES = 4096;
const TARGETS = ['cni-plugin', 'bus', 'cni-grpc', 'p4rt'] as const;

const { values } = parseArgs({
  options: { target: { type: 'string', default: 'cni-plugin' }, seed: { type: 'string', default: '1' }, 'per-kind': { type: 'string', default: '2' }, out: { type: 'string', default: 'test/fuzz/corpus' } },
});
const seed = Number(values.seed);
const perKind = Number(values['per-kind']);
const chosen = values.target === 'all' ? [...TARGETS] : TARGETS.filter((t) => t === values.target);
if (!Number.isInteger(seed) || !Number.isInteger(perKind) || perKind < 1 || chosen.length === 0) {
  console.error(`usage: npm run fuzz:corpus -- [--target ${TARGETS.join('|')}|all] [--seed S] [--per-kind K] [--out DIR]`);
  process.exit(2);
}

async function plugin(): Promise<AnyCorpusCase[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ioff-corpus-'));
  try {
    const world = worldIn(dir);
    const cases = [...cniJsonCases({ world, random: seededRandom(seed), count: perKind * CNI_JSON_KINDS.length })];
    return cases.map((c) => toCorpus(c, predictPlugin(c, world), world, seed));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function bus(): AnyCorpusCase[] {
  const node = 'corpus-node';
  const targets = busTargets(node, baselineIntent(node), 'corpus');
  const others = otherTypeSamples(targets);
  return targets.flatMap((t, i) =>
    [...malformedCases({ type: t.type, valid: t.valid, random: seededRandom(seed * 100 + i), count: perKind, start: i % MALFORMED_KINDS.length, maxBytes: t.method?.request.limits.maxBytes ?? 65536, others: others.filter((o) => !t.valid.includes(o)) })]
      .filter((c) => c.bytes.length <= MAX_BYTES && expectedBusCode(t, c.bytes) !== undefined)
      .map((c) => ({ ...busCorpusEntry(t, c.bytes, { seed, category: c.kind, note: `${t.label} #${c.index} ${c.kind}: ${c.note}` }), index: c.index * 100 + i })),
  );
}

function grpc(): AnyCorpusCase[] {
  return [...grpcInputs(seed, perKind * MALFORMED_KINDS.length * 4, podRequests(STANDALONE_POD).valid)]
    .filter((c) => c.bytes.length <= MAX_BYTES && !('valid' in expectedGrpc(c.method, c.bytes)))
    .map((c) => grpcCorpusEntry(c.method, c.bytes, { seed, category: `${c.method.toLowerCase()}-${c.kind}`, note: c.what }));
}

function p4rt(): AnyCorpusCase[] {
  const raw = [...malformedPlan(seed, perKind * MALFORMED_KINDS.length * 2)]
    .filter((c) => c.bytes.length <= MAX_BYTES)
    .map((c) => p4rtRawCorpusEntry(c.method, c.bytes, { seed, category: `${c.method.toLowerCase()}-${c.case.kind}`, note: `${c.method} #${c.case.index} ${c.case.kind}: ${c.case.note}` }));
  const { info } = fuzzP4Info();
  const batches = planBatches(info, seededRandom(seed), 400);
  const model = new SwitchModel(info);
  const out: AnyCorpusCase[] = [];
  batches.forEach((b, i) => {
    // Batches well into the run, so the setup holds members, groups and entries.
    if (i >= 4 && out.length < perKind) {
      const updates = b.map((p) => p.update);
      out.push(batchCorpusEntry(model.setupUpdates(), model, updates, { seed, category: 'batch', note: `batch ${i} of seed ${seed} (${updates.length} updates, faults ${[...new Set(b.map((p) => p.fault))].join(', ')})` }));
    }
    for (const p of b) model.apply(p.update);
  });
  return [...raw, ...out];
}

const makers: Record<(typeof TARGETS)[number], () => AnyCorpusCase[] | Promise<AnyCorpusCase[]>> = { 'cni-plugin': plugin, bus, 'cni-grpc': grpc, p4rt };
for (const target of chosen) {
  const names = await saveCorpus(join(values.out, target), await makers[target]());
  console.log(`${names.length} cases written to ${join(values.out, target)}`);
}
