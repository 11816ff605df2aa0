/**
 * Issue 11, the CNI slice: the plugin's entry in-process (3,000 cases), the bundled plugin exec'd
 * (30 cases) and the agent's CniBackend in its own process (2,000 malformed requests), each
 * against an exact oracle; the generators' determinism; and regressions for what the fuzzing found.
 * The agent's pool lives in namespaces of this run (`ioff-<run>-…`), removed afterwards.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIp } from '../../actors/agent/pool/ip.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import { runPlugin } from '../../cni/plugin.js';
import { seededRandom } from '../../core/random.js';
import { startCniPeer } from '../../simulations/cni-peer.js';
import { startFuzzAgent, type FuzzAgent } from '../../simulations/fuzz/agent-process.js';
import { allConfTruncations, CNI_JSON_KINDS, cniJsonCases, predictPlugin, type CniWorld } from '../../simulations/fuzz/cni-json.js';
import {
  digestCases,
  digestGrpcInputs,
  pluginCases,
  pluginWorld,
  runExecFuzz,
  runGrpcFuzz,
  runPluginFuzz,
  worldIn,
  type ExecFuzzReport,
  type GrpcFuzzReport,
  type PluginFuzzReport,
} from '../../simulations/fuzz/cni-fuzz.js';
import { ip, TestNet } from '../agent-pool/netns.js';

const SEED = 20261127;
const MiB = 1024 * 1024;
const WORLD: CniWorld = { binDir: '/fuzz/bin', ipamType: 'fuzz-ipam', liveSocket: '/fuzz/peer.sock', deadSocket: '/fuzz/absent.sock' };

const shown = (failures: readonly unknown[]): string => JSON.stringify(failures.slice(0, 5), null, 1);

async function scratch(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

describe('fuzzing the CNI plugin and the agent’s CNI service', function () {
  this.timeout(120_000);

  describe('the generators', () => {
    it('replay the same seed byte for byte, and another seed differently', () => {
      const digest = (seed: number) => digestCases(cniJsonCases({ world: WORLD, random: seededRandom(seed), count: 450 }));
      expect(digest(SEED)).to.equal(digest(SEED));
      expect(digest(SEED + 1)).to.not.equal(digest(SEED));
      // Case i is the same whether generated alone or in a run.
      const all = [...cniJsonCases({ world: WORLD, random: seededRandom(SEED), count: 40 })];
      const [alone] = [...cniJsonCases({ world: WORLD, random: seededRandom(SEED), count: 1, start: 37 })];
      expect(digestCases([alone!])).to.equal(digestCases([all[37]!]));
      const pod = { containerId: 'fuzzpod', netns: '/var/run/netns/x' };
      expect(digestGrpcInputs(SEED, 300, pod)).to.equal(digestGrpcInputs(SEED, 300, pod));
      expect(digestGrpcInputs(SEED + 1, 300, pod)).to.not.equal(digestGrpcInputs(SEED, 300, pod));
    });

    it('cycle every kind, and every cut of a valid conf is a decode error (6) but the whole conf', () => {
      const kinds = new Set([...cniJsonCases({ world: WORLD, random: seededRandom(1), count: CNI_JSON_KINDS.length })].map((c) => c.kind));
      expect([...kinds]).to.have.members([...CNI_JSON_KINDS]);
      const cuts = allConfTruncations(WORLD, seededRandom(SEED));
      expect(cuts.length).to.be.greaterThan(150);
      const codes = cuts.map((c) => predictPlugin(c, WORLD));
      expect(codes.slice(0, -1).every((p) => p.code === 6)).to.equal(true);
      expect(codes[codes.length - 1]!.exitCode).to.equal(0);
    });
  });

  describe('the plugin’s entry, in-process: every cut of a valid conf and 3,000 cases, against a peer or nobody', () => {
    let dir: { path: string; remove(): Promise<void> };
    let report: PluginFuzzReport;
    before(async () => {
      dir = await scratch('cni-fuzz-plugin-');
      report = await runPluginFuzz({ dir: dir.path, seed: SEED, count: 3000 });
      const { failures: _f, byKind: _k, ...numbers } = report;
      console.log(`      ${JSON.stringify(numbers)}`);
    });
    after(async () => dir?.remove());

    it('answers every case as the oracle predicts: exit code, CNI code, the JSON’s shape; no crash, no hang', () => {
      expect(report.failures, shown(report.failures)).to.deep.equal([]);
      expect(report.mismatches).to.equal(0);
      expect(report.crashes).to.equal(0);
      expect(Object.keys(report.byKind)).to.have.length(CNI_JSON_KINDS.length);
    });

    it('reaches the agent and runs IPAM exactly as often as predicted (nothing rejected gets that far, every failed ADD releases)', () => {
      expect(report.agentCalls.observed).to.equal(report.agentCalls.predicted);
      expect(report.ipamCalls.observed).to.deep.equal(report.ipamCalls.predicted);
      expect(report.ipamCalls.predicted.DEL).to.be.greaterThan(0);
    });

    it('sees every outcome: successes and the codes 1, 4, 6, 7 and 11', () => {
      for (const outcome of ['ok', 'code 1', 'code 4', 'code 6', 'code 7', 'code 11']) expect(report.byOutcome[outcome], outcome).to.be.greaterThan(20);
    });

    it('ran the cases the seed names: every cut of a valid conf, then the 3,000', () => {
      const cuts = allConfTruncations(worldIn(dir.path), seededRandom(SEED)).length;
      expect(report.cases).to.equal(cuts + 3000);
      expect(report.digest).to.equal(digestCases(pluginCases(worldIn(dir.path), SEED, 3000)));
    });
  });

  describe('the bundled plugin, exec’d: 30 cases', () => {
    let dir: { path: string; remove(): Promise<void> };
    let report: ExecFuzzReport;
    before(async () => {
      dir = await scratch('cni-fuzz-exec-');
      report = await runExecFuzz({ dir: dir.path, seed: SEED, count: 30 });
      console.log(`      ${report.cases} execs in ${report.durationMs} ms (median ${report.medianMs.toFixed(0)} ms), ${JSON.stringify(report.byOutcome)}`);
    });
    after(async () => dir?.remove());

    it('exits and prints as predicted, never a byte on stderr, with the same side effects', () => {
      expect(report.failures, shown(report.failures)).to.deep.equal([]);
      expect(report.crashes).to.equal(0);
      expect(Object.keys(report.byKind)).to.have.length(CNI_JSON_KINDS.length);
      expect(report.agentCalls.observed).to.equal(report.agentCalls.predicted);
      expect(report.ipamCalls.observed).to.deep.equal(report.ipamCalls.predicted);
      expect(report.byOutcome.ok).to.be.greaterThan(0);
    });
  });

  describe('the agent’s CniBackend in its own process: 2,000 malformed requests to Prepare, Add, Del and Check', () => {
    const net = new TestNet();
    let agent: FuzzAgent | undefined;
    let report: GrpcFuzzReport;
    let pod: { containerId: string; netns: string };
    let exitCode: number | null | undefined;

    before(async () => {
      const hostNs = await net.addNs('host');
      net.adopt(net.ns('gw'));
      const podNs = await net.addNs('pod');
      pod = { containerId: `fuzz${net.id}`, netns: `/var/run/netns/${podNs}` };
      const made = await createPool(execIp, { prefix: net.prefix, count: 8, netns: hostNs });
      if (!made.ok) throw made.error;
      agent = await startFuzzAgent({ prefix: net.prefix, poolNetns: hostNs, gatewayNetns: net.ns('gw') });
      report = await runGrpcFuzz({ target: { socket: agent.socket, stateFiles: agent.stateFiles, pid: agent.pid, pod }, seed: SEED, cases: 2000 });
      const { failures: _f, byKind: _k, ...numbers } = report;
      console.log(`      ${JSON.stringify(numbers)}`);
    });
    after(async () => {
      exitCode = await agent?.stop();
      await net.cleanup();
      const root = JSON.parse(await ip('-j', 'link', 'show')) as { ifname: string }[];
      expect(root.filter((l) => l.ifname.startsWith(net.prefix)), 'links in the root namespace').to.deep.equal([]);
      expect(await net.leftovers()).to.deep.equal([]);
      expect(exitCode, 'the agent exits cleanly on SIGTERM after the fuzzing').to.equal(0);
    });

    it('answers every malformed request with the typed error the codec predicts (or RESOURCE_EXHAUSTED over 64 KiB)', () => {
      expect(report.failures, shown(report.failures)).to.deep.equal([]);
      expect(report.sent + report.skippedValid).to.equal(2000);
      expect(report.typedErrors + report.statusErrors).to.equal(report.sent);
      expect(report.sent).to.be.greaterThan(1700);
      expect(report.statusErrors).to.be.greaterThan(100);
      expect(Object.keys(report.byKind).length).to.be.at.least(17);
      expect(report.maxLatencyMs).to.be.below(5000);
      expect(report.digest).to.equal(digestGrpcInputs(SEED, 2000, pod));
    });

    it('keeps serving the valid PREPARE+ADD, CHECK and DEL of a real pod interleaved with them', () => {
      expect(report.valid.failed).to.equal(0);
      expect(report.valid.Add).to.be.at.least(5);
      expect(report.valid.Prepare).to.equal(report.valid.Add);
      expect(report.valid.Del).to.equal(report.valid.Add);
      expect(report.valid.Check).to.be.at.least(8);
      for (const method of ['Prepare', 'Add', 'Del', 'Check'] as const) expect(report.byMethod[method], method).to.be.greaterThan(400);
    });

    it('leaves the pool’s allocations and port map as only the valid requests made them', () => {
      expect(report.stateChecks).to.be.at.least(20);
      expect(report.stateChanges).to.equal(0);
    });

    it('stays up, the same process, logging no error, refusing each one once; its RSS growth is bounded', async () => {
      expect(report.alive).to.equal(true);
      expect(agent!.starts()).to.equal(1);
      expect(agent!.node.agent.pid).to.equal(agent!.pid);
      expect(agent!.errors).to.deep.equal([]);
      const deadline = Date.now() + 3000;
      while (agent!.refusals() < report.typedErrors && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(agent!.refusals()).to.equal(report.typedErrors);
      console.log(`      agent RSS ${(report.rss.startBytes / MiB).toFixed(0)} → ${(report.rss.endBytes / MiB).toFixed(0)} MiB (peak ${(report.rss.peakBytes / MiB).toFixed(0)})`);
      expect(report.rss.growthBytes).to.be.below(96 * MiB);
    });
  });

  describe('regressions found by the fuzzing', () => {
    let dir: { path: string; remove(): Promise<void> };
    let world: Awaited<ReturnType<typeof pluginWorld>>;
    let peer: Awaited<ReturnType<typeof startCniPeer>>;
    const env = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '/var/run/netns/x', CNI_PATH: world.binDir });
    const conf = (extra: Record<string, unknown>) => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'infra-cni', agentSocket: world.liveSocket, ipam: { type: world.ipamType }, ...extra });
    const code = (stdout: string) => (JSON.parse(stdout) as { code: number }).code;

    before(async () => {
      dir = await scratch('cni-fuzz-regress-');
      world = await pluginWorld(dir.path);
      peer = await startCniPeer({ socketPath: world.liveSocket });
    });
    after(async () => {
      await peer.close();
      await dir.remove();
    });

    it('a prevResult whose lists hold the wrong things is refused with 7 before IPAM and the agent (was 5 after the agent’s ADD)', async () => {
      peer.requests.length = 0;
      const before = await world.ipamCalls();
      const garbage = [{ interfaces: 5 }, { interfaces: [null] }, { ips: 5 }, { ips: [{ address: '10.0.0.2/24', interface: -1 }] }, { routes: 'xy' }, { dns: [] }];
      for (const prevResult of garbage) {
        for (const command of ['ADD', 'CHECK']) {
          const r = await runPlugin(env(command), conf({ prevResult }));
          expect(r.exitCode, `${command} ${JSON.stringify(prevResult)}`).to.equal(1);
          expect(code(r.stdout), `${command} ${JSON.stringify(prevResult)}: ${r.stdout}`).to.equal(7);
        }
      }
      expect(peer.requests).to.have.length(0);
      expect(await world.ipamCalls()).to.deep.equal(before);
    });

    it('stdin nested 100,000 deep is a decode error (6), not a stack overflow after the agent’s ADD with the lease kept', async () => {
      peer.requests.length = 0;
      const before = await world.ipamCalls();
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const r = await runPlugin(env('ADD'), conf({ prevResult: { dns: 'DEEP' } }).replace('"DEEP"', deep));
      expect(r.exitCode).to.equal(1);
      expect(code(r.stdout), r.stdout).to.equal(6);
      const shallow = await runPlugin(env('ADD'), conf({ 'x-deep': 'DEEP' }).replace('"DEEP"', '['.repeat(400) + ']'.repeat(400)));
      expect(shallow.exitCode, shallow.stdout).to.equal(0);
      expect(peer.requests).to.have.length(1);
      const after = await world.ipamCalls();
      expect([after.ADD - before.ADD, after.DEL - before.DEL]).to.deep.equal([1, 0]);
    });

    it('ipam.type "." or ".." is a plugin not found (7), not a failed exec of a directory (5)', async () => {
      for (const type of ['.', '..']) {
        const r = await runPlugin(env('ADD'), conf({ ipam: { type } }));
        expect(code(r.stdout), `${type}: ${r.stdout}`).to.equal(7);
      }
    });
  });
});
