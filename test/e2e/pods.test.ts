/**
 * End to end on real interfaces: pods (network namespaces) plumbed through the real CNI plugin,
 * frames forwarded by the software target through the P4 pipeline the manager programmed.
 */
import { expect } from 'chai';
import { TargetAdminClient } from '../../p4/target/admin.js';
import { bootNode, portMapText, type BootedNode, type Pod } from './node-fixture.js';

/** A TCP echo server on `port` in the pod: prints "listening" once bound. */
const echoServer = (port: number) =>
  `require('net').createServer((s)=>s.pipe(s)).listen(${port},'0.0.0.0',()=>console.log('listening'))`;

/** Connects from a pod, sends `text`, prints what comes back (or the error code). */
const echoClient = (ip: string, port: number, text: string, timeoutMs = 3000) =>
  `const s=require('net').connect(${port},'${ip}',()=>s.write('${text}'));let got='';` +
  `s.on('data',(d)=>{got+=d;if(got.length>=${text.length}){console.log(got);process.exit(0)}});` +
  `s.on('error',(e)=>{console.log('ERR '+e.code);process.exit(0)});setTimeout(()=>{console.log('TIMEOUT');process.exit(0)},${timeoutMs})`;

async function listening(node: BootedNode, pod: Pod, port: number): Promise<void> {
  const server = node.spawnInPod(pod, echoServer(port));
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
});
