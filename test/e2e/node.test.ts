/**
 * End to end on real interfaces: pods (network namespaces) plumbed through the real CNI plugin,
 * frames forwarded by the software target through the P4 pipeline the manager programmed.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { KubeClient } from '../../simulations/kube/client.js';
import type { KubeObject } from '../../simulations/kube/store.js';
import { service, slice } from '../kube/support.js';
import { chatter, echoClient, echoServer, fanOut, nameServer, udpAsk } from '../../simulations/demo/workloads.js';
import { bootNode, portMapText, type BootedNode, type Pod } from './node-fixture.js';

const run = promisify(execFile);

async function listening(node: BootedNode, pod: Pod, port: number, script = echoServer(port)): Promise<void> {
  const server = node.spawnInPod(pod, script);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo server did not start')), 5000);
    server.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

describe('end to end: pods on real TAPs through the pipeline', function () {
  this.timeout(120_000);
  let node: BootedNode;
  let a: Pod;
  let b: Pod;

  before(async function () {
    node = await bootNode();
    a = await node.addPod('pa');
    b = await node.addPod('pb');
  });

  after(async function () {
    await node?.close();
  });

  it('pod → pod: a TCP exchange crosses the target (ARP for the gateway, L3 with MAC rewrite)', async function () {
    const admin = new TargetAdminClient(node.node.targetAddress!);
    const before = Number((await admin.stats()).packets);
    await listening(node, b, 7000);
    let reply = '';
    for (let attempt = 0; attempt < 20; attempt++) {
      reply = (await node.inPod(a, echoClient(b.ip, 7000, 'hello-through-p4'))).trim();
      if (reply === 'hello-through-p4') break;
      await new Promise((r) => setTimeout(r, 250)); // the manager may still be programming
    }
    expect(reply, await portMapText(node.node)).to.equal('hello-through-p4');
    // ARP both ways, SYN, SYN-ACK, ACK, data and its echo, FIN…: every one through the pipeline.
    const after = Number((await admin.stats()).packets);
    admin.close();
    expect(after - before, 'frames through the pipeline').to.be.at.least(8);
  });

  it('ping pod → pod (ICMP through the pipeline)', async function () {
    const { stdout } = await run('ip', ['netns', 'exec', a.ns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', b.ip], { timeout: 10_000 }).catch((e: { stdout: string }) => e);
    expect(stdout).to.match(/ 0% packet loss/);
  });

  describe('ClusterIP services', function () {
    const VIP = '10.96.0.10';
    const TCP_PORT = 80;
    const UDP_PORT = 53;
    let kube: KubeClient;
    let endpoints: Pod[];

    const apply = async (o: KubeObject) => {
      const r = await kube.apply(o);
      if (!r.ok) throw new Error(JSON.stringify(r.error));
    };
    const ports = [
      { name: 'web', port: TCP_PORT, targetPort: 8080, protocol: 'TCP' as const },
      { name: 'dns', port: UDP_PORT, targetPort: 5353, protocol: 'UDP' as const },
    ];
    const slicePorts = [
      { name: 'web', port: 8080, protocol: 'TCP' as const },
      { name: 'dns', port: 5353, protocol: 'UDP' as const },
    ];
    const setEndpoints = (pods: Pod[]) => apply(slice('echo-1', 'echo', pods.map((p) => ({ ip: p.ip, node: node.node.node, ready: true })), slicePorts));

    before(async function () {
      kube = new KubeClient(node.node.kube!.adminUrl);
      endpoints = [await node.addPod('e1'), await node.addPod('e2'), await node.addPod('e3')];
      for (const p of endpoints) await listening(node, p, 8080, nameServer(p.ns, 8080, 5353));
      await apply(service('echo', VIP, ports));
      await setEndpoints(endpoints);
    });

    it('100 TCP connections to the VIP reach every endpoint', async function () {
      let seen: Record<string, number> = {};
      for (let attempt = 0; attempt < 30; attempt++) {
        seen = (JSON.parse(await node.inPod(a, fanOut(VIP, TCP_PORT, 100), 30_000)) as { seen: Record<string, number> }).seen;
        if (endpoints.every((p) => (seen[p.ns] ?? 0) > 0)) break;
        await new Promise((r) => setTimeout(r, 300)); // the service may still be on its way to the target
      }
      expect(Object.keys(seen).sort(), JSON.stringify(seen)).to.deep.equal(endpoints.map((p) => p.ns).sort());
      expect(Object.values(seen).reduce((x, y) => x + y, 0)).to.equal(100);
    });

    it('UDP request/response through the VIP (DNS-like)', async function () {
      const reply = (await node.inPod(a, udpAsk(VIP, UDP_PORT, 'q1'))).trim();
      expect(endpoints.map((p) => `${p.ns}:q1`)).to.include(reply);
    });

    it('iperf3 from one pod through a VIP to an iperf3 server pod (-t 2) moves data', async function () {
      const server = await node.addPod('iperf');
      node.spawnCommandInPod(server, ['iperf3', '-s', '-p', '5201']);
      await apply(service('iperf', '10.96.0.20', [{ name: 'iperf', port: 5201, targetPort: 5201 }]));
      await apply(slice('iperf-1', 'iperf', [{ ip: server.ip, node: node.node.node, ready: true }], [{ name: 'iperf', port: 5201 }]));
      let bps = 0;
      for (let attempt = 0; attempt < 20 && bps === 0; attempt++) {
        const r = await run('ip', ['netns', 'exec', a.ns, 'iperf3', '-c', '10.96.0.20', '-p', '5201', '-t', '2', '-J'], { timeout: 20_000 }).catch((e: { stdout: string }) => e);
        try {
          bps = (JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second ?? 0;
        } catch {
          bps = 0;
        }
        if (bps === 0) await new Promise((res) => setTimeout(res, 300));
      }
      expect(bps, 'bits per second through the VIP').to.be.greaterThan(0);
    });

    it('a removed endpoint gets no new connections; an added one starts receiving them', async function () {
      const [kept1, kept2, removed] = endpoints as [Pod, Pod, Pod];
      await setEndpoints([kept1, kept2]);
      let seen: Record<string, number> = {};
      for (let attempt = 0; attempt < 30; attempt++) {
        seen = (JSON.parse(await node.inPod(a, fanOut(VIP, TCP_PORT, 60), 30_000)) as { seen: Record<string, number> }).seen;
        if (!(removed.ns in seen)) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(seen, JSON.stringify(seen)).to.not.have.property(removed.ns);
      expect((seen[kept1.ns] ?? 0) + (seen[kept2.ns] ?? 0)).to.equal(60);

      const added = await node.addPod('e4');
      await listening(node, added, 8080, nameServer(added.ns, 8080, 5353));
      await setEndpoints([kept1, kept2, added]);
      for (let attempt = 0; attempt < 30; attempt++) {
        seen = (JSON.parse(await node.inPod(a, fanOut(VIP, TCP_PORT, 60), 30_000)) as { seen: Record<string, number> }).seen;
        if ((seen[added.ns] ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(seen[added.ns] ?? 0, JSON.stringify(seen)).to.be.greaterThan(0);
    });
  });

  describe('learned connections', function () {
    const VIP = '10.96.0.12';
    /** Says its name on a new connection, then echoes. */
    const stickyServer = (name: string) => `require('net').createServer((s)=>{s.write('${name}\\n');s.pipe(s)}).listen(7002,'0.0.0.0',()=>console.log('listening'))`;
    /** Connects, prints the server's name, then sends every 100 ms and prints each echo's time, for `ms`. */
    const stickyClient = (ms: number) =>
      `const s=require('net').connect(92,'${VIP}');let first=true;const t0=Date.now();` +
      `s.on('data',(d)=>{if(first){first=false;console.log('NAME '+String(d).trim());const iv=setInterval(()=>{if(Date.now()-t0>${ms}){clearInterval(iv);s.destroy();process.exit(0)}s.write('x')},100);return}console.log('ECHO '+Date.now())});` +
      `s.on('error',(e)=>{console.log('ERR '+e.code+' '+Date.now());process.exit(0)});`;

    it('removing an endpoint drops its learned connections: an open connection to it is no longer served', async function () {
      const kube = new KubeClient(node.node.kube!.adminUrl);
      const pods = [await node.addPod('s1'), await node.addPod('s2')];
      for (const p of pods) await listening(node, p, 7002, stickyServer(p.ns));
      const sl = (members: Pod[]) => slice('sticky-1', 'sticky', members.map((p) => ({ ip: p.ip, node: node.node.node, ready: true })), [{ name: 'x', port: 7002 }]);
      expect((await kube.apply(service('sticky', VIP, [{ name: 'x', port: 92, targetPort: 7002 }]))).ok).to.equal(true);
      expect((await kube.apply(sl(pods))).ok).to.equal(true);
      for (let attempt = 0; attempt < 40; attempt++) {
        if ((await node.inPod(a, `const s=require('net').connect(92,'${VIP}');s.on('data',()=>{console.log('up');process.exit(0)});s.on('error',()=>process.exit(0));setTimeout(()=>process.exit(0),500)`)).includes('up')) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const client = node.spawnInPod(a, stickyClient(5000));
      let out = '';
      client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const closed = new Promise<void>((r) => client.on('close', () => r()));
      await new Promise((r) => setTimeout(r, 1500));
      const reached = /NAME (\S+)/.exec(out)?.[1];
      const victim = pods.find((p) => p.ns === reached);
      expect(victim, out).to.not.equal(undefined);
      const removedAt = Date.now();
      expect((await kube.apply(sl(pods.filter((p) => p !== victim)))).ok).to.equal(true);
      await closed;
      const echoes = [...out.matchAll(/ECHO (\d+)/g)].map((m) => Number(m[1]));
      expect(echoes.filter((t) => t < removedAt).length, out).to.be.greaterThan(5);
      // Once the removal has landed (well within 1.5 s), the connection's packets no longer reach
      // the victim: nothing echoes, and the connection is reset or goes silent.
      expect(echoes.filter((t) => t > removedAt + 1500), out).to.deep.equal([]);
    });
  });

  describe('crashes under traffic', function () {
    const VIP = '10.96.0.11';
    let kube: KubeClient;
    let server: Pod;

    before(async function () {
      kube = new KubeClient(node.node.kube!.adminUrl);
      server = await node.addPod('lived');
      await listening(node, server, 7001);
      const svc = await kube.apply(service('lived', VIP, [{ name: 'echo', port: 91, targetPort: 7001 }]));
      const sl = await kube.apply(slice('lived-1', 'lived', [{ ip: server.ip, node: node.node.node, ready: true }], [{ name: 'echo', port: 7001 }]));
      if (!svc.ok || !sl.ok) throw new Error('cannot apply the service');
      for (let attempt = 0; attempt < 40; attempt++) {
        if ((await node.inPod(a, echoClient(VIP, 91, 'up'))).trim() === 'up') return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error('the long-lived service never answered');
    });

    it('a long-lived TCP connection through a VIP keeps exchanging data across kill -9 of the manager and of the agent', async function () {
      const child = node.spawnInPod(a, chatter(VIP, 91, 6000));
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      await new Promise((r) => setTimeout(r, 1000));
      node.node.manager.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      node.node.agent.kill('SIGKILL');
      await closed;
      const summary = JSON.parse(out.trim()) as { sent: number; echoed: number; err: string };
      expect(summary.err, out).to.equal('');
      expect(summary.sent).to.be.greaterThan(80);
      expect(summary.echoed, out).to.equal(summary.sent);
    });

    it('kill -9 of the target: it re-attaches the pods\' TAPs inside their namespaces, the manager reprograms it, traffic flows again', async function () {
      const admin = () => new TargetAdminClient(node.node.targetAddress!);
      const oldPid = node.node.target!.pid;
      node.node.target!.kill('SIGKILL');
      let reply = '';
      for (let attempt = 0; attempt < 60; attempt++) {
        await new Promise((r) => setTimeout(r, 250));
        if (node.node.target!.pid === oldPid) continue;
        reply = (await node.inPod(a, echoClient(b.ip, 7000, 'after-restart', 1000))).trim();
        if (reply === 'after-restart') break;
      }
      expect(reply, await portMapText(node.node)).to.equal('after-restart');
      const client = admin();
      const stats = await client.stats();
      client.close();
      expect(Number(stats.tableEntries), 'the manager reprogrammed the empty pipeline').to.be.greaterThan(0);
      // The pods' interfaces survived: each is still in its namespace under eth0.
      for (const p of [a, b, server]) expect(await node.inPod(p, `console.log(Object.keys(require('os').networkInterfaces()).join(','))`)).to.contain('eth0');
    });
  });
});
