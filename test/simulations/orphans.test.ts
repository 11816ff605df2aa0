/** A process started by one of our launchers stops when the launcher is gone (core/parent-watch.ts). */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { binCommand } from '../../simulations/processes.js';

describe('orphaned processes', function () {
  this.timeout(20_000);

  it('bin/target started with INFRA_EXIT_WITH_PARENT exits by itself, cleanly, once that process is killed', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'ioff-orphan-'));
    const launcher = spawn('sleep', ['60']); // stands for a launcher that will be killed -9
    const { command, args } = binCommand('target');
    const target = spawn(command, [...args, '--listen', `unix://${join(dir, 'p4rt.sock')}`, '--insecure', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, INFRA_EXIT_WITH_PARENT: String(launcher.pid) },
    });
    const exited = new Promise<number | null>((resolve) => target.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => createInterface({ input: target.stdout }).on('line', (l) => l.includes('"ready"') && resolve()));
    // Still running while its launcher lives.
    await new Promise((r) => setTimeout(r, 1500));
    expect(target.exitCode).to.equal(null);
    const killedAt = Date.now();
    launcher.kill('SIGKILL');
    const code = await exited;
    expect(code, 'a clean stop (its SIGTERM path)').to.equal(0);
    expect(Date.now() - killedAt).to.be.below(5000);
    await rm(dir, { recursive: true, force: true });
  });
});
