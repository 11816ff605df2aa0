import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type protobuf from 'protobufjs';
import { seededRandom } from '../../../core/random.js';
import {
  allTruncations,
  DEFAULT_MAX_BYTES,
  GROUP_BOMB_DEPTH,
  MALFORMED_KINDS,
  malformedCases,
  SIZE_EXEMPT_KINDS,
  type MalformedCase,
  type MalformedKind,
  type MalformedOptions,
} from '../../../simulations/fuzz/malformed.js';
import { sampleMessages } from '../../../simulations/fuzz/samples.js';
import { asciiNodes, proto2Root, proto3Root } from './fixtures.js';
import { countStartGroups, highBitRuns, lengthAfter, scanTags, stringPayloads, trailingNestingDepth } from './wire-scan.js';

const root = proto3Root();
const Node = root.lookupType('fuzz.test.Node');
const Other = root.lookupType('fuzz.test.Other');
const ascii = asciiNodes(Node);
const valid = [...ascii, ...sampleMessages(Node, seededRandom(5), 20)];
const others = [Other.encode(Other.fromObject({ ratio: 0.5, words: ['a', 'b'] })).finish()];
const MAX_FIELD = 2n ** 29n - 1n;

function cases(seed: number, count: number, extra: Partial<MalformedOptions> = {}): MalformedCase[] {
  return [...malformedCases({ type: Node, valid, others, random: seededRandom(seed), count, ...extra })];
}

function only(kind: MalformedKind, count: number, extra: Partial<MalformedOptions> = {}): MalformedCase[] {
  return cases(77, count, { kinds: [kind], ...extra });
}

function fingerprint(c: MalformedCase): string {
  const digest = createHash('sha256').update(c.bytes).digest('hex');
  return `${c.index} ${c.kind} ${String(c.legal)} ${c.violation ?? '-'} ${digest} ${c.note}`;
}

/** Wire types a parser reads as the field's own, from the field's declared type (not the generator's table). */
function ownWireTypes(field: protobuf.Field): number[] {
  const byType: Record<string, number> = { string: 2, bytes: 2, uint32: 0, int64: 0, sint32: 0, fixed64: 1, fixed32: 5 };
  if (field.map || (field.resolvedType && 'fieldsArray' in field.resolvedType)) return [2];
  const own = field.resolvedType ? 0 : byType[field.type];
  if (own === undefined) throw new Error(`fixture field type ${field.type} missing from the table`);
  return field.repeated && own !== 2 ? [own, 2] : [own];
}

