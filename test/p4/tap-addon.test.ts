/**
 * The TAP I/O addon (p4/target/tap) against the real kernel, as root: attaching from inside a
 * namespace, ARP answered by the kernel through the TAP, refusals (absent, not a TAP, owned by
 * another process, bad arguments), and exit within 1 s of SIGTERM with 64 TAPs polling. Every
 * TAP lives in a namespace made here; the root namespace is checked to gain nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { buildTapAddon } from '../../p4/target/tap/build.js';
import { createReceiveArea, frameAt, loadTap, type ReceiveArea, type Tap, type TapAddon, TapError } from '../../p4/target/tap/tap.js';
import { ip, TestNet } from '../agent-pool/netns.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tapModule = join(root, 'p4', 'target', 'tap', 'tap.ts');

interface Link {
  readonly ifname: string;
  readonly ifindex: number;
  readonly flags: string[];
  readonly address: string;
  readonly operstate: string;
}

async function links(netns?: string): Promise<Link[]> {
  const args = netns === undefined ? ['-j', 'link', 'show'] : ['-n', netns, '-j', 'link', 'show'];
  return JSON.parse((await ip(...args)) || '[]') as Link[];
}

async function link(netns: string, name: string): Promise<Link> {
  const found = (await links(netns)).find((l) => l.ifname === name);
  if (!found) throw new Error(`${name} not found in ${netns}`);
  return found;
}

/**
 * Waits for operstate UP. Carrier comes with the attach, but the kernel activates the device's
 * queue discipline later (linkwatch, up to ~1 s): until then what it sends to the TAP is dropped.
 */
async function operUp(netns: string, name: string): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 3000; await new Promise((r) => setTimeout(r, 20))) {
    if ((await link(netns, name)).operstate === 'UP') return;
  }
  throw new Error(`${name} in ${netns} is not operationally up after 3 s`);
}

