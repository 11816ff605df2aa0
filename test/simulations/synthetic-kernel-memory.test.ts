/**
 * The synthetic kernel over its storage in memory (simulations/kernel/memory-store.ts), for the
 * in-process simulator: the same model as over a kernel directory — one sequence of the agent's
 * commands (pool, gateway, host, pods plumbed, moved, unplumbed, a namespace deleted under a pod,
 * refusals) gives the same answers on both — with namespaces the runtime makes and deletes
 * through the storage, a reopened kernel continuing where the last one was, and nothing touching
 * the disk or the machine's /var/run/netns.
 */
import { expect } from 'chai';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listLinks } from '../../actors/agent/pool/discover.js';
import type { IpRunner } from '../../actors/agent/pool/ip.js';
import { createPool } from '../../actors/agent/pool/setup.js';
import { setupGateway, setupHost } from '../../actors/agent/pod/gateway.js';
import { checkNetns, netnsExists, probeOf } from '../../actors/agent/pod/inputs.js';
import { checkPod, movePod, plumbPod, unplumbPod, type PlumbSpec } from '../../actors/agent/pod/plumbing.js';
import type { Result } from '../../core/result.js';
import { MemoryKernelStorage } from '../../simulations/kernel/memory-store.js';
import { DirKernelStorage, SyntheticKernel, readKernelState, type KernelStorage } from '../../simulations/kernel/synthetic-ip.js';

const RUN = `ioff-${process.pid}-memkernel`;

const spec = (netns: string, index: number, address: string): PlumbSpec => ({
  from: { name: `P_${index}`, netns: 'host' },
  netns,
  ifname: 'eth0',
  mtu: 1450,
  ips: [{ address, prefixLength: 24 }],
  routes: [{ dst: '10.96.0.0', prefixLength: 12 }],
});

const show = (r: Result<unknown, Error>): string => (r.ok ? `ok ${JSON.stringify(r.value)}` : `err ${r.error.message}`);

/** The agent's commands on a kernel whose namespaces the runtime makes through `storage`. */
async function sequence(kernel: SyntheticKernel, storage: KernelStorage): Promise<string[]> {
  const out: string[] = [];
  const ip: IpRunner = kernel;
  const run = async (args: string[], netns?: string) => out.push(show(await ip.run(args, netns)));
  const pod = async (name: string) => {
    const made = await storage.addMarker(name);
    out.push(made.ok ? `netns ${name}` : `netns ${name}: ${made.error.reason}`);
    return `/var/run/netns/${name}`;
  };
  await run(['netns', 'add', 'host']);
  out.push(show(await createPool(ip, { prefix: 'P_', count: 8, netns: 'host' })));
  out.push(show(await setupGateway(ip, { tap: 'P_0', poolNetns: 'host', gatewayNetns: 'gw' })));
  out.push(show(await setupHost(ip, { tap: 'P_1', netns: 'host', address: '192.0.2.10', podCidrs: ['10.244.1.0/24'] })));
  const a = await pod(`${RUN}-a`);
  const b = await pod(`${RUN}-b`);
  out.push(show(await movePod(ip, { from: { name: 'P_2', netns: 'host' }, netns: a, ifname: 'eth0', mtu: 1450 })));
  out.push(show(await plumbPod(ip, spec(a, 2, '10.244.1.2'), { moved: true })));
  out.push(show(await plumbPod(ip, spec(b, 3, '10.244.1.3'))));
  out.push(show(await checkPod(ip, { ...spec(a, 2, '10.244.1.2'), mac: '02:00:00:00:00:01' })));
  await run(['-d', '-j', 'link', 'show'], a);
  await run(['-j', 'route', 'show'], b);
  // The runtime deletes b's namespace: its TAP goes with it; the DEL finds it gone.
  out.push(show(await storage.removeMarker(`${RUN}-b`)));
  out.push(show(await unplumbPod(ip, { netns: b, ifname: 'eth0' }, { name: 'P_3', netns: 'host' })));
  out.push(show(await unplumbPod(ip, { netns: a, ifname: 'eth0' }, { name: 'P_2', netns: 'host' })));
  out.push(show(await listLinks(ip, 'host')));
  out.push(`exists b: ${await netnsExists(b, probeOf(ip))}`, `exists a: ${await netnsExists(a, probeOf(ip))}`);
  out.push(show(await checkNetns(b, 'pod namespace', true, probeOf(ip))));
  await run(['link', 'set', 'dev', 'nope', 'up'], 'host');
  await run(['netns', 'add', 'host']);
  out.push(`again ${(await storage.addMarker(`${RUN}-a`)).ok}`);
  return out;
}

