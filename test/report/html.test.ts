import { expect } from 'chai';
import { seededRandom } from '../../core/random.js';
import { escapeHtml, renderReport, ReportInputError, type ReportInput } from '../../simulations/report/html.js';
import { percentile } from '../../simulations/report/summary.js';

const EVIL = `<script>alert("x")</script>&'`;
const SVG_NS = 'http://www.w3.org/2000/svg';
const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'col', 'wbr', 'source', 'area', 'base', 'embed', 'track']);

/** A five-node process run with faults of every shape, hostile text everywhere text goes. */
function sample(): ReportInput {
  const r = seededRandom(12);
  const nodes = ['node-1', 'node-2', 'node-3', `node-${EVIL}`];
  const kinds = ['kill-manager', 'partition-agent-nats', 'bus-drop', 'p4-slow-writes', `kind ${EVIL}`];
  return {
    title: `simulate seed 42 ${EVIL}`,
    seed: 42,
    mode: 'process',
    nodes,
    durationS: 120,
    faults: Array.from({ length: 25 }, (_, i) => {
      const startS = r.next() * 100;
      const kind = kinds[i % kinds.length]!;
      return { node: nodes[i % nodes.length]!, kind, startS, ...(kind === 'kill-manager' ? {} : { endS: startS + 1 + r.next() * 15 }), detail: `detail ${EVIL}` };
    }),
    convergence: Array.from({ length: 20 }, (_, i) => ({ node: nodes[i % nodes.length]!, atS: r.next() * 120, ...(i % 3 === 0 ? {} : { afterFaultS: r.next() * 10 }) })),
    programmingLatencyMs: Array.from({ length: 500 }, () => 1 + -Math.log(1 - r.next()) * 4),
    restarts: [
      { actorKind: 'session', restarts: 6, escalations: 1 },
      { actorKind: `bus ${EVIL}`, restarts: 2, escalations: 0 },
    ],
    invariants: [
      { name: 'at most one leader per node', kind: 'safety', ok: true, violations: [] },
      { name: `no duplicate write ${EVIL}`, kind: 'safety', ok: false, violations: Array.from({ length: 8 }, (_, i) => ({ atS: 90 - i, node: 'node-2', detail: `ALREADY_EXISTS ${i} ${EVIL}` })) },
      { name: 'converges within 30 s', kind: 'liveness', ok: true, violations: [] },
    ],
    replayCommand: `npm run simulate -- --seed 42 --nodes 4 --duration 120 --faults all --mode process # </code></pre>${EVIL}`,
  };
}

const empty = (): ReportInput => ({
  title: 'empty run',
  seed: 1,
  mode: 'inproc',
  nodes: [],
  durationS: 0,
  faults: [],
  convergence: [],
  programmingLatencyMs: [],
  restarts: [],
  invariants: [],
  replayCommand: 'npm run simulate -- --seed 1 --nodes 0 --duration 0 --faults none --mode inproc',
});

/** Parse-level checks every report must pass; returns the page's SVG elements. */
function checkPage(html: string): string[] {
  expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).to.equal(true);
  expect(html).to.match(/<meta charset="utf-8">/);
  expect(html.trimEnd().endsWith('</html>')).to.equal(true);
  // Well-formed: every element closed in order (HTML void elements and self-closed SVG aside), no stray '<'.
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)\b([^<>]*?)(\/?)>|<!DOCTYPE html>|<(?![a-zA-Z/!])/g;
  for (const m of html.matchAll(tag)) {
    if (m[0] === '<!DOCTYPE html>') continue;
    if (m[2] === undefined) throw new Error(`a raw '<' at ${m.index}: ${html.slice(m.index, m.index + 40)}`);
    const name = m[2].toLowerCase();
    if (m[4] === '/' || (VOID.has(name) && m[1] !== '/')) continue;
    if (m[1] === '/') {
      const open = stack.pop();
      expect(open, `</${name}> at ${m.index} closes <${open}>`).to.equal(name);
    } else stack.push(name);
  }
  expect(stack, 'unclosed elements').to.deep.equal([]);
  // Self-contained and inert: no script, no handler, nothing fetched.
  expect(html).to.not.match(/<script/i);
  expect(html).to.not.match(/\son[a-z]+\s*=/i);
  expect(html).to.not.match(/javascript:/i);
  expect(html).to.not.match(/<(link|img|iframe|object|embed|image|use|foreignObject)\b/i);
  expect(html).to.not.match(/@import|url\(|@font-face|\bhref=|\bsrc=/i);
  const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
  expect([...new Set(urls)], 'no URL but the SVG namespace').to.satisfy((u: string[]) => u.every((x) => x === SVG_NS));
  const svgs = html.match(/<svg\b[^>]*>[\s\S]*?<\/svg>/g) ?? [];
  for (const svg of svgs) {
    expect(svg).to.match(new RegExp(`^<svg xmlns="${SVG_NS}"`));
    const [, w, h] = /width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg) ?? [];
    expect(Number(w)).to.be.greaterThan(100);
    expect(Number(h)).to.be.greaterThan(50);
  }
  return svgs;
}

