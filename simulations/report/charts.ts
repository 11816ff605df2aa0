/**
 * The report's plots as vega-lite specifications, from the run's data alone (inline values,
 * nothing loaded): the fault timeline with convergence marks, the programming-latency histogram
 * with p50/p99 rules, and restarts and escalations per actor kind.
 *
 * @example
 * const svg = await renderSvg(timelineSpec(input));
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReportInput } from './report-input.js';
import { allNodes } from './summary.js';

const WIDTH = 760;
const CONFIG = { background: 'white', view: { stroke: '#d0d7de' }, axis: { labelLimit: 180 }, legend: { labelLimit: 220 } };

/** Faults per node and kind over the run (bars; ticks for instantaneous ones), and when each node was seen converged. */
export function timelineSpec(input: ReportInput): TopLevelSpec {
  const nodes = allNodes(input);
  const kinds = [...new Set(input.faults.map((f) => f.kind))].sort();
  const spans = input.faults.filter((f) => f.endS !== undefined).map((f) => ({ node: f.node, kind: f.kind, start: f.startS, end: f.endS }));
  const instants = input.faults.filter((f) => f.endS === undefined).map((f) => ({ node: f.node, kind: f.kind, start: f.startS }));
  const converged = input.convergence.map((c) => ({ node: c.node, at: c.atS }));
  let end = Math.max(input.durationS, 1);
  for (const f of input.faults) end = Math.max(end, f.endS ?? f.startS);
  for (const c of input.convergence) end = Math.max(end, c.atS);
  // Rows of one bar per kind while that stays legible; beyond, kinds share the row.
  const perKind = nodes.length <= 40 && kinds.length > 1;
  const row = perKind ? Math.min(48, Math.max(18, 4 * kinds.length)) : nodes.length <= 40 ? 18 : 10;
  const x = { field: 'start', type: 'quantitative' as const, title: 'seconds since the start', scale: { domain: [0, end], nice: false } };
  const y = { field: 'node', type: 'nominal' as const, title: null, scale: { domain: nodes } };
  const color = { field: 'kind', type: 'nominal' as const, title: 'fault', scale: { domain: kinds.length > 0 ? kinds : ['none'], scheme: kinds.length > 10 ? 'category20' : 'tableau10' } };
  return {
    config: CONFIG,
    title: { text: 'Faults and convergence per node', subtitle: 'bars: faults with a duration · ticks: instantaneous faults · green diamonds: node seen converged', anchor: 'start' },
    width: WIDTH,
    height: Math.max(1, nodes.length) * row,
    layer: [
      {
        data: { values: spans },
        mark: { type: 'bar', opacity: 0.85, cornerRadius: 1 },
        encoding: { x, x2: { field: 'end' }, y, ...(perKind ? { yOffset: { field: 'kind', scale: { domain: kinds } } } : {}), color },
      },
      { data: { values: instants }, mark: { type: 'tick', thickness: 3 }, encoding: { x, y, color } },
      {
        data: { values: converged },
        mark: { type: 'point', shape: 'diamond', filled: true, color: '#1a7f37', size: 50, opacity: 0.9 },
        encoding: { x: { ...x, field: 'at' }, y },
      },
    ],
  };
}

/** How long changes took to reach the data plane, with p50 and p99 marked. */
export function latencySpec(latenciesMs: readonly number[], p50: number, p99: number): TopLevelSpec {
  const marks = [
    { q: 'p50', ms: p50, label: `p50 ${formatMs(p50)}` },
    { q: 'p99', ms: p99, label: `p99 ${formatMs(p99)}` },
  ];
  return {
    config: CONFIG,
    title: { text: 'Network programming latency', subtitle: `${latenciesMs.length} changes, from the change to its entries written`, anchor: 'start' },
    width: WIDTH,
    height: 220,
    layer: [
      {
        data: { values: latenciesMs.map((ms) => ({ ms })) },
        mark: { type: 'bar', color: '#4c78a8' },
        encoding: {
          x: { field: 'ms', type: 'quantitative', bin: { maxbins: 50 }, title: 'milliseconds' },
          y: { aggregate: 'count', type: 'quantitative', title: 'changes' },
        },
      },
      { data: { values: marks }, mark: { type: 'rule', color: '#cf222e', strokeDash: [4, 3], strokeWidth: 1.5 }, encoding: { x: { field: 'ms', type: 'quantitative' } } },
      {
        data: { values: marks },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, color: '#cf222e', fontSize: 11 },
        encoding: { x: { field: 'ms', type: 'quantitative' }, y: { value: 4 }, text: { field: 'label' } },
      },
    ],
  };
}

/** Supervisor restarts and escalations per actor kind. */
export function restartsSpec(restarts: ReportInput['restarts']): TopLevelSpec {
  const rows = restarts.flatMap((r) => [
    { kind: r.actorKind, what: 'restarts', count: r.restarts },
    { kind: r.actorKind, what: 'escalations', count: r.escalations },
  ]);
  return {
    config: CONFIG,
    title: { text: 'Supervisor restarts and escalations per actor kind', anchor: 'start' },
    data: { values: rows },
    width: { step: 44 },
    height: 200,
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'kind', type: 'nominal', title: 'actor kind', sort: restarts.map((r) => r.actorKind), axis: { labelAngle: -30 } },
      xOffset: { field: 'what', scale: { domain: ['restarts', 'escalations'] } },
      y: { field: 'count', type: 'quantitative', title: 'count', axis: { tickMinStep: 1 } },
      color: { field: 'what', type: 'nominal', title: null, scale: { domain: ['restarts', 'escalations'], range: ['#4c78a8', '#e45756'] } },
    },
  };
}

export function formatMs(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${Number(ms.toPrecision(3))} ms`;
}
