import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, parseConfig } from '../../core/config.js';
import { managerConfigSchema } from '../../actors/process-config.js';
import { binCommand } from '../../simulations/processes.js';

const good = { node: { name: 'node-1', ip: '192.0.2.10', podCidr: '10.244.1.0/24' }, nats: { servers: ['nats://127.0.0.1:4222'], insecure: true } };

describe('process configuration', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'infra-cfg-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fills defaults and parses addresses into numbers', () => {
    const r = parseConfig(good, managerConfigSchema);
    expect(r.ok && r.value).to.deep.include({
      node: { name: 'node-1', ip: 0xc000020a, podCidr: { network: 0x0af40100, prefix: 24 } },
      heartbeat: { intervalMs: 1000, missedBeats: 3 },
      logging: { level: 'info', modules: {} },
    });
  });

  const bad: [string, unknown, RegExp][] = [
    ['a missing node IP', { ...good, node: { name: 'node-1' } }, /node\.ip: required/],
    ['a broadcast node IP', { ...good, node: { name: 'node-1', ip: '255.255.255.255' } }, /node\.ip: .*broadcast/],
    ['a bad node name', { ...good, node: { name: 'Node_1', ip: '192.0.2.10' } }, /node\.name: .*DNS-1123/],
    ['an unknown field', { ...good, extra: true }, /extra: unknown field/],
    ['a bad log level', { ...good, logging: { level: 'loud' } }, /logging\.level:/],
    ['a bad module level', { ...good, logging: { level: 'info', modules: { bus: 'chatty' } } }, /logging\.modules\.bus:/],
    ['a non-NATS server URL', { ...good, nats: { servers: ['http://x'] } }, /nats\.servers\.0:/],
    ['no servers', { ...good, nats: { servers: [] } }, /nats\.servers:/],
    ['a heartbeat of 0', { ...good, heartbeat: { intervalMs: 0 } }, /heartbeat\.intervalMs:/],
    ['an empty file', null, /node: required/],
    ['a P4 target without TLS that does not say so', { ...good, p4: { target: 'unix:///run/p4rt.sock' } }, /p4\.tls: required: mutual TLS is the default/],
    ['a bus without TLS that does not say so', { ...good, nats: { servers: ['nats://127.0.0.1:4222'] } }, /nats\.tls: required: mutual TLS is the default/],
  ];
  for (const [what, value, expected] of bad) {
    it(`refuses ${what}, naming the field`, () => {
      const r = parseConfig(value, managerConfigSchema, 'test.yaml');
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.error.message).to.match(expected);
    });
  }

  it('reads YAML and JSON files and reports unreadable ones', async () => {
    writeFileSync(join(dir, 'm.yaml'), 'node: { name: node-1, ip: 192.0.2.10 }\nnats: { servers: ["nats://127.0.0.1:1"], insecure: true }\n');
    writeFileSync(join(dir, 'm.json'), JSON.stringify(good));
    writeFileSync(join(dir, 'broken.yaml'), 'node: [unclosed');
    expect((await loadConfigFile(join(dir, 'm.yaml'), managerConfigSchema)).ok).to.equal(true);
    expect((await loadConfigFile(join(dir, 'm.json'), managerConfigSchema)).ok).to.equal(true);
    const broken = await loadConfigFile(join(dir, 'broken.yaml'), managerConfigSchema);
    expect(!broken.ok && broken.error.message).to.match(/not YAML or JSON/);
    const missing = await loadConfigFile(join(dir, 'nope.yaml'), managerConfigSchema);
    expect(!missing.ok && missing.error.message).to.match(/cannot read/);
  });

  it('stops the manager process at start-up with exit code 2 and the field named', function () {
    this.timeout(20_000);
    writeFileSync(join(dir, 'no-ip.yaml'), 'node: { name: node-1 }\nnats: { servers: ["nats://127.0.0.1:1"] }\n');
    const { command, args } = binCommand('manager');
    const r = spawnSync(command, [...args, '--config', join(dir, 'no-ip.yaml')], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/node\.ip: required/);
    expect(r.stderr).to.not.match(/\n\s+at /, 'no stack trace');
  });

  it('stops a process whose certificate files are missing or corrupted, before it connects anywhere', function () {
    this.timeout(20_000);
    writeFileSync(join(dir, 'garbage-ca.crt'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    const tls = `nats: { servers: ["tls://127.0.0.1:1"], tls: { caFile: "${join(dir, 'garbage-ca.crt')}", certFile: "${join(dir, 'none.crt')}", keyFile: "${join(dir, 'none.key')}" } }`;
    writeFileSync(join(dir, 'bad-tls.yaml'), `node: { name: node-1, ip: 192.0.2.10 }\n${tls}\n`);
    const { command, args } = binCommand('agent');
    const r = spawnSync(command, [...args, '--config', join(dir, 'bad-tls.yaml')], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/nats\.tls: /);
    expect(r.stderr).to.not.match(/\n\s+at /, 'no stack trace');
  });

  it('the software target refuses to start without its certificates unless told --insecure', function () {
    this.timeout(20_000);
    const { command, args } = binCommand('target');
    const r = spawnSync(command, [...args, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/mutual TLS is the default/);
  });
});
