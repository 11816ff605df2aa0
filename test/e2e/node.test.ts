/**
 * End to end on real interfaces: pods (network namespaces) plumbed through the real CNI plugin,
 * frames forwarded by the software target through the P4 pipeline the manager programmed.
 */
import { expect } from 'chai';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { KubeClient } from '../../simulations/kube/client.js';
import type { KubeObject } from '../../simulations/kube/store.js';
import { service, slice } from '../kube/support.js';
import { bootNode, portMapText, type BootedNode, type Pod } from './node-fixture.js';

/** A TCP echo server on `port` in the pod: prints "listening" once bound. */
const echoServer = (port: number) =>
  `require('net').createServer((s)=>s.pipe(s)).listen(${port},'0.0.0.0',()=>console.log('listening'))`;

/** A TCP server that answers every connection with `name` and closes; a UDP one that answers every datagram with it. */
const nameServer = (name: string, tcp: number, udp: number) =>
  `require('net').createServer((s)=>s.end('${name}')).listen(${tcp},'0.0.0.0',()=>{` +
  `const u=require('dgram').createSocket('udp4');u.on('message',(m,r)=>u.send('${name}:'+m,r.port,r.address));` +
  `u.bind(${udp},'0.0.0.0',()=>console.log('listening'))})`;

/** `n` TCP connections to ip:port from a pod, `parallel` at a time; prints one JSON object: names by count. */
const fanOut = (ip: string, port: number, n: number, parallel = 10) =>
  `const net=require('net');const seen={};let left=${n},running=0;` +
  `function one(){if(left===0){if(running===0){console.log(JSON.stringify(seen));process.exit(0)}return}left--;running++;` +
  `const s=net.connect(${port},'${ip}');let got='';s.on('data',(d)=>got+=d);` +
  `const done=(k)=>{seen[k]=(seen[k]||0)+1;running--;one()};s.on('end',()=>done(got||'EMPTY'));s.on('error',(e)=>done('ERR '+e.code));s.setTimeout(3000,()=>{s.destroy();done('TIMEOUT')})}` +
  `for(let i=0;i<${parallel};i++)one();`;

/** One UDP request from a pod; prints the reply or TIMEOUT. */
const udpAsk = (ip: string, port: number, text: string) =>
  `const u=require('dgram').createSocket('udp4');u.on('message',(m)=>{console.log(String(m));process.exit(0)});` +
  `u.send('${text}',${port},'${ip}');setTimeout(()=>{console.log('TIMEOUT');process.exit(0)},2000)`;

/** Connects from a pod, sends `text`, prints what comes back (or the error code). */
const echoClient = (ip: string, port: number, text: string, timeoutMs = 3000) =>
  `const s=require('net').connect(${port},'${ip}',()=>s.write('${text}'));let got='';` +
  `s.on('data',(d)=>{got+=d;if(got.length>=${text.length}){console.log(got);process.exit(0)}});` +
  `s.on('error',(e)=>{console.log('ERR '+e.code);process.exit(0)});setTimeout(()=>{console.log('TIMEOUT');process.exit(0)},${timeoutMs})`;

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
        seen = JSON.parse(await node.inPod(a, fanOut(VIP, TCP_PORT, 100), 30_000)) as Record<string, number>;
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

    it('a removed endpoint gets no new connections; an added one starts receiving them', async function () {
      const [kept1, kept2, removed] = endpoints as [Pod, Pod, Pod];
      await setEndpoints([kept1, kept2]);
      let seen: Record<string, number> = {};
      for (let attempt = 0; attempt < 30; attempt++) {
        seen = JSON.parse(await node.inPod(a, fanOut(VIP, TCP_PORT, 60), 30_000)) as Record<string, number>;
        if (!(removed.ns in seen)) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(seen, JSON.stringify(seen)).to.not.have.property(removed.ns);
      expect((seen[kept1.ns] ?? 0) + (seen[kept2.ns] ?? 0)).to.equal(60);

      const added = await node.addPod('e4');
      await listening(node, added, 8080, nameServer(added.ns, 8080, 5353));
      await setEndpoints([kept1, kept2, added]);
      for (let attempt = 0; attempt < 30; attempt++) {
        seen = JSON.parse(await node.inPod(a, fanOut(VIP, TCP_PORT, 60), 30_000)) as Record<string, number>;
        if ((seen[added.ns] ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(seen[added.ns] ?? 0, JSON.stringify(seen)).to.be.greaterThan(0);
    });
  });

  describe('crashes under traffic', function () {
    const VIP = '10.96.0.11';
    let kube: KubeClient;
    let server: Pod;

    /** Sends a line every 50 ms on one connection for `ms`, checking each echo; prints a JSON summary. */
    const chatter = (ip: string, port: number, ms: number) =>
      `const s=require('net').connect(${port},'${ip}');let sent=0,got='',err='';const t0=Date.now();` +
      `s.on('connect',()=>{const iv=setInterval(()=>{if(Date.now()-t0>${ms}){clearInterval(iv);s.end();return}s.write('m'+(sent++)+'\\n')},50)});` +
      `s.on('data',(d)=>got+=d);s.on('error',(e)=>err=e.code);` +
      `s.on('close',()=>{const lines=got.split('\\n').filter(Boolean);console.log(JSON.stringify({sent,echoed:lines.length,err}))});`;

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
