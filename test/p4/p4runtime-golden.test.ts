// Wire compatibility of proto/p4 and proto/google with the official P4Runtime definitions:
// every golden message (encoded by the official Python stubs) must decode with ours to the
// recorded content, re-encode to the same bytes, and encode from its recorded JSON to the
// same bytes. The last cases show that the comparison catches a wrong field number or type.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { fromProto3Json, loadP4RuntimeRoot, lookup, p4Types, PROTO_OBJECT } from '../../p4/runtime-proto.js';

interface Golden {
  readonly name: string;
  readonly type: string;
  readonly note: string;
  readonly json: Record<string, unknown>;
  readonly hex: string;
}

// A copy beside this test wins; else the project's shared reference; P4RUNTIME_GOLDEN overrides.
const GOLDEN_CANDIDATES = [
  process.env.P4RUNTIME_GOLDEN,
  join(dirname(fileURLToPath(import.meta.url)), 'p4runtime-golden.json'),
  '/work/shared/reference/p4runtime-golden.json',
].filter((p): p is string => typeof p === 'string' && p !== '');

function loadGoldens(): Golden[] {
  const file = GOLDEN_CANDIDATES.find((p) => existsSync(p));
  if (!file) throw new Error(`no p4runtime-golden.json at any of ${GOLDEN_CANDIDATES.join(', ')}`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { messages: Golden[] }).messages;
}

const goldens = loadGoldens();

const fromHex = (hex: string): Uint8Array => Buffer.from(hex, 'hex');
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function decodedContent(type: protobuf.Type, hex: string): Record<string, unknown> {
  return type.toObject(type.decode(fromHex(hex)), PROTO_OBJECT);
}

function golden(name: string): Golden {
  const g = goldens.find((x) => x.name === name);
  if (!g) throw new Error(`golden ${name} missing`);
  return g;
}

/** Replaces one field of a fresh root's type by a changed copy, as a wrong .proto would have it. */
function alteredType(typeName: string, field: string, id: number, fieldType: string, goldenType: string): protobuf.Type {
  const root = loadP4RuntimeRoot();
  const owner = root.lookupType(typeName);
  owner.remove(owner.fields[field]!);
  owner.add(new protobuf.Field(field, id, fieldType));
  root.resolveAll();
  return root.lookupType(goldenType);
}

describe('P4Runtime wire compatibility with the official definitions (golden encodings)', () => {
  it('has golden messages to check, each of a type we define', () => {
    expect(goldens.length).to.be.greaterThan(0);
    for (const g of goldens) expect(() => lookup(g.type), g.name).not.to.throw();
  });

  for (const g of goldens) {
    describe(`${g.name} (${g.type})`, () => {
      const type = lookup(g.type);

      it('decodes to the recorded content', () => {
        expect(decodedContent(type, g.hex)).to.deep.equal(g.json);
      });

      it('re-encodes to the same bytes', () => {
        expect(toHex(type.encode(type.decode(fromHex(g.hex))).finish())).to.equal(g.hex);
      });

      it('encodes from its recorded JSON to the same bytes', () => {
        expect(toHex(type.encode(fromProto3Json(type, g.json)).finish())).to.equal(g.hex);
      });

      it('encodes from canonical (lowerCamelCase) proto3 JSON to the same bytes', () => {
        expect(toHex(type.encode(fromProto3Json(type, camelCaseKeys(g.json))).finish())).to.equal(g.hex);
      });
    });
  }

  describe('a wrong definition is caught', () => {
    const cases = [
      {
        what: 'FieldMatch.LPM.prefix_len numbered 3 instead of 2',
        golden: 'table_entry_all_match_kinds',
        alter: () => alteredType('p4.v1.FieldMatch.LPM', 'prefix_len', 3, 'int32', 'p4.v1.TableEntry'),
        bytesSurvive: false, // the field is skipped as unknown, so it is lost on re-encoding
      },
      {
        what: 'Uint128.low typed sint64 instead of uint64',
        golden: 'stream_arbitration_request',
        alter: () => alteredType('p4.v1.Uint128', 'low', 2, 'sint64', 'p4.v1.StreamMessageRequest'),
        bytesSurvive: true, // same wire type: only the decoded value shows the mistake
      },
    ];
    for (const c of cases) {
      it(`${c.what}: ${c.golden} no longer decodes to its recorded content`, () => {
        const wrong = c.alter();
        const g = golden(c.golden);
        expect(decodedContent(lookup(g.type), g.hex)).to.deep.equal(g.json); // the shared root is untouched
        expect(decodedContent(wrong, g.hex)).not.to.deep.equal(g.json);
        const reencoded = toHex(wrong.encode(wrong.decode(fromHex(g.hex))).finish());
        expect(reencoded === g.hex, 're-encoded bytes equal the golden').to.equal(c.bytesSurvive);
      });
    }
  });

  it("the pipeline's P4Info (p4c-style proto3 JSON) parses with every field known", () => {
    const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'p4', 'k8s_dp.p4info.json');
    const type = p4Types.P4Info;
    const info = fromProto3Json(type, JSON.parse(readFileSync(file, 'utf8'))); // throws on an unknown field
    expect(type.decode(type.encode(info).finish()).toJSON()).to.deep.equal(info.toJSON());
  });
});

/** proto field names → lowerCamelCase JSON names (no maps in the goldens, so every key is a field). */
function camelCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelCaseKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k.replace(/_+([^_]?)/g, (_m, c: string) => c.toUpperCase()), camelCaseKeys(v)]),
  );
}
