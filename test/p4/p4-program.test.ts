import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyOrder, compareWithP4Info, parseP4Source, stripComments, type SourceTable } from '../../p4/p4-source.js';
import { loadP4Info } from '../../p4/p4info.js';

const P4_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'p4');
const SOURCE = readFileSync(join(P4_DIR, 'k8s_dp.p4'), 'utf8');
const CONTROL = 'MainControlImpl';
// PIPELINE.md "MainControlImpl, in apply order".
const APPLY_ORDER = ['arp_to_port', 'service_lb', 'ct_forward', 'ct_reverse', 'ipv4_to_port'].map((t) => `${CONTROL}.${t}`);
const MATCH: Record<string, string> = { exact: 'EXACT', lpm: 'LPM', ternary: 'TERNARY', range: 'RANGE', optional: 'OPTIONAL' };

/** The program with the first `from` replaced; fails when `from` is gone, so no case goes stale. */
function edit(from: string | RegExp, to: string, source = SOURCE): string {
  expect(typeof from === 'string' ? source.includes(from) : from.test(source), `the program contains ${String(from)}`).to.be.true;
  return source.replace(from, to);
}

function differences(source: string): string[] {
  return compareWithP4Info(parseP4Source(source), loadP4Info());
}

describe('the P4 program p4/k8s_dp.p4 against its P4Info and PIPELINE.md', () => {
  const info = loadP4Info();
  const program = parseP4Source(SOURCE);
  const table = (name: string): SourceTable => {
    const t = program.tables.find((x) => x.name === name);
    if (!t) throw new Error(`the program has no table ${name}`);
    return t;
  };

  it('agrees with the P4Info in every table, action and action profile', () => {
    expect(compareWithP4Info(program, info)).to.deep.equal([]);
  });

  describe('tables, both ways', () => {
    it('declares exactly the tables of the P4Info', () => {
      expect(program.tables.map((t) => t.name)).to.have.members(info.tables.map((t) => t.name));
      expect(program.tables).to.have.length(info.tables.length);
    });

    for (const t of loadP4Info().tables) {
      it(`${t.alias}: keys, action refs, size, const default, implementation, learning`, () => {
        const ours = table(t.name);
        const keys = ours.keys.filter((k) => k.matchKind !== 'selector').map((k) => [k.name, MATCH[k.matchKind], k.bitwidth]);
        expect(keys).to.deep.equal(t.matchFields.map((f) => [f.name, f.matchType, f.bitwidth]));
        const refs = t.actionRefs.map((r) => `${info.action(r.id)!.name}/${r.scope}`);
        expect(ours.actions.map((a) => `${a.name}/${a.scope}`)).to.have.members(refs).and.have.length(refs.length);
        expect(ours.size).to.equal(t.size);
        expect(ours.defaultAction?.isConst).to.equal(true);
        expect(ours.defaultAction?.name).to.equal(info.action(t.constDefaultActionId)?.name);
        expect(ours.implementation).to.equal(t.implementationId ? info.actionProfile(t.implementationId)?.name : undefined);
        expect(ours.addOnMiss).to.equal(t.annotations.includes('@add_on_miss'));
        expect(ours.idleTimeout === 'NOTIFY_CONTROL').to.equal(t.idleTimeout);
        expect(compareWithP4Info(program, info).filter((d) => d.startsWith(`table ${t.name}:`))).to.deep.equal([]);
      });
    }

    it('hashes service_lb on source address and port, fields the P4Info leaves out of match_fields', () => {
      const lb = table(`${CONTROL}.service_lb`);
      const selector = lb.keys.filter((k) => k.matchKind === 'selector').map((k) => k.name);
      expect(selector).to.deep.equal(['hdr.ipv4.src_addr', 'meta.l4_src_port']);
      expect(info.tableByName(lb.name).matchFields.map((f) => f.name)).to.not.include.members(selector);
    });
  });

  describe('actions and the selector, both ways', () => {
    it('declares every P4Info action with its parameter names and widths, and no other table action', () => {
      const used = new Set(program.tables.flatMap((t) => t.actions.map((a) => a.name)));
      expect([...used]).to.have.members(info.actions.map((a) => a.name));
      for (const a of info.actions) {
        const ours = program.actions.find((x) => x.name === a.name);
        expect(ours, a.name).to.not.equal(undefined);
        expect(ours!.params.map((p) => [p.name, p.bitwidth]), a.name).to.deep.equal(a.params.map((p) => [p.name, p.bitwidth]));
      }
    });

    it('uses the core NoAction, undeclared, as service_lb\'s miss', () => {
      expect(program.actions.find((a) => a.name === 'NoAction')?.builtin).to.equal(true);
    });

    it('declares lb_selector as the P4Info action profile: CRC32, 131,072 members, groups of 4,096', () => {
      const [p4info] = info.actionProfiles;
      expect(info.actionProfiles).to.have.length(1);
      expect(program.actionProfiles).to.deep.equal([
        { name: p4info!.name, withSelector: true, algorithm: 'CRC32', size: 131072, outputWidth: 32, maxGroupSize: 4096 },
      ]);
      expect(p4info).to.include({ size: 131072, withSelector: true, maxGroupSize: 4096 });
      expect(p4info!.tableIds.map((id) => info.table(id)?.name)).to.deep.equal(program.tables.filter((t) => t.implementation === p4info!.name).map((t) => t.name));
    });

    it('learns in the ct miss actions exactly as PIPELINE.md says', () => {
      const learns = (name: string): unknown => program.actions.find((a) => a.name === `${CONTROL}.${name}`)?.learns.map(({ action, params }) => ({ action, params }));
      expect(learns('ct_forward_miss')).to.deep.equal([{ action: `${CONTROL}.ct_dnat`, params: { ep_ip: 'meta.ep_ip', ep_port: 'meta.ep_port' } }]);
      expect(learns('ct_reverse_miss')).to.deep.equal([{ action: `${CONTROL}.ct_snat`, params: { vip: 'meta.vip', vport: 'meta.vport' } }]);
      expect(program.actions.flatMap((a) => a.learns.map((l) => l.profile))).to.deep.equal(Array(2).fill('hdr.tcp.isValid() ? EXPIRE_TCP_ESTABLISHED : EXPIRE_UDP'));
    });
  });

  describe('apply order', () => {
    it('applies the tables in PIPELINE.md\'s order', () => {
      expect(applyOrder(SOURCE, CONTROL)).to.deep.equal(APPLY_ORDER);
    });

    it('takes that order from PIPELINE.md itself', () => {
      const doc = readFileSync(join(P4_DIR, 'PIPELINE.md'), 'utf8');
      const section = doc.slice(doc.indexOf('## MainControlImpl, in apply order'));
      const listed = [...section.slice(0, section.indexOf('\n## ', 3)).matchAll(/^\d+\.\s+\*\*(\w+)\*\*/gm)].map((m) => `${CONTROL}.${m[1]}`);
      expect(listed).to.deep.equal(APPLY_ORDER);
    });
  });

  describe('the checker reports a modified program', () => {
    const cases: { what: string; source: () => string; expected: string }[] = [
      { what: 'a missing table', source: () => edit(/table ipv4_to_port \{[^}]*\{[^}]*\}[^}]*\{[^}]*\}[^}]*\}/, ''), expected: 'table MainControlImpl.ipv4_to_port: in the P4Info but not in the P4 program' },
      { what: 'an extra table', source: () => edit('    apply {\n        if (istd', '    table extra { key = { hdr.ipv4.ttl : exact; } actions = { drop; } }\n    apply {\n        if (istd'), expected: 'table MainControlImpl.extra: in the P4 program but not in the P4Info' },
      { what: 'a renamed key field', source: () => edit('hdr.arp.tpa : exact', 'hdr.arp.spa : exact'), expected: 'table MainControlImpl.arp_to_port: match fields differ' },
      { what: 'a changed match kind', source: () => edit('hdr.arp.tpa : exact', 'hdr.arp.tpa : ternary'), expected: 'table MainControlImpl.arp_to_port: match fields differ: P4 [hdr.arp.tpa:TERNARY:32]' },
      { what: 'a changed key width', source: () => edit('bit<8>      rk_proto;', 'bit<16>     rk_proto;'), expected: 'table MainControlImpl.ct_reverse: match fields differ' },
      { what: 'a selector field made exact', source: () => edit('meta.l4_src_port  : selector', 'meta.l4_src_port  : exact'), expected: 'table MainControlImpl.service_lb: match fields differ' },
      { what: 'an action missing from a table', source: () => edit('@tableonly lb_reject;', ''), expected: 'table MainControlImpl.service_lb: actions differ' },
      { what: 'a default-only action usable as an entry', source: () => edit('@defaultonly ct_forward_miss;', 'ct_forward_miss;'), expected: 'table MainControlImpl.ct_forward: actions differ' },
      { what: 'a changed parameter width', source: () => edit('mac_addr_t dmac)', 'bit<32> dmac)'), expected: 'action MainControlImpl.set_dest_mac_port: parameters differ: P4 (port:32, dmac:32), P4Info (port:32, dmac:48)' },
      { what: 'a changed typedef width', source: () => edit('typedef bit<32> port_num_t;', 'typedef bit<16> port_num_t;'), expected: 'action MainControlImpl.set_port: parameters differ' },
      { what: 'a renamed parameter', source: () => edit('l4_port_t vport)', 'l4_port_t port)'), expected: 'action MainControlImpl.ct_snat: parameters differ' },
      { what: 'a changed size', source: () => edit('CT_TABLE_SIZE       = 262144', 'CT_TABLE_SIZE       = 131072'), expected: 'table MainControlImpl.ct_forward: size 131072 in P4, 262144 in the P4Info' },
      { what: 'a default action that is not const', source: () => edit('const default_action = to_uplink;', 'default_action = to_uplink;'), expected: 'table MainControlImpl.arp_to_port: const default action (none) in P4, MainControlImpl.to_uplink in the P4Info' },
      { what: 'a missing implementation', source: () => edit('pna_implementation = lb_selector;', ''), expected: 'table MainControlImpl.service_lb: implementation (none) in P4, MainControlImpl.lb_selector in the P4Info' },
      { what: 'a resized selector', source: () => edit('LB_SELECTOR_MEMBERS = 131072', 'LB_SELECTOR_MEMBERS = 128'), expected: 'action profile MainControlImpl.lb_selector: size 128 in P4, 131072 in the P4Info' },
      { what: 'a changed max group size', source: () => edit('@max_group_size(4096)', '@max_group_size(64)'), expected: 'action profile MainControlImpl.lb_selector: max_group_size 64 in P4, 4096 in the P4Info' },
      { what: 'an action profile without selector', source: () => edit('ActionSelector(PNA_HashAlgorithm_t.CRC32, LB_SELECTOR_MEMBERS, 32)', 'ActionProfile(LB_SELECTOR_MEMBERS)'), expected: 'action profile MainControlImpl.lb_selector: with_selector false in P4, true in the P4Info' },
      { what: 'a table that no longer learns', source: () => edit('add_on_miss = true;', ''), expected: 'table MainControlImpl.ct_forward: add_on_miss false in P4, true in the P4Info' },
      { what: 'a miss action that does not learn', source: () => edit(/if \(meta\.rk_learn\) \{\s*add_entry\([^;]*;\s*\}/, ''), expected: 'table MainControlImpl.ct_reverse: add_on_miss, but its default action MainControlImpl.ct_reverse_miss calls no add_entry' },
      { what: 'a miss action learning a foreign action', source: () => edit('action_name = "ct_snat"', 'action_name = "ct_dnat"'), expected: 'table MainControlImpl.ct_reverse: default action learns MainControlImpl.ct_dnat, which is not a hit action of the table' },
      { what: 'no idle timeout', source: () => edit('pna_idle_timeout = PNA_IdleTimeout_t.NOTIFY_CONTROL;', 'pna_idle_timeout = PNA_IdleTimeout_t.NO_TIMEOUT;'), expected: 'table MainControlImpl.ct_forward: idle timeout NO_TIMEOUT in P4, NOTIFY_CONTROL in the P4Info' },
    ];
    for (const c of cases) {
      it(`reports ${c.what}`, () => {
        const found = differences(c.source());
        expect(found.some((d) => d.startsWith(c.expected)), `expected "${c.expected}" among:\n${found.join('\n')}`).to.be.true;
      });
    }

    it('reports a swapped apply order', () => {
      const swapped = edit('@@', 'ct_reverse.apply();', edit('ct_reverse.apply();', 'ct_forward.apply();', edit('ct_forward.apply();', '@@')));
      expect(applyOrder(swapped, CONTROL)).to.not.deep.equal(APPLY_ORDER);
      expect(applyOrder(swapped, CONTROL)).to.deep.equal([APPLY_ORDER[0], APPLY_ORDER[1], APPLY_ORDER[3], APPLY_ORDER[2], APPLY_ORDER[4]]);
    });

    it('reports a table that is no longer applied', () => {
      expect(applyOrder(edit('arp_to_port.apply();', ''), CONTROL)).to.deep.equal(APPLY_ORDER.slice(1));
    });
  });

  describe('the reader', () => {
    it('ignores declarations inside comments and keeps `//` inside strings', () => {
      const commented = `${SOURCE}\n// table ghost { key = { a : exact; } }\n/* action ghost2(bit<8> x) { }\n table ghost3 { } */`;
      expect(parseP4Source(commented)).to.deep.equal(program);
      expect(stripComments('a = "x//y"; // note\n/* b\n c */ d')).to.equal('a = "x//y";        \n    \n      d');
    });

    it('resolves typedef chains, @name on keys, slices and sized literals', () => {
      const src = [
        'typedef bit<9> narrow_t; typedef narrow_t alias_t; const bit<32> N = 32w0x1_00;',
        'header h_t { alias_t f; bit<16> g; } struct hs_t { h_t h; }',
        'control C(inout hs_t hdr) {',
        '  action a(alias_t x, in bit<8> y) { }',
        '  table t { key = { hdr.h.f : exact @name("f"); hdr.h.g[7:0] : lpm; } actions = { a; } default_action = a(1, 2); size = N; }',
        '  apply { t.apply(); }',
        '}',
      ].join('\n');
      const parsed = parseP4Source(src);
      expect(parsed.tables[0]).to.deep.include({ name: 'C.t', size: 256, keys: [{ name: 'f', matchKind: 'exact', bitwidth: 9 }, { name: 'hdr.h.g[7:0]', matchKind: 'lpm', bitwidth: 8 }] });
      expect(parsed.tables[0]!.defaultAction).to.deep.equal({ name: 'C.a', isConst: false, args: ['1', '2'] });
      expect(parsed.actions[0]!.params.map((p) => [p.name, p.direction, p.bitwidth])).to.deep.equal([['x', '', 9], ['y', 'in', 8]]);
      expect(applyOrder(src, 'C')).to.deep.equal(['C.t']);
    });

    it('names what it cannot read', () => {
      expect(() => parseP4Source('control C() { table t { key = { x : exact; } bogus } apply { } }')).to.throw(/table C.t: cannot read 'bogus'/);
      expect(() => applyOrder(SOURCE, 'NoSuchControl')).to.throw(/no control named NoSuchControl/);
    });
  });
});
