import { expect } from 'chai';
import { seededRandom } from '../../../core/random.js';
import { randomByteStrings } from '../../../simulations/fuzz/random-bytes.js';

const hex = (list: Uint8Array[]): string[] => list.map((b) => Buffer.from(b).toString('hex'));

describe('fuzz random byte strings', () => {
  it('gives count strings with lengths in 0..maxLen, spread over the range', () => {
    const out = randomByteStrings(seededRandom(1), 500, 300);
    expect(out).to.have.length(500);
    const lengths = out.map((b) => b.length);
    expect(Math.min(...lengths)).to.be.at.least(0);
    expect(Math.max(...lengths)).to.be.at.most(300);
    expect(lengths.filter((n) => n < 100)).to.not.be.empty;
    expect(lengths.filter((n) => n > 200)).to.not.be.empty;
  });

  it('uses every byte value over enough output', () => {
    const seen = new Set<number>();
    for (const b of randomByteStrings(seededRandom(2), 50, 1000)) for (const x of b) seen.add(x);
    expect(seen.size).to.equal(256);
  });

  it('is reproducible from the seed, and differs across seeds', () => {
    expect(hex(randomByteStrings(seededRandom(3), 20, 64))).to.deep.equal(hex(randomByteStrings(seededRandom(3), 20, 64)));
    expect(hex(randomByteStrings(seededRandom(3), 20, 64))).to.not.deep.equal(hex(randomByteStrings(seededRandom(4), 20, 64)));
  });

  it('handles the edges: maxLen 0, count 0, and rejects nonsense', () => {
    expect(randomByteStrings(seededRandom(5), 10, 0).every((b) => b.length === 0)).to.equal(true);
    expect(randomByteStrings(seededRandom(5), 0, 10)).to.deep.equal([]);
    expect(() => randomByteStrings(seededRandom(5), -1, 10)).to.throw(RangeError);
    expect(() => randomByteStrings(seededRandom(5), 1, 1.5)).to.throw(RangeError);
  });
});
