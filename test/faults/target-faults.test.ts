import { ChannelCredentials, Client } from '@grpc/grpc-js';
import { expect } from 'chai';
import { seededRandom } from '../../core/random.js';
import { loadP4Info } from '../../p4/p4info.js';
import { P4RuntimeClient, P4RuntimeError, type P4RuntimeStream } from '../../p4/runtime-client.js';
import { adminServiceDefinition, TargetAdminClient } from '../../p4/target/admin.js';
import { ManualClock } from '../../core/clock.js';
import { checkTargetFaults, DeviceFaults, NO_FAULTS, TargetFaultsError } from '../../p4/target/faults.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';

type Msg = Record<string, unknown>;
const info = loadP4Info();
const IPV4 = info.tableByName('MainControlImpl.ipv4_to_port');
const SET_DEST = info.actionByName('MainControlImpl.set_dest_mac_port');
const ELECTION = { high: 0, low: 1 };
const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

function podEntry(n: number, mac = n & 255): Msg {
  return {
    table_entry: {
      table_id: IPV4.id,
      match: [{ field_id: 1, exact: { value: b(10, 244, (n >> 8) & 255, n & 255) } }],
      action: { action: { action_id: SET_DEST.id, params: [{ param_id: 1, value: b(2 + (n % 200)) }, { param_id: 2, value: b(2, 0, 0, 0, 0, mac) }] } },
    },
  };
}
const keyOf = (n: number): Msg => ({ table_entry: { table_id: IPV4.id, match: (podEntry(n).table_entry as Msg).match } });

/** Which of `n` updates a seed fails at `perMille`: one draw per update, as the target draws. */
function predicted(seed: number, perMille: number, n: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => i).filter(() => r.next() * 1000 < perMille);
}

interface Stats {
  writeRpcs: number;
  updatesFailed: number;
  failedByCode: Record<string, number>;
  injectedFailures: number;
  delayedWrites: number;
  abandonedWrites: number;
  learnedGone: number;
  tableEntries: number;
}

/**
 * TargetAdmin.SetFaults against bin/target in its own process: writes delayed in order, updates
 * failed at a seeded rate and reported as P4Runtime reports per-update errors, counted apart from
 * genuine failures; bad settings refused without effect.
 */
