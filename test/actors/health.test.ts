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
    expect((await get(health.address, '/healthz')).status, 'still alive').to.equal(200);
    await supervisor.restartChild('pods');
    expect((await get(health.address, '/readyz')).status).to.equal(200);
    await supervisor.stop();
    expect((await get(health.address, '/healthz')).status, 'stopped').to.equal(503);
  });

  it('answers only GET/HEAD on its two paths, and says nothing secret', async function () {
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
