import { expect } from 'chai';
import protobuf from 'protobufjs';
import { seededRandom } from '../../../core/random.js';
import {
  encodeVarint,
  fieldBoundaries,
  MAX_FIELD_NUMBER,
  nestedLength,
  readVarint,
  tagLength,
  varintLength,
  WIRE,
  WireWriter,
} from '../../../simulations/fuzz/wire.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('fuzz wire writer', () => {
  it('writes minimal varints exactly as protobufjs does, across the 64-bit range', () => {
    const random = seededRandom(11);
    const values: bigint[] = [0n, 1n, 127n, 128n, 300n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];
    for (let i = 0; i < 200; i++) values.push(BigInt(random.int(0, 0xffffffff)) * BigInt(random.int(1, 0xffffffff)));
    for (const v of values) {
      const ours = new WireWriter().varint(v).finish();
      const theirs = protobuf.Writer.create().uint64(v.toString()).finish();
      expect(hex(ours), `value ${v}`).to.equal(hex(theirs));
      expect(varintLength(v), `length of ${v}`).to.equal(ours.length);
    }
  });

  it('encodes negative numbers as 10-byte two’s complement, like int32', () => {
    expect(hex(encodeVarint(-1))).to.equal(hex(protobuf.Writer.create().int32(-1).finish()));
    expect(encodeVarint(-1).length).to.equal(10);
  });

  it('pads varints to any length; 11+ bytes is no longer a readable varint', () => {
    for (const total of [1, 2, 5, 10]) {
      const bytes = new WireWriter().overlongVarint(1, total).finish();
      expect(bytes.length).to.equal(total);
      expect(readVarint(bytes, 0), `${total} bytes`).to.deep.equal({ value: 1, next: total });
    }
    for (const total of [11, 12, 20]) {
      const bytes = new WireWriter().overlongVarint(300, total).finish();
      expect(bytes.length).to.equal(total);
      expect(bytes.subarray(0, total - 1).every((b) => b >= 0x80)).to.equal(true);
      expect(readVarint(bytes, 0), `${total} bytes`).to.equal(undefined);
    }
    expect(() => new WireWriter().overlongVarint(300, 1)).to.throw(RangeError);
  });

  it('writes a 10-byte varint that overflows 64 bits', () => {
    const bytes = new WireWriter().overflowVarint(5n, 0x7f).finish();
    expect(bytes.length).to.equal(10);
    expect(bytes[9]).to.equal(0x7f);
    expect(bytes.subarray(0, 9).every((b) => b >= 0x80)).to.equal(true);
    expect(readVarint(bytes, 0)).to.equal(undefined);
  });

  it('writes tags for field 0, the largest legal number and beyond 2^29', () => {
    expect(hex(new WireWriter().tag(0, WIRE.VARINT).finish())).to.equal('00');
    expect(hex(new WireWriter().tag(1, 7).finish())).to.equal('0f');
    const max = new WireWriter().tag(MAX_FIELD_NUMBER, WIRE.LEN).finish();
    expect(hex(max)).to.equal(hex(protobuf.Writer.create().uint32((MAX_FIELD_NUMBER << 3) | 2).finish()));
    const beyond = new WireWriter().tag(2 ** 40, WIRE.I32).finish();
    expect(readVarint(beyond, 0)?.value).to.equal(2 ** 43 + 5);
    expect(tagLength(2 ** 40)).to.equal(beyond.length);
  });

  it('writes fixed32 and fixed64 little-endian like protobufjs', () => {
    const w = new WireWriter().fixed32(0xdeadbeef).fixed64(0x0102030405060708n).fixed64(-1);
    const p = protobuf.Writer.create().fixed32(0xdeadbeef).fixed64('72623859790382856').sfixed64(-1).finish();
    expect(hex(w.finish())).to.equal(hex(p));
  });

  it('grows its buffer without losing bytes, and finish() is a detached copy', () => {
    const w = new WireWriter(16);
    for (let i = 0; i < 100_000; i++) w.byte(i);
    const first = w.finish();
    w.byte(1);
    expect(first.length).to.equal(100_000);
    expect(first.every((b, i) => b === (i & 0xff))).to.equal(true);
    expect(first.buffer.byteLength).to.equal(100_000);
  });

  it('repeats and fills in bulk', () => {
    const w = new WireWriter(4).repeat(Uint8Array.of(1, 2, 3), 1001).fill(9, 5);
    const bytes = w.finish();
    expect(bytes.length).to.equal(3008);
    for (let i = 0; i < 3003; i++) expect(bytes[i]).to.equal((i % 3) + 1);
    expect([...bytes.subarray(3003)]).to.deep.equal([9, 9, 9, 9, 9]);
  });

  it('nests length-delimited messages with the lengths protobufjs writes', () => {
    const inner = Uint8Array.of(0x08, 0x01);
    const ours = new WireWriter().nested([5, 5, 4], inner, [new Uint8Array(0), Uint8Array.of(0x10, 0x02)]).finish();
    const w3 = protobuf.Writer.create().uint32((4 << 3) | 2).bytes(inner).finish();
    const w2 = protobuf.Writer.create().uint32((5 << 3) | 2).bytes(new Uint8Array([0x10, 0x02, ...w3])).finish();
    const w1 = protobuf.Writer.create().uint32((5 << 3) | 2).bytes(w2).finish();
    expect(hex(ours)).to.equal(hex(w1));
    expect(nestedLength([5, 5, 4], inner.length, [new Uint8Array(0), Uint8Array.of(0x10, 0x02)])).to.equal(ours.length);
    const deep = new Array<number>(1000).fill(1);
    expect(new WireWriter().nested(deep, inner).length).to.equal(nestedLength(deep, inner.length));
  });

  it('finds top-level field boundaries and stops at the first malformed field', () => {
    const w = new WireWriter().tag(1, WIRE.VARINT).varint(300).lengthDelimited(2, Uint8Array.of(1, 2));
    w.startGroup(3).tag(1, WIRE.I32).fixed32(7).endGroup(3).tag(4, WIRE.I64).fixed64(1);
    const bytes = w.finish();
    expect(fieldBoundaries(bytes)).to.deep.equal([0, 3, 7, 14, 23]);
    expect(fieldBoundaries(bytes.subarray(0, 20))).to.deep.equal([0, 3, 7, 14]);
    expect(fieldBoundaries(Uint8Array.of(0x08, 0x01, 0x00, 0x01))).to.deep.equal([0, 2]);
  });
});
