/**
 * The real agent process on a synthetic kernel (bin/sim-agent), with a real nats-server, the
 * software P4 target and the manager, each its own process: CNI Prepare/ADD/CHECK/DEL over the
 * agent's gRPC socket on pods whose namespaces are marker files, the plumbing read back from the
 * kernel directory, the pods as the manager holds them and as the target's tables carry them;
 * then kill -9 of the agent while a pod's namespace is deleted, and a restart: the recorded pods
 * come back with the same port and MAC and are registered again, the orphan is torn down and its
 * TAP re-created, and no interface exists or is handed out twice. No TAP, namespace or address
 * of the machine is touched: everything is files under a temporary directory.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { ctlPrefix, subjects } from '../../messages/subjects.js';
import { parseIpv4 } from '../../messages/validate.js';
import { ctlMethods, managerMethods } from '../../protocol/methods.js';
import type { PodsReply } from '../../protocol/ctl.js';
import type { PodInterface } from '../../protocol/intent.js';
import { connectAgent } from '../../cni/grpc-client.js';
import { decodeAddReply, decodeStatusReply, encodeAddRequest, encodeCheckRequest, encodeDelRequest, encodePrepareRequest, type AddReply } from '../../cni/wire.js';
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { binCommand, ManagedProcess, type LogLine } from '../../simulations/processes.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';
import { createNamespace, deleteNamespace, readKernelState, type KernelView } from '../../simulations/kernel/synthetic-ip.js';
import { eventually } from '../kube/support.js';

const NODE = 'sim-node-1';
const NODE_IP = '192.0.2.10';
const POD_CIDR = '10.244.77.0/24';
const POOL = 16;
const PREFIX = 'SIM_';

interface Pod {
  readonly id: string;
  readonly ns: string;
  readonly path: string;
  readonly ip: string;
}

describe('the real agent on a synthetic kernel (bin/sim-agent with nats-server, the target and the manager)', function () {
  this.timeout(60_000);
  let dir: string;
  let kernelDir: string;
  let socket: string;
  let nats: NatsServer;
  let target: TargetProcess;
  let manager: ManagedProcess;
  let agent: ManagedProcess;
  let bus: Bus;
  const registered: PodInterface[] = [];
  const problems: string[] = [];
  const pods = new Map<string, Pod & { reply?: AddReply }>();

  const onLog = (name: string, line: LogLine | string): void => {
    if (typeof line === 'string') {
      if (line.trim() !== '') problems.push(`${name}: ${line}`);
    } else if (line.level >= 50) problems.push(`${name}: ${line.msg} ${JSON.stringify(line.err ?? '')}`);
  };

  async function ctlPods(role: 'manager' | 'agent'): Promise<PodsReply | undefined> {
    const r = await bus.request(`${ctlPrefix(NODE, role)}.${ctlMethods.pods.op}`, ctlMethods.pods, { node: NODE, limit: 0 }, { timeoutMs: 1000 });
    return r.ok ? r.value : undefined;
  }

  async function kernel(): Promise<KernelView> {
    const view = await readKernelState(kernelDir);
    if (!view.ok) throw view.error;
    return view.value;
  }

  async function call(path: string, bytes: Uint8Array, deadlineMs = 8000): Promise<Buffer> {
    const conn = connectAgent(socket);
    try {
      return await conn.call(`/infra.v1.CniBackend/${path}`, bytes, deadlineMs);
    } finally {
      conn.close();
    }
  }

  async function newPod(n: number): Promise<Pod> {
    const ns = `pod-${n}`;
    const path = await createNamespace(kernelDir, ns);
    if (!path.ok) throw path.error;
    const pod = { id: `c${n}0000000000000000`, ns, path: path.value, ip: `10.244.77.${10 + n}` };
    pods.set(pod.id, pod);
    return pod;
  }

  const ref = (p: Pod) => ({ containerId: p.id, netns: p.path, ifname: 'eth0', podNamespace: 'default', podName: `web-${p.ns}`, network: 'sim' });
  const addRequest = (p: Pod) => ({
    ...ref(p),
    ips: [{ address: parseIpv4(p.ip)!, prefixLength: 24, gateway: parseIpv4('10.244.77.1')! }],
    routes: [{ dst: 0, dstPrefixLength: 0, gateway: 0 }],
    mtu: 1450,
  });

  async function add(p: Pod, prepare: boolean): Promise<AddReply> {
    if (prepare) {
      const prepared = decodeStatusReply(await call('Prepare', encodePrepareRequest({ containerId: p.id, netns: p.path, ifname: 'eth0', mtu: 1450 })));
      expect(prepared.error, 'Prepare').to.equal(undefined);
    }
    const reply = decodeAddReply(await call('Add', encodeAddRequest(addRequest(p))));
    expect(reply.error, `ADD of ${p.ns}: ${reply.error?.message ?? ''}`).to.equal(undefined);
    pods.get(p.id)!.reply = reply;
    return reply;
  }

  async function check(p: Pod, mac: string): Promise<string | undefined> {
    return decodeStatusReply(await call('Check', encodeCheckRequest({ ...addRequest(p), mac }))).error?.message;
  }

  /** What the kernel holds for a pod: its eth0 in the pod's namespace. */
  async function inPod(p: Pod): Promise<KernelView['namespaces'][number] | undefined> {
    return (await kernel()).namespaces.find((n) => n.name === p.ns);
  }

  /** Until the agent's CNI service answers (a killed agent leaves its socket file behind). */
  async function waitForCni(): Promise<void> {
    const probe = encodeCheckRequest({ containerId: 'probe', netns: '/nonexistent', ifname: 'eth0', podNamespace: '', podName: '', network: '', ips: [], routes: [], mtu: 0, mac: '' });
    await eventually(
      async () => {
        if (!(await access(socket).then(() => true, () => false))) return false;
        return call('Check', probe, 1000).then(() => true, () => false);
      },
      20_000,
      'the CNI service answering',
    );
  }

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'ioff-simagent-'));
    kernelDir = join(dir, 'kernel');
    socket = join(dir, 'cni', 'cni.sock');
    await mkdir(join(dir, 'state'), { recursive: true });
    nats = await startNatsServer({ dir: await mkdtemp(join(dir, 'nats-')) });
    target = await startTarget();
    const common = {
      node: { name: NODE, ip: NODE_IP, podCidr: POD_CIDR },
      heartbeat: { intervalMs: 200, missedBeats: 3 },
      logging: { level: 'warn' },
      nats: { servers: [nats.url], insecure: true, timeoutMs: 1000 },
    };
    await writeFile(join(dir, 'manager.yaml'), stringify({ ...common, p4: { target: target.address, insecure: true } }));
    await writeFile(
      join(dir, 'agent.yaml'),
      stringify({ ...common, pods: { prefix: PREFIX, poolNetns: 'host', gatewayNetns: 'gw', stateDir: join(dir, 'state'), socket, addTimeoutMs: 8000, retryMs: 50 } }),
    );
    bus = await Bus.connect({ servers: nats.url, name: 'sim-agent-test', logger: silentLogs().root, timeoutMs: 2000 });
    bus.subscribe(subjects.manager(NODE, managerMethods.podAdd.op), managerMethods.podAdd.request, (r) => {
      if (r.ok) registered.push(r.value);
    });
    manager = new ManagedProcess({ name: 'manager', bin: 'manager', args: ['--config', join(dir, 'manager.yaml')], onLog });
    agent = new ManagedProcess({ name: 'agent', bin: 'sim-agent', args: ['--config', join(dir, 'agent.yaml'), '--kernel-dir', kernelDir, '--kernel-seed', '7', '--pool', String(POOL)], onLog });
    manager.start();
    agent.start();
    await waitForCni();
    await eventually(async () => (await ctlPods('manager'))?.host !== undefined, 20_000, 'the host interface registered with the manager');
  });

  after(async function () {
    await agent?.stop();
    await manager?.stop();
    await target?.stop();
    await bus?.close();
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && problems.length > 0) console.log(problems.slice(-20).join('\n'));
  });

  it('refuses bad flags and a configuration without pods with exit code 2, before touching the kernel directory', async function () {
    const { command, args } = binCommand('sim-agent');
    const noPods = join(dir, 'no-pods.yaml');
    await writeFile(noPods, stringify({ node: { name: NODE, ip: NODE_IP }, nats: { servers: [nats.url], insecure: true } }));
    const other = join(dir, 'other-kernel');
    const cases = [
      [['--config', join(dir, 'agent.yaml'), '--kernel-dir', other, '--pool', '6'], 'power of two'],
      [['--config', noPods, '--kernel-dir', other], 'no pods section'],
      [['--config', join(dir, 'agent.yaml')], 'missing --kernel-dir'],
    ] as const;
    const runs = await Promise.all(
      cases.map(
        ([extra]) =>
          new Promise<{ code: number | null; stderr: string }>((resolve) => {
            execFile(command, [...args, ...extra], { timeout: 30_000 }, (error, _stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }));
          }),
      ),
    );
    runs.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).to.equal(2);
      expect(r.stderr).to.contain(cases[i]![1]);
    });
    expect(await access(other).then(() => true, () => false), 'no kernel made').to.equal(false);
  });

  it('prepares the pool in the kernel: the gateway TAP with 169.254.1.1 in its namespace, the host interface, registered with the manager', async function () {
    const view = await kernel();
    const gw = view.namespaces.find((n) => n.name === 'gw');
    expect(gw?.links.find((l) => l.name === `${PREFIX}0`)).to.deep.include({ up: true, addresses: ['169.254.1.1/32'] });
    const host = view.namespaces.find((n) => n.name === 'host')!;
    const hostTap = host.links.find((l) => l.name === `${PREFIX}1`)!;
    expect(hostTap).to.deep.include({ up: true, addresses: [`${NODE_IP}/32`] });
    expect(host.routes).to.deep.include({ dst: POD_CIDR, gateway: '169.254.1.1', dev: `${PREFIX}1`, scope: 'global', onlink: true });
    expect(view.taps).to.have.length(POOL);
    const seen = await ctlPods('manager');
    expect(seen?.host).to.deep.include({ interfaceName: `${PREFIX}1`, portId: 1, mac: hostTap.mac, ipv4: NODE_IP });
  });

  it('serves Prepare/ADD, ADD, CHECK and DEL on synthetic pods: plumbed as plumbing sets them, held by the manager, programmed in the target', async function () {
    const [a, b, c] = [await newPod(1), await newPod(2), await newPod(3)];
    const started = performance.now();
    const ra = await add(a, true);
    const addMs = performance.now() - started;
    const rb = await add(b, false);
    const rc = await add(c, false);
    console.log(`      Prepare+ADD ${addMs.toFixed(1)} ms on the synthetic kernel`);
    expect(new Set([ra.portId, rb.portId, rc.portId]).size, 'three distinct ports').to.equal(3);
    for (const [p, r] of [[a, ra], [b, rb], [c, rc]] as const) {
      expect(r).to.include({ ifname: 'eth0', sandbox: p.path });
      const ns = await inPod(p);
      const eth0 = ns?.links.find((l) => l.name === 'eth0');
      expect(eth0, `${p.ns} has eth0`).to.deep.include({ type: 'tap', mac: r.mac, mtu: 1450, up: true, addresses: [`${p.ip}/32`] });
      expect(ns?.links.find((l) => l.name === 'lo')?.up).to.equal(true);
      expect(ns?.routes).to.deep.equal([
        { dst: '0.0.0.0/0', gateway: '169.254.1.1', dev: 'eth0', scope: 'global', onlink: true },
        { dst: '169.254.1.1/32', gateway: undefined, dev: 'eth0', scope: 'link', onlink: false },
      ]);
    }
    // The manager holds them (from the agent's registration), with the kernel's MACs.
    await eventually(async () => ((await ctlPods('manager'))?.pods.length ?? 0) >= 3, 10_000, 'three pods at the manager');
    const held = (await ctlPods('manager'))!.pods;
    for (const [p, r] of [[a, ra], [b, rb], [c, rc]] as const) {
      expect(held.find((x) => x.containerId === p.id)).to.deep.include({ portId: r.portId, mac: r.mac, ipv4: p.ip, poolInterface: `${PREFIX}${r.portId}` });
    }
    // …and the target's tables carry each pod's address (read by the manager from the target).
    await eventually(
      async () => {
        const tables = await bus.request(`${ctlPrefix(NODE, 'manager')}.${ctlMethods.tables.op}`, ctlMethods.tables, { node: NODE, table: '', limit: 0, learnedOnly: false }, { timeoutMs: 2000 });
        if (!tables.ok) return false;
        const text = JSON.stringify(tables.value.tables);
        return [a, b, c].every((p) => text.includes(p.ip));
      },
      10_000,
      'the pods in the target tables',
    );
    expect(await check(a, ra.mac), 'CHECK').to.equal(undefined);
    expect(await check(a, '02:00:00:00:00:01'), 'CHECK with another MAC').to.contain('MAC');

    const del = decodeStatusReply(await call('Del', encodeDelRequest(ref(c))));
    expect(del.error).to.equal(undefined);
    const view = await kernel();
    expect(view.namespaces.find((n) => n.name === c.ns)?.links.map((l) => l.name)).to.deep.equal(['lo']);
    const home = view.namespaces.find((n) => n.name === 'host')!.links.find((l) => l.name === `${PREFIX}${rc.portId}`);
    expect(home, 'the TAP is home under its pool name').to.deep.include({ mac: rc.mac, up: false, addresses: [] });
    await eventually(async () => !(await ctlPods('manager'))?.pods.some((x) => x.containerId === c.id), 5000, 'the manager forgets the deleted pod');
    expect(decodeStatusReply(await call('Del', encodeDelRequest(ref(c)))).error, 'a repeated DEL').to.equal(undefined);
  });

  it('after kill -9 of the agent: recorded pods come back with the same port and MAC and are registered again; a pod whose namespace went is torn down; nothing is handed out twice', async function () {
    const a = pods.get('c10000000000000000')!;
    const b = pods.get('c20000000000000000')!;
    const before = await kernel();
    const serialOf = (view: KernelView, ns: string) => view.namespaces.find((n) => n.name === ns)?.links.find((l) => l.name === 'eth0')?.serial;
    agent.kill('SIGKILL');
    await agent.waitExit();
    // While the agent is down, the runtime removes b's namespace: the kernel destroys its TAP.
    expect((await deleteNamespace(kernelDir, b.ns)).ok).to.equal(true);
    expect((await kernel()).taps, 'b’s TAP destroyed with its namespace').to.have.length(POOL - 1);
    registered.length = 0;
    const restarted = performance.now();
    agent.start();
    await waitForCni();
    await eventually(() => registered.some((p) => p.containerId === a.id), 20_000, 'a registered again after the restart');
    const again = registered.find((p) => p.containerId === a.id)!;
    console.log(`      restart → pod registered again: ${(performance.now() - restarted).toFixed(0)} ms`);
    expect(again.portId).to.equal(a.reply!.portId);
    expect(again.mac).to.equal(parseInt(a.reply!.mac.replaceAll(':', ''), 16));
    await eventually(async () => !(await ctlPods('manager'))?.pods.some((x) => x.containerId === b.id), 10_000, 'the orphan unregistered');
    await eventually(async () => (await kernel()).taps.length === POOL, 10_000, 'the orphan’s TAP re-created at home');
    const view = await kernel();
    expect(serialOf(view, a.ns), 'a kept its very TAP').to.equal(serialOf(before, a.ns));
    const bTap = view.namespaces.find((n) => n.name === 'host')!.links.find((l) => l.name === `${PREFIX}${b.reply!.portId}`);
    expect(bTap, 'b’s pool TAP is back home, a new device').to.not.equal(undefined);
    expect(bTap!.mac).to.not.equal(b.reply!.mac);
    expect(await check(a, a.reply!.mac), 'CHECK after the restart').to.equal(undefined);
    const agentView = await ctlPods('agent');
    expect(agentView?.pods.map((p) => `${p.containerId}:${p.portId}:${p.phase}`)).to.deep.equal([`${a.id}:${a.reply!.portId}:ready`]);

    // A new pod gets a free port: b's old one (first free), never a's.
    const d = await newPod(4);
    const rd = await add(d, true);
    expect(rd.portId).to.not.equal(a.reply!.portId);
    const final = await kernel();
    const names = final.namespaces.flatMap((n) => n.links.filter((l) => l.type === 'tap').map((l) => `${n.name}/${l.name}`));
    expect(new Set(names).size, 'every TAP once').to.equal(names.length);
    expect(new Set(final.taps.map((l) => l.mac)).size, 'no MAC twice').to.equal(POOL);
    expect(final.taps).to.have.length(POOL);
    const ports = (await ctlPods('agent'))!.pods.map((p) => p.portId);
    expect(new Set(ports).size, 'no port allocated twice').to.equal(ports.length);
    expect(problems.filter((p) => !/SIGKILL|exited/.test(p)), 'no errors logged').to.deep.equal([]);
  });
});