describe('fuzz malformed cases', () => {
  it('gives identical cases for the same seed and options', () => {
    const a = cases(42, 3 * MALFORMED_KINDS.length).map(fingerprint);
    const b = cases(42, 3 * MALFORMED_KINDS.length).map(fingerprint);
    expect(a).to.deep.equal(b);
  });

  it('gives different cases for a different seed', () => {
    const a = cases(42, 2 * MALFORMED_KINDS.length);
    const b = cases(43, 2 * MALFORMED_KINDS.length);
    const differ = a.filter((c, i) => c.kind !== 'empty' && fingerprint(c) !== fingerprint(b[i]!)).length;
    expect(differ).to.be.at.least(a.length * 0.8);
  });

  it('regenerates case i alone from (seed, i), whatever start and count', () => {
    const full = cases(9, 40).map(fingerprint);
    const window = cases(9, 7, { start: 25 }).map(fingerprint);
    expect(window).to.deep.equal(full.slice(25, 32));
  });

  it('has every kind in any run of MALFORMED_KINDS.length consecutive cases', () => {
    for (const start of [0, 7]) {
      const kinds = new Set(cases(1, MALFORMED_KINDS.length, { start }).map((c) => c.kind));
      expect([...kinds].sort(), `from ${start}`).to.deep.equal([...MALFORMED_KINDS].sort());
    }
    const chosen: MalformedKind[] = ['empty', 'group_bomb', 'truncated'];
    expect(cases(1, 6, { kinds: chosen }).map((c) => c.kind)).to.deep.equal([...chosen, ...chosen]);
  });

  it('keeps every case within maxBytes except the size-exempt kinds, and flags those', () => {
    for (const maxBytes of [256, 1000, 4096, DEFAULT_MAX_BYTES]) {
      for (const seed of [1, 2, 3]) {
        for (const c of cases(seed, 2 * MALFORMED_KINDS.length, { maxBytes, oversizeBytes: 300_000 })) {
          const label = `maxBytes ${maxBytes} seed ${seed} #${c.index} ${c.kind}: ${c.note}`;
          expect(c.oversize, label).to.equal(c.bytes.length > maxBytes);
          if (!SIZE_EXEMPT_KINDS.includes(c.kind)) expect(c.bytes.length, label).to.be.at.most(maxBytes);
        }
      }
    }
    const [big] = only('oversize', 1);
    expect(big!.bytes.length).to.be.greaterThan(2 * 1024 * 1024 - 64);
    expect(big!.oversize).to.equal(true);
  });

  it('cuts truncated cases as strict prefixes of a valid message', () => {
    for (const c of only('truncated', 40)) {
      const source = valid.find((v) => v.length > c.bytes.length && Buffer.from(v.subarray(0, c.bytes.length)).equals(c.bytes));
      expect(source, `#${c.index}: ${c.note}`).to.not.equal(undefined);
    }
  });

  it('gives every strict prefix in allTruncations, legal exactly between fields', () => {
    const message = ascii[0]!;
    const all = allTruncations(message);
    expect(all.map((c) => c.bytes.length)).to.deep.equal([...message.keys()]);
    const fieldStarts = new Set(scanTags(message).map((t) => t.offset));
    for (const c of all) expect(c.legal, `cut at ${c.bytes.length}`).to.equal(fieldStarts.has(c.bytes.length));
    const Legacy = proto2Root().lookupType('fuzz.legacy.Legacy');
    expect(allTruncations(message, { type: Legacy })[0]!.legal).to.equal('maybe');
  });

  it('spells overlong varints in more than 10 bytes, or past 64 bits in 10', () => {
    for (const c of only('overlong_varint', 60, { valid: ascii })) {
      const runs = highBitRuns(c.bytes);
      const overlong = runs.some((r) => r.length >= 10 || (r.length === 9 && r.last !== undefined && r.last > 1));
      expect(overlong, `#${c.index}: ${c.note}`).to.equal(true);
    }
  });

  it('nests at least 100,000 start-group tags in a group bomb', () => {
    for (const c of only('group_bomb', 6)) {
      const first = scanTags(c.bytes).find((t) => t.wireType === 3);
      expect(first, c.note).to.not.equal(undefined);
      expect(countStartGroups(c.bytes, first!.offset), c.note).to.be.at.least(GROUP_BOMB_DEPTH);
      expect(GROUP_BOMB_DEPTH).to.be.at.least(100_000);
    }
  });

  it('re-sends a known field under a wire type the schema does not give it', () => {
    for (const c of only('wrong_wire_type', 40)) {
      const wrong = scanTags(c.bytes).filter((t) => {
        const field = Node.fieldsById[Number(t.field)];
        return field !== undefined && !ownWireTypes(field).includes(t.wireType);
      });
      expect(wrong, `#${c.index}: ${c.note}`).to.not.be.empty;
    }
  });

  it('puts invalid UTF-8 into a known string field, which a fatal decoder refuses', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const refuses = (b: Uint8Array): boolean => {
      try {
        fatal.decode(b);
        return false;
      } catch {
        return true;
      }
    };
    for (const c of only('invalid_utf8', 40)) {
      expect(stringPayloads(Node, c.bytes).some(refuses), `#${c.index}: ${c.note}`).to.equal(true);
      expect([c.legal, c.violation]).to.deep.equal([false, 'utf8']);
    }
    const Legacy = proto2Root().lookupType('fuzz.legacy.Legacy');
    const legacy = [...malformedCases({ type: Legacy, valid: sampleMessages(Legacy, seededRandom(1), 5), random: seededRandom(2), count: 5, kinds: ['invalid_utf8'] })];
    for (const c of legacy) expect(c.legal, `proto2 does not check UTF-8: ${c.note}`).to.equal('maybe');
  });

  it('claims lengths near 2^32 (or 2^64) in length_near_2_32', () => {
    for (const c of only('length_near_2_32', 40)) {
      const lens = scanTags(c.bytes).filter((t) => t.wireType === 2).map((t) => lengthAfter(c.bytes, t) ?? 0n);
      expect(lens.some((l) => l >= 2n ** 31n - 1n), `#${c.index}: ${c.note}`).to.equal(true);
    }
  });

  it('uses field numbers above 2^29-1, or says the number is legal', () => {
    for (const c of only('huge_field_number', 60)) {
      const nums = scanTags(c.bytes).map((t) => t.field);
      const huge = nums.some((n) => n > MAX_FIELD);
      const legalNumber = nums.some((n) => n === MAX_FIELD || (n >= 19000n && n <= 19999n));
      expect(huge || legalNumber, `#${c.index}: ${c.note}`).to.equal(true);
      expect(c.legal, c.note).to.equal(!huge);
    }
  });

  it('nests deep_nesting cases 99 to 1000 levels deep', () => {
    for (const c of only('deep_nesting', 20)) {
      const depth = trailingNestingDepth(c.bytes);
      expect(depth, `#${c.index}: ${c.note}`).to.be.within(99, 1000);
      expect(c.note).to.contain(`${depth} nested`);
    }
  });

  it('puts tens of thousands of elements in a legal huge_repeated case', () => {
    const legalOnes = only('huge_repeated', 30).filter((c) => c.legal === true);
    expect(legalOnes).to.not.be.empty;
    for (const c of legalOnes) {
      const decoded = Node.toObject(Node.decode(c.bytes)) as Record<string, unknown>;
      const longest = Math.max(...Object.values(decoded).map((v) => (Array.isArray(v) ? v.length : 0)));
      expect(longest, `#${c.index}: ${c.note}`).to.be.at.least(10_000);
    }
  });

  it('fills count_bomb cases with thousands of tiny fields', () => {
    for (const c of only('count_bomb', 20)) {
      expect(scanTags(c.bytes).length, `#${c.index}: ${c.note}`).to.be.at.least(Math.floor((DEFAULT_MAX_BYTES * 0.9) / 10));
    }
  });

  it('repeats a singular field in duplicate_singular', () => {
    const singular = new Set(Node.fieldsArray.filter((f) => !f.repeated && !f.map).map((f) => BigInt(f.id)));
    for (const c of only('duplicate_singular', 30)) {
      const counts = new Map<bigint, number>();
      for (const t of scanTags(c.bytes)) if (singular.has(t.field)) counts.set(t.field, (counts.get(t.field) ?? 0) + 1);
      expect(Math.max(0, ...counts.values()), `#${c.index}: ${c.note}`).to.be.at.least(2);
    }
  });

  it('adds unknown fields of every wire type in unknown_fields', () => {
    for (const c of only('unknown_fields', 10)) {
      const unknownTypes = new Set(scanTags(c.bytes).filter((t) => !Node.fieldsById[Number(t.field)]).map((t) => t.wireType));
      expect([...unknownTypes].sort(), `#${c.index}: ${c.note}`).to.include.members([0, 1, 2, 3, 5]);
    }
  });

  it('sends nothing for empty and another type as-is for other_type', () => {
    for (const c of only('empty', 2)) expect(c.bytes.length).to.equal(0);
    for (const c of only('other_type', 3)) expect(Buffer.from(c.bytes).equals(others[0]!)).to.equal(true);
    const made = [...malformedCases({ type: Node, valid, random: seededRandom(1), count: 1, kinds: ['other_type'] })];
    expect(made[0]!.bytes.length).to.be.greaterThan(0);
  });

  it('works from no valid message at all, and for a type without fields', () => {
    const Empty = root.lookupType('fuzz.test.Empty');
    for (const type of [Node, Empty]) {
      const run = [...malformedCases({ type, valid: [], random: seededRandom(4), count: MALFORMED_KINDS.length, maxBytes: 64, oversizeBytes: 128 })];
      expect(run.map((c) => c.kind)).to.deep.equal([...MALFORMED_KINDS]);
      for (const c of run) if (!SIZE_EXEMPT_KINDS.includes(c.kind)) expect(c.bytes.length, c.note).to.be.at.most(64);
    }
  });

  it('refuses options it cannot honour', () => {
    const base = { type: Node, valid, random: seededRandom(1), count: 1 };
    expect(() => malformedCases({ ...base, maxBytes: 32 })).to.throw(RangeError, /maxBytes/);
    expect(() => malformedCases({ ...base, kinds: ['nope' as MalformedKind] })).to.throw(RangeError, /kind/);
    expect(() => malformedCases({ ...base, count: -1 })).to.throw(RangeError, /count/);
  });
});