describe('the synthetic kernel in memory (MemoryKernelStorage)', function () {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ioff-memkernel-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the agent’s command sequence exactly as the same kernel over a directory does', async function () {
    const onDisk = new DirKernelStorage(join(dir, 'kernel'));
    const inMemory = new MemoryKernelStorage('node-1');
    const k1 = await SyntheticKernel.open({ storage: onDisk, seed: 5 });
    const k2 = await SyntheticKernel.open({ storage: inMemory, seed: 5 });
    if (!k1.ok || !k2.ok) throw new Error('open failed');
    const disk = await sequence(k1.value, onDisk);
    const memory = await sequence(k2.value, inMemory);
    expect(memory).to.deep.equal(disk);
    expect(disk.filter((l) => l.startsWith('err')).length, 'the refusals are part of it').to.be.greaterThan(2);
    const [v1, v2] = [await readKernelState(onDisk), await readKernelState(inMemory)];
    expect(JSON.stringify(v2)).to.equal(JSON.stringify(v1));
    // Nothing of the memory kernel reached the machine's namespaces.
    expect(await access(`/var/run/netns/${RUN}-a`).then(() => true, () => false)).to.equal(false);
  });

  it('a kernel reopened on the same storage (its user killed) continues where the last one was, MAC stream included', async function () {
    const storage = new MemoryKernelStorage('node-2');
    const first = await SyntheticKernel.open({ storage, seed: 9 });
    if (!first.ok) throw first.error;
    expect(first.value.created).to.equal(true);
    await first.value.run(['netns', 'add', 'host']);
    await createPool(first.value, { prefix: 'P_', count: 8, netns: 'host' });
    const netns = await first.value.createNamespace('pod-1');
    expect(netns.ok && netns.value).to.equal('/var/run/netns/pod-1');
    expect((await first.value.createNamespace('pod-1')).ok, 'a name in use is refused').to.equal(false);
    expect((await first.value.createNamespace('../x')).ok, 'a bad name is refused').to.equal(false);
    const second = await SyntheticKernel.open({ storage, seed: 1 });
    if (!second.ok) throw second.error;
    expect(second.value.created).to.equal(false);
    const links = (k: SyntheticKernel) => k.run(['-d', '-j', 'link', 'show'], 'host');
    expect(show(await links(second.value))).to.equal(show(await links(first.value)));
    await second.value.run(['tuntap', 'add', 'dev', 'Q0', 'mode', 'tap'], 'host');
    // The first instance notices the other's save (the stamp moved) and reloads.
    const seen = await listLinks(first.value, 'host');
    expect(seen.ok && seen.value.some((l) => l.name === 'Q0')).to.equal(true);
    // A namespace deleted and made again under the same name is a new, empty one.
    await first.value.run(['tuntap', 'add', 'dev', 't1', 'mode', 'tap'], '/var/run/netns/pod-1');
    expect((await first.value.deleteNamespace('pod-1')).ok).to.equal(true);
    expect((await first.value.deleteNamespace('pod-1')).ok, 'deleting it twice is refused').to.equal(false);
    await storage.createNamespace('pod-1');
    const fresh = await listLinks(second.value, '/var/run/netns/pod-1');
    expect(fresh.ok && fresh.value.map((l) => l.name)).to.deep.equal(['lo']);
  });

  it('plumbing a pod costs no disk write: measured against the directory kernel', async function () {
    const measure = async (storage: KernelStorage, pods: number): Promise<number> => {
      const k = await SyntheticKernel.open({ storage, seed: 3 });
      if (!k.ok) throw k.error;
      await k.value.run(['netns', 'add', 'host']);
      await createPool(k.value, { prefix: 'P_', count: 128, netns: 'host' });
      const started = performance.now();
      for (let i = 0; i < pods; i++) {
        await storage.addMarker(`p${i}`);
        const r = await plumbPod(k.value, spec(`/var/run/netns/p${i}`, 2 + i, `10.244.${i >> 8}.${(i & 255) + 1}`));
        if (!r.ok) throw r.error;
      }
      return (performance.now() - started) / pods;
    };
    const memory = await measure(new MemoryKernelStorage('bench'), 100);
    const disk = await measure(new DirKernelStorage(join(dir, 'bench')), 100);
    console.log(`      plumbing a pod (128-TAP kernel, 100 pods): ${memory.toFixed(2)} ms in memory, ${disk.toFixed(2)} ms over a directory`);
    expect(memory).to.be.lessThan(disk);
  });
});
