import { execFile } from 'node:child_process';
import { expect } from 'chai';
import { createPool, execIp } from '../../actors/agent/pool/mod.js';
import { GATEWAY_IP, PlumbError, setupGateway, setupHost } from '../../actors/agent/pod/mod.js';
import { ip, TestNet } from '../agent-pool/netns.js';
import { addrsIn, fakeIp, linkIn, rootLeaks, routesIn, type JsonRoute } from './helpers.js';

const route = (r: JsonRoute): string =>
  `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.scope ? ` scope ${r.scope}` : ''}${r.flags?.includes('onlink') ? ' onlink' : ''}`;

/**
 * Attaches to a TAP (TUNSETIFF on the persistent device), sends an ARP request for `target` and
 * prints the replying MAC: proves the gateway namespace's kernel answers for 169.254.1.1.
 */
const ARP_PROBE = `
import fcntl, os, struct, sys, select, time
dev, target, sender = sys.argv[1:4]
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', dev.encode(), 0x0002 | 0x1000))
src = bytes.fromhex('02aabbccdd01')
ip4 = lambda s: bytes(int(x) for x in s.split('.'))
frame = b'\\xff' * 6 + src + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + src + ip4(sender) + b'\\x00' * 6 + ip4(target)
deadline = time.time() + 3
os.write(fd, frame)
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        os.write(fd, frame)
        continue
    f = os.read(fd, 2048)
    if f[12:14] == b'\\x08\\x06' and struct.unpack('!H', f[20:22])[0] == 2 and f[28:32] == ip4(target):
        print(f[22:28].hex(':'))
        sys.exit(0)
sys.exit(1)
`;

function arpProbe(netns: string, dev: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, 'python3', '-c', ARP_PROBE, dev, GATEWAY_IP, '10.244.1.5'], { timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout: stdout.trim(), stderr });
    });
  });
}

