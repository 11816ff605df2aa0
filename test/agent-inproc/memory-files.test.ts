/**
 * The agent's files seam (actors/agent/pool/files.ts): one contract run against the machine's
 * filesystem (a temporary directory) and against MemoryFiles (simulations/inproc/memory-files.ts)
 * with the same observable results; a full memory disk failing as a full real one does (the
 * errno error of a write to /dev/full); the pool's state file over it (a refused write is a
 * PoolStateError naming ENOSPC and leaves the old state); and memory's operations resolving in a
 * microtask, in call order.
 */
import { expect } from 'chai';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsFiles, type AgentFiles } from '../../actors/agent/pool/files.js';
import { PoolStateError } from '../../actors/agent/pool/errors.js';
import { readState, stateErrorCode, writeJsonAtomic, writeState, type PoolState } from '../../actors/agent/pool/state-file.js';
import { MemoryFiles } from '../../simulations/inproc/memory-files.js';

/** What a call did: its value, or its error's code and syscall. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const v = await p;
    return v === undefined ? 'ok' : `ok ${JSON.stringify(v)}`;
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    return `${x.code ?? x.name} ${x.syscall ?? ''}`.trim();
  }
}

/** The same sequence on any AgentFiles under `root`. */
async function contract(files: AgentFiles, root: string): Promise<string[]> {
  const p = (s: string) => join(root, s);
  return [
    await outcome(files.readText(p('state/pool.json'))),
    await outcome(files.replace(p('state/pool.json'), 'x', { sync: false, mode: 0o600 })),
    await outcome(files.makeDir(p('state'), 0o700)),
    await outcome(files.makeDir(p('state'), 0o700)),
    await outcome(files.makeDir(p('a/b/c'), 0o700)),
    await outcome(files.replace(p('state/pool.json'), '{"v":1}\n', { sync: false, mode: 0o600 })),
    await outcome(files.readText(p('state/pool.json'))),
    await outcome(files.replace(p('state/pool.json'), '{"v":2}\n', { sync: true, mode: 0o600 })),
    await outcome(files.readText(p('state/./pool.json'))),
    await outcome(files.readText(p('state'))),
    await outcome(files.replace(p('state'), 'x', { sync: false, mode: 0o600 })),
    await outcome(files.makeDir(p('state/pool.json'), 0o700)),
    await outcome(files.makeDir(p('state/pool.json/x'), 0o700)),
  ];
}

const state = (n: number): PoolState => ({
  version: 1,
  prefix: 'P_',
  size: 8,
  allocations: Array.from({ length: n }, (_, i) => ({ index: 2 + i, containerId: `c${i}`, ifname: 'eth0', netns: null, name: `P_${2 + i}` })),
});

describe('agent files: the machine’s and MemoryFiles', function () {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ioff-files-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the same operations give the same results on both (missing file, missing directory, atomic replace, directories)', async function () {
    const real = await contract(fsFiles, dir);
    const memory = await contract(new MemoryFiles(), '/var/lib/test');
    expect(memory).to.deep.equal(real);
    expect(real.slice(0, 2)).to.deep.equal(['ok', 'ENOENT open']);
    expect(real[6]).to.equal('ok "{\\"v\\":1}\\n"');
  });

  it('a full memory disk fails a write with the error a full real one gives (code, errno, syscall, message), and keeps the old file', async function () {
    let real: NodeJS.ErrnoException | undefined;
    const fh = await open('/dev/full', 'w');
    try {
      await fh.writeFile('{}\n');
    } catch (e) {
      real = e as NodeJS.ErrnoException;
    } finally {
      await fh.close();
    }
    expect(real?.code).to.equal('ENOSPC');
    const disk = new MemoryFiles();
    await disk.makeDir('/s', 0o700);
    await disk.replace('/s/a', 'old', { sync: false, mode: 0o600 });
    disk.fill();
    const failed = await disk.replace('/s/a', 'new', { sync: false, mode: 0o600 }).then(
      () => undefined,
      (e: unknown) => e as NodeJS.ErrnoException,
    );
    const shape = (e: NodeJS.ErrnoException | undefined) => ({ name: e?.name, message: e?.message, code: e?.code, errno: e?.errno, syscall: e?.syscall, path: e?.path, own: Object.keys(e ?? {}).sort() });
    expect(shape(failed)).to.deep.equal(shape(real));
    expect(disk.peek('/s/a'), 'the old file stays').to.equal('old');
    expect(disk.stats.full).to.equal(1);
    // A limit: what fits is written, what does not is refused; lifting it makes room.
    disk.setLimit(10);
    expect(await outcome(disk.replace('/s/b', '1234567', { sync: false, mode: 0o600 })), '3 + 7 bytes fit').to.equal('ok');
    expect(await outcome(disk.replace('/s/b', '12', { sync: false, mode: 0o600 })), 'the new copy needs room beside the old').to.equal('ENOSPC write');
    disk.setLimit(undefined);
    expect(await outcome(disk.replace('/s/b', '12', { sync: false, mode: 0o600 }))).to.equal('ok');
    expect(disk.usedBytes).to.equal(5);
  });

  it('the pool state over a full disk: a PoolStateError caused by ENOSPC, the state on disk unchanged', async function () {
    const disk = new MemoryFiles();
    await disk.makeDir('/state', 0o700);
    expect((await writeState('/state/pool.json', state(1), disk)).ok).to.equal(true);
    const before = disk.peek('/state/pool.json');
    disk.fill();
    const refused = await writeState('/state/pool.json', state(2), disk);
    expect(refused.ok).to.equal(false);
    if (refused.ok) return;
    expect(refused.error).to.be.instanceOf(PoolStateError);
    expect(stateErrorCode(refused.error)).to.equal('ENOSPC');
    expect(refused.error.message).to.equal('cannot write /state/pool.json: ENOSPC: no space left on device, write');
    expect(disk.peek('/state/pool.json')).to.equal(before);
    const read = await readState('/state/pool.json', disk);
    expect(read.ok && read.value?.allocations.length).to.equal(1);
    // The same refusal from the machine's own full device: the same error, the same code.
    const real = await writeJsonAtomic('/dev/full/pool.json', state(2), { sync: false });
    expect(!real.ok && real.error).to.be.instanceOf(PoolStateError);
  });

  it('a damaged state file is a typed error, a missing one an empty state, on memory as on disk', async function () {
    const disk = new MemoryFiles();
    await disk.makeDir('/state', 0o700);
    expect(await readState('/state/pool.json', disk)).to.deep.equal({ ok: true, value: undefined });
    await disk.replace('/state/pool.json', '{"version":1', { sync: false, mode: 0o600 });
    const damaged = await readState('/state/pool.json', disk);
    expect(!damaged.ok && damaged.error.message).to.equal('/state/pool.json is not JSON');
  });

  it('memory operations resolve in a microtask, in call order, never synchronously', async function () {
    const disk = new MemoryFiles();
    await disk.makeDir('/s', 0o700);
    const order: string[] = [];
    const w1 = disk.replace('/s/f', 'one', { sync: false, mode: 0o600 }).then(() => order.push('w1'));
    const r1 = disk.readText('/s/f').then((t) => order.push(`r1=${t}`));
    const w2 = disk.replace('/s/f', 'two', { sync: false, mode: 0o600 }).then(() => order.push('w2'));
    expect(disk.peek('/s/f'), 'nothing happened yet').to.equal(undefined);
    await Promise.all([w1, r1, w2]);
    expect(order).to.deep.equal(['w1', 'r1=one', 'w2']);
    expect(disk.list()).to.deep.equal(['/s/f']);
  });
});
