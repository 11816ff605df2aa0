/**
 * Automatic minimisation of fuzz findings: delta debugging over lists, bytes and JSON (minimise.ts);
 * a bus request and a raw P4Runtime request shrunk against a live node and fresh targets (a
 * planted oracle bug calls a marker a crash); then the whole path with planted target bugs —
 * `npm run fuzz` over two test-only targets, each its own child of the coordinator: the agent's
 * CNI gRPC server with a crash planted on a byte sequence, and the CNI plugin with a wrong answer
 * planted on a JSON key. Every finding must be saved under --save-findings DIR as a regression
 * case no bigger than the marker plus a few bytes, that still fails against the planted target and
 * passes against the real one.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../core/random.js';
import { moduleCommand } from '../../simulations/processes.js';
import { baselineIntent, busTargets } from '../../simulations/fuzz/bus-targets.js';
import { fromCorpus, loadCorpus, type BusCorpusCase, type CorpusCase, type GrpcCorpusCase, type P4rtRawCorpusCase } from '../../simulations/fuzz/corpus.js';
import { minimiseFinding, shrinkBytes, type Verdict } from '../../simulations/fuzz/findings.js';
import { splitBudget, targetSeed } from '../../simulations/fuzz/harness.js';
import { malformedCases } from '../../simulations/fuzz/malformed.js';
import { ddmin, ddminBytes, minimiseJson } from '../../simulations/fuzz/minimise.js';
import { malformedPlan } from '../../simulations/fuzz/p4rt-fuzz.js';
import { BusReplayer, checkBusCase } from '../../simulations/fuzz/replay-bus.js';
import { checkGrpcCase, StandaloneGrpcReplayer } from '../../simulations/fuzz/replay-grpc.js';
import { checkP4rtRawCase, P4rtRawReplayer } from '../../simulations/fuzz/replay-p4rt.js';
import { checkPluginCase, PluginReplayer } from '../../simulations/fuzz/replay-plugin.js';
import { saveBusFindings, saveP4rtFindings } from '../../simulations/fuzz/save-findings.js';
import { plantedPluginRunner, standaloneInputs, TEST_ADAPTERS } from '../../simulations/fuzz/test-targets.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const { command, args: base } = moduleCommand('simulations/fuzz/fuzz-cli');
  return new Promise((resolve) => {
    const child = spawn(command, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, lines: out.trim().split('\n') }));
  });
}

/**
 * A 4-byte sequence found in exactly one of the run's inputs, taken from the shortest input that
 * has one: the planted crash fires once in the run, on an input small enough to shrink quickly.
 */
function uniqueMarker(inputs: readonly Uint8Array[]): Buffer {
  const sorted = inputs.filter((b) => b.length >= 12 && b.length <= 200).sort((a, b) => a.length - b.length);
  for (const input of sorted) {
    for (let i = 0; i + 4 <= input.length; i++) {
      const marker = Buffer.from(input.subarray(i, i + 4));
      if (new Set(marker).size < 3) continue;
      if (inputs.filter((b) => Buffer.from(b).includes(marker)).length === 1) return marker;
    }
  }
  throw new Error('no marker');
}

