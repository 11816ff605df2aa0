/**
 * A deletion the manager did not hear of (the request lost on the bus, the manager restarting) is
 * told again until it answers: otherwise the pod stays in the manager's intent and its entries on
 * the device while this agent lives (found by the simulator's `bus-drop`). The real pod hub on
 * the synthetic kernel (no root, no TAPs), the manager played by the test.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preparePool, type PreparedPool } from '../../actors/agent/pod/node-pool.js';
import { PodHub } from '../../actors/agent/pod/pod-hub.js';
import { podsSchema } from '../../actors/process-config.js';
import { systemClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { err, ok } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import type { CniAdd } from '../../protocol/cni.js';
import { bootstrapPool } from '../../simulations/kernel/bootstrap.js';
import { createNamespace, SyntheticKernel } from '../../simulations/kernel/synthetic-ip.js';
import type { Supervisor } from '../../supervisors/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pod hub: deletions the manager missed are told again', function () {
  this.timeout(20_000);
  let dir: string;
  let kernel: SyntheticKernel;
  let prepared: PreparedPool;
  let hub: PodHub;
  let pods: Supervisor;
  const told: string[] = [];
  let refuseDeletes = 0;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'ioff-notice-'));
    const opened = await SyntheticKernel.open({ kernelDir: join(dir, 'kernel'), seed: 1 });
    if (!opened.ok) throw opened.error;
    kernel = opened.value;
    const made = await bootstrapPool(kernel, { prefix: 'P_', count: 8, netns: 'host' });
    if (!made.ok) throw made.error;
    const section = podsSchema.parse({ prefix: 'P_', poolNetns: 'host', gatewayNetns: 'gw', stateDir: join(dir, 'state'), socket: join(dir, 'cni.sock'), retryMs: 10 });
    const ready = await preparePool(kernel, { pods: section, nodeIp: '192.0.2.10', podCidrs: ['10.244.0.0/24'] });
    if (!ready.ok) throw ready.error;
    prepared = ready.value;
    hub = new PodHub({
      node: 'node-1',
      allocator: prepared.allocator,
      pool: prepared.pool,
      ip: kernel,
      clock: systemClock,
      random: seededRandom(1),
      logger: silentLogs().root,
      defaultMtu: 1500,
      retryMs: 10,
      register: () => Promise.resolve(ok(undefined)),
      unregister: (containerId) => {
        if (refuseDeletes > 0) {
          refuseDeletes--;
          return Promise.resolve(err(new BusError('DEADLINE_EXCEEDED', 'the request was lost')));
        }
        told.push(containerId);
        return Promise.resolve(ok(undefined));
      },
    });
    pods = hub.supervisor();
    const started = await pods.start();
    if (!started.ok) throw new Error('the pods supervisor did not start');
  });

  after(async function () {
    await pods?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function addPod(name: string, address: number): Promise<CniAdd> {
    const ns = await createNamespace(kernel.kernelDir, name);
    if (!ns.ok) throw ns.error;
    const request: CniAdd = {
      containerId: `c-${name}`,
      netns: ns.value,
      ifname: 'eth0',
      podNamespace: 'default',
      podName: name,
      network: 'test',
      ips: [{ address, prefixLength: 24, gateway: 0 }],
      routes: [{ dst: 0, prefixLength: 0, gateway: 0 }],
      mtu: 0,
    };
    const added = await hub.add(request, 5000);
    expect(added.ok, added.ok ? '' : added.error.message).to.equal(true);
    return request;
  }

  it('a DEL whose notice is lost is answered, and the manager is told again until it answers', async function () {
    const pod = await addPod('p1', 0x0af40002);
    refuseDeletes = 3; // the first notice and two retries are lost
    const deleted = await hub.del(pod);
    expect(deleted.ok).to.equal(true);
    expect(hub.unacknowledgedDeletions).to.deep.equal(['c-p1']);
    for (let i = 0; i < 100 && !told.includes('c-p1'); i++) await sleep(20);
    expect(told, 'told once it answered').to.deep.equal(['c-p1']);
    expect(hub.unacknowledgedDeletions).to.deep.equal([]);
    await sleep(200);
    expect(told, 'and not again').to.deep.equal(['c-p1']);
  });

  it('a container added again before the manager heard of its deletion is not deleted behind it', async function () {
    const pod = await addPod('p2', 0x0af40003);
    refuseDeletes = 1_000_000; // the manager never answers deletions
    expect((await hub.del(pod)).ok).to.equal(true);
    expect(hub.unacknowledgedDeletions).to.deep.equal(['c-p2']);
    await sleep(100); // a few notices lost meanwhile
    const again = await hub.add({ ...pod }, 5000);
    expect(again.ok).to.equal(true);
    expect(hub.unacknowledgedDeletions, 'the new registration supersedes the old deletion').to.deep.equal([]);
    refuseDeletes = 0; // the manager answers again: nothing of the old deletion may reach it now
    await sleep(300);
    expect(told, 'no deletion sent for the re-added container').to.not.include('c-p2');
  });
});
