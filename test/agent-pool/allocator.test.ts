import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createPool, discoverPool, execIp, PoolAllocator, PoolExhaustedError, type DiscoveredPool } from '../../actors/agent/pool/mod.js';
import { ip, TestNet } from './netns.js';

describe('agent pool: allocator', function () {
  this.timeout(20_000);
  const net = new TestNet();
  let host = '';
  let dir = '';
  let stateFile = '';
  let pool: DiscoveredPool;

  async function openAllocator(): Promise<Awaited<ReturnType<typeof PoolAllocator.open>>> {
    return PoolAllocator.open({ ip: execIp, pool, stateFile });
  }

  async function fresh(): Promise<PoolAllocator> {
    const r = await openAllocator();
    if (!r.ok) throw r.error;
    return r.value.allocator;
  }

  before(async () => {
    host = await net.addNs('host');
    const made = await createPool(execIp, { prefix: net.prefix, count: 8, netns: host });
    if (!made.ok) throw made.error;
    const found = await discoverPool(execIp, { prefix: net.prefix, netns: host });
    if (!found.ok) throw found.error;
    pool = found.value;
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ioff-pool-'));
    stateFile = join(dir, 'pool.json');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  after(async () => {
    await net.cleanup();
    expect(await net.leftovers()).to.deep.equal([]);
  });

  it('allocates first free from index 2, the same index again for the same pod, and reuses released ones', async () => {
    const pa = await fresh();
    const a = await pa.allocate({ containerId: 'c-a', ifname: 'eth0' });
    const b = await pa.allocate({ containerId: 'c-b', ifname: 'eth0' });
    const a2 = await pa.allocate({ containerId: 'c-a', ifname: 'eth0' });
    const a1 = await pa.allocate({ containerId: 'c-a', ifname: 'net1' });
    expect([a, b, a2, a1].map((r) => r.ok && r.value.index)).to.deep.equal([2, 3, 2, 4]);
    expect((await pa.release({ containerId: 'c-a', ifname: 'eth0' })).ok).to.equal(true);
    expect(await pa.release({ containerId: 'c-a', ifname: 'eth0' })).to.deep.equal({ ok: true, value: undefined });
    const c = await pa.allocate({ containerId: 'c-c', ifname: 'eth0' });
    expect(c.ok && c.value).to.deep.equal({ containerId: 'c-c', ifname: 'eth0', index: 2, netns: null, name: `${net.prefix}2` });
  });

  it('never hands an index out twice, even to concurrent calls, and reports exhaustion', async () => {
    const pa = await fresh();
    const rs = await Promise.all(Array.from({ length: 7 }, (_, i) => pa.allocate({ containerId: `c${i}`, ifname: 'eth0' })));
    const indices = rs.filter((r) => r.ok).map((r) => r.ok && r.value.index);
    expect(indices.slice().sort()).to.deep.equal([2, 3, 4, 5, 6, 7]);
    const last = rs.find((r) => !r.ok);
    expect(last && !last.ok && last.error).to.be.instanceOf(PoolExhaustedError);
  });

  it('survives a restart: a new instance from the state file keeps every allocation, no leak, no double', async () => {
    const pa = await fresh();
    for (const id of ['p1', 'p2', 'p3']) await pa.allocate({ containerId: id, ifname: 'eth0' });
    await pa.release({ containerId: 'p2', ifname: 'eth0' });
    const reopened = await openAllocator();
    expect(reopened.ok && reopened.value.report).to.deep.equal({ missing: [], returned: [], dropped: [] });
    const pb = reopened.ok ? reopened.value.allocator : pa;
    expect(pb.allocations().map((a) => [a.containerId, a.index])).to.deep.equal([['p1', 2], ['p3', 4]]);
    const p1 = await pb.allocate({ containerId: 'p1', ifname: 'eth0' });
    const p4 = await pb.allocate({ containerId: 'p4', ifname: 'eth0' });
    expect([p1.ok && p1.value.index, p4.ok && p4.value.index]).to.deep.equal([2, 3]);
    expect((await readdir(dir)).sort()).to.deep.equal(['pool.json']);
  });

  it('refuses a corrupt state file and drops records outside the pool', async () => {
    await writeFile(stateFile, '{not json');
    const bad = await openAllocator();
    expect(!bad.ok && bad.error.name).to.equal('PoolStateError');
    const rec = (index: number, containerId: string) => ({ index, containerId, ifname: 'eth0', netns: null, name: `${net.prefix}${index}` });
    await writeFile(stateFile, JSON.stringify({ version: 1, prefix: net.prefix, size: 8, allocations: [rec(2, 'x'), rec(2, 'y'), rec(9, 'z'), rec(0, 'g')] }));
    const r = await openAllocator();
    expect(r.ok && r.value.report.dropped.map((a) => a.containerId)).to.deep.equal(['y', 'z', 'g']);
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { allocations: unknown[] };
    expect(saved.allocations).to.have.length(1);
  });

  it('detects a TAP deleted behind its back, keeps a moved one allocated, and set-up re-creates the missing', async () => {
    const pod = await net.addNs('pod');
    const pa = await fresh();
    const moved = await pa.allocate({ containerId: 'm', ifname: 'eth0' });
    const gone = await pa.allocate({ containerId: 'g', ifname: 'eth0' });
    if (!moved.ok || !gone.ok) throw new Error('allocation failed');
    await ip('-n', host, 'link', 'set', 'dev', moved.value.name, 'netns', pod, 'name', 'eth0');
    await pa.relocate({ containerId: 'm', ifname: 'eth0' }, { netns: pod, name: 'eth0' });
    await ip('-n', host, 'link', 'del', 'dev', gone.value.name);
    await ip('-n', host, 'link', 'del', 'dev', `${net.prefix}6`);

    const r = await openAllocator();
    expect(r.ok && r.value.report).to.deep.equal({ missing: [3, 6], returned: [], dropped: [] });
    const pb = r.ok ? r.value.allocator : pa;
    expect(pb.allocations().map((a) => [a.containerId, a.index, a.netns])).to.deep.equal([['m', 2, pod], ['g', 3, null]]);

    expect(await pb.restore()).to.deep.equal({ ok: true, value: [3, 6] });
    expect(await pb.reconcile()).to.deep.equal({ ok: true, value: { missing: [], returned: [] } });
    expect(await net.taps(host)).to.have.length(7); // index 2 lives in the pod as eth0

    // The pod's namespace goes away: its TAP is destroyed; set-up re-creates it at home.
    await net.delNs(pod);
    await pb.release({ containerId: 'm', ifname: 'eth0' });
    expect(await pb.restore()).to.deep.equal({ ok: true, value: [2] });
    expect(await net.taps(host)).to.have.length(8);
  });

  it('publishes the port map: index = P4 port, name and namespace, roles', async () => {
    const pa = await fresh();
    await pa.allocate({ containerId: 'a', ifname: 'eth0' });
    await pa.relocate({ containerId: 'a', ifname: 'eth0' }, { netns: 'cni-1234', name: 'eth0' });
    const map = pa.portMap();
    expect(map).to.have.length(8);
    expect(map.slice(0, 4)).to.deep.equal([
      { port: 0, name: `${net.prefix}0`, netns: host, role: 'gateway', allocated: true },
      { port: 1, name: `${net.prefix}1`, netns: host, role: 'host', allocated: true },
      { port: 2, name: 'eth0', netns: 'cni-1234', role: 'pod', allocated: true },
      { port: 3, name: `${net.prefix}3`, netns: host, role: 'pod', allocated: false },
    ]);
  });

  it('a TAP recorded as moved but found back home is returned to its pool name', async () => {
    const pa = await fresh();
    await pa.allocate({ containerId: 'r', ifname: 'eth0' });
    await pa.relocate({ containerId: 'r', ifname: 'eth0' }, { netns: 'cni-gone', name: 'eth0' });
    const r = await openAllocator();
    expect(r.ok && r.value.report.returned).to.deep.equal([2]);
    expect(r.ok && r.value.allocator.portMap()[2]).to.deep.include({ name: `${net.prefix}2`, netns: host, allocated: true });
  });
});
