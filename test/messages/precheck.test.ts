import { expect } from 'chai';
import protobuf from 'protobufjs';
import { compileSchema, precheck, validUtf8 } from '../../messages/precheck.js';

const root = protobuf.parse(`
  syntax = "proto3";
  package t;
  message Leaf { string name = 1; uint32 n = 2; repeated uint32 nums = 3; fixed32 ip = 4; }
  message Tree { Leaf leaf = 1; repeated Tree kids = 2; bytes blob = 3; }
`).root;
const Tree = root.lookupType('t.Tree');
const schema = compileSchema(Tree);
const limits = { maxBytes: 4096, maxDepth: 4, maxFields: 100 };

function check(bytes: number[] | Uint8Array): string | undefined {
  const p = precheck(schema, Uint8Array.from(bytes), limits);
  return p ? `${p.code}: ${p.message}` : undefined;
}

describe('precheck of raw protobuf bytes', () => {
  const valid = Tree.encode({ leaf: { name: 'a', n: 1, nums: [1, 2, 3], ip: 5 }, kids: [{ blob: Uint8Array.of(1) }] }).finish();

  it('accepts a valid message, an empty one and unknown fields with valid wire types', () => {
    expect(check(valid)).to.equal(undefined);
    expect(check([])).to.equal(undefined);
    expect(check([...valid, 0xf8, 0x01, 0x05])).to.equal(undefined); // field 31 varint
  });

  const cases: [string, number[], RegExp][] = [
    ['truncated length-delimited', [0x0a, 0x05, 0x0a], /MALFORMED: length 5 past the end/],
    ['varint past the end', [0x08 | (2 << 3), 0x80], /MALFORMED/],
    ['over-long varint', [0x1a, 0x0b, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], /MALFORMED/],
    ['field number 0', [0x00, 0x01], /field number 0/],
    ['start group', [0x0b], /groups are not accepted/],
    ['end group', [0x0c], /groups are not accepted/],
    ['wire type 6', [0x0e], /invalid wire type 6/],
    ['wrong wire type for a known message field', [0x08, 0x01], /field 1 of t.Tree has wire type 0, expected 2/],
    ['wrong wire type for a fixed32', [0x0a, 0x02, 0x20, 0x01], /field 4 of t.Leaf has wire type 0, expected 5/],
    ['invalid UTF-8 in a string', [0x0a, 0x03, 0x0a, 0x01, 0xff], /invalid UTF-8/],
    ['length near 2^32', [0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f], /past the end/],
    ['tag varint over 32 bits', [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], /MALFORMED/],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`rejects: ${name}`, () => {
      expect(check(bytes), name).to.match(expected);
    });
  }

  it('limits nesting depth (recursion through a known field)', () => {
    let bytes = Tree.encode({}).finish();
    for (let i = 0; i < 10; i++) bytes = Tree.encode({ kids: [Tree.decode(bytes)] }).finish();
    expect(check(bytes)).to.match(/TOO_LARGE: nesting deeper than 4/);
  });

  it('limits the number of fields, counting packed elements', () => {
    const many = Tree.encode({ kids: Array.from({ length: 150 }, () => ({})) }).finish();
    expect(check(many)).to.match(/TOO_LARGE: more than 100 fields/);
    const packed = Tree.encode({ leaf: { nums: Array.from({ length: 150 }, (_, i) => i) } }).finish();
    expect(check(packed)).to.match(/TOO_LARGE: more than 100 fields/);
  });

  it('limits the size before looking at the bytes', () => {
    expect(check(new Uint8Array(5000))).to.match(/TOO_LARGE: 5000 bytes exceed the limit of 4096/);
  });

  it('survives 100,000 nested groups without recursing', () => {
    const bomb = new Uint8Array(100_000).fill(0x0b);
    const p = precheck(schema, bomb, { ...limits, maxBytes: 1 << 20 });
    expect(p?.message).to.match(/groups are not accepted/);
  });

  it('validates UTF-8 per RFC 3629', () => {
    const enc = new TextEncoder();
    const good = enc.encode('pod-ü-€-😀');
    expect(validUtf8(good, 0, good.length)).to.equal(true);
    const bad = [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xff]];
    for (const b of bad) expect(validUtf8(Uint8Array.from(b), 0, b.length), `bytes ${b.join(',')}`).to.equal(false);
  });
});