describe('minimising fuzz findings', function () {
  this.timeout(120_000);

  describe('delta debugging', () => {
    it('ddmin finds a 1-minimal failing sublist', async () => {
      const r = await ddmin([1, 2, 3, 4, 5, 6, 7, 8], async (xs) => xs.includes(3) && xs.includes(6));
      expect(r.value).to.deep.equal([3, 6]);
      expect(r.minimal).to.equal(true);
    });

    it('ddminBytes cuts 8 KB down to the marker in few attempts, and stops at its budget', async () => {
      const big = Buffer.concat([Buffer.alloc(5000, 0x61), Buffer.from('BOOM'), Buffer.alloc(3000, 0x62)]);
      const r = await ddminBytes(big, async (b) => Buffer.from(b).includes('BOOM'));
      expect(text(r.value)).to.equal('BOOM');
      expect(r.attempts).to.be.below(150);
      const capped = await ddminBytes(big, async (b) => Buffer.from(b).includes('BOOM'), { maxAttempts: 10 });
      expect(capped.attempts).to.equal(10);
      expect(capped.minimal).to.equal(false);
      expect(Buffer.from(capped.value).includes('BOOM')).to.equal(true);
      expect(capped.value.length).to.be.below(big.length);
    });

    it('minimiseJson reduces the structure first, then the bytes', async () => {
      const doc = JSON.stringify({ cniVersion: '1.0.0', ipam: { type: 'x', ranges: [[{ subnet: '10.0.0.0/24' }]] }, extra: [1, 2, { boom: [true, 5] }], z: 'long'.repeat(100) });
      const isObjectWithBoom = async (b: Uint8Array): Promise<boolean> => {
        try {
          const v = JSON.parse(text(b)) as unknown;
          return typeof v === 'object' && v !== null && !Array.isArray(v) && text(b).includes('"boom"');
        } catch {
          return false;
        }
      };
      const r = await minimiseJson(Buffer.from(doc), isObjectWithBoom);
      expect(await isObjectWithBoom(r.value)).to.equal(true);
      expect(r.value.length, text(r.value)).to.be.at.most('{"":{"boom":null}}'.length);
      expect(text(r.value)).to.not.match(/ipam|long|cniVersion|subnet/);
      expect(r.minimal).to.equal(true);
    });

    it('minimiseJson takes bytes only when the structure cannot be walked or re-serialised', async () => {
      const deep = Buffer.from(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)},"k":1}`);
      const r = await minimiseJson(deep, async (b) => Buffer.from(b).includes('"k"'), { maxAttempts: 200 });
      expect(Buffer.from(r.value).includes('"k"')).to.equal(true);
      expect(r.value.length).to.be.below(deep.length);
      // Duplicate keys: the parse keeps one, so the compact form no longer fails.
      const dup = Buffer.from('{"a":1,"a":2,"pad":"xxxxxxxx"}');
      const d = await minimiseJson(dup, async (b) => (text(b).match(/"a"/g) ?? []).length === 2);
      expect(text(d.value)).to.equal('"a""a"');
    });

    it('a finding that does not fail again is kept as found, and said so', async () => {
      const m = await minimiseFinding(Buffer.from('abc'), { replay: async (): Promise<Verdict> => ({ class: 'ok', detail: 'fine' }), shrink: shrinkBytes, size: (b) => b.length, budget: {} }, 'hang', 'timed out once');
      expect(text(m.payload)).to.equal('abc');
      expect(m.found).to.deep.include({ class: 'hang', reproduced: false, minimal: false });
    });
  });

  describe('bus and P4Runtime findings shrink against the live target (a planted oracle bug)', () => {
    let dir: string;
    before(async () => (dir = await mkdtemp(join(tmpdir(), 'ioff-minimise-oracle-'))));
    after(async () => rm(dir, { recursive: true, force: true }));

    it('a bus request is shrunk against a live node to the marker plus a few bytes, and saved expecting the codec’s error', async () => {
      const target = busTargets('n', baselineIntent('n'), 'x').find((t) => t.label === 'manager.service.upsert')!;
      const inputs = [...malformedCases({ type: target.type, valid: target.valid, random: seededRandom(3), count: 60 })].map((c) => c.bytes).filter((b) => b.length < 400 && !target.method!.request.decode(b).ok);
      const marker = uniqueMarker(inputs);
      const bytes = inputs.find((b) => Buffer.from(b).includes(marker))!;
      const plain = await BusReplayer.start();
      const planted = await BusReplayer.over(plain.node, false, (_l, b) => (Buffer.from(b).includes(marker) ? { class: 'crash', detail: 'planted' } : undefined));
      try {
        const notes = await saveBusFindings(dir, 3, [{ target: 'manager.service.upsert', input: 'planted', expected: 'x', got: 'crash', bytes, kind: 'random' }], planted, { maxAttempts: 300 });
        expect(notes.join('\n')).to.match(/saved bus\//);
        const entry = (await loadCorpus<BusCorpusCase>(join(dir, 'bus')))[0]!.entry;
        const saved = Buffer.from(entry.bytesBase64, 'base64');
        expect(saved.includes(marker)).to.equal(true);
        expect(saved.length, `${saved.toString('hex')} (marker ${marker.toString('hex')}, from ${bytes.length} bytes)`).to.be.at.most(marker.length + 4);
        expect(entry.found).to.deep.include({ class: 'crash', reproduced: true });
        expect((await planted.verdict(entry.subject, saved)).class).to.equal('crash');
        expect(await checkBusCase(plain, entry)).to.equal(undefined);
      } finally {
        await planted.close();
        await plain.close();
      }
    });

    it('a raw P4Runtime request is shrunk against fresh targets the same way', async () => {
      const raws = [...malformedPlan(5, 80)].filter((r) => r.bytes.length < 400);
      const marker = uniqueMarker(raws.map((r) => r.bytes));
      const raw = raws.find((r) => Buffer.from(r.bytes).includes(marker))!;
      const plant = (_m: string, b: Uint8Array): Verdict | undefined => (Buffer.from(b).includes(marker) ? { class: 'crash', detail: 'planted' } : undefined);
      const notes = await saveP4rtFindings(dir, 5, [{ kind: 'raw', class: 'hang', raw, note: 'planted' }], () => P4rtRawReplayer.start(plant), { maxAttempts: 300 });
      expect(notes.join('\n')).to.match(/saved p4rt\//);
      const entry = (await loadCorpus<P4rtRawCorpusCase>(join(dir, 'p4rt')))[0]!.entry;
      const saved = Buffer.from(entry.bytesBase64, 'base64');
      expect(saved.includes(marker)).to.equal(true);
      expect(saved.length, `${saved.toString('hex')} (marker ${marker.toString('hex')}, from ${raw.bytes.length} bytes)`).to.be.at.most(marker.length + 4);
      expect(entry).to.deep.include({ method: raw.method });
      expect(entry.found).to.deep.include({ class: 'crash', reproduced: true });
      const plain = await P4rtRawReplayer.start();
      try {
        expect(await checkP4rtRawCase(plain, entry)).to.equal(undefined);
      } finally {
        await plain.close();
      }
    });
  });

  describe('planted bugs, found by npm run fuzz and saved minimised (--save-findings)', () => {
    const SEED = 31;
    const CASES = 360;
    const KEY = 'portMappings';
    let dir: string;
    let marker: Buffer;
    let run: { code: number | null; lines: string[] };
    let grpcCases: { file: string; entry: GrpcCorpusCase }[];
    let pluginCases: { file: string; entry: CorpusCase }[];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ioff-minimise-'));
      const budget = splitBudget(TEST_ADAPTERS.filter((a) => a.name.startsWith('test-planted')), CASES);
      marker = uniqueMarker(standaloneInputs(targetSeed(SEED, 'test-planted-grpc'), budget.get('test-planted-grpc')!));
      run = await runCli(['--target', 'test-planted-grpc,test-planted-plugin', '--cases', String(CASES), '--seed', String(SEED), '--save-findings', dir, '--minimise-attempts', '300'], {
        INFRA_FUZZ_TEST_TARGETS: '1',
        INFRA_FUZZ_PLANT_HEX: marker.toString('hex'),
        INFRA_FUZZ_PLANT_KEY: KEY,
      });
      grpcCases = await loadCorpus<GrpcCorpusCase>(join(dir, 'cni-grpc'));
      pluginCases = await loadCorpus<CorpusCase>(join(dir, 'cni-plugin'));
    });
    after(async () => rm(dir, { recursive: true, force: true }));

    it('the run reports the crash and the wrong answers, each child its own process, and exits 1', () => {
      const last = JSON.parse(run.lines.at(-1)!) as Record<string, number>;
      expect(run.code, run.lines.slice(-30).join('\n')).to.equal(1);
      expect(last.crashes, run.lines.slice(-30).join('\n')).to.be.at.least(1);
      expect(last.oracle_mismatches).to.be.at.least(1);
      expect(run.lines.some((l) => /^test-planted-grpc: done/.test(l))).to.equal(true);
      expect(run.lines.some((l) => /^test-planted-plugin: done/.test(l))).to.equal(true);
      expect(run.lines.filter((l) => /saved (cni-grpc|cni-plugin)\//.test(l)).length).to.be.at.least(2);
    });

    it('saves the crashing CniBackend request shrunk to the marker plus a few bytes', () => {
      expect(grpcCases.length, run.lines.slice(-30).join('\n')).to.be.at.least(1);
      for (const { file, entry } of grpcCases) {
        const bytes = Buffer.from(entry.bytesBase64, 'base64');
        expect(bytes.includes(marker), file).to.equal(true);
        expect(bytes.length, `${file}: ${bytes.toString('hex')} (marker ${marker.toString('hex')})`).to.be.at.most(marker.length + 4);
        expect(entry.found).to.deep.include({ class: 'crash', reproduced: true });
        expect(entry.found!.sizeAfter).to.be.below(entry.found!.sizeBefore);
      }
    });

    it('the saved request still crashes the planted server, and the real one answers it as the oracle says', async () => {
      const scratch = await mkdtemp(join(tmpdir(), 'ioff-minimise-replay-'));
      const planted = await StandaloneGrpcReplayer.start(join(scratch, 'planted'), marker);
      const real = await StandaloneGrpcReplayer.start(join(scratch, 'real'));
      try {
        for (const { entry } of grpcCases) {
          expect((await planted.verdict(entry.method, Buffer.from(entry.bytesBase64, 'base64'))).class).to.equal('crash');
          expect(await checkGrpcCase(real, entry)).to.equal(undefined);
        }
      } finally {
        await planted.close();
        await real.close();
        await rm(scratch, { recursive: true, force: true });
      }
    });

    it('saves the wrongly answered plugin case shrunk to the JSON key, its environment emptied', () => {
      expect(pluginCases.length, run.lines.slice(-30).join('\n')).to.be.at.least(1);
      for (const { file, entry } of pluginCases) {
        const stdin = Buffer.from(entry.stdinBase64, 'base64').toString('utf8');
        expect(stdin, file).to.include(JSON.stringify(KEY));
        expect(stdin.length, `${file}: ${stdin}`).to.be.at.most(JSON.stringify(KEY).length + 4);
        expect(Object.keys(entry.env), file).to.have.length.at.most(1);
        expect(entry.found).to.deep.include({ class: 'mismatch', reproduced: true });
      }
    });

    it('the saved plugin case still fails against the planted plugin, and passes against the real one', async () => {
      const scratch = await mkdtemp(join(tmpdir(), 'ioff-minimise-plugin-'));
      const planted = await PluginReplayer.start(join(scratch, 'a'), { runner: plantedPluginRunner(KEY) });
      const real = await PluginReplayer.start(join(scratch, 'b'));
      try {
        for (const { entry } of pluginCases) {
          expect((await planted.verdict(fromCorpus(entry, planted.world))).class).to.equal('mismatch');
          expect(await checkPluginCase(real, entry)).to.equal(undefined);
        }
      } finally {
        await planted.close();
        await real.close();
        await rm(scratch, { recursive: true, force: true });
      }
    });
  });
});
