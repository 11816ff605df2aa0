/**
 * The real agent tree in this process (test/agent-inproc/fixture.ts): a ManualClock, the
 * in-memory NATS, the synthetic kernel in memory, MemoryFiles, memory-kube, CNI handed over in
 * process — no socket, no disk, no kernel of the machine, no real timer. Requests are the
 * plugin's own bytes (cni/wire.ts), decoded by the agent's codecs. A manager stand-in on the same
 * NATS answers and records.
 *
 * What must hold: an ADD plumbs a TAP into the pod's namespace and answers its MAC and port,
 * registered with the manager; malformed bytes get a typed error and change nothing; a DEL
 * frees the interface; Services and EndpointSlices reach the manager; a 410 makes the informers
 * list again; a full disk fails the ADD with a typed error and changes nothing; kill -9 of the
 * agent and a restart over the same disk and kernel recover the pool (nothing handed out twice,
 * every pod registered again, an orphan torn down); and the same seed gives the same run.
 */
import { expect } from 'chai';
import { decodeAddReply, decodeStatusReply, encodeAddRequest, encodeCheckRequest, encodeDelRequest, encodePrepareRequest, type AddReply, type WireError } from '../../cni/wire.js';
import { ERROR_CODES } from '../../messages/errors.js';
import { formatIpv4, formatMac, parseIpv4 } from '../../messages/validate.js';
import { readKernelState, type KernelView } from '../../simulations/kernel/synthetic-ip.js';
import { service, slice } from '../../simulations/kube/objects.js';
import { InprocNode, NODE, NODE_IP, POOL, PREFIX, STATE_DIR } from './fixture.js';

interface Pod {
  readonly id: string;
  readonly ns: string;
  readonly netns: string;
  readonly ip: string;
}

const codeOf = (e: WireError | undefined): string | undefined => (e ? ERROR_CODES[e.code] : undefined);

const poolJson = (node: InprocNode) => JSON.parse(node.disk.peek(`${STATE_DIR}/pool.json`) ?? 'null') as { allocations: { index: number; containerId: string; netns: string | null; pod?: { mac: string } }[] } | null;

async function view(node: InprocNode): Promise<KernelView> {
  const v = await readKernelState(node.storage);
  if (!v.ok) throw v.error;
  return v.value;
}

/** Everything a run leaves behind, for "changes nothing" and "the same run". */
async function snapshot(node: InprocNode): Promise<string> {
  return JSON.stringify({ kernel: await view(node), files: node.disk.list().map((p) => [p, node.disk.peek(p)]) });
}

async function newPod(node: InprocNode, n: number): Promise<Pod> {
  const ns = `pod-${n}`;
  const made = await node.storage.createNamespace(ns);
  if (!made.ok) throw made.error;
  return { id: `c${n}`.padEnd(16, '0'), ns, netns: made.value, ip: `10.244.1.${10 + n}` };
}

const ref = (p: Pod) => ({ containerId: p.id, netns: p.netns, ifname: 'eth0', podNamespace: 'default', podName: `web-${p.ns}`, network: 'sim' });
const addRequest = (p: Pod) => ({
  ...ref(p),
  ips: [{ address: parseIpv4(p.ip)!, prefixLength: 24, gateway: parseIpv4('10.244.1.1')! }],
  routes: [{ dst: 0, dstPrefixLength: 0, gateway: 0 }],
  mtu: 1450,
});

/** The CNI backend the agent handed over; fails the test when its cni child is not running. */
function cniOf(node: InprocNode) {
  const cni = node.cni;
  if (!cni) throw new Error('no CNI backend handed over');
  return cni;
}

async function add(node: InprocNode, p: Pod, prepare = false): Promise<AddReply> {
  if (prepare) {
    const prepared = decodeStatusReply(await node.drive(cniOf(node).call('Prepare', encodePrepareRequest({ containerId: p.id, netns: p.netns, ifname: 'eth0', mtu: 1450 }), 5000)));
    expect(prepared.error, 'Prepare').to.equal(undefined);
  }
  return decodeAddReply(await node.drive(cniOf(node).call('Add', encodeAddRequest(addRequest(p)), 5000)));
}

