import { execFile } from 'node:child_process';
import { expect } from 'chai';
import { checkPoolSize, createPool, execIp, PoolNameError, PoolSizeError } from '../../actors/agent/pool/mod.js';
import { TestNet } from './netns.js';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'bin/create-interfaces.ts', ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('agent pool: set-up', function () {
  this.timeout(20_000);
  const net = new TestNet();
  let host = '';

  before(async () => {
    host = await net.addNs('host');
  });

  after(async () => {
    await net.cleanup();
    expect(await net.leftovers()).to.deep.equal([]);
  });

  it('refuses a count that is not a power of two or not more than 4, saying so', async () => {
    for (const count of [0, 1, 2, 4, 6, 12, -8, 8.5]) {
      const r = await createPool(execIp, { prefix: net.prefix, count, netns: host });
      expect(r.ok, `count ${count}`).to.equal(false);
      if (r.ok) continue;
      expect(r.error, `count ${count}`).to.be.instanceOf(PoolSizeError);
      expect(r.error.message).to.match(/power of two and more than 4/);
    }
    expect(checkPoolSize(8).ok && checkPoolSize(16).ok && checkPoolSize(64).ok).to.equal(true);
    expect(await net.taps(host)).to.deep.equal([]);
  });

  it('refuses prefixes and namespaces that make bad names', async () => {
    for (const opts of [
      { prefix: '-x', count: 8 },
      { prefix: 'a/b', count: 8 },
      { prefix: 'averyverylongpfx', count: 8 },
      { prefix: net.prefix, count: 8, netns: '../etc' },
    ]) {
      const r = await createPool(execIp, opts);
      expect(!r.ok && r.error instanceof PoolNameError, JSON.stringify(opts)).to.equal(true);
    }
  });

  it('creates exactly N persistent TAPs in the namespace, and keeps them on a re-run', async () => {
    const first = await createPool(execIp, { prefix: net.prefix, count: 8, netns: host });
    expect(first.ok && first.value.created.length).to.equal(8);
    const expected = Array.from({ length: 8 }, (_, i) => `${net.prefix}${i}`).sort();
    expect(await net.taps(host)).to.deep.equal(expected);
    const again = await createPool(execIp, { prefix: net.prefix, count: 8, netns: host });
    expect(again.ok && again.value).to.deep.equal({ created: [], kept: expected });
    expect(await net.taps(host)).to.deep.equal(expected);
  });

  it('the command exits 2 with a message on a bad count, and creates the pool on a good one', async () => {
    const other = await net.addNs('cli');
    const bad = await cli(['--prefix', net.prefix, '--count', '12', '--netns', other]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/power of two and more than 4/);
    const good = await cli(['--prefix', net.prefix, '--count', '8', '--netns', other]);
    expect(good.code, good.stderr).to.equal(0);
    expect(good.stdout).to.match(/created 8, kept 0/);
    expect(await net.taps(other)).to.have.length(8);
    const missing = await cli(['--prefix', net.prefix, '--count', '8', '--netns', net.ns('absent')]);
    expect(missing.code).to.equal(1);
  });
});
