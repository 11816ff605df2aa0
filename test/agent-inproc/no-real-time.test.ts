/**
 * The in-process agent runs on its injected clock alone: through a script that exercises the
 * whole tree (start, CNI Prepare/ADD/DEL, services, a dropped watch and its back-off, an
 * outage, a full disk, kill -9 and a restart, a graceful stop), nobody on the agent's path calls
 * the real setTimeout or setInterval, and what reads the wall clock is only what cannot change
 * behaviour: pino's log timestamps, xstate's `startedAt` note on a scheduled event (kept for
 * persisted snapshots; its timer runs on the injected clock), and the pod hub's step timings in
 * a debug line (performance.now). setImmediate is only the ManualClock's own settling between
 * timers. A new real timer on the path makes this fail, with its stack.
 */
import { expect } from 'chai';
import { AsyncLocalStorage } from 'node:async_hooks';
import { decodeAddReply, decodeStatusReply, encodeAddRequest, encodeDelRequest, encodePrepareRequest } from '../../cni/wire.js';
import { service, slice } from '../../simulations/kube/objects.js';
import { InprocNode, NODE } from './fixture.js';

type Probe = 'setTimeout' | 'setInterval' | 'setImmediate' | 'Date.now' | 'performance.now';

/** Where each probe may be called from (a fragment of a stack frame), and why. */
const ALLOWED: Record<Probe, readonly string[]> = {
  setTimeout: [],
  setInterval: [],
  setImmediate: ['core/clock.ts'], // ManualClock.advance settling promises between timers
  'Date.now': ['node_modules/pino/', 'node_modules/xstate/'], // log timestamps; a scheduled event's startedAt note
  'performance.now': ['actors/agent/pod/pod-hub.ts'], // step timings for a debug line
};

describe('the in-process agent uses no real timer and no wall clock that could change what it does', function () {
  it('a whole run calls none outside the allowed, behaviour-free places', async function () {
    const calls = new Map<string, number>();
    // Only what this run causes counts: timers other test files left behind fire outside its async context.
    const scope = new AsyncLocalStorage<true>();
    const note = (probe: Probe): void => {
      if (scope.getStore() !== true) return;
      const frames = (new Error().stack ?? '').split('\n').slice(3);
      if (ALLOWED[probe].some((place) => frames.some((f) => f.includes(place)))) return;
      const where = `${probe} ${frames.slice(0, 4).map((f) => f.trim()).join(' ← ')}`;
      calls.set(where, (calls.get(where) ?? 0) + 1);
    };
    const perf = performance.now.bind(performance);
    const real = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval, setImmediate: globalThis.setImmediate, now: Date.now };
    const wrap = <F extends (...a: never[]) => unknown>(probe: Probe, f: F): F => ((...a: never[]) => (note(probe), f(...a))) as F;
    globalThis.setTimeout = wrap<typeof setTimeout>('setTimeout', real.setTimeout);
    globalThis.setInterval = wrap<typeof setInterval>('setInterval', real.setInterval);
    globalThis.setImmediate = wrap<typeof setImmediate>('setImmediate', real.setImmediate);
    Date.now = wrap('Date.now', real.now);
    performance.now = wrap('performance.now', perf);
    try {
      await scope.run(true, () => script());
    } finally {
      globalThis.setTimeout = real.setTimeout;
      globalThis.setInterval = real.setInterval;
      globalThis.setImmediate = real.setImmediate;
      Date.now = real.now;
      // The wrapper is an own property over Performance.prototype.now: removing it restores the real one.
      delete (performance as { now?: unknown }).now;
    }
    expect([...calls].map(([where, n]) => `${n}× ${where}`)).to.deep.equal([]);
  });
});

/** Start, Prepare/ADD, services, a dropped watch, an outage, a full disk, kill -9, restart, DEL, stop. */
async function script(): Promise<void> {
  const node = await InprocNode.create({ seed: 5 });
  await node.startAgent();
  const ns = await node.storage.createNamespace('p1');
  if (!ns.ok) throw ns.error;
  const pod = { containerId: 'c1000000', netns: ns.value, ifname: 'eth0', podNamespace: 'default', podName: 'p1', network: 'sim' };
  const add = { ...pod, ips: [{ address: 0x0af4010a, prefixLength: 24, gateway: 0 }], routes: [], mtu: 0 };
  const cni = () => node.cni!;
  expect(decodeStatusReply(await node.drive(cni().call('Prepare', encodePrepareRequest({ ...pod, mtu: 0 })))).error).to.equal(undefined);
  expect(decodeAddReply(await node.drive(cni().call('Add', encodeAddRequest(add)))).error).to.equal(undefined);
  node.kube.apply(service('web', '10.96.0.10', [{ port: 80 }]));
  node.kube.apply(slice('web-1', 'web', [{ ip: '10.244.1.10', node: NODE }], [{ port: 8080 }]));
  await node.pass(1000);
  node.kube.dropWatches('reset');
  await node.pass(500);
  node.kube.setOutage(true);
  await node.pass(2000);
  node.kube.setOutage(false);
  node.disk.fill();
  const ns2 = await node.storage.createNamespace('p2');
  if (!ns2.ok) throw ns2.error;
  expect(decodeAddReply(await node.drive(cni().call('Add', encodeAddRequest({ ...add, containerId: 'c2000000', netns: ns2.value })))).error).to.not.equal(undefined);
  node.disk.setLimit(undefined);
  node.killAgent();
  await node.startAgent();
  expect(decodeStatusReply(await node.drive(cni().call('Del', encodeDelRequest(pod)))).error).to.equal(undefined);
  await node.pass(3000);
  await node.stopAgent();
}
