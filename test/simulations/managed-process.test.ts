/**
 * ManagedProcess.waitReady (simulations/processes.ts): resolves on the child's ready line — the
 * server is listening then — and rejects when the child exits before it.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from '../../simulations/processes.js';

describe('ManagedProcess.waitReady', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'ioff-managed-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves once the target listens: its socket is there', async () => {
    const socket = join(dir, 'p4rt.sock');
    const target = new ManagedProcess({ name: 'target', bin: 'target', args: ['--listen', `unix://${socket}`, '--log-level', 'warn', '--insecure'] });
    target.start();
    try {
      await target.waitReady();
      expect(existsSync(socket)).to.equal(true);
    } finally {
      await target.stop();
    }
  });

  it('rejects when the process exits before it is ready', async () => {
    const target = new ManagedProcess({ name: 'target', bin: 'target', args: ['--no-such-option'] });
    target.start();
    const outcome = await target.waitReady().then(
      () => 'ready',
      (e: Error) => e.message,
    );
    expect(outcome).to.match(/target exited \(.+\) before it was ready/);
  });
});