describe('simulator report (HTML)', function () {
  this.timeout(30_000);

  it('renders a self-contained page: three inline SVG plots, everything escaped, the verdict and the replay command', async () => {
    const input = sample();
    const html = await renderReport(input);
    const svgs = checkPage(html);
    expect(svgs, 'timeline, latency histogram, restarts').to.have.length(3);
    const [timeline, latency, restarts] = svgs;
    expect(html).to.include('<span class="badge fail">FAIL</span>');
    // Every invariant by name, escaped; the raw text nowhere.
    for (const inv of input.invariants) expect(html).to.include(`<td>${escapeHtml(inv.name)}</td>`);
    expect(html).to.not.include(EVIL);
    expect(html).to.include(`<pre><code>${escapeHtml(input.replayCommand)}</code></pre>`);
    expect(html).to.include(`<title>${escapeHtml(input.title)}</title>`);
    // The first five violations in time order, the rest counted.
    expect(html).to.include('… and 3 more');
    expect(html.indexOf('83.00 s')).to.be.lessThan(html.indexOf('87.00 s'));
    expect(html).to.not.include('88.00 s');
    // The plots carry the run's data: nodes and kinds in the timeline, p50/p99 in the histogram.
    expect(timeline).to.include('node-1').and.include('partition-agent-nats').and.include('&lt;script&gt;');
    const p50 = percentile(input.programmingLatencyMs, 0.5)!;
    expect(latency).to.include(`p50 ${Number(p50.toPrecision(3))} ms`);
    expect(latency).to.match(/p99 \d/);
    expect(restarts).to.include('session').and.include('escalations');
    expect(html).to.include('<dt>seed</dt><dd>42</dd>').and.include('<dt>mode</dt><dd>process</dd>').and.include('<dt>duration</dt><dd>120 s</dd>');
  });

  it('says PASS when every invariant held', async () => {
    const input = { ...sample(), invariants: [{ name: 'one leader', kind: 'safety' as const, ok: true, violations: [] }] };
    const html = await renderReport(input);
    checkPage(html);
    expect(html).to.include('<span class="badge pass">PASS</span>');
    expect(html).to.include('1 of 1 held, 0 violations');
  });

  it('renders an empty run (no faults, no latencies, no restarts, no invariants)', async () => {
    const html = await renderReport(empty());
    expect(checkPage(html)).to.have.length(0);
    expect(html).to.include('No fault was applied').and.include('No programming latency was observed').and.include('No supervisor restart').and.include('No invariant was checked');
    expect(html).to.include('p50 —, p99 —');
  });

  it('renders a run with convergence marks but no fault, and one with only instantaneous faults', async () => {
    const calm = { ...empty(), nodes: ['node-1'], durationS: 30, convergence: [{ node: 'node-1', atS: 3 }] };
    expect(checkPage(await renderReport(calm))).to.have.length(1);
    const kills = { ...empty(), nodes: ['a', 'b'], durationS: 10, faults: [{ node: 'a', kind: 'kill-agent', startS: 2 }, { node: 'c', kind: 'kill-nats', startS: 5 }] };
    const html = await renderReport(kills);
    const [timeline] = checkPage(html);
    expect(timeline, 'a node only a fault names gets a row too').to.include('>c</text>');
  });

  it('refuses a bad input with a typed error naming the field', async () => {
    const bad: [Partial<Record<keyof ReportInput, unknown>>, string][] = [
      [{ programmingLatencyMs: [1, Number.NaN] }, 'programmingLatencyMs[1]'],
      [{ faults: [{ node: 'a', kind: 'k', startS: 5, endS: 4 }] }, 'faults[0].endS'],
      [{ faults: [{ node: 'a', kind: 'k', startS: -1 }] }, 'faults[0].startS'],
      [{ mode: 'both' }, 'mode'],
      [{ seed: Infinity }, 'seed'],
      [{ nodes: ['a', 3] }, 'nodes[1]'],
      [{ restarts: [{ actorKind: 's', restarts: 1.5, escalations: 0 }] }, 'restarts[0].restarts'],
      [{ invariants: [{ name: 'x', kind: 'style', ok: true, violations: [] }] }, 'invariants[0].kind'],
      [{ invariants: [{ name: 'x', kind: 'safety', ok: false, violations: [{ atS: 1 }] }] }, 'invariants[0].violations[0].detail'],
      [{ replayCommand: undefined }, 'replayCommand'],
      [{ convergence: [{ node: 'a', atS: 1, afterFaultS: -2 }] }, 'convergence[0].afterFaultS'],
    ];
    for (const [patch, field] of bad) {
      const e = await renderReport({ ...empty(), ...patch } as ReportInput).then(() => undefined, (x: unknown) => x);
      expect(e, field).to.be.instanceOf(ReportInputError);
      expect((e as ReportInputError).field).to.equal(field);
    }
    const e = await renderReport(null as unknown as ReportInput).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(ReportInputError);
  });

  it('renders a 100-node run with 2,000 faults and 100,000 latencies in a few seconds', async () => {
    const r = seededRandom(3);
    const nodes = Array.from({ length: 100 }, (_, i) => `node-${i + 1}`);
    const kinds = ['kill-manager', 'kill-agent', 'kill-target', 'sigstop', 'partition-agent-nats', 'partition-manager-target', 'bus-drop', 'bus-duplicate', 'bus-reorder', 'bus-delay', 'p4-slow-writes', 'p4-write-failures', 'kube-410'];
    const input: ReportInput = {
      ...empty(),
      title: 'inproc 100 nodes',
      nodes,
      durationS: 600,
      faults: Array.from({ length: 2000 }, (_, i) => ({ node: nodes[r.int(0, 99)]!, kind: kinds[i % kinds.length]!, startS: r.next() * 580, ...(i % 3 === 0 ? {} : { endS: 585 }) })),
      convergence: Array.from({ length: 3000 }, () => ({ node: nodes[r.int(0, 99)]!, atS: r.next() * 600, afterFaultS: r.next() * 20 })),
      programmingLatencyMs: Array.from({ length: 100_000 }, () => r.next() * 40),
      restarts: kinds.map((k) => ({ actorKind: k, restarts: r.int(0, 50), escalations: r.int(0, 2) })),
      invariants: [{ name: 'one leader', kind: 'safety', ok: true, violations: [] }],
    };
    const t0 = performance.now();
    const html = await renderReport(input);
    const ms = performance.now() - t0;
    console.log(`      ${(html.length / 1e6).toFixed(1)} MB rendered in ${Math.round(ms)} ms`);
    expect(checkPage(html)).to.have.length(3);
    expect(ms).to.be.below(15_000);
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentile([], 0.5)).to.equal(undefined);
    expect(percentile([4, 1, 3, 2], 0.5)).to.equal(2);
    expect(percentile(Array.from({ length: 100 }, (_, i) => 100 - i), 0.99)).to.equal(99);
    expect(percentile([7], 0.99)).to.equal(7);
  });
});
