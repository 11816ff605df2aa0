/**
 * The synthetic kernel (simulations/kernel/): its answers to every command shape the agent uses,
 * read through the agent's own parsers and plumbing; iproute2's refusals; batches; persistence
 * across instances and processes; namespaces deleted by another process; the agent's view of
 * /var/run/netns. Then, as root, fidelity: one command sequence against real iproute2 in scratch
 * namespaces of this test (`ioff-<run>-…`, deleted after) and against the synthetic kernel must
 * give the same results, outputs and error messages (MACs mapped), and the same parsed view.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIp, type IpRunner } from '../../actors/agent/pool/ip.js';
import { listLinks, validatePool, discoverPool } from '../../actors/agent/pool/discover.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import { readAddrs, readLinks, readRoutes } from '../../actors/agent/pod/kernel.js';
import { checkPod, movePod, plumbPod, unplumbPod, type PlumbSpec } from '../../actors/agent/pod/plumbing.js';
import { setupGateway, setupHost } from '../../actors/agent/pod/gateway.js';
import { netnsExists, probeOf, sameNetns } from '../../actors/agent/pod/inputs.js';
import { SyntheticKernel, createNamespace, deleteNamespace, readKernelState, namespacePath, INIT_NS } from '../../simulations/kernel/synthetic-ip.js';
import { KernelStateError } from '../../simulations/kernel/errors.js';
import { TestNet } from '../agent-pool/netns.js';

const isRoot = process.getuid?.() === 0;

async function freshKernel(seed = 1): Promise<{ dir: string; kernel: SyntheticKernel; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ioff-kernel-'));
  const opened = await SyntheticKernel.open({ kernelDir: dir, seed });
  if (!opened.ok) throw opened.error;
  return { dir, kernel: opened.value, close: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs a command that must succeed. */
async function ip(k: IpRunner, args: string[], netns?: string): Promise<string> {
  const r = await k.run(args, netns);
  if (!r.ok) throw r.error;
  return r.value;
}

/** Runs a command that must fail; returns iproute2's message. */
async function refused(k: IpRunner, args: string[], netns?: string): Promise<string> {
  const r = await k.run(args, netns);
  if (r.ok) throw new Error(`ip ${args.join(' ')} succeeded`);
  return r.error.stderr.trim();
}

const spec = (dir: string, pod: string, extra: Partial<PlumbSpec> = {}): PlumbSpec => ({
  from: { name: 'P_2', netns: 'host' },
  netns: namespacePath(dir, pod),
  ifname: 'eth0',
  mtu: 1450,
  ips: [{ address: '10.244.1.5', prefixLength: 24 }],
  routes: [{ dst: '10.96.0.0', prefixLength: 12 }],
  ...extra,
});

