import { expect } from 'chai';
import { discoverPool, execIp, validatePool, type LinkInfo } from '../../actors/agent/pool/mod.js';
import { TestNet } from './netns.js';

const tap = (name: string): LinkInfo => ({ name, kind: 'tun', tunType: 'tap' });
const taps = (prefix: string, n: number): LinkInfo[] => Array.from({ length: n }, (_, i) => tap(`${prefix}${i}`));

describe('agent pool: discovery', function () {
  this.timeout(20_000);
  const net = new TestNet();

  after(async () => {
    await net.cleanup();
    expect(await net.leftovers()).to.deep.equal([]);
  });

  const cases: { name: string; links: LinkInfo[]; problem?: string; size?: number }[] = [
    { name: 'eight TAPs', links: [...taps('P_', 8), { name: 'lo', kind: undefined, tunType: undefined }], size: 8 },
    { name: 'sixteen TAPs in any order', links: taps('P_', 16).reverse(), size: 16 },
    { name: 'none', links: [tap('other0')], problem: 'none-found' },
    { name: 'a gap', links: taps('P_', 9).filter((l) => l.name !== 'P_3'), problem: 'gap' },
    { name: 'six', links: taps('P_', 6), problem: 'bad-size' },
    { name: 'four', links: taps('P_', 4), problem: 'bad-size' },
    { name: 'a TUN among them', links: [...taps('P_', 7), { name: 'P_7', kind: 'tun', tunType: 'tun' }], problem: 'not-tap' },
    { name: 'a veth among them', links: [...taps('P_', 7), { name: 'P_7', kind: 'veth', tunType: undefined }], problem: 'not-tap' },
    { name: 'a name without an index', links: [...taps('P_', 8), tap('P_x')], problem: 'bad-name' },
    { name: 'a leading zero', links: [...taps('P_', 8), tap('P_01')], problem: 'bad-name' },
  ];
  for (const c of cases) {
    it(`validates: ${c.name}`, () => {
      const r = validatePool(c.links, 'P_');
      if (c.problem) {
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.error.name === 'PoolDiscoveryError' && r.error.problem).to.equal(c.problem);
      } else {
        expect(r.ok && r.value.size).to.equal(c.size);
        expect(r.ok && r.value.names[c.size! - 1]).to.equal(`P_${c.size! - 1}`);
      }
    });
  }

  it('discovers a real pool in a namespace and refuses a real pool of six', async () => {
    const good = await net.addNs('good');
    await net.addTaps(good, [0, 1, 2, 3, 4, 5, 6, 7]);
    const r = await discoverPool(execIp, { prefix: net.prefix, netns: good });
    expect(r.ok && r.value).to.deep.include({ size: 8, netns: good, prefix: net.prefix });

    const six = await net.addNs('six');
    await net.addTaps(six, [0, 1, 2, 3, 4, 5]);
    const bad = await discoverPool(execIp, { prefix: net.prefix, netns: six });
    expect(!bad.ok && bad.error.message).to.match(/found 6 .*power of two and more than 4/);

    const absent = await discoverPool(execIp, { prefix: net.prefix, netns: net.ns('absent') });
    expect(!absent.ok && absent.error.name).to.equal('IpCommandError');
  });
});
