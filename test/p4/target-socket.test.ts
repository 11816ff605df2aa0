/** The target's Unix socket after a crash: a stale file is replaced, a live one is never stolen. */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogs } from '../../core/logger.js';
import { modelDevice } from '../../p4/target/model-program.js';
import { P4RuntimeServer } from '../../p4/target/server.js';

describe('target Unix socket', function () {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'ioff-sock-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const target = () => new P4RuntimeServer({ devices: [{ id: 1, ...modelDevice() }], logger: silentLogs().root });

  it('binds over a socket file left by a killed process', async function () {
    const path = join(dir, 'p4rt.sock');
    // A process listening on the path, then kill -9: its socket file stays behind.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)},()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise<void>((r) => child.once('exit', () => r()));
    expect((await lstat(path)).isSocket(), 'the stale socket file is there').to.equal(true);
    const server = target();
    await server.listen(`unix://${path}`);
    await server.close(100);
  });

  it('refuses to take over a socket something still answers on', async function () {
    const path = join(dir, 'p4rt.sock');
    const live = createServer();
    await new Promise<void>((r) => live.listen(path, () => r()));
    const server = target();
    let failed: unknown;
    await server.listen(`unix://${path}`).catch((e: unknown) => (failed = e));
    expect(String(failed)).to.match(/EADDRINUSE/);
    await new Promise<void>((r) => live.close(() => r()));
    await server.close(100);
  });
});
