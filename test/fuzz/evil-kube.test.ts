/**
 * The agent's informers facing a malicious Kubernetes API (issue 11): bin/agent as its own
 * process, its `kube.server` an EvilKube (simulations/fuzz/evil-kube.ts) answering every list and
 * watch with hostile JSON for a while, a manager stand-in on a real NATS (the run of
 * simulations/fuzz/evil-kube-process.ts, which `npm run fuzz -- --target evil-kube` drives too).
 * Oracle: the same agent process throughout (no exit, nothing uncaught in its output), its bus
 * answers ctl.state within 2 s, RSS growth bounded; then the API turns good (requests forwarded to
 * the stand-in of simulations/kube/, which holds a known set of Services and EndpointSlices) and
 * the agent converges: agent.sync gives exactly those services with their endpoints.
 */
import { expect } from 'chai';
import { seededRandom } from '../../core/random.js';
import { EvilKube, hostileAnswer, KUBE_HOSTILITIES } from '../../simulations/fuzz/evil-kube.js';
import { KNOWN_SERVICES, runEvilKube, type EvilKubeReport } from '../../simulations/fuzz/evil-kube-process.js';

describe('the agent facing a malicious Kubernetes API (issue 11)', function () {
  this.timeout(60_000);

  it('same seed, same answers; each hostility is what it says', () => {
    const o = { watch: true, resource: 'services', hugeLineBytes: 1 << 20, depth: 1000 };
    for (const k of KUBE_HOSTILITIES) {
      const a = Buffer.concat(hostileAnswer(k, seededRandom(9), o).chunks);
      expect(Buffer.concat(hostileAnswer(k, seededRandom(9), o).chunks).equals(a), k).to.equal(true);
    }
    const deep = Buffer.concat(hostileAnswer('deep-nesting', seededRandom(1), { watch: false, resource: 'services' }).chunks).toString();
    expect(deep).to.include('['.repeat(100_000));
    const big = hostileAnswer('huge-line', seededRandom(1), o).chunks;
    expect(big.some((c) => c.length >= 1 << 20 && !c.includes(0x0a))).to.equal(true);
    expect(() => JSON.parse(Buffer.concat(hostileAnswer('truncated', seededRandom(2), { ...o, watch: false }).chunks).toString()) as unknown).to.throw();
    const a = new EvilKube({ seed: 4, upstream: 'http://127.0.0.1:1' });
    const b = new EvilKube({ seed: 4, upstream: 'http://127.0.0.1:1' });
    const order = KUBE_HOSTILITIES.map((_, i) => a.hostilityOf(i));
    expect(KUBE_HOSTILITIES.map((_, i) => b.hostilityOf(i))).to.deep.equal(order);
    expect(order).to.have.members([...KUBE_HOSTILITIES]);
  });

  describe('bin/agent, its own process, through 48 hostile answers', () => {
    let report: EvilKubeReport;
    before(async () => {
      report = await runEvilKube({ seed: 21, requests: 48, hugeLineBytes: 4 << 20 });
      const { stats, probes, rss, hostileMs, convergeMs } = report;
      console.log(`      requests ${stats.requests} (${stats.lists} lists, ${stats.watches} watches, ${stats.forwarded} forwarded) by hostility ${JSON.stringify(stats.byHostility)}; probes ${probes.ok} ok ${probes.failed} failed (max ${Math.round(probes.maxMs)} ms); rss ${rss.startKb} → peak ${rss.peakKb} → ${rss.endKb} KiB; hostile ${hostileMs} ms, converged in ${convergeMs} ms; resourceVersions asked: ${JSON.stringify([...new Set(stats.resourceVersions)].slice(0, 10).map((v) => v.slice(0, 24)))}`);
    });

    it('stays the same process, prints nothing fatal, keeps answering ctl.state, RSS bounded', () => {
      expect(report.fatal).to.deep.equal([]);
      expect(report.exit).to.equal(undefined);
      expect(report.alive).to.equal(true);
      expect(report.probes.failures).to.deep.equal([]);
      expect(report.probes.ok).to.be.at.least(3);
      expect(report.served).to.be.at.least(48);
      expect(Object.keys(report.stats.byHostility), 'every hostility was served').to.have.members([...KUBE_HOSTILITIES]);
      expect(report.rss.growthKb, 'RSS growth').to.be.below(200 * 1024);
    });

    it('converges on the known Services and EndpointSlices once the API turns good', () => {
      expect(report.converged, report.last).to.equal(true);
      expect(report.last).to.equal(JSON.stringify(KNOWN_SERVICES));
      expect(report.stats.forwarded).to.be.greaterThan(0);
    });
  });
});
