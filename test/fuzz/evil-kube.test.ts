/**
 * The agent's informers facing a malicious Kubernetes API (issue 11): bin/agent as its own
 * process, its `kube.server` an EvilKube (simulations/fuzz/evil-kube.ts) answering every list and
 * watch with hostile JSON for a while, a manager stand-in on a real NATS. Oracle: the same agent
 * process throughout (no exit, nothing uncaught in its output), its bus answers ctl.state within
 * 2 s, RSS growth bounded; then the API turns good (requests forwarded to the stand-in of
 * simulations/kube/, which holds a known set of Services and EndpointSlices) and the agent
 * converges: agent.sync gives exactly those services with their endpoints.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { Bus } from '../../messages/bus.js';
import { ctlPrefix } from '../../messages/subjects.js';
import { formatIpv4 } from '../../messages/validate.js';
import { ctlMethods } from '../../protocol/methods.js';
import { EvilKube, hostileAnswer, KUBE_HOSTILITIES } from '../../simulations/fuzz/evil-kube.js';
import { rssKb } from '../../simulations/fuzz/http2-fuzz.js';
import { KubeClient } from '../../simulations/kube/client.js';
import { KubeApiStandin } from '../../simulations/kube/server.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { ManagedProcess, type LogLine } from '../../simulations/processes.js';
import { endpoints, FakeManager, nodeObject, service, slice, TEST_KUBE } from '../kube/support.js';

const NODE = 'node-a';
const HTTP = [{ name: 'http', port: 8080 }];
const HOSTILE_MS = 10_000;
const FATAL = /uncaught|unhandled|FATAL ERROR|out of memory|Segmentation fault|heap limit/i;
/** The known set the good API serves: ClusterIP:port/proto → endpoints. */
const KNOWN: Record<string, number> = { '10.96.0.5:80/TCP': 2, '10.96.0.6:80/TCP': 3, '10.96.0.7:80/TCP': 1 };

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

  describe('bin/agent, its own process', () => {
    let nats: NatsServer;
    let api: KubeApiStandin;
    let evil: EvilKube;
    let bus: Bus;
    let manager: FakeManager;
    let agent: ManagedProcess;
    let dir: string;
    const fatal: string[] = [];
    const errors: string[] = [];
    let exit: { code: number | null; signal: string | null } | undefined;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'infra-evil-kube-'));
      nats = await startNatsServer();
      api = new KubeApiStandin({ bookmarkIntervalMs: 500 });
      const apiPort = await api.listen('127.0.0.1', 0);
      const kube = new KubeClient(`http://127.0.0.1:${apiPort}`);
      for (const o of [
        nodeObject(NODE, '192.0.2.10', '10.244.0.0/24'),
        service('a', '10.96.0.5', [{ name: 'http', port: 80 }]),
        slice('a-1', 'a', endpoints(2, 5), HTTP),
        service('b', '10.96.0.6', [{ name: 'http', port: 80 }]),
        slice('b-1', 'b', endpoints(3, 6), HTTP),
        service('c', '10.96.0.7', [{ name: 'http', port: 80 }]),
        slice('c-1', 'c', endpoints(1, 7), HTTP),
      ]) {
        const r = await kube.apply(o);
        if (!r.ok) throw new Error(r.error.message);
      }
      evil = new EvilKube({ seed: 21, upstream: `http://127.0.0.1:${apiPort}`, hugeLineBytes: 4 << 20, upstreamVersion: () => api.stats().resourceVersion });
      const evilPort = await evil.listen('127.0.0.1', 0);
      bus = await Bus.connect({ servers: nats.url, name: 'evil-kube-test', logger: silentLogs().root, timeoutMs: 2000 });
      manager = new FakeManager(bus, NODE);
      manager.start();
      const config = {
        node: { name: NODE, ip: '192.0.2.10', podCidr: '10.244.0.0/24' },
        nats: { servers: [nats.url], timeoutMs: 1000, insecure: true },
        heartbeat: { intervalMs: 200, missedBeats: 3 },
        logging: { level: 'info', modules: {} },
        kube: { server: `http://127.0.0.1:${evilPort}`, ...TEST_KUBE },
      };
      await writeFile(join(dir, 'agent.yaml'), stringify(config), { mode: 0o600 });
      agent = new ManagedProcess({
        name: 'agent',
        bin: 'agent',
        args: ['--config', join(dir, 'agent.yaml')],
        onLog: (_n, line: LogLine | string) => {
          const text = typeof line === 'string' ? line : `${line.msg} ${JSON.stringify(line.err ?? '')}`;
          if (FATAL.test(text)) fatal.push(text.slice(0, 400));
          if (typeof line !== 'string' && line.level >= 40) errors.push(`${line.module} ${text.slice(0, 300)}`);
        },
        onExit: (_n, code, signal) => (exit = { code, signal }),
      });
      agent.start();
    });
    after(async () => {
      await agent?.stop(3000);
      await manager?.stop();
      await bus?.close();
      await evil?.close();
      await api?.close();
      await nats?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    const state = async (deadlineMs: number): Promise<{ ok: boolean; ms: number; why?: string }> => {
      const t0 = performance.now();
      const r = await bus.request(`${ctlPrefix(NODE, 'agent')}.state`, ctlMethods.state, { node: NODE }, { timeoutMs: deadlineMs });
      return r.ok ? { ok: true, ms: performance.now() - t0 } : { ok: false, ms: performance.now() - t0, why: `${r.error.code} ${r.error.message}` };
    };

    it('stays up and keeps answering ctl.state through the hostile phase, RSS bounded', async () => {
      // Up: the first answer (the process loads, connects to NATS, starts its tree).
      const up = performance.now();
      while (!(await state(1000)).ok) {
        expect(exit, 'the agent exited while starting').to.equal(undefined);
        expect(performance.now() - up, 'the agent never answered ctl.state').to.be.below(15_000);
      }
      const pid = agent.pid!;
      const rssStart = rssKb(pid)!;
      let rssPeak = rssStart;
      let ok = 0;
      let maxMs = 0;
      const failures: string[] = [];
      const start = performance.now();
      while (performance.now() - start < HOSTILE_MS && exit === undefined) {
        const s = await state(2000);
        if (s.ok) ok++;
        else failures.push(s.why!);
        maxMs = Math.max(maxMs, s.ms);
        rssPeak = Math.max(rssPeak, rssKb(pid) ?? 0);
        await new Promise((res) => setTimeout(res, 200));
      }
      const rssEnd = rssKb(pid) ?? 0;
      const summary = `requests ${evil.stats.requests} (${evil.stats.lists} lists, ${evil.stats.watches} watches) by hostility ${JSON.stringify(evil.stats.byHostility)}; probes ${ok} ok ${failures.length} failed (max ${Math.round(maxMs)} ms); rss ${rssStart} → peak ${rssPeak} → ${rssEnd} KiB; resourceVersions asked: ${JSON.stringify([...new Set(evil.stats.resourceVersions)].slice(0, 10))}`;
      console.log(`      ${summary}`);
      expect(fatal, summary).to.deep.equal([]);
      expect(exit, `${summary}\n${errors.join('\n')}`).to.equal(undefined);
      expect(agent.pid).to.equal(pid);
      expect(agent.starts).to.equal(1);
      expect(failures, summary).to.deep.equal([]);
      expect(ok).to.be.at.least(10);
      expect(Object.keys(evil.stats.byHostility), 'every hostility was served').to.have.members([...KUBE_HOSTILITIES]);
      expect(rssEnd - rssStart, 'RSS growth').to.be.below(200 * 1024);
    });

    it('converges on the known Services and EndpointSlices once the API turns good', async () => {
      evil.setGood(true);
      const t0 = performance.now();
      let last = '';
      for (;;) {
        const r = await manager.pull();
        if (r.ok) {
          const got = Object.fromEntries(r.value.services.map((s) => [`${formatIpv4(s.clusterIp)}:${s.port}/${s.protocol}`, s.endpoints.length]));
          last = JSON.stringify(got);
          if (last === JSON.stringify(KNOWN)) break;
        } else last = r.error.message;
        expect(performance.now() - t0, `not converged: ${last}\n${errors.slice(-30).join('\n')}`).to.be.below(15_000);
        await new Promise((res) => setTimeout(res, 200));
      }
      console.log(`      converged in ${Math.round(performance.now() - t0)} ms (${evil.stats.forwarded} requests forwarded)`);
      expect(exit).to.equal(undefined);
      expect((await state(2000)).ok).to.equal(true);
    });
  });
});
