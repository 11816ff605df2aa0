import { expect } from 'chai';
import { ManualClock } from '../../core/clock.js';
import { seededRandom } from '../../core/random.js';
import { checkMessageFaults, FaultStage, messageCounters, TRANSPARENT, type MessageFaults } from '../../simulations/faults/message-faults.js';
import { NatsFramer, type NatsUnit } from '../../simulations/faults/nats-framer.js';

const CLIENT_STREAM = [
  'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n',
  'PING\r\n',
  'SUB foo 1\r\n',
  'SUB bar q 2\r\n',
  'PUB foo 5\r\nhello\r\n',
  'pub foo reply.1 13\r\nPUB x 1\r\nab\r\n\r\n', // a payload that looks like protocol, lower-case op
  'HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n',
  'HPUB\tfoo\treply 12 12\r\nNATS/1.0\r\n\r\n\r\n',
  'PUB empty 0\r\n\r\n',
  'UNSUB 1 10\r\n',
  'PONG\r\n',
];
const SERVER_STREAM = [
  'INFO {"server_id":"x","headers":true,"max_payload":1048576}\r\n',
  '+OK\r\n',
  'MSG foo 1 5\r\nhello\r\n',
  'MSG foo 1 _INBOX.a.b 3\r\nabc\r\n',
  'HMSG foo 2 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n',
  'HMSG foo 2 reply 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
  'PING\r\n',
  "-ERR 'Unknown Protocol Operation'\r\n",
];

/** Feeds `bytes` to a framer in pieces cut at `cuts`, returning every unit. */
function frame(sender: 'client' | 'server', bytes: Buffer, cuts: number[]): NatsUnit[] {
  const f = new NatsFramer(sender);
  const out: NatsUnit[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(...f.push(bytes.subarray(at, c)));
    at = c;
  }
  return out;
}

const kinds = (units: NatsUnit[]): string[] => units.map((u) => (u.kind === 'opaque' ? 'opaque' : `${u.kind}:${u.op}`));

