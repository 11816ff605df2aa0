import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { DEFAULT_P4INFO_PATH, loadP4Info } from '../../p4/p4info.js';
import { P4RuntimeClient, P4RuntimeError, type P4RuntimeStream } from '../../p4/runtime-client.js';
import { fromProto3Json, p4Types } from '../../p4/runtime-proto.js';
import { startTarget, type TargetProcess } from '../../simulations/target-process.js';

type Msg = Record<string, unknown>;
const info = loadP4Info();
const IPV4 = info.tableByName('MainControlImpl.ipv4_to_port');
const SET_DEST = info.actionByName('MainControlImpl.set_dest_mac_port');
const LB = info.tableByName('MainControlImpl.service_lb');
const SELECTOR = info.actionProfileByName('MainControlImpl.lb_selector');
const LB_EP = info.actionByName('MainControlImpl.lb_set_endpoint');
const p4infoJson = JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')) as Msg;
/** The P4Info as a message (the JSON is proto3 JSON in lowerCamelCase). */
const p4infoMsg = fromProto3Json(p4Types.P4Info, p4infoJson);

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const ip = (n: number): Uint8Array => b(10, 244, (n >> 8) & 255, n & 255);
const election = (low: number): Msg => ({ high: 0, low });

function podEntry(n: number, port = n + 2, portBytes?: Uint8Array): Msg {
  return {
    table_entry: {
      table_id: IPV4.id,
      match: [{ field_id: 1, exact: { value: ip(n) } }],
      action: { action: { action_id: SET_DEST.id, params: [{ param_id: 1, value: portBytes ?? b(port) }, { param_id: 2, value: b(2, 0, 0, 0, 0, n & 255) }] } },
    },
  };
}

async function expectCode(p: Promise<unknown>, code: number): Promise<P4RuntimeError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(P4RuntimeError);
    expect((e as P4RuntimeError).code, (e as Error).message).to.equal(code);
    return e as P4RuntimeError;
  }
  throw new Error(`expected status ${code}`);
}

async function arbitrate(c: P4RuntimeClient, id: number | undefined): Promise<{ stream: P4RuntimeStream; first: Msg | undefined }> {
  const stream = c.openStream();
  stream.send({ arbitration: { device_id: 1, ...(id === undefined ? {} : { election_id: election(id) }) } });
  return { stream, first: await stream.next() };
}

function arbCode(m: Msg | undefined): number | undefined {
  return ((m?.arbitration as Msg | undefined)?.status as Msg | undefined)?.code as number | undefined ?? (m ? 0 : undefined);
}