describe('target write faults (TargetAdmin.SetFaults)', function () {
  this.timeout(30_000);
  let target: TargetProcess;
  let admin: TargetAdminClient;
  let p4: P4RuntimeClient;
  let stream: P4RuntimeStream;

  before(async () => {
    target = await startTarget();
    admin = new TargetAdminClient(target.address);
    p4 = new P4RuntimeClient(target.address);
    stream = p4.openStream();
    stream.send({ arbitration: { device_id: 1, election_id: ELECTION } });
    await stream.next();
  });
  after(async () => {
    stream.close();
    p4.close();
    admin.close();
    expect(await target.stop(), target.output.join('\n')).to.equal(0);
  });
  afterEach(async () => {
    await admin.setFaults({});
    // Leave the table empty for the next test.
    const all = await p4.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id } }] });
    if (all.length > 0) await p4.write({ device_id: 1, election_id: ELECTION, updates: all.map((e) => ({ type: 'DELETE', entity: { table_entry: { table_id: IPV4.id, match: (e.table_entry as Msg).match } } })) });
  });

  const stats = async (): Promise<Stats> => (await admin.stats()) as unknown as Stats;
  const entries = async (): Promise<number> => (await p4.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id } }] })).length;
  const write = (updates: Msg[], atomicity?: string, callMs?: number): Promise<P4RuntimeError | 'ok'> => {
    const c = callMs ? new P4RuntimeClient(target.address, undefined, { callMs }) : p4;
    return c.write({ device_id: 1, election_id: ELECTION, updates, ...(atomicity ? { atomicity } : {}) }).then(
      () => 'ok' as const,
      (e: unknown) => {
        if (!(e instanceof P4RuntimeError)) throw e;
        return e;
      },
    ).finally(() => c !== p4 && c.close());
  };
  const inserts = (from: number, n: number): Msg[] => Array.from({ length: n }, (_, i) => ({ type: 'INSERT', entity: podEntry(from + i) }));

  it('fails every update at 1000‰, each reported with the injected code, nothing applied, counted apart', async () => {
    const before = await stats();
    expect(await admin.setFaults({ failPerMille: 1000, failCode: 8, seed: 1 })).to.deep.equal({ writeDelayMs: 0, failPerMille: 1000, failCode: 8, seed: 1 });
    const e = await write(inserts(0, 20));
    expect(e).to.be.instanceOf(P4RuntimeError);
    const failure = e as P4RuntimeError;
    expect(failure.code, 'UNKNOWN, as P4Runtime reports per-update errors').to.equal(2);
    expect(failure.details.map((d) => d.canonical_code)).to.deep.equal(Array(20).fill(8));
    expect(failure.details[0]!.message).to.match(/injected fault: RESOURCE_EXHAUSTED/);
    expect(await entries()).to.equal(0);
    const after = await stats();
    expect(after.injectedFailures - before.injectedFailures).to.equal(20);
    expect(after.updatesFailed, 'not a genuine failure').to.equal(before.updatesFailed);
    expect(after.failedByCode).to.deep.equal(before.failedByCode);
  });

  it('counts a delete of a learned connection the data plane had already expired apart from genuine failures; a missing programmed entry is still NOT_FOUND', async () => {
    const before = await stats();
    const ctForward = info.tableByName('MainControlImpl.ct_forward');
    const gone = { table_entry: { table_id: ctForward.id, match: [b(10, 244, 0, 10), b(10, 96, 0, 10), b(17), b(4, 0), b(0, 53)].map((v, i) => ({ field_id: i + 1, exact: { value: v } })) } };
    const e = (await write([{ type: 'DELETE', entity: gone }, { type: 'DELETE', entity: keyOf(9999) }])) as P4RuntimeError;
    expect(e.details.map((d) => d.canonical_code)).to.deep.equal([5, 5]);
    const after = await stats();
    expect(after.learnedGone - (before.learnedGone ?? 0), 'the learned one').to.equal(1);
    expect((after.failedByCode['5'] ?? 0) - (before.failedByCode['5'] ?? 0), 'the programmed one only').to.equal(1);
  });

  it('fails a seeded, replayable share of updates; genuine failures beside them are counted as before', async () => {
    const N = 500;
    await admin.setFaults({ failPerMille: 300, failCode: 14, seed: 7 });
    const first = (await write(inserts(0, N))) as P4RuntimeError;
    const failed = first.details.flatMap((d, i) => (d.canonical_code === 14 ? [i] : []));
    expect(failed, 'the failures the seed predicts').to.deep.equal(predicted(7, 300, N));
    expect(first.details.every((d) => d.canonical_code === 14 || d.canonical_code === 0)).to.equal(true);
    expect(await entries()).to.equal(N - failed.length);
    // Replay: the same setting again (a fresh sequence from the seed) on an empty table.
    await admin.setFaults({});
    await p4.write({ device_id: 1, election_id: ELECTION, updates: Array.from({ length: N }, (_, i) => i).filter((i) => !failed.includes(i)).map((i) => ({ type: 'DELETE', entity: keyOf(i) })) });
    await admin.setFaults({ failPerMille: 300, failCode: 14, seed: 7 });
    const again = (await write(inserts(0, N))) as P4RuntimeError;
    expect(again.details.map((d) => d.canonical_code)).to.deep.equal(first.details.map((d) => d.canonical_code));
    // Another seed, on a full table: the survivors of the first write now fail genuinely (ALREADY_EXISTS)
    // unless injected; injected ones stay out of failed_by_code.
    const before = await stats();
    await admin.setFaults({ failPerMille: 300, failCode: 14, seed: 8 });
    const third = (await write(inserts(0, N))) as P4RuntimeError;
    const injected8 = predicted(8, 300, N);
    expect(third.details.flatMap((d, i) => (d.canonical_code === 14 ? [i] : []))).to.deep.equal(injected8);
    const existing = new Set(Array.from({ length: N }, (_, i) => i).filter((i) => !failed.includes(i)));
    const duplicates = Array.from({ length: N }, (_, i) => i).filter((i) => existing.has(i) && !injected8.includes(i)).length;
    const after = await stats();
    expect((after.failedByCode['6'] ?? 0) - (before.failedByCode['6'] ?? 0), 'ALREADY_EXISTS, the genuine ones only').to.equal(duplicates);
    expect(after.injectedFailures - before.injectedFailures).to.equal(injected8.length);
    expect(after.updatesFailed - before.updatesFailed).to.equal(duplicates);
  });

  it('rolls back a ROLLBACK_ON_ERROR batch an injected failure hit, and counts it as injected', async () => {
    // Seed 3 at 500‰ passes the first update and fails a later one.
    const fails = predicted(3, 500, 10);
    expect(fails[0]).to.be.greaterThan(0);
    const before = await stats();
    await admin.setFaults({ failPerMille: 500, failCode: 8, seed: 3 });
    const e = (await write(inserts(0, 10), 'ROLLBACK_ON_ERROR')) as P4RuntimeError;
    const codes = e.details.map((d) => d.canonical_code);
    expect(codes[fails[0]!]).to.equal(8);
    expect(codes.filter((c) => c === 10), 'ABORTED').to.have.length(9);
    expect(await entries()).to.equal(0);
    const after = await stats();
    expect(after.injectedFailures - before.injectedFailures).to.equal(10);
    expect(after.failedByCode).to.deep.equal(before.failedByCode);
  });

  it('delays every Write RPC, keeps their order, and drops one whose caller gave up meanwhile', async () => {
    const before = await stats();
    await admin.setFaults({ writeDelayMs: 300 });
    const t0 = Date.now();
    // Sent at once; only their order makes them all succeed (insert, then two modifies).
    const results = await Promise.all([
      write([{ type: 'INSERT', entity: podEntry(1, 1) }]),
      write([{ type: 'MODIFY', entity: podEntry(1, 2) }]),
      write([{ type: 'MODIFY', entity: podEntry(1, 3) }]),
    ]);
    expect(results).to.deep.equal(['ok', 'ok', 'ok']);
    expect(Date.now() - t0).to.be.at.least(290);
    const [entry] = await p4.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id } }] });
    const mac = (((entry!.table_entry as Msg).action as Msg).action as { params: { value: Uint8Array }[] }).params[1]!.value;
    expect(mac[5], 'the last modify won').to.equal(3);
    // A caller whose deadline passes while its write waits: the write is never applied.
    const late = await write([{ type: 'INSERT', entity: podEntry(2) }], undefined, 100);
    expect((late as P4RuntimeError).code, 'DEADLINE_EXCEEDED').to.equal(4);
    await new Promise((r) => setTimeout(r, 350));
    expect(await entries()).to.equal(1);
    const after = await stats();
    expect(after.delayedWrites - before.delayedWrites).to.equal(4);
    expect(after.abandonedWrites - before.abandonedWrites).to.equal(1);
  });

  it('keeps the order of held writes when the delay is lowered, and all zero turns the faults off', async () => {
    await admin.setFaults({ writeDelayMs: 400 });
    const insert = write([{ type: 'INSERT', entity: podEntry(5) }]);
    await new Promise((r) => setTimeout(r, 50));
    await admin.setFaults({});
    // Sent after the faults went off, but behind the held insert it depends on.
    expect(await write([{ type: 'MODIFY', entity: podEntry(5, 9) }])).to.equal('ok');
    expect(await insert).to.equal('ok');
    const held = (await stats()).delayedWrites;
    expect(await write(inserts(100, 50))).to.equal('ok');
    expect((await stats()).delayedWrites, 'no delay once off').to.equal(held);
    expect(await entries()).to.equal(51);
  });

  it('refuses bad settings with a typed error and changes nothing', async () => {
    await admin.setFaults({ writeDelayMs: 0, failPerMille: 0 });
    const refusals: [Record<string, number>, number, string][] = [
      [{ failPerMille: 100, failCode: 5 }, 3, 'failCode'],
      [{ failPerMille: 100 }, 3, 'failCode'],
      [{ failPerMille: 1001, failCode: 8 }, 3, 'failPerMille'],
      [{ writeDelayMs: 60_001 }, 3, 'writeDelayMs'],
      [{ writeDelayMs: 1.5 }, 3, 'writeDelayMs'],
      [{ seed: -1 }, 3, 'seed'],
      [{ seed: 2 ** 32 }, 3, 'seed'],
      [{ deviceId: 0 }, 3, 'deviceId'],
    ];
    for (const [setting, code, field] of refusals) {
      const e = await admin.setFaults(setting).then(() => undefined, (x: unknown) => x);
      expect(e, JSON.stringify(setting)).to.be.instanceOf(TargetFaultsError);
      expect([(e as TargetFaultsError).code, (e as TargetFaultsError).field], JSON.stringify(setting)).to.deep.equal([code, field]);
    }
    // The server checks too (a client that skips the checks), and knows its devices.
    const raw = new Client(target.address, ChannelCredentials.createInsecure());
    const def = adminServiceDefinition() as unknown as Record<string, { path: string; requestSerialize: (m: object) => Buffer; responseDeserialize: (b: Buffer) => unknown }>;
    const m = def.SetFaults!;
    const send = (req: object): Promise<number> =>
      new Promise((resolve) => raw.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, (e) => resolve(e?.code ?? 0)));
    expect(await send({ deviceId: 1, failPerMille: 500, failCode: 5 })).to.equal(3);
    expect(await send({ deviceId: 1, failPerMille: 2000, failCode: 8 })).to.equal(3);
    expect(await send({ deviceId: 1, writeDelayMs: 100_000 })).to.equal(3);
    expect(await send({ deviceId: 9, failPerMille: 500, failCode: 8 })).to.equal(5);
    raw.close();
    const nf = await admin.setFaults({ deviceId: 9, failPerMille: 1, failCode: 8 }).catch((x: unknown) => x);
    expect((nf as TargetFaultsError).code).to.equal(5);
    // Nothing took effect: writes are immediate and succeed.
    const before = await stats();
    expect(await write(inserts(0, 100))).to.equal('ok');
    const after = await stats();
    expect([after.injectedFailures, after.delayedWrites]).to.deep.equal([before.injectedFailures, before.delayedWrites]);
  });
});