async function del(node: InprocNode, p: Pod): Promise<WireError | undefined> {
  return decodeStatusReply(await node.drive(cniOf(node).call('Del', encodeDelRequest(ref(p)), 5000))).error;
}

async function check(node: InprocNode, p: Pod, mac: string): Promise<WireError | undefined> {
  return decodeStatusReply(await node.drive(cniOf(node).call('Check', encodeCheckRequest({ ...addRequest(p), mac }), 5000))).error;
}

describe('the real agent tree in process (ManualClock, memory NATS, kernel, files and Kubernetes)', function () {
  let node: InprocNode;
  const pods = new Map<string, Pod & { reply: AddReply }>();

  before(async function () {
    node = await InprocNode.create({ seed: 7 });
    await node.startAgent();
  });

  after(async function () {
    await node?.stopAgent();
  });

  it('prepares the pool in the memory kernel and files, and registers the host interface with the manager', async function () {
    await node.until(() => node.manager.host !== undefined, 5000, 'the host interface registered');
    const v = await view(node);
    expect(v.namespaces.find((n) => n.name === 'gw')?.links.find((l) => l.name === `${PREFIX}0`)).to.deep.include({ up: true, addresses: ['169.254.1.1/32'] });
    const hostTap = v.namespaces.find((n) => n.name === 'host')!.links.find((l) => l.name === `${PREFIX}1`)!;
    expect(hostTap).to.deep.include({ up: true, addresses: [`${NODE_IP}/32`] });
    expect(formatMac(node.manager.host!.mac)).to.equal(hostTap.mac);
    expect(node.disk.list()).to.deep.equal([`${STATE_DIR}/pool.json`, `${STATE_DIR}/portmap.json`]);
    const portmap = JSON.parse(node.disk.peek(`${STATE_DIR}/portmap.json`)!) as { ports: unknown[] };
    expect(portmap.ports).to.have.length(POOL);
    expect(node.manager.log.map((l) => l.replace(/^\d+ /, ''))).to.include('hello agent1');
  });

  it('CNI Prepare+ADD and ADD through the in-process port: a TAP plumbed into each pod’s namespace, its MAC and port answered and registered', async function () {
    const [a, b] = [await newPod(node, 1), await newPod(node, 2)];
    const ra = await add(node, a, true);
    const rb = await add(node, b);
    for (const [p, r] of [[a, ra], [b, rb]] as const) {
      expect(r.error, `ADD ${p.ns}: ${r.error?.message ?? ''}`).to.equal(undefined);
      pods.set(p.id, { ...p, reply: r });
      expect(r).to.include({ ifname: 'eth0', sandbox: p.netns });
      const ns = (await view(node)).namespaces.find((n) => n.name === p.ns);
      expect(ns?.links.find((l) => l.name === 'eth0')).to.deep.include({ type: 'tap', mac: r.mac, mtu: 1450, up: true, addresses: [`${p.ip}/32`] });
      expect(ns?.routes.map((x) => x.dst)).to.deep.equal(['0.0.0.0/0', '169.254.1.1/32']);
      const held = node.manager.pods.get(p.id);
      expect(held && { port: held.portId, mac: formatMac(held.mac) }).to.deep.equal({ port: r.portId, mac: r.mac });
    }
    expect(ra.portId).to.not.equal(rb.portId);
    const recorded = poolJson(node)!.allocations.map((x) => `${x.containerId}:${x.index}:${x.netns}:${x.pod?.mac}`);
    expect(recorded).to.deep.equal([`${a.id}:${ra.portId}:${a.netns}:${ra.mac}`, `${b.id}:${rb.portId}:${b.netns}:${rb.mac}`]);
    expect(await check(node, a, ra.mac), 'CHECK').to.equal(undefined);
    expect(codeOf(await check(node, a, '02:00:00:00:00:01')), 'CHECK with another MAC').to.equal('CONFLICT');
  });

  it('malformed or out-of-range bytes get a typed error in the reply and change nothing; an unknown method is UNIMPLEMENTED', async function () {
    const before = await snapshot(node);
    const log = node.manager.log.length;
    const c = await newPod(node, 3);
    const good = encodeAddRequest(addRequest(c));
    const cases: [string, Uint8Array][] = [
      ['garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])],
      ['truncated inside the container id', good.subarray(0, 6)],
      ['MTU out of range', encodeAddRequest({ ...addRequest(c), mtu: 70_000 })],
      ['netns with ..', encodeAddRequest({ ...addRequest(c), netns: '/var/run/netns/../pod-3' })],
      ['no address', encodeAddRequest({ ...addRequest(c), ips: [] })],
      ['ifname with a slash', encodeAddRequest({ ...addRequest(c), ifname: 'eth/0' })],
    ];
    for (const [what, bytes] of cases) {
      const reply = decodeAddReply(await node.drive(cniOf(node).call('Add', bytes, 5000)));
      expect(codeOf(reply.error), what).to.be.oneOf(['MALFORMED', 'INVALID_ARGUMENT']);
    }
    const unknown = await cniOf(node)
      .call('Teleport' as never, good)
      .then(
        () => 'answered',
        (e: unknown) => (e as { code?: string }).code,
      );
    expect(unknown).to.equal('UNIMPLEMENTED');
    await node.storage.deleteNamespace(c.ns);
    expect(await snapshot(node), 'kernel and files unchanged').to.equal(before);
    expect(node.manager.log.length, 'nothing told to the manager').to.equal(log);
  });

  it('Services and EndpointSlices made in memory-kube reach the manager as service.upsert, and agent.sync carries them with the pods', async function () {
    node.kube.apply(service('web', '10.96.0.10', [{ name: 'http', port: 80, targetPort: 8080 }]));
    node.kube.apply(slice('web-1', 'web', [{ ip: '10.244.1.11', node: NODE }, { ip: '10.244.2.5', node: 'node-2' }], [{ name: 'http', port: 8080 }]));
    await node.until(() => node.manager.services.get('10.96.0.10:80/TCP')?.endpoints.length === 2, 5000, 'the service at the manager');
    const pulled = await node.drive(node.manager.pull());
    expect(pulled.ok).to.equal(true);
    if (!pulled.ok) return;
    expect(pulled.value.services.map((s) => `${s.clusterIp}:${s.port}`)).to.have.length(1);
    expect(pulled.value.pods.map((p) => p.containerId).sort()).to.deep.equal([...pods.keys()].sort());
    expect(pulled.value.host?.interfaceName).to.equal(`${PREFIX}1`);
  });

  it('410 Gone: the informers list again and the manager hears of a deletion their watches missed', async function () {
    const lists = node.kube.requests['list services'] ?? 0;
    node.kube.apply(service('db', '10.96.0.20', [{ port: 5432 }]));
    await node.until(() => node.manager.services.has('10.96.0.20:5432/TCP'), 5000, 'db at the manager');
    node.kube.dropWatches('reset');
    expect(node.kube.delete('Service', 'default', 'db').ok).to.equal(true);
    node.kube.compact();
    await node.until(() => !node.manager.services.has('10.96.0.20:5432/TCP'), 5000, 'the deletion at the manager');
    expect(node.kube.requests['list services'], 'listed again').to.equal(lists + 1);
    node.kube.expireWatches();
    await node.pass(50);
    expect(node.kube.requests['list services'], 'and again after an ERROR 410 on an open watch').to.equal(lists + 2);
    expect(node.manager.services.has('10.96.0.10:80/TCP'), 'web kept').to.equal(true);
  });

  it('a full disk fails the ADD with RESOURCE_EXHAUSTED and changes nothing; with room again the same ADD succeeds', async function () {
    const c = await newPod(node, 4);
    const before = await snapshot(node);
    const log = node.manager.log.length;
    node.disk.fill();
    const refused = await add(node, c);
    expect(codeOf(refused.error)).to.equal('RESOURCE_EXHAUSTED');
    expect(refused.error?.message).to.contain('ENOSPC');
    expect(await snapshot(node), 'kernel and files unchanged').to.equal(before);
    expect(node.manager.log.length, 'nothing told to the manager').to.equal(log);
    node.disk.setLimit(undefined);
    const again = await add(node, c, true);
    expect(again.error).to.equal(undefined);
    pods.set(c.id, { ...c, reply: again });
  });

  it('DEL frees the interface: the TAP back home under its pool name, the manager told, the record gone; a repeated DEL is fine', async function () {
    const c = pods.get('c4'.padEnd(16, '0'))!;
    expect(await del(node, c)).to.equal(undefined);
    const v = await view(node);
    expect(v.namespaces.find((n) => n.name === c.ns)?.links.map((l) => l.name)).to.deep.equal(['lo']);
    expect(v.namespaces.find((n) => n.name === 'host')!.links.find((l) => l.name === `${PREFIX}${c.reply.portId}`)).to.deep.include({ mac: c.reply.mac, up: false, addresses: [] });
    expect(node.manager.pods.has(c.id)).to.equal(false);
    expect(poolJson(node)!.allocations.map((x) => x.containerId)).to.not.include(c.id);
    expect(await del(node, c), 'a repeated DEL').to.equal(undefined);
    pods.delete(c.id);
  });

  it('a crash under it (the NATS connection lost) restarts every child after the bus: the CNI backend withdrawn and handed over again, the pods recovered', async function () {
    const a = pods.get('c1'.padEnd(16, '0'))!;
    const old = cniOf(node);
    const mark = node.handovers.length;
    node.nats.kill(`agent-${NODE}`);
    await node.until(() => node.cni !== undefined && node.cni !== old, 5000, 'the CNI backend handed over again');
    expect(node.handovers.slice(mark)).to.deep.equal(['down', 'up']);
    await node.until(async () => (await check(node, a, a.reply.mac)) === undefined, 5000, 'a recovered and ready');
    // A request through the withdrawn backend is answered as through a removed socket: try again.
    const stale = decodeAddReply(await node.drive(old.call('Add', encodeAddRequest(addRequest(a)), 5000)));
    expect(codeOf(stale.error)).to.equal('UNAVAILABLE');
    expect(node.life?.killed, 'a crash, not a kill: the same life').to.equal(false);
  });

  it('a service deleted while the tree restarts (NATS lost during an API outage): hello names a new instance, so the manager pulls a state without it', async function () {
    node.kube.apply(service('cache', '10.96.0.30', [{ port: 6379 }]));
    await node.until(() => node.manager.services.has('10.96.0.30:6379/TCP'), 5000, 'cache at the manager');
    const hellos = node.manager.log.filter((l) => l.includes(' hello ')).length;
    node.kube.setOutage(true);
    expect(node.kube.delete('Service', 'default', 'cache').ok).to.equal(true);
    // The tree restarts after the bus: the intent store (in memory) starts empty, so the rebuilt
    // watches have no baseline in which the deleted service could be missed.
    node.nats.kill(`agent-${NODE}`);
    await node.pass(1000);
    node.kube.setOutage(false);
    await node.until(() => node.manager.log.filter((l) => l.includes(' hello ')).length > hellos, 5000, 'hello again');
    const hello = node.manager.log.filter((l) => l.includes(' hello ')).at(-1)!;
    expect(hello, 'the process id with the intent store’s generation').to.match(/ hello agent1-[1-9]\d*$/);
    let state: Awaited<ReturnType<typeof node.manager.pull>> | undefined;
    await node.until(async () => (state = await node.manager.pull()).ok, 5000, 'the agent answers agent.sync');
    if (!state?.ok) throw new Error('no state');
    expect(state.value.services.map((x) => `${formatIpv4(x.clusterIp)}:${x.port}`)).to.not.include('10.96.0.30:6379');
    expect(state.value.services.map((x) => `${formatIpv4(x.clusterIp)}:${x.port}`)).to.include('10.96.0.10:80');
    expect(state.value.pods.map((p) => p.containerId).sort()).to.deep.equal([...pods.keys()].sort());
  });

  it('kill -9 mid-ADD, then a restart over the same disk and kernel: pods recovered and registered again, an orphan torn down, nothing handed out twice', async function () {
    const a = pods.get('c1'.padEnd(16, '0'))!;
    const b = pods.get('c2'.padEnd(16, '0'))!;
    // d's ADD is plumbed and recorded, and waits for a manager that does not acknowledge it yet.
    const d = await newPod(node, 5);
    node.manager.unavailable.add('pod.add');
    const pending = cniOf(node).call('Add', encodeAddRequest(addRequest(d)), 5000);
    await node.until(() => poolJson(node)!.allocations.some((x) => x.containerId === d.id && x.pod !== undefined), 2000, 'd recorded as plumbed');
    node.killAgent();
    void pending.catch(() => undefined);
    node.manager.unavailable.delete('pod.add');
    // While the agent is down, the runtime removes b's namespace: its TAP goes with it.
    expect((await node.storage.deleteNamespace(b.ns)).ok).to.equal(true);
    const mark = node.manager.log.length;
    await node.startAgent();
    await node.until(() => node.manager.pods.has(d.id) && !node.manager.pods.has(b.id) && node.manager.log.slice(mark).some((l) => l.includes(`pod.add ${a.id}`)), 10_000, 'recovered');
    const since = node.manager.log.slice(mark).map((l) => l.replace(/^\d+ /, ''));
    expect(since).to.include('hello agent2');
    expect(since.find((l) => l.startsWith(`pod.add ${a.id}`))).to.equal(`pod.add ${a.id} port ${a.reply.portId} ${a.ip} ${a.reply.mac}`);
    expect(since).to.include(`pod.delete ${b.id}`);
    const v = await view(node);
    expect(v.taps, 'every TAP exists once (b’s re-created at home)').to.have.length(POOL);
    expect(new Set(v.taps.map((t) => t.mac)).size, 'no MAC twice').to.equal(POOL);
    const where = v.namespaces.flatMap((n) => n.links.filter((l) => l.type === 'tap').map((l) => `${n.name}/${l.name}`));
    expect(new Set(where).size).to.equal(where.length);
    expect(v.namespaces.find((n) => n.name === a.ns)?.links.find((l) => l.name === 'eth0')?.mac, 'a kept its very TAP').to.equal(a.reply.mac);
    // The runtime retries d's ADD: the recovered interface is answered; a new pod gets a free port.
    const rd = await add(node, d);
    expect(rd.error).to.equal(undefined);
    const e = await newPod(node, 6);
    const re = await add(node, e);
    expect(re.error).to.equal(undefined);
    const ports = poolJson(node)!.allocations.map((x) => x.index);
    expect(new Set(ports).size, 'no port twice').to.equal(ports.length);
    expect(ports.sort((x, y) => x - y)).to.deep.equal([a.reply.portId, rd.portId, re.portId].sort((x, y) => x - y));
    expect(node.life?.killed).to.equal(false);
    pods.set(d.id, { ...d, reply: rd });
    pods.set(e.id, { ...e, reply: re });
  });

  it('a DEL cut short by a full disk, then kill -9 and a restart: the interface stays the pod’s until the runtime’s DEL, and no other pod gets its port meanwhile', async function () {
    const e = pods.get('c6'.padEnd(16, '0'))!;
    node.disk.fill();
    // The TAP goes home, then the release cannot be written: the DEL fails and the runtime will retry.
    expect(codeOf(await del(node, e))).to.equal('RESOURCE_EXHAUSTED');
    expect(poolJson(node)!.allocations.find((x) => x.containerId === e.id)?.index, 'still recorded').to.equal(e.reply.portId);
    node.killAgent();
    node.disk.setLimit(undefined);
    await node.startAgent();
    await node.until(() => node.cni !== undefined, 5000, 'the CNI backend handed over');
    await node.pass(500);
    expect(poolJson(node)!.allocations.find((x) => x.containerId === e.id)?.index, 'kept for the runtime’s DEL').to.equal(e.reply.portId);
    // A new pod meanwhile gets another port.
    const f = await newPod(node, 7);
    const rf = await add(node, f);
    expect(rf.error).to.equal(undefined);
    expect(rf.portId).to.not.equal(e.reply.portId);
    // The runtime's DEL retry: done, and only now is the port free.
    expect(await del(node, e)).to.equal(undefined);
    expect(poolJson(node)!.allocations.map((x) => x.containerId)).to.not.include(e.id);
    const g = await newPod(node, 8);
    const rg = await add(node, g);
    expect(rg.error).to.equal(undefined);
    expect(rg.portId, 'the first free port again').to.equal(e.reply.portId);
  });

  it('after kill -9 and a restart, the first full state the agent serves already has every recovered pod and the host', async function () {
    const recorded = poolJson(node)!.allocations.filter((x) => x.pod).map((x) => x.containerId).sort();
    expect(recorded.length).to.be.greaterThan(2);
    node.killAgent();
    // A loaded machine: every ip command takes 30 ms, so checking the recovered pods takes longer
    // than the watches' first lists.
    await node.startAgent({ ipDelayMs: 30 });
    // As the manager does on hearing a new instance: pull at once, again until the agent answers.
    let first: Awaited<ReturnType<typeof node.manager.pull>> | undefined;
    await node.until(async () => (first = await node.manager.pull()).ok, 10_000, 'agent.sync answered', 1);
    if (!first?.ok) throw new Error('no state');
    expect(first.value.pods.map((p) => p.containerId).sort(), 'no recovered pod missing (the manager would delete it)').to.deep.equal(recorded);
    expect(first.value.host?.interfaceName).to.equal(`${PREFIX}1`);
  });
});

describe('the in-process agent is deterministic', function () {
  /** A short run: start, two ADDs, a service, a DEL, a 410, a full disk, a kill -9 and a restart. */
  async function script(): Promise<{ replies: AddReply[]; text: string }> {
    const node = await InprocNode.create({ seed: 3 });
    await node.startAgent();
    const [a, b, c] = [await newPod(node, 1), await newPod(node, 2), await newPod(node, 3)];
    const replies = [await add(node, a, true), await add(node, b)];
    node.kube.apply(service('web', '10.96.0.10', [{ port: 80 }]));
    node.kube.apply(slice('web-1', 'web', [{ ip: a.ip, node: NODE }], [{ port: 8080 }]));
    await node.pass(300);
    await del(node, b);
    node.kube.expireWatches();
    node.disk.fill();
    replies.push(await add(node, c));
    node.disk.setLimit(undefined);
    node.killAgent();
    await node.startAgent();
    replies.push(await add(node, c));
    await node.pass(500);
    const text = JSON.stringify({ replies, log: node.manager.log, requests: node.kube.requests, at: node.clock.now(), state: await snapshot(node) });
    await node.stopAgent();
    return { replies, text };
  }

  it('the same seed and the same script give the same manager log, replies, kernel and files, byte for byte', async function () {
    const first = await script();
    expect(first.replies.map((r) => codeOf(r.error) ?? 'ok')).to.deep.equal(['ok', 'ok', 'RESOURCE_EXHAUSTED', 'ok']);
    expect((await script()).text).to.equal(first.text);
  });
});
