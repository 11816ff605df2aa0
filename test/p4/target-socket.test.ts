/** The target's Unix socket after a crash: a stale file is replaced, a live one is never stolen. */
import { expect } from 'chai';
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
    // A listener that goes away without unlinking its socket, as after kill -9.
    const old = createServer();
    await new Promise<void>((r) => old.listen(path, () => r()));
    const handle = (old as unknown as { _handle: { close(): void } })._handle;
    handle.close(); // closes the fd, leaves the file
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