/** Conformance of the software target, driven by a gRPC client built from our protos, target in its own process. */
describe('P4Runtime target conformance', function () {
  this.timeout(30_000);
  let target: TargetProcess;
  const clients: P4RuntimeClient[] = [];
  const client = (): P4RuntimeClient => {
    const c = new P4RuntimeClient(target.address);
    clients.push(c);
    return c;
  };

  before(async () => {
    target = await startTarget();
  });
  after(async () => {
    for (const c of clients) c.close();
    expect(await target.stop(), target.output.join('\n')).to.equal(0);
  });

  it('answers Capabilities with the API version', async () => {
    expect(await client().capabilities()).to.deep.equal({ p4runtime_api_version: '1.4.1' });
  });

  it('arbitration: the higher id becomes primary, the other is told it is a backup and cannot write', async () => {
    const a = client();
    const c = client();
    const sa = await arbitrate(a, 10);
    expect(arbCode(sa.first)).to.equal(0);
    const sc = await arbitrate(c, 20);
    expect(arbCode(sc.first)).to.equal(0);
    expect(arbCode(await sa.stream.next()), 'a demoted').to.equal(6); // ALREADY_EXISTS
    await expectCode(a.write({ device_id: 1, election_id: election(10), updates: [{ type: 'INSERT', entity: podEntry(1) }] }), 7);
    await c.write({ device_id: 1, election_id: election(20), updates: [{ type: 'INSERT', entity: podEntry(1) }] });
    // The primary leaves: no primary, the backup hears NOT_FOUND, and a lower id does not take over.
    sc.stream.close();
    expect(arbCode(await sa.stream.next()), 'a told there is no primary').to.equal(5);
    sa.stream.send({ arbitration: { device_id: 1, election_id: election(15) } });
    expect(arbCode(await sa.stream.next())).to.equal(5);
    await expectCode(a.write({ device_id: 1, election_id: election(15), updates: [] }), 7);
    sa.stream.send({ arbitration: { device_id: 1, election_id: election(20) } });
    expect(arbCode(await sa.stream.next()), 'an id as high as the highest seen takes over').to.equal(0);
    sa.stream.close();
  });

  it('arbitration errors end the stream with the specified status', async () => {
    const s = client().openStream();
    s.send({ arbitration: { device_id: 42, election_id: election(1) } });
    expect(await s.next(2000)).to.equal(undefined);
    expect(s.ended?.code).to.equal(5); // NOT_FOUND
    const first = await arbitrate(client(), 30);
    const dup = await arbitrate(client(), 30);
    expect(dup.first).to.equal(undefined);
    expect(dup.stream.ended?.code).to.equal(3); // INVALID_ARGUMENT
    first.stream.close();
  });

  describe('as the primary', () => {
    let w: P4RuntimeClient;
    let s: P4RuntimeStream;
    const E = election(100);
    before(async () => {
      w = client();
      ({ stream: s } = await arbitrate(w, 100));
    });
    after(() => s.close());

    it('reports one p4.v1.Error per update, in order, with UNKNOWN when any fails', async () => {
      const updates = [podEntry(10), podEntry(11), podEntry(10), podEntry(12), { type: 'MODIFY', entity: podEntry(13) }].map((u) =>
        'type' in u ? u : { type: 'INSERT', entity: u },
      );
      const e = await expectCode(w.write({ device_id: 1, election_id: E, updates }), 2);
      expect(e.details.map((d) => d.canonical_code)).to.deep.equal([0, 0, 6, 0, 5]);
      const read = await w.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id } }] });
      const ips = read.map((x) => [...((((x.table_entry as Msg).match as Msg[])[0]!.exact as Msg).value as Uint8Array)].join('.'));
      expect(ips).to.include.members(['10.244.0.10', '10.244.0.11', '10.244.0.12']);
      expect(ips).to.not.include('10.244.0.13');
    });

    it('accepts a zero-padded value equal to its canonical form, refuses too wide and empty ones', async () => {
      await w.write({ device_id: 1, election_id: E, updates: [{ type: 'INSERT', entity: podEntry(20, 0, b(0, 0, 0, 7)) }] });
      const [entry] = await w.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id, match: [{ field_id: 1, exact: { value: ip(20) } }] } }] });
      const params = (((entry!.table_entry as Msg).action as Msg).action as Msg).params as Msg[];
      expect([...(params[0]!.value as Uint8Array)], 'canonical port').to.deep.equal([7]);
      const e = await expectCode(w.write({ device_id: 1, election_id: E, updates: [{ type: 'MODIFY', entity: podEntry(20, 0, b(1, 0, 0, 0, 7)) }] }), 2);
      expect(e.details[0]!.canonical_code, e.details[0]!.message).to.equal(11); // OUT_OF_RANGE
      const empty = await expectCode(w.write({ device_id: 1, election_id: E, updates: [{ type: 'MODIFY', entity: podEntry(20, 0, new Uint8Array(0)) }] }), 2);
      expect(empty.details[0]!.canonical_code).to.equal(11);
    });

    it('members before groups before entries; a group naming an unknown member is refused', async () => {
      const member = (id: number, host: number): Msg => ({
        action_profile_member: { action_profile_id: SELECTOR.id, member_id: id, action: { action_id: LB_EP.id, params: [{ param_id: 1, value: ip(host) }, { param_id: 2, value: b(0x1f, 0x90) }] } },
      });
      const group = (members: number[]): Msg => ({ action_profile_group: { action_profile_id: SELECTOR.id, group_id: 1, members: members.map((m) => ({ member_id: m, weight: 1 })), max_size: 16 } });
      await w.write({ device_id: 1, election_id: E, updates: [1, 2].map((m) => ({ type: 'INSERT', entity: member(m, 30 + m) })) });
      await w.write({ device_id: 1, election_id: E, updates: [{ type: 'INSERT', entity: group([1, 2]) }] });
      const bad = await expectCode(w.write({ device_id: 1, election_id: E, updates: [{ type: 'MODIFY', entity: group([1, 9]) }] }), 2);
      expect(bad.details[0]!.canonical_code, bad.details[0]!.message).to.equal(3);
      await w.write({
        device_id: 1,
        election_id: E,
        updates: [{ type: 'INSERT', entity: { table_entry: { table_id: LB.id, match: [{ field_id: 1, exact: { value: b(10, 96, 0, 1) } }, { field_id: 2, exact: { value: b(6) } }, { field_id: 3, exact: { value: b(0, 80) } }], action: { action_profile_group_id: 1 } } } }],
      });
      const groups = await w.read({ device_id: 1, entities: [{ action_profile_group: { action_profile_id: SELECTOR.id } }] });
      expect(groups).to.have.length(1);
    });

    it('ROLLBACK_ON_ERROR undoes the batch; DATAPLANE_ATOMIC is UNIMPLEMENTED', async () => {
      const e = await expectCode(
        w.write({ device_id: 1, election_id: E, atomicity: 1, updates: [{ type: 'INSERT', entity: podEntry(40) }, { type: 'DELETE', entity: podEntry(41) }] }),
        2,
      );
      expect(e.details.map((d) => d.canonical_code)).to.deep.equal([10, 5]);
      const after = await w.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id, match: [{ field_id: 1, exact: { value: ip(40) } }] } }] });
      expect(after, 'the insert was rolled back').to.deep.equal([]);
      await expectCode(w.write({ device_id: 1, election_id: E, atomicity: 2, updates: [{ type: 'INSERT', entity: podEntry(42) }] }), 12);
    });

    it('streams a wildcard read larger than one response, and a new client reads exactly what was written', async () => {
      // Responses are cut at ~256 KiB; 10,000 entries of ~40 bytes take several of them.
      const updates = Array.from({ length: 10_000 }, (_, i) => ({ type: 'INSERT', entity: podEntry(1000 + i) }));
      await w.write({ device_id: 1, election_id: E, updates });
      const before = await w.read({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }] });
      const fresh = new P4RuntimeClient(target.address);
      const again = await fresh.read({ device_id: 1, entities: [{ table_entry: { table_id: 0 } }] });
      fresh.close();
      expect(again.length).to.be.greaterThan(10_000);
      expect(again).to.deep.equal(before);
    });

    it('pipeline config: VERIFY, SAVE then COMMIT, reconcile keeps entries, commit clears them, Get returns what was set', async () => {
      const config = { p4info: p4infoMsg, p4_device_config: b(1, 2, 3), cookie: { cookie: 77 } };
      await expectCode(w.setPipeline({ device_id: 1, election_id: E, action: 'COMMIT' }), 5);
      await w.setPipeline({ device_id: 1, election_id: E, action: 'VERIFY', config });
      await w.setPipeline({ device_id: 1, election_id: E, action: 'RECONCILE_AND_COMMIT', config });
      const kept = await w.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id } }] });
      expect(kept.length, 'reconcile kept the entries').to.be.greaterThan(10_000);
      const got = await w.getPipeline({ device_id: 1 });
      expect(((got.config as Msg).cookie as Msg).cookie).to.equal('77');
      expect(((got.config as Msg).p4info as Msg).tables).to.have.length(info.tables.length);
      await w.setPipeline({ device_id: 1, election_id: E, action: 'VERIFY_AND_SAVE', config });
      await w.setPipeline({ device_id: 1, election_id: E, action: 'COMMIT' });
      expect(await w.read({ device_id: 1, entities: [{ table_entry: { table_id: IPV4.id } }] }), 'commit cleared').to.deep.equal([]);
      await expectCode(w.setPipeline({ device_id: 1, election_id: election(99), action: 'VERIFY', config }), 7);
      const broken = { ...config, p4info: fromProto3Json(p4Types.P4Info, { ...p4infoJson, tables: [] }) };
      await expectCode(w.setPipeline({ device_id: 1, election_id: E, action: 'VERIFY', config: broken }), 3);
    });

    it('answers malformed request bytes with a status and keeps serving', async () => {
      const bombs = [b(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), new Uint8Array(100_000).fill(0x0b), b(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)];
      for (const bytes of bombs) await expectCode(w.unaryRaw('Write', bytes), 3);
      await expectCode(w.read({ device_id: 1, entities: [] }), 3);
      await expectCode(w.read({ device_id: 1, entities: [{}] }), 3);
      expect(await w.capabilities()).to.have.property('p4runtime_api_version');
    });
  });
});