describe('NATS framer', () => {
  for (const [sender, parts] of [['client', CLIENT_STREAM], ['server', SERVER_STREAM]] as const) {
    it(`cuts a ${sender}'s stream into its units wherever the TCP reads split it`, () => {
      const bytes = Buffer.from(parts.join(''), 'latin1');
      const whole = frame(sender, bytes, []);
      expect(whole.map((u) => u.bytes.toString('latin1'))).to.deep.equal(parts);
      expect(whole.some((u) => u.kind === 'opaque')).to.equal(false);
      // Every single split point, and 200 random multi-way splits.
      for (let i = 1; i < bytes.length; i++) expect(frame(sender, bytes, [i]).map((u) => u.bytes.toString('latin1')), `split at ${i}`).to.deep.equal(parts);
      const rnd = seededRandom(5);
      for (let n = 0; n < 200; n++) {
        const cuts = Array.from({ length: rnd.int(1, 12) }, () => rnd.int(0, bytes.length)).sort((a, b) => a - b);
        expect(frame(sender, bytes, cuts).map((u) => u.bytes.toString('latin1'))).to.deep.equal(parts);
      }
    });
  }

  it('names messages and control lines, one op per direction', () => {
    const units = frame('client', Buffer.from(CLIENT_STREAM.join('')), []);
    expect(kinds(units)).to.deep.equal([
      'control:CONNECT', 'control:PING', 'control:SUB', 'control:SUB', 'message:PUB', 'message:PUB', 'message:HPUB', 'message:HPUB', 'message:PUB', 'control:UNSUB', 'control:PONG',
    ]);
    expect(units.filter((u) => u.kind === 'message').map((u) => (u.kind === 'message' ? u.subject : ''))).to.deep.equal(['foo', 'foo', 'foo', 'foo', 'empty']);
    // MSG is a server's operation: from a client it is not understood.
    expect(kinds(frame('client', Buffer.from('MSG a 1 1\r\nx\r\n'), []))).to.deep.equal(['opaque']);
  });

  it('reassembles a 1 MiB payload arriving in 1,000-byte reads, with no copy until it is whole', () => {
    const payload = Buffer.alloc(1 << 20, 7);
    const bytes = Buffer.concat([Buffer.from(`PUB big 5 ${payload.length}\r\n`), payload, Buffer.from('\r\nPING\r\n')]);
    const f = new NatsFramer('client');
    const out: NatsUnit[] = [];
    for (let at = 0; at < bytes.length; at += 1000) out.push(...f.push(bytes.subarray(at, at + 1000)));
    expect(kinds(out)).to.deep.equal(['message:PUB', 'control:PING']);
    expect(Buffer.concat(out.map((u) => u.bytes)).equals(bytes)).to.equal(true);
    expect(f.buffered).to.equal(0);
  });

  const opaqueCases: [string, 'client' | 'server', string, string][] = [
    ['an unknown operation', 'client', 'PUB a 1\r\nx\r\nFROB x\r\nPUB a 1\r\ny\r\n', 'unknown operation'],
    ['a payload not followed by CRLF', 'client', 'PUB a 1\r\nxyPUB a 1\r\nz\r\n', 'CRLF'],
    ['a malformed size', 'client', 'PUB a 1x\r\nx\r\n', 'malformed PUB'],
    ['headers larger than the message', 'server', 'HMSG a 1 9 3\r\nabc\r\n', 'malformed HMSG'],
    ['a TLS upgrade', 'server', 'INFO {"tls_required":true}\r\n\x16\x03\x01\x02\x00', 'TLS'],
    ['a control line over the limit', 'client', `SUB ${'x'.repeat(70_000)} 1\r\n`, 'longer than'],
    ['a TLS ClientHello', 'client', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n', 'unknown operation'],
  ];
  for (const [what, sender, text, reason] of opaqueCases) {
    it(`passes the rest of the stream through untouched after ${what}`, () => {
      const bytes = Buffer.from(text, 'latin1');
      const f = new NatsFramer(sender);
      const out: NatsUnit[] = [];
      for (let at = 0; at < bytes.length; at += 3) out.push(...f.push(bytes.subarray(at, at + 3)));
      out.push(...f.push(Buffer.from('PING\r\n')));
      expect(f.opaque).to.include(reason);
      expect(Buffer.concat(out.map((u) => u.bytes)).equals(Buffer.concat([bytes, Buffer.from('PING\r\n')]))).to.equal(true);
      expect(out[out.length - 1]!.kind, 'after giving up, nothing is understood any more').to.equal('opaque');
    });
  }
});

describe('NATS message fault stage', () => {
  function stage(faults: MessageFaults, seed = 1, holdMs = 100) {
    const clock = new ManualClock(0);
    const out: string[] = [];
    const counters = messageCounters();
    let ended = false;
    let current = faults;
    const s = new FaultStage({ direction: 'toServer', out: (b) => out.push(b.toString('latin1')), end: () => (ended = true), faults: () => current, random: seededRandom(seed), clock, counters, holdMs });
    const framer = new NatsFramer('client');
    const send = (text: string): void => framer.push(Buffer.from(text, 'latin1')).forEach((u) => s.unit(u));
    return { s, clock, out, counters, send, ended: () => ended, set: (f: MessageFaults) => (current = f) };
  }
  const pub = (i: number): string => `PUB s ${String(i).length}\r\n${i}\r\n`;
  const faults = (f: Partial<MessageFaults>): MessageFaults => ({ ...TRANSPARENT, ...f });

  it('is transparent with every fault at zero: same bytes, same order, at once', () => {
    const t = stage(TRANSPARENT);
    for (let i = 0; i < 5; i++) t.send(pub(i));
    t.send('PING\r\n');
    expect(t.out).to.deep.equal([0, 1, 2, 3, 4].map(pub).concat('PING\r\n'));
    expect(t.counters).to.include({ messagesToServer: 5, controlLines: 1, dropped: 0, duplicated: 0, reordered: 0, delayed: 0 });
  });

  it('drops, duplicates and reorders messages, never control lines', () => {
    const drop = stage(faults({ dropP: 1 }));
    drop.send('SUB a 1\r\n' + pub(1) + 'PING\r\n' + pub(2));
    expect(drop.out).to.deep.equal(['SUB a 1\r\n', 'PING\r\n']);
    expect(drop.counters.dropped).to.equal(2);
    const dup = stage(faults({ duplicateP: 1 }));
    dup.send(pub(1) + 'PING\r\n' + pub(2));
    expect(dup.out).to.deep.equal([pub(1), pub(1), 'PING\r\n', pub(2), pub(2)]);
    const swap = stage(faults({ reorderP: 1 }));
    for (let i = 1; i <= 6; i++) swap.send(pub(i));
    expect(swap.out).to.deep.equal([2, 1, 4, 3, 6, 5].map(pub));
    expect(swap.counters.reordered).to.equal(3);
  });

  it('releases a message set aside for reordering after the hold time, and on end', async () => {
    const t = stage(faults({ reorderP: 1 }), 1, 50);
    t.send(pub(1));
    expect(t.out).to.deep.equal([]);
    await t.clock.advance(49);
    expect(t.out).to.deep.equal([]);
    await t.clock.advance(1);
    expect(t.out).to.deep.equal([pub(1)]);
    t.send(pub(2));
    t.s.end();
    expect(t.out).to.deep.equal([pub(1), pub(2)]);
    expect(t.ended()).to.equal(true);
  });

  it('delays keep the order of a direction, control lines included', async () => {
    const t = stage(faults({ delayMs: 100, delayJitterMs: 400 }), 9);
    for (let i = 0; i < 20; i++) t.send(pub(i));
    t.send('PING\r\n');
    await t.clock.advance(99);
    expect(t.out).to.deep.equal([]);
    await t.clock.advance(500);
    expect(t.out).to.deep.equal([...Array.from({ length: 20 }, (_, i) => pub(i)), 'PING\r\n']);
    expect(t.counters.delayed).to.equal(20);
  });

  it('waits for delayed messages before ending its destination', async () => {
    const t = stage(faults({ delayMs: 30 }));
    t.send(pub(1));
    t.s.end();
    expect(t.ended()).to.equal(false);
    await t.clock.advance(30);
    expect(t.out).to.deep.equal([pub(1)]);
    expect(t.ended()).to.equal(true);
  });

  it('replays: the same seed gives the same fates, another seed others', () => {
    const run = (seed: number): string[] => {
      const t = stage(faults({ dropP: 0.3, duplicateP: 0.2, reorderP: 0.2 }), seed);
      for (let i = 0; i < 200; i++) t.send(pub(i));
      t.s.end();
      return t.out;
    };
    expect(run(42)).to.deep.equal(run(42));
    expect(run(42)).to.not.deep.equal(run(43));
  });

  it('refuses bad settings with a typed error naming the field', () => {
    const bad: [Partial<Record<keyof MessageFaults, unknown>>, string][] = [
      [{ dropP: 1.5 }, 'dropP'],
      [{ duplicateP: -0.1 }, 'duplicateP'],
      [{ reorderP: Number.NaN }, 'reorderP'],
      [{ delayMs: -1 }, 'delayMs'],
      [{ delayJitterMs: Infinity }, 'delayJitterMs'],
      [{ delayMs: '5' }, 'delayMs'],
      [{ directions: 'up' }, 'directions'],
    ];
    for (const [patch, field] of bad) {
      const r = checkMessageFaults({ ...TRANSPARENT, ...patch });
      expect(r.ok, field).to.equal(false);
      if (!r.ok) expect([r.error.code, r.error.field]).to.deep.equal(['INVALID_ARGUMENT', field]);
    }
    expect(checkMessageFaults(null).ok).to.equal(false);
    expect(checkMessageFaults({ ...TRANSPARENT, directions: 'toClient' })).to.deep.include({ ok: true });
  });
});