/** `ip -n NS -batch -`: many commands in one process. */
async function ipBatch(netns: string, lines: readonly string[]): Promise<void> {
  const child = spawn('ip', ['-n', netns, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(lines.join('\n') + '\n');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`ip -n ${netns} -batch failed: ${stderr}`);
}

const nsPath = (netns: string): string => `/var/run/netns/${netns}`;
const threadNs = (): string => readlinkSync('/proc/thread-self/ns/net');

function macBytes(text: string): number[] {
  return text.split(':').map((h) => parseInt(h, 16));
}

/** An Ethernet ARP request: who-has `targetIp` tell `senderIp`, from `senderMac`. */
function arpRequest(senderMac: number[], senderIp: number[], targetIp: number[]): Uint8Array {
  return Uint8Array.from([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ...senderMac, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
    ...senderMac, ...senderIp, 0, 0, 0, 0, 0, 0, ...targetIp,
  ]);
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet + IPv4 ICMP echo request with `size` payload bytes, all set to `fill`. */
function echoRequest(dstMac: number[], srcMac: number[], src: number[], dst: number[], size: number, fill: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + size);
  f.set([...dstMac, ...srcMac, 0x08, 0x00]);
  const ipTotal = 20 + 8 + size;
  f.set([0x45, 0, ipTotal >> 8, ipTotal & 0xff, 0, 1, 0x40, 0, 64, 1, 0, 0, ...src, ...dst], 14);
  const ipSum = checksum(f.subarray(14, 34));
  f.set([ipSum >> 8, ipSum & 0xff], 24);
  f.set([8, 0, 0, 0, 0x12, 0x34, 0, fill], 34);
  f.fill(fill, 42);
  const icmpSum = checksum(f.subarray(34));
  f.set([icmpSum >> 8, icmpSum & 0xff], 36);
  return f;
}

/** Resolves with the first frame `pick` accepts, read through `tap`'s poll callback. */
function nextFrame(tap: Tap, area: ReceiveArea, pick: (f: Uint8Array) => boolean, ms: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const seen: string[] = []; // length/ethertype of every frame, for the failure message
    const timer = setTimeout(() => reject(new Error(`no matching frame on ${tap.name} within ${ms} ms; saw ${seen.join(' ') || 'none'}`)), ms);
    const started = tap.start(
      area,
      (count) => {
        for (let i = 0; i < count; i++) {
          const f = frameAt(area, i);
          seen.push(`${f.length}/${((f[12] ?? 0) << 8 | (f[13] ?? 0)).toString(16)}`);
          if (pick(f)) {
            clearTimeout(timer);
            resolve(f.slice()); // a copy: the slab is reused on the next wakeup
            return;
          }
        }
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
    if (!started.ok) {
      clearTimeout(timer);
      reject(started.error);
    }
  });
}

function expectTapError(r: { ok: boolean; error?: unknown }, code: string): void {
  expect(r.ok, 'an error').to.equal(false);
  expect(r.error).to.be.instanceOf(TapError);
  expect((r.error as TapError).code, (r.error as Error).message).to.equal(code);
}

describe('p4 target: TAP addon', function () {
  this.timeout(30_000);
  const net = new TestNet();
  const selfNs = threadNs();
  const children = new Set<ChildProcess>();
  let addon: TapAddon;

  async function rootPrefixed(): Promise<string[]> {
    return (await links()).map((l) => l.ifname).filter((n) => n.startsWith(net.prefix));
  }

  before(async () => {
    expect(await rootPrefixed()).to.deep.equal([]);
    const loaded = await loadTap();
    if (!loaded.ok) throw loaded.error;
    addon = loaded.value;
  });

  afterEach(async () => {
    addon?.closeAll();
    expect(threadNs(), 'the JS thread is back in its own namespace').to.equal(selfNs);
    expect(await rootPrefixed(), 'links with the test prefix in the root namespace').to.deep.equal([]);
  });

  after(async () => {
    addon?.closeAll(); // an open fd would keep a deleted namespace (and its TAPs) alive
    for (const child of children) child.kill('SIGKILL');
    await Promise.all([...children].map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once('exit', resolve)))));
    await net.cleanup();
    expect(await net.leftovers()).to.deep.equal([]);
  });

  it('attaches from inside a namespace to a persistent TAP: carrier comes up there, nothing appears in root', async () => {
    const ns = await net.addNs('carrier');
    const name = `${net.prefix}0`;
    await net.addTaps(ns, [0]);
    await ip('-n', ns, 'link', 'set', name, 'up');
    expect((await link(ns, name)).flags).to.not.include('LOWER_UP');

    const r = addon.attach(name, nsPath(ns));
    if (!r.ok) throw r.error;
    const after = await link(ns, name);
    expect(after.flags).to.include('LOWER_UP').and.not.include('NO-CARRIER');
    expect(r.value.ifindex).to.equal(after.ifindex);
    expect(threadNs()).to.equal(selfNs);

    r.value.close();
    r.value.close(); // idempotent
    expect(r.value.closed).to.equal(true);
    const closed = await link(ns, name);
    expect(closed.flags, 'carrier goes with the descriptor').to.not.include('LOWER_UP');
    expect(closed.ifindex, 'persistent: the same device is still there').to.equal(after.ifindex);
  });

  it("gets the kernel's ARP reply to a hand-built request, through the poll callback", async () => {
    const ns = await net.addNs('arp');
    const name = `${net.prefix}0`;
    await net.addTaps(ns, [0]);
    await ip('-n', ns, 'addr', 'add', '169.254.1.1/32', 'dev', name);
    await ip('-n', ns, 'link', 'set', name, 'up');
    const tapMac = macBytes((await link(ns, name)).address);

    const r = addon.attach(name, nsPath(ns));
    if (!r.ok) throw r.error;
    const tap = r.value;
    await operUp(ns, name);
    const area = createReceiveArea(8, 2048);
    if (!area.ok) throw area.error;
    const podMac = [0x02, 0x00, 0x0a, 0xf4, 0x00, 0x05];
    const isArpReply = (f: Uint8Array): boolean => f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && f[20] === 0 && f[21] === 2;
    const reply = nextFrame(tap, area.value, isArpReply, 3000);
    const written = tap.write(arpRequest(podMac, [10, 244, 0, 5], [169, 254, 1, 1]));
    expect(written).to.deep.equal({ ok: true, value: 42 });

    const f = await reply;
    expect([...f.subarray(0, 6)], 'Ethernet destination: the asker').to.deep.equal(podMac);
    expect([...f.subarray(6, 12)], 'Ethernet source').to.deep.equal(tapMac);
    expect([...f.subarray(22, 28)], 'sender MAC: the TAP’s, as ip link reports it').to.deep.equal(tapMac);
    expect([...f.subarray(28, 32)], 'sender IP').to.deep.equal([169, 254, 1, 1]);
    expect([...f.subarray(32, 38)], 'target MAC').to.deep.equal(podMac);
    expect([...f.subarray(38, 42)], 'target IP').to.deep.equal([10, 244, 0, 5]);
  });

  it('drops a frame too long for its slot (the kernel truncates it) and keeps polling', async () => {
    const ns = await net.addNs('slot');
    const name = `${net.prefix}0`;
    const podMac = [0x02, 0x00, 0x0a, 0xf4, 0x00, 0x05];
    await net.addTaps(ns, [0]);
    await ip('-n', ns, 'addr', 'add', '169.254.1.1/32', 'dev', name);
    await ip('-n', ns, 'link', 'set', name, 'up');
    await ip('-n', ns, 'route', 'add', '10.244.0.5/32', 'dev', name);
    await ip('-n', ns, 'neigh', 'add', '10.244.0.5', 'lladdr', '02:00:0a:f4:00:05', 'dev', name);
    const tapMac = macBytes((await link(ns, name)).address);
    const r = addon.attach(name, nsPath(ns));
    if (!r.ok) throw r.error;
    await operUp(ns, name);
    const area = createReceiveArea(4, 256);
    if (!area.ok) throw area.error;
    const seen: number[] = [];
    const isEchoReply = (f: Uint8Array): boolean => {
      seen.push(f.length);
      return f.length >= 42 && f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[34] === 0;
    };
    const reply = nextFrame(r.value, area.value, isEchoReply, 3000);
    const big = echoRequest(tapMac, podMac, [10, 244, 0, 5], [169, 254, 1, 1], 1000, 0xbb);
    const small = echoRequest(tapMac, podMac, [10, 244, 0, 5], [169, 254, 1, 1], 20, 0x5a);
    expect(r.value.write(big)).to.deep.equal({ ok: true, value: big.length });
    expect(r.value.write(small)).to.deep.equal({ ok: true, value: small.length });
    const f = await reply;
    expect(f.length, 'the small reply, whole').to.equal(small.length);
    expect(f[42], 'its payload').to.equal(0x5a);
    expect(Math.max(...seen), 'no frame filled its slot').to.be.below(256);
  });

  it('refuses a name absent from that namespace (NOT_FOUND) and creates no device, there or in root', async () => {
    const ns = await net.addNs('absent');
    await net.addTaps(ns, [0]);
    const r = addon.attach(`${net.prefix}7`, nsPath(ns));
    expectTapError(r, 'NOT_FOUND');
    expect(await net.taps(ns)).to.deep.equal([`${net.prefix}0`]);
    expect(await rootPrefixed()).to.deep.equal([]);
  });

  it('refuses a device of that name that is not a TAP (a veth: EINVAL) and leaves it as it was', async () => {
    const ns = await net.addNs('veth');
    const name = `${net.prefix}0`;
    await ip('-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${net.prefix}1`);
    const before = await link(ns, name);
    expectTapError(addon.attach(name, nsPath(ns)), 'EINVAL');
    expect(await link(ns, name)).to.deep.equal(before);
  });

  it('refuses a non-persistent TAP owned by another process (EBUSY); it vanishes with its owner', async function () {
    const ns = await net.addNs('owned');
    const name = `${net.prefix}0`;
    // TUNSETIFF = 0x400454ca, IFF_TAP | IFF_NO_PI = 0x1002; no TUNSETPERSIST.
    const py = `import fcntl, os, struct, sys\nfd = os.open('/dev/net/tun', os.O_RDWR)\nfcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', b'${name}', 0x1002))\nprint('ready', flush=True)\nsys.stdin.read()\n`;
    const owner = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(owner);
    const ready = await new Promise<boolean>((resolve) => {
      owner.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(true));
      owner.on('exit', () => resolve(false));
    });
    if (!ready) this.skip(); // no python3 here: nothing else creates a non-persistent TAP simply

    expectTapError(addon.attach(name, nsPath(ns)), 'EBUSY');
    expect(await net.taps(ns)).to.deep.equal([name]);
    owner.stdin.end();
    await new Promise((resolve) => (owner.exitCode !== null ? resolve(null) : owner.once('exit', resolve)));
    children.delete(owner);
    expect(await net.taps(ns), 'not made persistent by the attempt').to.deep.equal([]);
  });

  it('gives TapError for bad arguments, and the addon survives wrong types', async () => {
    const ns = await net.addNs('args');
    const name = `${net.prefix}0`;
    await net.addTaps(ns, [0]);
    expectTapError(addon.attach(''), 'BAD_ARGUMENT');
    expectTapError(addon.attach('x'.repeat(16)), 'BAD_ARGUMENT');
    expectTapError(addon.attach('a/b'), 'BAD_ARGUMENT');
    expectTapError(addon.attach(name, ''), 'BAD_ARGUMENT');
    expectTapError(addon.attach(name, nsPath(net.ns('missing'))), 'ENOENT');
    expectTapError(addon.attach(name, '/etc/hostname'), 'EINVAL'); // setns on a file that is no namespace
    expectTapError(createReceiveArea(0), 'BAD_ARGUMENT');
    expectTapError(createReceiveArea(4, 10), 'BAD_ARGUMENT');

    const r = addon.attach(name, nsPath(ns));
    if (!r.ok) throw r.error;
    const tap = r.value;
    expectTapError(addon.attach(name, nsPath(ns)), 'EBUSY');
    const area = createReceiveArea(4, 2048);
    if (!area.ok) throw area.error;
    expectTapError(tap.write(new Uint8Array(60), 10, 60), 'BAD_ARGUMENT');
    expectTapError(tap.write(new Uint8Array(0)), 'BAD_ARGUMENT');
    expectTapError(tap.start({ ...area.value, slots: 8 }, () => undefined, () => undefined), 'BAD_ARGUMENT');
    expect(tap.start(area.value, () => undefined, () => undefined).ok).to.equal(true);
    expectTapError(tap.start(area.value, () => undefined, () => undefined), 'EBUSY');
    expect(tap.stop().ok).to.equal(true);
    expect(tap.start(area.value, () => undefined, () => undefined).ok).to.equal(true);
    tap.close();
    expectTapError(tap.write(new Uint8Array(60)), 'CLOSED');
    expectTapError(tap.start(area.value, () => undefined, () => undefined), 'CLOSED');

    // The addon itself, without the wrapper's checks: values for errors, TypeError for wrong types.
    const native = createRequire(import.meta.url)(await buildTapAddon()) as Record<string, (...args: unknown[]) => unknown>;
    const call = (fn: string, ...args: unknown[]): unknown => native[fn]!(...args);
    expect(() => call('attach', 42)).to.throw(TypeError);
    expect(() => call('attach', name, 7)).to.throw(TypeError);
    expect(call('attach', 'x'.repeat(300), null)).to.deep.include({ code: 'EINVAL' });
    expect(call('attach', 'tap%d', null)).to.deep.include({ code: 'EINVAL' });
    expect(call('attach', 'a\0b', null)).to.deep.include({ code: 'EINVAL' });
    expect(call('write', 1, new Uint8Array(60), 0, 60), 'never writes a descriptor it did not attach').to.deep.include({ code: 'EBADF' });
    expect(() => call('write', 1, 'text', 0, 4)).to.throw(TypeError);
    expect(() => call('start', 1, new Uint16Array(4), new Uint32Array(4), 64, () => undefined)).to.throw(TypeError);
    expect(call('close', 1), 'never closes a descriptor it did not attach').to.equal(false);
    expect(call('stop', 1)).to.deep.include({ code: 'EBADF' });
    expect(() => call('close')).to.throw(TypeError);
  });

  for (const mode of ['closes all in its SIGTERM handler and exits by itself', 'calls process.exit() on SIGTERM with all open'] as const) {
    it(`a process polling 64 TAPs that ${mode} is gone within 1 s; the TAPs stay`, async () => {
      const ns = await net.addNs(mode.startsWith('closes') ? 'exit1' : 'exit2');
      const names = Array.from({ length: 64 }, (_, i) => `${net.prefix}${i}`);
      await ipBatch(ns, names.flatMap((n) => [`tuntap add dev ${n} mode tap`, `link set ${n} up`]));
      expect(await net.taps(ns)).to.have.length(64);

      const code = `
        const { loadTap, createReceiveArea } = await import(${JSON.stringify(tapModule)});
        const loaded = await loadTap();
        if (!loaded.ok) { console.error(loaded.error.message); process.exit(2); }
        const addon = loaded.value;
        const area = createReceiveArea(16, 2048);
        if (!area.ok) process.exit(3);
        let frames = 0;
        for (const name of process.env.TAP_NAMES.split(',')) {
          const t = addon.attach(name, process.env.TAP_NETNS);
          if (!t.ok) { console.error(t.error.message); process.exit(4); }
          const s = t.value.start(area.value, (n) => { frames += n; }, (e) => console.error(e.message));
          if (!s.ok) { console.error(s.error.message); process.exit(5); }
        }
        process.on('SIGTERM', () => process.env.TAP_MODE === 'exit' ? process.exit(0) : addon.closeAll());
        console.log('ready', addon.open.length);
      `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: root,
        env: { ...process.env, TAP_NAMES: names.join(','), TAP_NETNS: nsPath(ns), TAP_MODE: mode.startsWith('closes') ? 'close' : 'exit' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child not ready in 15 s: ${stderr}`)), 15_000);
        child.stdout.on('data', () => stdout.includes('ready') && (clearTimeout(timer), resolve()));
        void exited.then(() => (clearTimeout(timer), reject(new Error(`child exited early: ${stderr}`))));
      });
      expect(stdout.trim()).to.equal('ready 64');
      expect((await link(ns, names[63]!)).flags, 'attached: carrier').to.include('LOWER_UP');

      const sent = performance.now();
      child.kill('SIGTERM');
      const end = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 3000))]);
      expect(end, `still running 3 s after SIGTERM; stderr: ${stderr}`).to.not.equal(null);
      children.delete(child);
      expect(end!.at - sent, 'ms from SIGTERM to exit').to.be.below(1000);
      expect({ code: end!.code, signal: end!.signal, stderr }).to.deep.equal({ code: 0, signal: null, stderr: '' });
      expect(await net.taps(ns), 'persistent TAPs outlive the process').to.have.length(64);
    });
  }
});