describe('the synthetic kernel', function () {
  let t: Awaited<ReturnType<typeof freshKernel>>;

  beforeEach(async function () {
    t = await freshKernel();
    await ip(t.kernel, ['netns', 'add', 'host']);
    const made = await createPool(t.kernel, { prefix: 'P_', count: 8, netns: 'host' });
    if (!made.ok) throw made.error;
  });

  afterEach(async function () {
    await t.close();
  });

  it('lists links in iproute2 JSON that discovery and plumbing parse: a valid pool of TAPs, down, MTU 1500, distinct MACs', async function () {
    const links = await listLinks(t.kernel, 'host');
    if (!links.ok) throw links.error;
    const pool = validatePool(links.value, 'P_', 'host');
    expect(pool.ok && pool.value.size).to.equal(8);
    const read = await readLinks(t.kernel, 'host', 'inspect');
    if (!read.ok) throw read.error;
    const taps = read.value.filter((l) => l.tap);
    expect(taps.map((l) => l.name)).to.deep.equal(['P_0', 'P_1', 'P_2', 'P_3', 'P_4', 'P_5', 'P_6', 'P_7']);
    expect(taps.every((l) => !l.up && l.mtu === 1500 && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(l.mac))).to.equal(true);
    expect(new Set(taps.map((l) => l.mac)).size).to.equal(8);
    // Locally administered unicast, as the kernel's random MACs.
    expect(taps.every((l) => (parseInt(l.mac.slice(0, 2), 16) & 3) === 2)).to.equal(true);
    const lo = read.value.find((l) => l.name === 'lo');
    expect(lo).to.include({ tap: false, up: false, mtu: 65536 });
  });

  it("plumbs, checks and unplumbs a pod through the agent's plumbing (fast path and careful path)", async function () {
    const pod = await createNamespace(t.dir, 'pod1');
    if (!pod.ok) throw pod.error;
    const done = await plumbPod(t.kernel, spec(t.dir, 'pod1'));
    if (!done.ok) throw done.error;
    expect(t.kernel.stats.batches, 'the fast path ran one batch').to.equal(1);
    const links = await readLinks(t.kernel, pod.value, 'check');
    const eth0 = links.ok ? links.value.find((l) => l.name === 'eth0') : undefined;
    expect(eth0).to.deep.include({ mac: done.value.mac, mtu: 1450, up: true, tap: true });
    const addrs = await readAddrs(t.kernel, pod.value, 'eth0', 'check');
    expect(addrs.ok && addrs.value).to.deep.equal([{ local: '10.244.1.5', prefixLength: 32 }]);
    const routes = await readRoutes(t.kernel, pod.value, 'eth0', 'check');
    expect(routes.ok && routes.value).to.deep.equal([
      { dst: '0.0.0.0/0', gateway: '169.254.1.1', scope: undefined },
      { dst: '10.96.0.0/12', gateway: '169.254.1.1', scope: undefined },
      { dst: '169.254.1.1/32', gateway: undefined, scope: 'link' },
    ]);
    expect((await checkPod(t.kernel, { ...spec(t.dir, 'pod1'), mac: done.value.mac })).ok).to.equal(true);
    // Drift is seen: a route removed by hand.
    await ip(t.kernel, ['route', 'del', 'default', 'via', '169.254.1.1', 'dev', 'eth0'], pod.value);
    const drifted = await checkPod(t.kernel, { ...spec(t.dir, 'pod1'), mac: done.value.mac });
    expect(!drifted.ok && drifted.error.message).to.contain('default route via 169.254.1.1 is missing');

    const back = await unplumbPod(t.kernel, { netns: pod.value, ifname: 'eth0' }, { name: 'P_2', netns: 'host' });
    expect(back.ok && back.value).to.equal('returned');
    const home = await readLinks(t.kernel, 'host', 'inspect');
    expect(home.ok && home.value.find((l) => l.name === 'P_2')).to.deep.include({ mac: done.value.mac, up: false, mtu: 1450 });
    expect((await readAddrs(t.kernel, 'host', 'P_2', 'inspect')).ok).to.equal(true);

    // Without runBatch the careful path runs (locate, move, rename, configure, prune, read back).
    const stepwise: IpRunner = { run: (a, n) => t.kernel.run(a, n), netns: t.kernel.netns };
    const again = await plumbPod(stepwise, spec(t.dir, 'pod1', { ips: [{ address: '10.244.1.6', prefixLength: 24 }] }));
    expect(again.ok && again.value).to.deep.equal({ ifname: 'eth0', mac: done.value.mac });
    expect((await checkPod(t.kernel, { ...spec(t.dir, 'pod1', { ips: [{ address: '10.244.1.6', prefixLength: 24 }] }), mac: done.value.mac })).ok).to.equal(true);
  });

  it('moves first, then sets the MTU, then renames — keeping what was done when a later part fails, as Linux does', async function () {
    const pod = await createNamespace(t.dir, 'pod1');
    if (!pod.ok) throw pod.error;
    await ip(t.kernel, ['tuntap', 'add', 'dev', 'eth0', 'mode', 'tap'], pod.value);
    // eth0 is taken in the pod: the TAP still arrives there under its own name, with the new MTU.
    const moved = await movePod(t.kernel, { from: { name: 'P_2', netns: 'host' }, netns: pod.value, ifname: 'eth0', mtu: 1400 });
    expect(!moved.ok && moved.error.message).to.contain('RTNETLINK answers: File exists');
    const there = await readLinks(t.kernel, pod.value, 'inspect');
    expect(there.ok && there.value.map((l) => `${l.name}/${l.mtu}`)).to.deep.equal(['lo/65536', 'eth0/1500', 'P_2/1400']);
    // An MTU out of range: moved, not renamed.
    expect(await refused(t.kernel, ['link', 'set', 'dev', 'P_3', 'netns', pod.value, 'name', 'eth9', 'mtu', '70000'], 'host')).to.equal('Error: mtu greater than device maximum.');
    const after = await readLinks(t.kernel, pod.value, 'inspect');
    expect(after.ok && after.value.map((l) => `${l.name}/${l.mtu}`)).to.include('P_3/1500');
    // The careful path converges from "moved under its pool name" (renamed to eth1 here, eth0 being taken).
    const plumbed = await plumbPod({ run: (a, n) => t.kernel.run(a, n), netns: t.kernel.netns }, spec(t.dir, 'pod1', { ifname: 'eth1' }));
    expect(plumbed.ok, plumbed.ok ? '' : plumbed.error.message).to.equal(true);
  });

  it('refuses what iproute2 and the kernel refuse, with their messages, and an argument error changes nothing', async function () {
    const pod = (await createNamespace(t.dir, 'pod1')) as { ok: true; value: string };
    await ip(t.kernel, ['link', 'show'], pod.value); // noticed: the view is the kernel's own now
    const before = JSON.stringify(await readKernelState(t.dir));
    const cases: [string[], string | undefined, string][] = [
      [['link', 'set', 'dev', 'nope', 'up'], 'host', 'Cannot find device "nope"'],
      [['link', 'set', 'dev', 'P_0', 'name', 'P_1'], 'host', 'RTNETLINK answers: File exists'],
      [['link', 'set', 'dev', 'P_0', 'mtu', '10'], 'host', 'Error: mtu less than device minimum.'],
      [['link', 'set', 'dev', 'P_0', 'mtu', 'abc'], 'host', 'Error: argument "abc" is wrong: Invalid "mtu" value'],
      [['link', 'set', 'dev', 'P_0', 'name', 'abcdefghijklmnopq'], 'host', 'Error: argument "abcdefghijklmnopq" is wrong: "name" not a valid ifname'],
      [['link', 'set', 'dev', 'P_0', 'netns', '/var/run/netns/none'], 'host', 'Error: argument "/var/run/netns/none" is wrong: Invalid "netns" value'],
      [['link', 'set', 'dev', 'lo', 'netns', pod.value], 'host', 'Error: The interface netns is immutable.'],
      [['tuntap', 'add', 'dev', 'P_0', 'mode', 'tap'], 'host', 'ioctl(TUNSETIFF): Device or resource busy'],
      [['addr', 'replace', '10.1.1.300/32', 'dev', 'P_0'], 'host', 'Error: any valid prefix is expected rather than "10.1.1.300/32".'],
      [['addr', 'del', '10.9.9.9/32', 'dev', 'P_0'], 'host', 'Error: ipv4: Address not found.'],
      [['addr', 'flush', 'dev', 'nope'], 'host', 'Device "nope" does not exist.'],
      [['route', 'replace', '169.254.1.1', 'dev', 'P_0', 'scope', 'link'], 'host', 'Error: Device for nexthop is not up.'],
      [['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'P_0', 'onlink'], 'host', 'Error: Nexthop device is not up.'],
      [['route', 'replace', '10.96.0.1/12', 'via', '169.254.1.1', 'dev', 'P_0', 'onlink'], 'host', 'Error: Invalid prefix for given prefix length.'],
      [['route', 'del', '10.1.0.0/16', 'via', '169.254.1.1', 'dev', 'P_0'], 'host', 'RTNETLINK answers: No such process'],
      [['-j', '-4', 'route', 'show', 'dev', 'nope'], 'host', 'Cannot find device "nope"'],
      [['-j', '-4', 'addr', 'show', 'dev', 'nope'], 'host', 'Device "nope" does not exist.'],
      [['link', 'show', 'dev', 'nope'], 'host', 'Device "nope" does not exist.'],
      [['link', 'show'], 'nope', 'Cannot open network namespace "nope": No such file or directory'],
      [['link', 'show'], '/var/run/netns/nope', 'Cannot open network namespace "nope": No such file or directory'],
      [['netns', 'add', 'host'], undefined, 'Cannot create namespace file "/run/netns/host": File exists'],
      [['netns', 'del', 'nope'], undefined, 'Cannot remove namespace file "/run/netns/nope": No such file or directory'],
      [['foo'], 'host', 'Object "foo" is unknown, try "ip help".'],
      [['link', 'frob'], 'host', 'Command "frob" is unknown, try "ip link help".'],
      [['-x', 'link', 'show'], 'host', 'Option "-x" is unknown, try "ip -help".'],
    ];
    for (const [args, netns, message] of cases) expect(await refused(t.kernel, args, netns), `ip ${args.join(' ')}`).to.equal(message);
    expect(JSON.stringify(await readKernelState(t.dir)), 'nothing changed').to.equal(before);
    // Shapes real iproute2 knows but the model does not are refused by name, never accepted.
    for (const args of [['neigh', 'show'], ['link', 'add', 'v0', 'type', 'veth'], ['addr', 'add', '10.0.0.1/32', 'dev', 'P_0'], ['route', 'add', 'default', 'dev', 'P_0'], ['link', 'set', 'dev', 'P_0', 'address', '02:00:00:00:00:01'], ['-o', 'link'], ['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'P_0', 'table', 'main'], ['netns', 'list']]) {
      expect(await refused(t.kernel, args, 'host'), `ip ${args.join(' ')}`).to.match(/not modelled|unknown/);
    }
    expect(JSON.stringify(await readKernelState(t.dir)), 'nothing changed').to.equal(before);
  });

  it('checks next hops as the kernel does: link-scope cover without onlink, a local table for onlink, routes dropped when the link goes down', async function () {
    const pod = (await createNamespace(t.dir, 'fresh')) as { ok: true; value: string };
    await ip(t.kernel, ['tuntap', 'add', 'dev', 'x0', 'mode', 'tap'], pod.value);
    await ip(t.kernel, ['link', 'set', 'dev', 'x0', 'up'], pod.value);
    // A brand-new namespace has no local table yet: an onlink gateway is refused until lo is up.
    expect(await refused(t.kernel, ['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'x0', 'onlink'], pod.value)).to.equal('Error: Nexthop has invalid gateway.');
    await ip(t.kernel, ['link', 'set', 'dev', 'lo', 'up'], pod.value);
    await ip(t.kernel, ['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'x0', 'onlink'], pod.value);
    expect(await refused(t.kernel, ['route', 'replace', '10.3.0.0/16', 'via', '10.1.1.7', 'dev', 'x0'], pod.value)).to.equal('Error: Nexthop has invalid gateway.');
    await ip(t.kernel, ['addr', 'replace', '10.1.1.1/24', 'dev', 'x0'], pod.value);
    await ip(t.kernel, ['route', 'replace', '10.3.0.0/16', 'via', '10.1.1.7', 'dev', 'x0'], pod.value);
    const json = JSON.parse(await ip(t.kernel, ['-j', 'route', 'show'], pod.value)) as unknown[];
    expect(json).to.deep.equal([
      { dst: 'default', gateway: '169.254.1.1', dev: 'x0', flags: ['onlink', 'linkdown'] },
      { dst: '10.1.1.0/24', dev: 'x0', protocol: 'kernel', scope: 'link', prefsrc: '10.1.1.1', flags: ['linkdown'] },
      { dst: '10.3.0.0/16', gateway: '10.1.1.7', dev: 'x0', flags: ['linkdown'] },
    ]);
    // A secondary goes with its primary; the prefix route with the last primary of its subnet.
    await ip(t.kernel, ['addr', 'replace', '10.1.1.2/24', 'dev', 'x0'], pod.value);
    const addrs = JSON.parse(await ip(t.kernel, ['-j', '-4', 'addr', 'show', 'dev', 'x0'], pod.value)) as { addr_info: { local: string; secondary?: boolean }[] }[];
    expect(addrs[0]!.addr_info.map((a) => `${a.local}${a.secondary ? ' secondary' : ''}`)).to.deep.equal(['10.1.1.1', '10.1.1.2 secondary']);
    await ip(t.kernel, ['addr', 'del', '10.1.1.1/24', 'dev', 'x0'], pod.value);
    expect(await ip(t.kernel, ['-j', '-4', 'addr', 'show', 'dev', 'x0'], pod.value)).to.equal('[]\n');
    expect(await ip(t.kernel, ['route', 'show'], pod.value)).to.equal('default via 169.254.1.1 dev x0 onlink linkdown \n10.3.0.0/16 via 10.1.1.7 dev x0 linkdown \n');
    await ip(t.kernel, ['link', 'set', 'dev', 'x0', 'down'], pod.value);
    expect(await ip(t.kernel, ['-j', 'route', 'show'], pod.value)).to.equal('[]\n');
  });

  it('runs a batch in one turn: stops at the first failure, says which line, keeps what ran before', async function () {
    const out = await t.kernel.runBatch([['link', 'set', 'dev', 'P_0', 'up'], ['link', 'show', 'dev', 'P_0'], ['link', 'show', 'dev', 'P_1']], 'host');
    if (!out.ok) throw out.error;
    expect(out.value.split('\n').filter((l) => /^\d+: /.test(l)).map((l) => l.split(':')[1]!.trim())).to.deep.equal(['P_0', 'P_1']);
    expect(out.value).to.match(/^\d+: P_0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc pfifo_fast state DOWN mode DEFAULT group default qlen 1000\n {4}link\/ether [0-9a-f:]{17} brd ff:ff:ff:ff:ff:ff\n/);
    const failed = await t.kernel.runBatch([['link', 'set', 'dev', 'P_1', 'up'], ['link', 'set', 'dev', 'nope', 'up'], ['link', 'set', 'dev', 'P_2', 'up']], 'host');
    expect(!failed.ok && failed.error.stderr).to.equal('Cannot find device "nope"\nCommand failed -:2\n');
    expect(!failed.ok && failed.error.args).to.deep.equal(['-n', 'host', '-batch', '-']);
    const links = await readLinks(t.kernel, 'host', 'inspect');
    expect(links.ok && links.value.filter((l) => l.up).map((l) => l.name)).to.deep.equal(['P_0', 'P_1']);
  });

  it('persists every change before answering: another instance (another process) sees the same kernel and continues its MAC stream', async function () {
    await ip(t.kernel, ['link', 'set', 'dev', 'P_3', 'up'], 'host');
    const onDisk = JSON.parse(await readFile(join(t.dir, 'kernel.json'), 'utf8')) as { namespaces: Record<string, { links: { name: string; up: boolean }[] }> };
    expect(onDisk.namespaces.host!.links.find((l) => l.name === 'P_3')?.up, 'written before the command was answered').to.equal(true);
    const second = await SyntheticKernel.open({ kernelDir: t.dir, seed: 99 });
    if (!second.ok) throw second.error;
    expect(second.value.created).to.equal(false);
    expect(await ip(second.value, ['-d', '-j', 'link', 'show'], 'host')).to.equal(await ip(t.kernel, ['-d', '-j', 'link', 'show'], 'host'));
    await ip(second.value, ['tuntap', 'add', 'dev', 'Q0', 'mode', 'tap'], 'host');
    // The first instance notices the other's write and reloads before its next command.
    const seen = await readLinks(t.kernel, 'host', 'inspect');
    const q0 = seen.ok ? seen.value.find((l) => l.name === 'Q0') : undefined;
    expect(q0, 'Q0 seen by the first instance').to.not.equal(undefined);
    // Same seed and same history → same MACs, whether or not the kernel was reopened in between.
    const control = await freshKernel(1);
    try {
      await ip(control.kernel, ['netns', 'add', 'host']);
      await createPool(control.kernel, { prefix: 'P_', count: 8, netns: 'host' });
      await ip(control.kernel, ['tuntap', 'add', 'dev', 'Q0', 'mode', 'tap'], 'host');
      const c = await readLinks(control.kernel, 'host', 'inspect');
      expect(c.ok && c.value.find((l) => l.name === 'Q0')?.mac).to.equal(q0!.mac);
      expect(c.ok && c.value.map((l) => l.mac)).to.deep.equal(seen.ok && seen.value.map((l) => l.mac));
    } finally {
      await control.close();
    }
    const other = await freshKernel(2);
    try {
      await ip(other.kernel, ['netns', 'add', 'host']);
      await createPool(other.kernel, { prefix: 'P_', count: 8, netns: 'host' });
      const o = await readLinks(other.kernel, 'host', 'inspect');
      expect(o.ok && o.value.find((l) => l.name === 'P_0')?.mac).to.not.equal(seen.ok && seen.value.find((l) => l.name === 'P_0')?.mac);
    } finally {
      await other.close();
    }
  });

  it('destroys the TAPs of a namespace another process deleted; a namespace made again under the name is a new one', async function () {
    const pod = (await createNamespace(t.dir, 'pod1')) as { ok: true; value: string };
    const done = await plumbPod(t.kernel, spec(t.dir, 'pod1'));
    if (!done.ok) throw done.error;
    expect((await createNamespace(t.dir, 'pod1')).ok, 'create refuses an existing name').to.equal(false);
    for (const bad of ['../x', 'a/b', '', '-n']) {
      const made = await createNamespace(t.dir, bad);
      expect(!made.ok && made.error.reason, `createNamespace("${bad}")`).to.equal('bad-name');
      const gone = await deleteNamespace(t.dir, bad);
      expect(!gone.ok && gone.error.reason, `deleteNamespace("${bad}")`).to.equal('bad-name');
    }
    const removed = await deleteNamespace(t.dir, 'pod1');
    expect(removed.ok).to.equal(true);
    expect((await deleteNamespace(t.dir, 'pod1')).ok, 'delete refuses a missing name').to.equal(false);
    // Seen at once by readers of the directory, before the kernel's owner runs anything.
    const view = await readKernelState(t.dir);
    if (!view.ok) throw view.error;
    expect(view.value.namespaces.map((n) => n.name)).to.deep.equal([INIT_NS, 'host']);
    expect(view.value.taps.map((l) => l.name)).to.not.include('eth0');
    expect(view.value.taps).to.have.length(7);
    // The agent's DEL finds it gone and re-creates it in the pool: a new device (new serial, new MAC).
    const back = await unplumbPod(t.kernel, { netns: pod.value, ifname: 'eth0' }, { name: 'P_2', netns: 'host' });
    expect(back.ok && back.value).to.equal('gone');
    expect(await refused(t.kernel, ['link', 'show'], pod.value)).to.equal(`nsenter: cannot open ${pod.value}: No such file or directory`);
    const remade = await createPool(t.kernel, { prefix: 'P_', count: 8, netns: 'host', indices: [2] });
    expect(remade.ok && remade.value.created).to.deep.equal(['P_2']);
    const p2 = await readKernelState(t.dir);
    if (!p2.ok) throw p2.error;
    const tap = p2.value.taps.find((l) => l.name === 'P_2')!;
    expect(tap.mac).to.not.equal(done.value.mac);
    expect(tap.serial).to.be.greaterThan(view.value.taps.at(-1)!.serial);
    // Same name again: an empty namespace (only lo), whatever the old one held.
    await createNamespace(t.dir, 'pod1');
    const links = await readLinks(t.kernel, pod.value, 'inspect');
    expect(links.ok && links.value.map((l) => l.name)).to.deep.equal(['lo']);
    // An empty marker written by hand is a namespace too; removing and re-writing it makes another one.
    await writeFile(namespacePath(t.dir, 'bare'), '');
    await ip(t.kernel, ['tuntap', 'add', 'dev', 'b0', 'mode', 'tap'], namespacePath(t.dir, 'bare'));
    await rm(namespacePath(t.dir, 'bare'));
    await writeFile(namespacePath(t.dir, 'bare'), '');
    const bare = await readLinks(t.kernel, 'bare', 'inspect');
    expect(bare.ok && bare.value.map((l) => l.name)).to.deep.equal(['lo']);
  });

  it('serialises concurrent commands as the kernel does, and notices namespaces made or removed at any moment between them', async function () {
    // Pod actors plumb concurrently: every one must land, each on its own TAP.
    const n = 6;
    const paths: string[] = [];
    for (let i = 0; i < n; i++) paths.push(((await createNamespace(t.dir, `c${i}`)) as { ok: true; value: string }).value);
    const results = await Promise.all(
      paths.map((path, i) => plumbPod(t.kernel, { ...spec(t.dir, `c${i}`), from: { name: `P_${i + 2}`, netns: 'host' }, ips: [{ address: `10.244.1.${i + 10}`, prefixLength: 24 }] })),
    );
    expect(results.map((r) => r.ok)).to.deep.equal(Array(n).fill(true));
    const view = await readKernelState(t.dir);
    if (!view.ok) throw view.error;
    expect(paths.map((_, i) => view.value.namespaces.find((ns) => ns.name === `c${i}`)?.links.find((l) => l.name === 'eth0')?.addresses)).to.deep.equal(
      paths.map((_, i) => [`10.244.1.${i + 10}/32`]),
    );
    // Long after the last change (the directory's timestamp is then trusted), a removal still shows at once…
    await new Promise((r) => setTimeout(r, 250));
    await ip(t.kernel, ['link', 'show'], 'host');
    await ip(t.kernel, ['link', 'show'], 'host');
    await deleteNamespace(t.dir, 'c0');
    expect(await refused(t.kernel, ['link', 'show'], 'c0')).to.equal('Cannot open network namespace "c0": No such file or directory');
    // …and so does a removal and re-creation under the same name within one clock tick.
    await ip(t.kernel, ['tuntap', 'add', 'dev', 'z0', 'mode', 'tap'], 'c1');
    await deleteNamespace(t.dir, 'c1');
    await createNamespace(t.dir, 'c1');
    const c1 = await readLinks(t.kernel, 'c1', 'inspect');
    expect(c1.ok && c1.value.map((l) => l.name)).to.deep.equal(['lo']);
  });

  it('refuses a damaged kernel directory with a typed error instead of guessing', async function () {
    await writeFile(join(t.dir, 'kernel.json'), '{"version":1,"seed":');
    const opened = await SyntheticKernel.open({ kernelDir: t.dir });
    expect(!opened.ok && opened.error).to.be.instanceOf(KernelStateError);
    const r = await t.kernel.run(['link', 'show'], 'host');
    expect(!r.ok && r.error.message).to.contain('is not JSON');
    const view = await readKernelState(t.dir);
    expect(view.ok).to.equal(false);
  });

  it("answers the agent's namespace checks from its own namespaces (IpRunner.netns), never the machine's", async function () {
    await createNamespace(t.dir, 'gw-x');
    const probe = probeOf(t.kernel);
    expect(probe).to.equal(t.kernel.netns);
    expect(await netnsExists('gw-x', probe)).to.equal(true);
    expect(await netnsExists('/var/run/netns/host', probe)).to.equal(true);
    expect(await netnsExists('nope', probe)).to.equal(false);
    expect(await netnsExists(undefined, probe), 'the caller\'s own').to.equal(true);
    expect(await sameNetns('host', namespacePath(t.dir, 'host'), probe)).to.equal(true);
    expect(await sameNetns('host', 'gw-x', probe)).to.equal(false);
    expect(await sameNetns(undefined, '/proc/self/ns/net', probe)).to.equal(true);
    expect(await netnsExists('gw-x'), 'the machine has no such namespace').to.equal(false);
    // The agent's gateway and host set-up against pool and gateway namespaces given by name.
    const gw = await setupGateway(t.kernel, { tap: 'P_0', poolNetns: 'host', gatewayNetns: 'gw-x' });
    expect(gw.ok, gw.ok ? '' : gw.error.message).to.equal(true);
    const again = await setupGateway(t.kernel, { tap: 'P_0', poolNetns: 'host', gatewayNetns: 'gw-x' });
    expect(again.ok && gw.ok && again.value.mac).to.equal(gw.ok && gw.value.mac);
    const host = await setupHost(t.kernel, { tap: 'P_1', netns: 'host', address: '192.0.2.10', podCidrs: ['10.244.1.0/24'] });
    expect(host.ok, host.ok ? '' : host.error.message).to.equal(true);
    const pool = await discoverPool(t.kernel, { prefix: 'P_', netns: 'host' });
    expect(!pool.ok && pool.error.message, 'P_0 moved away').to.contain('P_0 is missing');
    await deleteNamespace(t.dir, 'gw-x');
    expect(await netnsExists('gw-x', probe), 'deleted by another process').to.equal(false);
  });
});

/**
 * Real iproute2 beside the model. Only namespaces of this run are touched (`ioff-<id>-a/-b`, and
 * a name that never exists); every real command names its namespace, so the root namespace is
 * never changed.
 */
describe('the synthetic kernel against real iproute2 (root only)', function () {
  this.timeout(30_000);
  const net = new TestNet();
  let syn: Awaited<ReturnType<typeof freshKernel>> | undefined;

  before(function () {
    if (!isRoot) {
      console.log('    (skipped: not root, so no scratch namespaces for real iproute2)');
      this.skip();
    }
  });

  after(async function () {
    await net.cleanup();
    await syn?.close();
  });

  it('gives the same results, outputs and errors for the same command sequence, and the same parsed view', async function () {
    syn = await freshKernel(3);
    const A = net.ns('a');
    const B = net.ns('b');
    const NONE = net.ns('none');
    net.adopt(A);
    net.adopt(B);
    const macs = new Map<string, string>(); // real MAC → synthetic MAC
    const normalise = (text: string): string => text.replace(/[0-9a-f]{2}(?::[0-9a-f]{2}){5}/g, (m) => macs.get(m) ?? m);
    const real: IpRunner = {
      run(args, netns) {
        // Never the root namespace: only netns add/del (of this run's names) run without one.
        if (netns === undefined && !(args[0] === 'netns' && args[2]?.startsWith(`ioff-${net.id}-`))) throw new Error(`refusing to run ip ${args.join(' ')} in the root namespace`);
        return execIp.run(args, netns);
      },
      runBatch(commands, netns) {
        if (netns === undefined) throw new Error('refusing a batch in the root namespace');
        return execIp.runBatch!(commands, netns);
      },
    };
    const mismatches: string[] = [];
    let steps = 0;
    const compare = (what: string, r: { ok: boolean; value?: string; error?: { stderr: string } }, s: { ok: boolean; value?: string; error?: { stderr: string } }, json: boolean): void => {
      steps++;
      if (r.ok !== s.ok) {
        mismatches.push(`${what}: real ${r.ok ? 'succeeded' : `failed (${r.error!.stderr.trim()})`}, synthetic ${s.ok ? 'succeeded' : `failed (${s.error!.stderr.trim()})`}`);
        return;
      }
      if (!r.ok) {
        if (r.error!.stderr.trim() !== s.error!.stderr.trim()) mismatches.push(`${what}: real says "${r.error!.stderr.trim()}", synthetic "${s.error!.stderr.trim()}"`);
        return;
      }
      const rv = normalise(r.value!);
      if (json) {
        const a: unknown = JSON.parse(rv || '[]');
        const b: unknown = JSON.parse(s.value! || '[]');
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          try {
            expect(b, what).to.deep.equal(a);
          } catch (e) {
            mismatches.push(`${what}: ${(e as Error).message}\n  real ${JSON.stringify(a)}\n  synt ${JSON.stringify(b)}`);
          }
        }
      } else if (rv !== s.value) {
        mismatches.push(`${what}:\n  real ${JSON.stringify(rv)}\n  synt ${JSON.stringify(s.value)}`);
      }
    };
    const both = async (args: string[], netns?: string): Promise<void> => {
      const r = await real.run(args, netns);
      const s = await syn!.kernel.run(args, netns);
      compare(`ip ${netns ? `-n ${netns} ` : ''}${args.join(' ')}`, r, s, args.includes('-j'));
      if (r.ok && s.ok && args[0] === 'tuntap') {
        const dev = args[args.indexOf('dev') + 1]!;
        const rl = JSON.parse((await real.run(['-j', 'link', 'show', 'dev', dev], netns) as { ok: true; value: string }).value) as { address?: string }[];
        const sl = JSON.parse((await syn!.kernel.run(['-j', 'link', 'show', 'dev', dev], netns) as { ok: true; value: string }).value) as { address?: string }[];
        if (rl[0]?.address && sl[0]?.address) macs.set(rl[0].address, sl[0].address);
      }
    };
    const batch = async (commands: string[][], netns: string): Promise<void> => {
      const r = await real.runBatch!(commands, netns);
      const s = await syn!.kernel.runBatch(commands, netns);
      compare(`batch in ${netns}: ${commands.map((c) => c.join(' ')).join('; ')}`, r, s, false);
    };
    /** The agent's parsers over every namespace and link. */
    const views = async (): Promise<void> => {
      for (const ns of [A, B]) {
        const parsed = async (k: IpRunner): Promise<unknown> => {
          const links = await readLinks(k, ns, 'inspect');
          const pool = await listLinks(k, ns);
          if (!links.ok || !pool.ok) return { error: links.ok ? (pool as { error: Error }).error.message : links.error.message };
          const per = [];
          for (const l of links.value) {
            const addrs = await readAddrs(k, ns, l.name, 'inspect');
            const routes = await readRoutes(k, ns, l.name, 'inspect');
            per.push({ ...l, mac: l.mac, addrs: addrs.ok ? addrs.value : addrs.error.message, routes: routes.ok ? routes.value : routes.error.message });
          }
          return { per, pool: pool.value };
        };
        const r = JSON.parse(normalise(JSON.stringify(await parsed(real)))) as unknown;
        const s = await parsed(syn!.kernel);
        steps++;
        if (JSON.stringify(r) !== JSON.stringify(s)) mismatches.push(`parsed view of ${ns}:\n  real ${JSON.stringify(r)}\n  synt ${JSON.stringify(s)}`);
      }
    };
    const pathA = `/var/run/netns/${A}`;
    const pathB = `/var/run/netns/${B}`;

    await both(['netns', 'add', A]);
    await both(['netns', 'add', B]);
    await both(['netns', 'add', A]);
    await both(['-d', '-j', 'link', 'show'], A);
    for (const dev of ['T0', 'T1', 'T2']) await both(['tuntap', 'add', 'dev', dev, 'mode', 'tap'], A);
    await both(['tuntap', 'add', 'dev', 'U0', 'mode', 'tun'], A);
    await both(['tuntap', 'add', 'dev', 'T0', 'mode', 'tap'], A);
    await both(['-d', '-j', 'link', 'show'], A);
    await both(['-j', 'link', 'show', 'dev', 'U0'], A);
    await both(['link', 'show'], A);
    await views();

    // A fresh namespace refuses an onlink gateway until it has a local table.
    await both(['tuntap', 'add', 'dev', 'X0', 'mode', 'tap'], B);
    await both(['route', 'replace', '169.254.1.1', 'dev', 'X0', 'scope', 'link'], B);
    await both(['link', 'set', 'dev', 'X0', 'up'], B);
    await both(['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'X0', 'onlink'], B);
    await both(['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'X0'], B);

    await both(['link', 'set', 'dev', 'T0', 'up'], A);
    await both(['link', 'set', 'dev', 'lo', 'up'], A);
    await both(['-j', 'addr', 'show'], A);
    await both(['addr', 'replace', '10.1.1.1/32', 'dev', 'T0'], A);
    await both(['addr', 'replace', '10.1.1.1/24', 'dev', 'T0'], A);
    await both(['addr', 'replace', '10.1.1.2/24', 'dev', 'T0'], A);
    await both(['addr', 'replace', '10.1.1.1/24', 'dev', 'T0'], A);
    await both(['addr', 'replace', '127.0.0.5/8', 'dev', 'T1'], A);
    await both(['-j', 'addr', 'show'], A);
    await both(['-j', '-4', 'addr', 'show'], A);
    await both(['-j', '-4', 'addr', 'show', 'dev', 'T0'], A);
    await both(['-j', '-4', 'addr', 'show', 'dev', 'T2'], A);
    await both(['addr', 'show'], A);
    await both(['-4', 'addr', 'show', 'dev', 'T0'], A);
    await both(['route', 'replace', '169.254.1.1', 'dev', 'T0', 'scope', 'link'], A);
    await both(['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'T0', 'onlink'], A);
    await both(['route', 'replace', '10.96.0.0/12', 'via', '169.254.1.1', 'dev', 'T0', 'onlink'], A);
    await both(['route', 'replace', '10.96.0.0/16', 'via', '169.254.1.1', 'dev', 'T0', 'onlink'], A);
    await both(['route', 'replace', '10.96.0.1/12', 'via', '169.254.1.1', 'dev', 'T0', 'onlink'], A);
    await both(['route', 'replace', '10.2.0.0/16', 'via', '169.254.1.9', 'dev', 'T0'], A);
    await both(['route', 'replace', '10.3.0.0/16', 'via', '10.1.1.7', 'dev', 'T0'], A);
    await both(['route', 'replace', '10.3.0.0/16', 'via', '10.1.1.8', 'dev', 'T0'], A);
    await both(['route', 'replace', '9.0.0.0/8', 'via', '10.1.1.1', 'dev', 'T0', 'onlink'], A);
    await both(['route', 'replace', '11.0.0.0/8', 'via', '127.0.0.1', 'dev', 'T0', 'onlink'], A);
    await both(['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'T1', 'onlink'], A);
    await both(['-j', 'route', 'show'], A);
    await both(['route', 'show'], A);
    await both(['-j', '-4', 'route', 'show', 'dev', 'T0'], A);
    await both(['route', 'show', 'dev', 'T0'], A);
    await views();
    await both(['route', 'del', '10.96.0.0/16', 'via', '169.254.1.2', 'dev', 'T0'], A);
    await both(['route', 'del', '10.96.0.0/16', 'via', '169.254.1.1', 'dev', 'T0'], A);
    await both(['route', 'del', '10.3.0.0/16'], A);
    await both(['addr', 'del', '10.9.9.9/32', 'dev', 'T0'], A);
    await both(['addr', 'del', '10.1.1.1/24', 'dev', 'T0'], A);
    await both(['-j', 'addr', 'show', 'dev', 'T0'], A);
    await both(['-j', 'route', 'show'], A);
    await both(['link', 'set', 'dev', 'T0', 'down'], A);
    await both(['-j', 'route', 'show'], A);
    await both(['link', 'show', 'dev', 'T0'], A);
    await views();

    await both(['link', 'set', 'dev', 'T1', 'mtu', '70000'], A);
    await both(['link', 'set', 'dev', 'T1', 'mtu', '10'], A);
    await both(['link', 'set', 'dev', 'U0', 'mtu', '65535'], A);
    await both(['link', 'set', 'dev', 'T1', 'mtu', '9000'], A);
    await both(['link', 'set', 'dev', 'T1', 'name', 'T0'], A);
    await both(['link', 'set', 'dev', 'T1', 'up'], A);
    await both(['link', 'set', 'dev', 'T1', 'name', 'T9'], A);
    await both(['link', 'set', 'dev', 'T9', 'down', 'name', 'T1'], A);
    await both(['link', 'set', 'dev', 'nope', 'up'], A);
    await both(['link', 'set', 'dev', 'lo', 'netns', pathB], A);
    await both(['link', 'set', 'dev', 'U0', 'netns', `/var/run/netns/${NONE}`], A);
    await both(['link', 'show'], NONE);
    // Moves: the agent's one-request move + rename + MTU, a name taken at the target, an MTU out of range.
    await both(['link', 'set', 'dev', 'T1', 'up'], A);
    await both(['addr', 'replace', '10.5.5.5/32', 'dev', 'T1'], A);
    await both(['link', 'set', 'dev', 'T1', 'netns', pathB, 'name', 'e0', 'mtu', '1400'], A);
    await both(['tuntap', 'add', 'dev', 'e1', 'mode', 'tap'], B);
    await both(['link', 'set', 'dev', 'T2', 'netns', pathB, 'name', 'e1'], A);
    await both(['link', 'set', 'dev', 'T0', 'netns', pathB, 'name', 'e2', 'mtu', '99999'], A);
    await both(['link', 'set', 'dev', 'T0', 'netns', pathA, 'name', 'T0'], B);
    await both(['tuntap', 'add', 'dev', 'T0', 'mode', 'tap'], B);
    await both(['link', 'set', 'dev', 'T0', 'netns', pathA], B);
    await both(['link', 'set', 'dev', 'T0', 'netns', pathA, 'name', 'T1'], B);
    await both(['link', 'set', 'dev', 'T0', 'netns', pathA, 'name', 'T3', 'mtu', '1300'], B);
    await both(['-d', '-j', 'link', 'show'], A);
    await both(['-d', '-j', 'link', 'show'], B);
    await both(['-j', 'addr', 'show'], B);
    await both(['link', 'set', 'dev', 'e0', 'netns', pathB], B);
    await views();
    await both(['addr', 'replace', '10.7.7.7/32', 'dev', 'e0'], B);
    await both(['addr', 'flush', 'dev', 'e0'], B);
    await both(['addr', 'flush', 'dev', 'e0'], B);
    await both(['addr', 'flush', 'dev', 'nope'], B);
    await both(['-j', '-4', 'addr', 'show', 'dev', 'e0'], B);
    await batch([['link', 'set', 'dev', 'e0', 'up'], ['link', 'show', 'dev', 'e0'], ['link', 'set', 'dev', 'nope', 'up'], ['link', 'set', 'dev', 'T2', 'up']], B);
    await batch([['link', 'set', 'dev', 'e1', 'mtu', '1450'], ['link', 'set', 'dev', 'e1', 'up'], ['link', 'set', 'dev', 'lo', 'up'], ['addr', 'replace', '10.8.0.1/32', 'dev', 'e1'], ['route', 'replace', '169.254.1.1', 'dev', 'e1', 'scope', 'link'], ['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'e1', 'onlink'], ['link', 'show', 'dev', 'e1']], B);
    await both(['-d', '-j', 'link', 'show'], B);
    await views();
    // Deleting a namespace destroys the TAPs in it.
    await both(['netns', 'del', B]);
    await both(['link', 'show'], B);
    await both(['netns', 'del', B]);
    await both(['-d', '-j', 'link', 'show'], A);
    await both(['foo'], A);
    await both(['link', 'frob'], A);
    await both(['link', 'show', 'dev', 'nope'], A);

    console.log(`      ${steps} comparisons with real iproute2`);
    expect(mismatches, mismatches.join('\n')).to.deep.equal([]);
  });
});
