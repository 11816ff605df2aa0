/** The health endpoints over real HTTP against a real supervisor. */
import { expect } from 'chai';
import { createActor, fromPromise } from 'xstate';
import { startHealth, parseListen, type HealthServer } from '../../actors/health.js';
import { agentConfigSchema } from '../../actors/process-config.js';
import { systemClock } from '../../core/clock.js';
import { parseConfig } from '../../core/config.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { Supervisor } from '../../supervisors/index.js';
import { Observability } from '../../actors/metrics/index.js';

const forever = fromPromise<void, void>(({ signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve())));

async function get(address: string, path: string, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://${address}${path}`, { method });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('health endpoints', function () {
  let supervisor: Supervisor;
  let health: HealthServer;

  beforeEach(async function () {
    supervisor = new Supervisor({
      id: 'agent',
      strategy: 'one_for_one',
      clock: systemClock,
      random: seededRandom(1),
      logger: silentLogs().root,
      children: [
        { id: 'bus', start: () => createActor(forever) },
        { id: 'pods', start: () => createActor(forever) },
      ],
    });
    health = await startHealth({ listen: '127.0.0.1:0', supervisor, role: 'agent', node: 'node-a', instanceId: 'i-1', logger: silentLogs().root });
  });

  afterEach(async function () {
    await supervisor.stop();
    await health.close();
  });

  it('is alive while starting, ready once every child runs, not ready while one is down', async function () {
    expect((await get(health.address, '/healthz')).status).to.equal(503); // idle: not started yet
    await supervisor.start();
    const alive = await get(health.address, '/healthz');
    expect(alive).to.deep.include({ status: 200 });
    expect(alive.body).to.deep.include({ role: 'agent', node: 'node-a', instanceId: 'i-1', ok: true });
    const ready = await get(health.address, '/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body.children).to.deep.equal([
      { id: 'bus', status: 'running' },
      { id: 'pods', status: 'running' },
    ]);
    await supervisor.terminateChild('pods');
    const notReady = await get(health.address, '/readyz');
    expect(notReady.status).to.equal(503);
    expect(notReady.body.children).to.deep.include({ id: 'pods', status: 'stopped' });
    expect(notReady.body.reason).to.equal('child pods is stopped');
    expect((await get(health.address, '/healthz')).status, 'still alive').to.equal(200);
    await supervisor.restartChild('pods');
    expect((await get(health.address, '/readyz')).status).to.equal(200);
    await supervisor.stop();
    expect((await get(health.address, '/healthz')).status, 'stopped').to.equal(503);
  });

  it("adds the role's readiness to the tree's: 503 with its reason and checks, /healthz unchanged", async function () {
    await supervisor.start();
    let role = { ready: false, reason: 'standby: the lease is held by m-2 (epoch 3)', checks: { leader: false } };
    const withRole = await startHealth({ listen: '127.0.0.1:0', supervisor, role: 'manager', node: 'node-a', instanceId: 'i-2', logger: silentLogs().root, readiness: () => role });
    try {
      const standby = await get(withRole.address, '/readyz');
      expect(standby.status).to.equal(503);
      expect(standby.body).to.deep.include({ ok: false, reason: 'standby: the lease is held by m-2 (epoch 3)', checks: { leader: false } });
      expect((await get(withRole.address, '/healthz')).status, 'a standby is alive').to.equal(200);
      role = { ready: true, reason: '', checks: { leader: true } };
      const leader = await get(withRole.address, '/readyz');
      expect(leader.status).to.equal(200);
      expect(leader.body).to.not.have.property('reason');
      // The tree's own condition comes first.
      await supervisor.terminateChild('bus');
      expect((await get(withRole.address, '/readyz')).body.reason).to.equal('child bus is stopped');
    } finally {
      await withRole.close();
    }
  });

  it('serves GET /metrics in the Prometheus text format when given a registry', async function () {
    const obs = new Observability();
    obs.bus.reconnected();
    const withMetrics = await startHealth({ listen: '127.0.0.1:0', supervisor, role: 'agent', node: 'node-a', instanceId: 'i-3', logger: silentLogs().root, metrics: obs.registry });
    try {
      const res = await fetch(`http://${withMetrics.address}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).to.match(/^# HELP infra_offload_bus_reconnects_total /m);
      expect(text).to.match(/^infra_offload_bus_reconnects_total 1$/m);
    } finally {
      await withMetrics.close();
    }
  });

  it('answers only GET/HEAD on its paths (no /metrics without a registry), and says nothing secret', async function () {
    await supervisor.start();
    expect((await get(health.address, '/metrics')).status).to.equal(404);
    expect((await get(health.address, '/healthz', 'POST')).status).to.equal(405);
    const text = JSON.stringify((await get(health.address, '/readyz')).body);
    expect(text).to.not.match(/key|cert|pem|password|token|tls/i);
  });

  it('validates health.listen in the configuration and in parseListen', function () {
    const base = { node: { name: 'n', ip: '192.0.2.1' }, nats: { servers: ['nats://127.0.0.1:4222'], insecure: true } };
    expect(parseConfig({ ...base, health: { listen: '127.0.0.1:9301' } }, agentConfigSchema).ok).to.equal(true);
    const bad = parseConfig({ ...base, health: { listen: 'nine' } }, agentConfigSchema);
    expect(bad.ok).to.equal(false);
    if (!bad.ok) expect(bad.error.message).to.contain('health.listen');
    expect(parseListen('[::1]:80')).to.deep.equal({ host: '::1', port: 80 });
    expect(parseListen('127.0.0.1:70000')).to.equal(undefined);
  });
});
