import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { createPool, execIp } from '../../actors/agent/pool/mod.js';
import { checkPod, GATEWAY_IP, PlumbError, plumbPod, unplumbPod, type PlumbSpec } from '../../actors/agent/pod/mod.js';
import { ip, TestNet } from '../agent-pool/netns.js';
import { addrsIn, fakeIp, linkIn, rootLeaks, routesIn, waitSameNetns, wrapIp, type JsonRoute } from './helpers.js';

const route = (r: JsonRoute): string => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.scope ? ` scope ${r.scope}` : ''}`;

describe('agent pod: plumbing', function () {
  this.timeout(30_000);
  const net = new TestNet();
  /** Every TAP MAC seen, to prove none ever shows up in the root namespace. */
  const macs = new Set<string>();
  let pool = '';
  /** Pod interfaces carry the run's prefix too, so the root-namespace check covers them. */
  const eth = `${net.prefix}eth0`;
  const tap = (i: number): string => `${net.prefix}${i}`;
  const path = (ns: string): string => `/var/run/netns/${ns}`;

  const spec = (index: number, podNs: string, over: Partial<PlumbSpec> = {}): PlumbSpec => ({
    from: { name: tap(index), netns: pool },
    netns: path(podNs),
    ifname: eth,
    mtu: 1450,
    ips: [{ address: '10.244.1.5', prefixLength: 24 }],
    routes: [
      { dst: '0.0.0.0', prefixLength: 0 },
      { dst: '10.96.0.0', prefixLength: 12 },
    ],
    ...over,
  });

  async function macOf(netns: string, name: string): Promise<string> {
    const link = await linkIn(netns, name);
    expect(link, `${name} in ${netns}`).to.not.equal(undefined);
    macs.add(link!.address);
    return link!.address;
  }

  /** The TAP is home: in the pool under its pool name, no IPv4 address, not in the pod namespace. */
  async function expectHome(index: number, podNs?: string): Promise<void> {
    expect(await net.taps(pool)).to.include(tap(index));
    expect(await addrsIn(pool, tap(index))).to.deep.equal([]);
    if (podNs) expect((await net.taps(podNs)).filter((n) => n === tap(index) || n === eth)).to.deep.equal([]);
  }

  before(async () => {
    pool = await net.addNs('pool');
    const made = await createPool(execIp, { prefix: net.prefix, count: 16, netns: pool });
    if (!made.ok) throw made.error;
  });

  after(async () => {
    await net.cleanup();
    expect(await net.leftovers()).to.deep.equal([]);
    expect(await rootLeaks(net.prefix, macs)).to.deep.equal([]);
  });

  it('execIp enters a namespace given by path (nsenter), and names it in errors', async () => {
    const r = await execIp.run(['-j', 'link', 'show'], path(pool));
    expect(r.ok && r.value).to.include(tap(0));
    const gone = await execIp.run(['link', 'show'], path(net.ns('absent')));
    // A path under /var/run/netns is run as `ip -n NAME` (one exec fewer); other paths through nsenter.
    expect(!gone.ok && gone.error.message).to.match(new RegExp(`ip -n ${net.ns('absent')} link show failed: .*No such file`));
    const proc = await execIp.run(['-j', 'link', 'show'], `/proc/${process.pid}/ns/net`);
    expect(proc.ok, 'nsenter --net=/proc/PID/ns/net').to.equal(true);
    const procGone = await execIp.run(['link', 'show'], '/proc/999999999/ns/net');
    expect(!procGone.ok && procGone.error.message).to.match(/ip -n \/proc\/999999999\/ns\/net link show failed/);
    const byName = await execIp.run(['-j', 'link', 'show'], pool);
    expect(byName.ok && byName.value).to.include(tap(0));
  });

  it('plumbs a pool TAP into a pod namespace given by path', async () => {
    const pod = await net.addNs('pod1');
    const mac = await macOf(pool, tap(2));
    const r = await plumbPod(execIp, spec(2, pod));
    expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
    expect(r.ok && r.value).to.deep.equal({ ifname: eth, mac });

    const link = await linkIn(pod, eth);
    expect(link?.mtu).to.equal(1450);
    expect(link?.flags).to.include('UP');
    expect(link?.flags, 'no process is attached to the TAP').to.include('NO-CARRIER');
    expect((await linkIn(pod, 'lo'))?.flags).to.include('UP');
    expect(await addrsIn(pod, eth)).to.deep.equal(['10.244.1.5/32']);
    expect((await routesIn(pod, eth)).map(route).sort()).to.deep.equal(
      [`${GATEWAY_IP} scope link`, `default via ${GATEWAY_IP}`, `10.96.0.0/12 via ${GATEWAY_IP}`].sort(),
    );
    const resolved = await ip('-n', pod, 'route', 'get', '8.8.8.8');
    expect(resolved).to.match(new RegExp(`via ${GATEWAY_IP.replace(/\./g, '\\.')} dev ${eth}`));
    expect(await net.taps(pool)).to.not.include(tap(2));
  });

  it('plumbs into a namespace given by name, and by /proc/PID/ns/net', async () => {
    const named = await net.addNs('byname');
    const r = await plumbPod(execIp, spec(3, named, { netns: named }));
    expect(r.ok && r.value.mac).to.equal(await macOf(named, eth));

    const held = await net.addNs('byproc');
    const sleeper = spawn('ip', ['netns', 'exec', held, 'sleep', '30'], { stdio: 'ignore' });
    try {
      const procPath = `/proc/${sleeper.pid}/ns/net`;
      // Until `ip netns exec` has called setns, that path is still *our* namespace.
      await waitSameNetns(procPath, path(held));
      const p = await plumbPod(execIp, spec(4, held, { netns: procPath }));
      expect(p.ok, p.ok ? '' : p.error.message).to.equal(true);
      expect(await addrsIn(held, eth)).to.deep.equal(['10.244.1.5/32']);
      expect(await unplumbPod(execIp, { netns: procPath, ifname: eth }, { name: tap(4), netns: pool })).to.deep.equal({ ok: true, value: 'returned' });
      await expectHome(4, held);
    } finally {
      sleeper.kill();
    }
  });

  it('plumbing twice (a retried ADD) gives the same result without duplicates, and converges on new IPAM data', async () => {
    const pod = await net.addNs('retry');
    const first = await plumbPod(execIp, spec(5, pod));
    const addrs = await addrsIn(pod, eth);
    const routes = (await routesIn(pod, eth)).map(route).sort();
    const again = await plumbPod(execIp, spec(5, pod));
    expect(again).to.deep.equal(first);
    expect(await addrsIn(pod, eth)).to.deep.equal(addrs);
    expect((await routesIn(pod, eth)).map(route).sort()).to.deep.equal(routes);
    expect(routes).to.have.length(3);

    const moved = await plumbPod(execIp, spec(5, pod, { ips: [{ address: '10.244.1.6', prefixLength: 24 }], routes: [{ dst: '10.100.0.1', prefixLength: 16 }] }));
    expect(moved.ok).to.equal(true);
    expect(await addrsIn(pod, eth)).to.deep.equal(['10.244.1.6/32']);
    expect((await routesIn(pod, eth)).map(route).sort()).to.deep.equal(
      [`${GATEWAY_IP} scope link`, `default via ${GATEWAY_IP}`, `10.100.0.0/16 via ${GATEWAY_IP}`].sort(),
    );
  });

  it('finishes an ADD interrupted between move and rename', async () => {
    const pod = await net.addNs('halfway');
    await ip('-n', pool, 'link', 'set', 'dev', tap(6), 'netns', path(pod));
    const r = await plumbPod(execIp, spec(6, pod));
    expect(r.ok && r.value.ifname).to.equal(eth);
    expect(await addrsIn(pod, eth)).to.deep.equal(['10.244.1.5/32']);
  });

  it('rolls back when the ifname is taken in the pod namespace', async () => {
    const pod = await net.addNs('clash');
    await ip('-n', pod, 'tuntap', 'add', 'dev', eth, 'mode', 'tap');
    const theirs = await macOf(pod, eth);
    const r = await plumbPod(execIp, spec(7, pod));
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.error).to.be.instanceOf(PlumbError);
    expect(r.error).to.deep.include({ step: 'rename', rolledBack: true });
    expect(r.error.message).to.match(/failed at step rename: .*File exists.*back in/);
    await expectHome(7);
    expect(await net.taps(pod)).to.deep.equal([eth]);
    expect((await linkIn(pod, eth))?.address).to.equal(theirs);
  });

  it('rolls back whichever call fails, leaving the TAP home under its pool name', async () => {
    const pod = await net.addNs('inject');
    const counted = wrapIp();
    const probe = await plumbPod(counted.runner, spec(8, pod));
    expect(probe.ok).to.equal(true);
    const total = counted.calls.length;
    expect(await unplumbPod(execIp, { netns: path(pod), ifname: eth }, { name: tap(8), netns: pool })).to.deep.equal({ ok: true, value: 'returned' });

    const steps = new Set<string>();
    for (let n = 1; n <= total; n++) {
      const failing = wrapIp(n);
      const r = await plumbPod(failing.runner, spec(8, pod));
      expect(r.ok, `call ${n}`).to.equal(false);
      if (r.ok) continue;
      expect(r.error, `call ${n}`).to.be.instanceOf(PlumbError);
      const e = r.error as PlumbError;
      steps.add(e.step);
      expect(e.message, `call ${n}`).to.match(/injected failure/);
      // Call 1 lists the pool namespace, call 2 is the move: nothing to undo before that.
      expect(e.rolledBack, `call ${n} (${e.step})`).to.equal(n > 2 ? true : undefined);
      await expectHome(8, pod);
    }
    expect([...steps].sort()).to.deep.equal(
      ['inspect', 'move', 'down', 'rename', 'mtu', 'up', 'lo', 'address', 'gateway-route', 'default-route', 'route', 'mac'].sort(),
    );
    const after = await plumbPod(execIp, spec(8, pod));
    expect(after.ok, 'plumbs fine after all that').to.equal(true);
  });

  it('unplumb returns the TAP home, and is idempotent', async () => {
    const pod = await net.addNs('unplumb');
    await plumbPod(execIp, spec(9, pod));
    const mac = await macOf(pod, eth);
    const at = { netns: path(pod), ifname: eth };
    const home = { name: tap(9), netns: pool };
    expect(await unplumbPod(execIp, at, home)).to.deep.equal({ ok: true, value: 'returned' });
    await expectHome(9, pod);
    const back = await linkIn(pool, tap(9));
    expect(back?.address).to.equal(mac);
    expect(back?.flags).to.not.include('UP');
    expect(await unplumbPod(execIp, at, home)).to.deep.equal({ ok: true, value: 'returned' });
    await expectHome(9, pod);
  });

  it("unplumb after the pod namespace is deleted says 'gone', and the pool can re-create the TAP", async () => {
    const pod = await net.addNs('doomed');
    await plumbPod(execIp, spec(10, pod));
    await macOf(pod, eth);
    await net.delNs(pod);
    const at = { netns: path(pod), ifname: eth };
    const home = { name: tap(10), netns: pool };
    expect(await unplumbPod(execIp, at, home)).to.deep.equal({ ok: true, value: 'gone' });
    expect(await unplumbPod(execIp, at, home)).to.deep.equal({ ok: true, value: 'gone' });
    expect(await net.taps(pool)).to.not.include(tap(10));
    const made = await createPool(execIp, { prefix: net.prefix, count: 16, netns: pool, indices: [10] });
    expect(made.ok && made.value.created).to.deep.equal([tap(10)]);
    expect(await unplumbPod(execIp, at, home)).to.deep.equal({ ok: true, value: 'returned' });
  });

  it("unplumb says 'gone' when the namespace exists but the interface is not in it", async () => {
    const pod = await net.addNs('empty');
    await ip('-n', pool, 'link', 'del', 'dev', tap(11));
    expect(await unplumbPod(execIp, { netns: path(pod), ifname: eth }, { name: tap(11), netns: pool })).to.deep.equal({ ok: true, value: 'gone' });
    await createPool(execIp, { prefix: net.prefix, count: 16, netns: pool, indices: [11] });
  });

  it('checkPod passes after plumbing and says what differs after tampering', async () => {
    const pod = await net.addNs('check');
    const r = await plumbPod(execIp, spec(12, pod));
    if (!r.ok) throw r.error;
    const checked = { ...spec(12, pod), mac: r.value.mac };
    expect(await checkPod(execIp, checked)).to.deep.equal({ ok: true, value: undefined });

    await ip('-n', pod, 'route', 'del', 'default');
    const noDefault = await checkPod(execIp, checked);
    expect(!noDefault.ok && noDefault.error).to.deep.include({ step: 'check', problems: [`the default route via ${GATEWAY_IP} is missing`] });
    expect(!noDefault.ok && noDefault.error.message).to.equal(`${eth} in ${path(pod)}: the default route via ${GATEWAY_IP} is missing`);

    expect((await plumbPod(execIp, spec(12, pod))).ok).to.equal(true);
    expect((await checkPod(execIp, checked)).ok).to.equal(true);

    await ip('-n', pod, 'link', 'set', 'dev', eth, 'mtu', '1400');
    await ip('-n', pod, 'route', 'del', GATEWAY_IP, 'dev', eth);
    const tampered = await checkPod(execIp, { ...checked, mac: '02:00:00:00:00:01' });
    expect(!tampered.ok && tampered.error.problems).to.deep.equal([
      `MAC is ${r.value.mac}, expected 02:00:00:00:00:01`,
      'MTU is 1400, expected 1450',
      `the scope-link route to ${GATEWAY_IP} is missing`,
    ]);
    await ip('-n', pod, 'addr', 'flush', 'dev', eth);
    const noAddr = await checkPod(execIp, checked);
    expect(!noAddr.ok && noAddr.error.message).to.match(/address 10\.244\.1\.5\/32 is missing/);

    await net.delNs(pod);
    const noNs = await checkPod(execIp, checked);
    expect(!noNs.ok && noNs.error).to.deep.include({ step: 'check' });
    expect(!noNs.ok && noNs.error.message).to.match(/does not exist/);
    await createPool(execIp, { prefix: net.prefix, count: 16, netns: pool, indices: [12] });
  });

  it('refuses bad inputs before touching anything', async () => {
    const pod = await net.addNs('valid');
    const before = await net.taps(pool);
    const bad: [string, Partial<PlumbSpec>][] = [
      ['long ifname', { ifname: 'abcdefghijklmnop' }],
      ['ifname with a slash', { ifname: 'eth/0' }],
      ['ifname like an option', { ifname: '-eth0' }],
      ['bad pool name', { from: { name: 'x y', netns: pool } }],
      ['bad pool namespace', { from: { name: tap(13), netns: '../etc' } }],
      ['missing pool namespace', { from: { name: tap(13), netns: net.ns('nopool') } }],
      ['relative netns path', { netns: 'var/run/netns/x' }],
      ['missing netns path', { netns: path(net.ns('absent')) }],
      ['missing netns name', { netns: net.ns('absent') }],
      ['bad address', { ips: [{ address: '10.244.1.256', prefixLength: 24 }] }],
      ['IPv6 address', { ips: [{ address: 'fd00::5', prefixLength: 64 }] }],
      ['prefix 33', { ips: [{ address: '10.244.1.5', prefixLength: 33 }] }],
      ['no address', { ips: [] }],
      ['MTU 67', { mtu: 67 }],
      ['MTU 65536', { mtu: 65536 }],
      ['MTU 1500.5', { mtu: 1500.5 }],
      ['bad route', { routes: [{ dst: '10.96.0', prefixLength: 12 }] }],
      ['route prefix -1', { routes: [{ dst: '10.96.0.0', prefixLength: -1 }] }],
    ];
    for (const [what, over] of bad) {
      const w = fakeIp();
      const r = await plumbPod(w.runner, spec(13, pod, over));
      expect(!r.ok && r.error instanceof PlumbError && r.error.step, what).to.equal('validate');
      expect(w.calls, what).to.deep.equal([]);
      const c = await checkPod(w.runner, { ...spec(13, pod, over), mac: '02:00:00:00:00:01' });
      if (what !== 'missing netns path' && what !== 'missing netns name') expect(!c.ok && c.error.step, `check: ${what}`).to.equal('validate');
      expect(w.calls, `check: ${what}`).to.deep.equal([]);
    }
    const w = fakeIp();
    const badMac = await checkPod(w.runner, { ...spec(13, pod), mac: 'nope' });
    expect(!badMac.ok && badMac.error.message).to.match(/MAC "nope"/);
    for (const [at, home] of [
      [{ netns: 'rel/path', ifname: eth }, { name: tap(13), netns: pool }],
      [{ netns: path(pod), ifname: 'x'.repeat(16) }, { name: tap(13), netns: pool }],
      [{ netns: path(pod), ifname: eth }, { name: '', netns: pool }],
      [{ netns: path(pod), ifname: eth }, { name: tap(13), netns: net.ns('nopool') }],
    ] as const) {
      const r = await unplumbPod(w.runner, at, home);
      expect(!r.ok && r.error instanceof PlumbError && r.error.step, JSON.stringify([at, home])).to.equal('validate');
    }
    expect(w.calls).to.deep.equal([]);
    expect(await net.taps(pool)).to.deep.equal(before);
    expect(await net.taps(pod)).to.deep.equal([]);
  });

  it("refuses a pod namespace that is the agent's own or the pool's (a runner that executes nothing)", async () => {
    const own = `/proc/${process.pid}/ns/net`;
    for (const [what, netns] of [
      ['own, by /proc path', own],
      ['own, by /proc/self', '/proc/self/ns/net'],
      ['the pool, by path', path(pool)],
      ['the pool, by name', pool],
    ] as const) {
      const w = fakeIp();
      const r = await plumbPod(w.runner, spec(13, pool, { netns }));
      expect(!r.ok && r.error instanceof PlumbError && r.error.step, what).to.equal('validate');
      expect(!r.ok && r.error.message, what).to.match(/agent's own|is the pool namespace/);
      const u = await unplumbPod(w.runner, { netns, ifname: eth }, { name: tap(13), netns: pool });
      expect(!u.ok && u.error instanceof PlumbError && u.error.step, what).to.equal('validate');
      expect(w.calls, what).to.deep.equal([]);
    }
  });
});