describe('target write faults: the per-device queue', () => {
  it('holds writes for the delay in arrival order, even when the delay is lowered, and goes idle once off and drained', async () => {
    const clock = new ManualClock(0);
    let idle = 0;
    const f = new DeviceFaults(() => idle++, clock);
    const ran: string[] = [];
    const setting = checkTargetFaults({ writeDelayMs: 100 });
    expect(setting).to.deep.equal({ ok: true, value: { ...NO_FAULTS, writeDelayMs: 100 } });
    if (setting.ok) f.configure(setting.value);
    expect(f.schedule(() => ran.push('a'))).to.equal(true);
    await clock.advance(50);
    expect(f.schedule(() => ran.push('b'))).to.equal(true);
    f.configure(NO_FAULTS);
    expect(idle, 'not idle while writes wait').to.equal(0);
    expect(f.schedule(() => ran.push('c')), 'behind the held ones, though the delay is 0 now').to.equal(true);
    await clock.advance(49);
    expect(ran).to.deep.equal([]);
    await clock.advance(1);
    expect(ran).to.deep.equal(['a']);
    await clock.advance(50);
    expect(ran).to.deep.equal(['a', 'b', 'c']);
    expect(idle).to.equal(1);
    expect(f.schedule(() => ran.push('d')), 'off and drained: at once').to.equal(false);
    expect(ran).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('draws one number per update from the seed while failures are on', () => {
    const f = new DeviceFaults(() => undefined, new ManualClock(0));
    f.configure({ writeDelayMs: 0, failPerMille: 500, failCode: 14, seed: 4 });
    const first = Array.from({ length: 64 }, () => f.inject() !== undefined);
    f.configure({ writeDelayMs: 0, failPerMille: 500, failCode: 14, seed: 4 });
    expect(Array.from({ length: 64 }, () => f.inject() !== undefined)).to.deep.equal(first);
    expect(first.filter(Boolean).length).to.be.within(16, 48);
    expect(f.inject()?.code).to.be.oneOf([14, undefined]);
    f.configure(NO_FAULTS);
    expect(f.injecting()).to.equal(undefined);
    expect(Array.from({ length: 64 }, () => f.inject())).to.deep.equal(Array(64).fill(undefined));
  });
});