describe('agent pod: gateway and host interface', function () {
  this.timeout(20_000);
  const net = new TestNet();
  const macs = new Set<string>();
  let pool = '';
  let gw = '';
  const tap = (i: number): string => `${net.prefix}${i}`;

  before(async () => {
    pool = await net.addNs('pool');
    const made = await createPool(execIp, { prefix: net.prefix, count: 8, netns: pool });
    if (!made.ok) throw made.error;
    // Created by the code under test; registered first so it is removed even if a test fails.
    gw = net.adopt(net.ns('gw'));
  });

  after(async () => {
    await net.cleanup();
    expect(await net.leftovers()).to.deep.equal([]);
    expect(await rootLeaks(net.prefix, macs)).to.deep.equal([]);
  });

  it('setupGateway creates the namespace, moves TAP 0 there with 169.254.1.1/32, and is idempotent', async () => {
    const mac = (await linkIn(pool, tap(0)))!.address;
    macs.add(mac);
    expect(await net.leftovers()).to.not.include(gw);
    const r = await setupGateway(execIp, { tap: tap(0), poolNetns: pool, gatewayNetns: gw });
    expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
    expect(r.ok && r.value).to.deep.equal({ mac });
    expect(await net.leftovers()).to.include(gw);
    expect(await net.taps(gw)).to.deep.equal([tap(0)]);
    expect(await net.taps(pool)).to.not.include(tap(0));
    expect(await addrsIn(gw, tap(0))).to.deep.equal([`${GATEWAY_IP}/32`]);
    expect((await linkIn(gw, tap(0)))?.flags).to.include('UP');
    expect((await linkIn(gw, 'lo'))?.flags).to.include('UP');

    const again = await setupGateway(execIp, { tap: tap(0), poolNetns: pool, gatewayNetns: gw });
    expect(again).to.deep.equal(r);
    expect(await addrsIn(gw, tap(0))).to.deep.equal([`${GATEWAY_IP}/32`]);
    expect(await net.taps(gw)).to.deep.equal([tap(0)]);
  });

  it('the gateway namespace answers ARP for 169.254.1.1 with the gateway TAP’s MAC', async function () {
    const python = await new Promise<boolean>((resolve) => execFile('python3', ['--version'], (e) => resolve(!e)));
    if (!python) this.skip();
    const r = await setupGateway(execIp, { tap: tap(0), poolNetns: pool, gatewayNetns: gw });
    if (!r.ok) throw r.error;
    const probe = await arpProbe(gw, tap(0));
    expect(probe.code, probe.stderr).to.equal(0);
    expect(probe.stdout).to.equal(r.value.mac);
  });

  it('setupGateway says so when the TAP is nowhere, and refuses bad inputs untouched', async () => {
    const r = await setupGateway(execIp, { tap: tap(9), poolNetns: pool, gatewayNetns: gw });
    expect(!r.ok && r.error instanceof PlumbError && r.error.step).to.equal('inspect');
    expect(!r.ok && r.error.message).to.match(new RegExp(`no TAP ${tap(9)} in ${pool} nor in ${gw}`));

    const w = fakeIp();
    for (const opts of [
      { tap: 'x'.repeat(16), poolNetns: pool, gatewayNetns: gw },
      { tap: tap(0), poolNetns: net.ns('absent'), gatewayNetns: gw },
      { tap: tap(0), poolNetns: pool, gatewayNetns: `/var/run/netns/${gw}` },
      { tap: tap(0), poolNetns: pool, gatewayNetns: '-gw' },
    ]) {
      const bad = await setupGateway(w.runner, opts);
      expect(!bad.ok && bad.error instanceof PlumbError && bad.error.step, JSON.stringify(opts)).to.equal('validate');
    }
    expect(w.calls).to.deep.equal([]);
  });

  it('setupHost puts the address and pod-CIDR routes on the host TAP, idempotently', async () => {
    const host = await net.addNs('host');
    await net.addTaps(host, [1]);
    const mac = (await linkIn(host, tap(1)))!.address;
    macs.add(mac);
    const opts = { tap: tap(1), netns: host, address: '10.0.0.10', podCidrs: ['10.244.1.0/24', '10.244.2.0/24', '10.244.1.0/24'] };
    const r = await setupHost(execIp, opts);
    expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
    expect(r.ok && r.value).to.deep.equal({ mac });
    expect((await linkIn(host, tap(1)))?.flags).to.include('UP');
    expect(await addrsIn(host, tap(1))).to.deep.equal(['10.0.0.10/32']);
    const expected = [`${GATEWAY_IP} scope link`, `10.244.1.0/24 via ${GATEWAY_IP} onlink`, `10.244.2.0/24 via ${GATEWAY_IP} onlink`].sort();
    expect((await routesIn(host, tap(1))).map(route).sort()).to.deep.equal(expected);
    const resolved = await ip('-n', host, 'route', 'get', '10.244.2.7');
    expect(resolved).to.match(new RegExp(`via 169\\.254\\.1\\.1 dev ${tap(1)}`));

    expect(await setupHost(execIp, opts)).to.deep.equal(r);
    expect(await addrsIn(host, tap(1))).to.deep.equal(['10.0.0.10/32']);
    expect((await routesIn(host, tap(1))).map(route).sort()).to.deep.equal(expected);
  });

  it('setupHost refuses bad inputs untouched, and names the failing step', async () => {
    const w = fakeIp();
    for (const opts of [
      { tap: tap(1), netns: net.ns('host'), address: '10.0.0', podCidrs: [] },
      { tap: tap(1), netns: net.ns('host'), address: '10.0.0.10', podCidrs: ['10.244.1.0'] },
      { tap: tap(1), netns: net.ns('host'), address: '10.0.0.10', podCidrs: ['10.244.1.0/33'] },
      { tap: tap(1), netns: net.ns('absent'), address: '10.0.0.10', podCidrs: [] },
      { tap: 'a b', netns: net.ns('host'), address: '10.0.0.10', podCidrs: [] },
    ]) {
      const bad = await setupHost(w.runner, opts);
      expect(!bad.ok && bad.error instanceof PlumbError && bad.error.step, JSON.stringify(opts)).to.equal('validate');
    }
    expect(w.calls).to.deep.equal([]);
    const missing = await setupHost(execIp, { tap: tap(7), netns: net.ns('host'), address: '10.0.0.10', podCidrs: [] });
    expect(!missing.ok && missing.error instanceof PlumbError && missing.error.step).to.equal('up');
  });
});
