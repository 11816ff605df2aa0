import { expect } from 'chai';
import { loadP4Info, parseP4Info } from '../../p4/p4info.js';
import { ExactTable, INSERT_EXISTS, INSERT_FULL } from '../../p4/model/exact-table.js';
import { canonical, decodeInto } from '../../p4/model/bytestring.js';
import { updateChecksum16, updateChecksum32 } from '../../p4/model/checksum.js';
import { layoutFields, keyWords } from '../../p4/model/layout.js';
import { crc32, crc32AddrPort } from '../../p4/model/index.js';

function rng(seed: number): (k: number) => number {
  let s = seed >>> 0;
  return (k) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % k;
  };
}

/** Plain full Internet checksum of 16-bit words (the oracle for the incremental update). */
function fullChecksum(words: number[]): number {
  let s = 0;
  for (const w of words) s += w;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

describe('P4 model internals: hash table, CRC32, checksums, bytestrings, key layout', () => {
  it('packs ct_forward\'s 104-bit key into 4 words and service_lb\'s into 2', () => {
    const info = loadP4Info();
    const fwd = layoutFields(info.tableByName('MainControlImpl.ct_forward').matchFields);
    expect(fwd.map((f) => [f.word, f.shift])).to.deep.equal([[0, 0], [1, 0], [2, 0], [2, 8], [3, 0]]);
    expect(keyWords(fwd)).to.equal(4);
    expect(keyWords(layoutFields(info.tableByName('MainControlImpl.service_lb').matchFields))).to.equal(2);
  });

  it('agrees with a Map over 200,000 random inserts, lookups and deletes (backward-shift deletion)', () => {
    const raw = structuredClone(loadP4Info().raw) as { tables: { preamble: { name: string }; size: string }[] };
    for (const t of raw.tables) t.size = '4096';
    const info = parseP4Info(raw);
    const t = new ExactTable(info, info.tableByName('MainControlImpl.ct_forward'));
    t.bind(['hdr.ipv4.src_addr', 'hdr.ipv4.dst_addr', 'hdr.ipv4.protocol', 'meta.l4_src_port', 'meta.l4_dst_port']);
    const ref = new Map<string, number>();
    const r = rng(7);
    for (let i = 0; i < 200_000; i++) {
      // A small key space so that inserts collide with existing keys and probe runs get long.
      const k = [r(40), 0x0a000000 + r(90), r(2) ? 6 : 17, r(50), 80];
      const name = k.join('/');
      t.setKey5(k[0]!, k[1]!, k[2]!, k[3]!, k[4]!);
      const op = r(3);
      if (op === 0) {
        const e = t.insert();
        if (ref.has(name)) expect(e).to.equal(INSERT_EXISTS);
        else if (ref.size >= 4096) expect(e).to.equal(INSERT_FULL);
        else {
          expect(e).to.be.at.least(0);
          t.rec[t.paramBase(e)] = i;
          ref.set(name, i);
        }
      } else if (op === 1) {
        const e = t.find();
        const got = e >= 0 ? t.rec[t.paramBase(e)] : undefined;
        if (got !== ref.get(name)) expect(got, `lookup ${name} at step ${i}`).to.equal(ref.get(name));
      } else {
        const e = t.find();
        expect(e >= 0).to.equal(ref.has(name));
        if (e >= 0) {
          t.remove(e);
          ref.delete(name);
        }
      }
      if (t.count !== ref.size) expect(t.count, `count at step ${i}`).to.equal(ref.size);
    }
    expect(t.entries()).to.have.length(ref.size);
  });

  it('starts a table small and doubles it as it fills, keeping every entry, its data and its place, up to the P4Info size', () => {
    const info = loadP4Info();
    const t = new ExactTable(info, info.tableByName('MainControlImpl.ct_forward'));
    t.bind(['hdr.ipv4.src_addr', 'hdr.ipv4.dst_addr', 'hdr.ipv4.protocol', 'meta.l4_src_port', 'meta.l4_dst_port']);
    expect(t.size).to.equal(262_144);
    expect(t.allocated).to.equal(1024);
    const key = (i: number): void => t.setKey5(0x0af40000 + (i >> 16), 0x0a60000a, 6, i & 0xffff, 80);
    const grown: number[] = [];
    for (let i = 0; i < 5000; i++) {
      key(i);
      const before = t.allocated;
      const e = t.insert();
      expect(e, `insert ${i}`).to.be.at.least(0);
      t.rec[t.paramBase(e)] = i;
      t.lastHit[e] = i;
      if (i % 7 === 0) t.markLearned(e);
      if (t.allocated !== before) grown.push(i);
    }
    expect(grown).to.deep.equal([1024, 2048, 4096]);
    expect(t.allocated).to.equal(8192);
    for (let i = 0; i < 5000; i++) {
      key(i);
      const e = t.find();
      expect(t.rec[t.paramBase(e)], `entry ${i}`).to.equal(i);
      expect(t.lastHit[e]).to.equal(i);
    }
    expect(t.learnedCount).to.equal(Math.ceil(5000 / 7));
    // Removing and inserting again reuses indices before growing further.
    for (let i = 0; i < 5000; i += 2) {
      key(i);
      t.remove(t.find());
    }
    for (let i = 5000; i < 7500; i++) {
      key(i);
      expect(t.insert()).to.be.at.least(0);
    }
    expect(t.allocated).to.equal(8192);
    expect(t.entries()).to.have.length(5000);
  });

  it('refuses an insert into a full table once it has grown to its P4Info size', () => {
    const raw = structuredClone(loadP4Info().raw) as { tables: { preamble: { name: string }; size: string }[] };
    for (const tb of raw.tables) tb.size = '3000';
    const info = parseP4Info(raw);
    const t = new ExactTable(info, info.tableByName('MainControlImpl.ipv4_to_port'));
    t.bind(['hdr.ipv4.dst_addr']);
    for (let i = 0; i < 3000; i++) {
      t.setKey1(i + 1);
      expect(t.insert()).to.be.at.least(0);
    }
    expect(t.allocated).to.equal(3000);
    t.setKey1(99_999);
    expect(t.insert()).to.equal(INSERT_FULL);
    t.setKey1(1);
    expect(t.insert()).to.equal(INSERT_EXISTS);
  });

  it('computes CRC-32 (IEEE) like the reference vectors, over (addr, port) as 6 bytes', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).to.equal(0xcbf43926);
    expect(crc32(new Uint8Array(0))).to.equal(0);
    expect(crc32(new TextEncoder().encode('The quick brown fox jumps over the lazy dog'))).to.equal(0x414fa339);
    const r = rng(3);
    for (let i = 0; i < 1000; i++) {
      const a = r(2 ** 32);
      const p = r(65536);
      expect(crc32AddrPort(a, p)).to.equal(crc32(Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255, p >>> 8, p & 255)));
    }
  });

  it('updates checksums incrementally exactly like a full recomputation (RFC 1624), 100,000 random cases', () => {
    const r = rng(11);
    for (let i = 0; i < 100_000; i++) {
      // Word 0 stays non-zero, as a real header's (IPv4 version/IHL, the pseudo-header's
      // protocol): data that sums to zero cannot occur, and there +0/-0 would differ.
      const words = Array.from({ length: 3 + r(12) }, () => (r(8) === 0 ? 0 : r(8) === 0 ? 0xffff : r(65536)));
      words[0] = 1 + r(65535);
      const at = 1 + r(words.length - 2);
      const before = fullChecksum(words);
      if (r(2) === 0) {
        const from = words[at]!;
        const to = r(4) === 0 ? 0 : r(65536);
        words[at] = to;
        const got = updateChecksum16(before, from, to);
        if (got !== fullChecksum(words)) expect(got, `16-bit case ${i}: ${words.join(' ')}`).to.equal(fullChecksum(words));
      } else {
        const from = words[at]! * 65536 + words[at + 1]!;
        const to = r(4) === 0 ? 0 : r(2 ** 32);
        words[at] = Math.floor(to / 65536);
        words[at + 1] = to & 0xffff;
        const got = updateChecksum32(before, from, to);
        if (got !== fullChecksum(words)) expect(got, `32-bit case ${i}: ${words.join(' ')}`).to.equal(fullChecksum(words));
      }
    }
  });

  it('decodes bytestrings (zero-padded accepted, too wide or empty rejected) and encodes them canonically', () => {
    const w = new Uint32Array(2);
    const cases: [number[], number, number[] | false][] = [
      [[5], 32, [0, 5]],
      [[0, 0, 0, 0, 0, 5], 32, [0, 5]],
      [[0xff, 0xff, 0xff, 0xff], 32, [0, 0xffffffff]],
      [[1, 0, 0, 0, 0], 32, false],
      [[], 32, false],
      [[0x01, 0xff], 9, [0, 0x1ff]],
      [[0x02, 0x00], 9, false],
      [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 48, [0xffff, 0xffffffff]],
      [[0, 0, 1, 0, 0, 0, 0, 0, 0], 48, false],
      [[0], 1, [0, 0]],
    ];
    for (const [bytes, width, expected] of cases) {
      const ok = decodeInto(Uint8Array.from(bytes), width, w, 0, 2);
      expect(ok ? Array.from(w) : false, `${JSON.stringify(bytes)} in ${width} bits`).to.deep.equal(expected);
    }
    expect(Array.from(canonical(Uint32Array.of(0, 0), 0, 2))).to.deep.equal([0]);
    expect(Array.from(canonical(Uint32Array.of(0x0200, 1), 0, 2))).to.deep.equal([2, 0, 0, 0, 0, 1]);
    expect(Array.from(canonical(Uint32Array.of(0x1f90), 0, 1))).to.deep.equal([0x1f, 0x90]);
  });
});
