/**
 * The simulator's report: one self-contained HTML page a person can open from disk or attach to
 * an issue — no script, no font, no stylesheet or image from anywhere; the plots are SVG drawn
 * by vega (svg.ts) and inlined, so the page reads the same without JavaScript.
 *
 *   header       title, PASS/FAIL, seed, mode, nodes, duration, figures, the replay command
 *   timeline     faults per node and kind, convergence marks
 *   latency      programming-latency histogram with p50/p99
 *   restarts     restarts and escalations per actor kind
 *   invariants   name, kind, verdict, the first violations
 *   convergence  per node: times seen converged, last, slowest after a fault
 *
 * Every text from the input is escaped. A bad input is refused with a ReportInputError.
 *
 * @example
 * const html = await renderReport(input);
 * await writeFile(join(runDir, 'report.html'), html);
 */
import { latencySpec, restartsSpec, timelineSpec, formatMs } from './charts.js';
import { checkReportInput } from './check-input.js';
import type { ReportInput } from './report-input.js';
import { summarise, type RunSummary } from './summary.js';
import { renderSvg } from './svg.js';

export { ReportInputError } from './check-input.js';
export type { ReportInput } from './report-input.js';

/** Violations listed per invariant (the rest are counted). */
const FIRST_VIOLATIONS = 5;
const NODES_LISTED = 24;

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The page; rejects with a ReportInputError (naming the field) when the input is not a valid ReportInput. */
export async function renderReport(input: ReportInput): Promise<string> {
  const checked = checkReportInput(input);
  if (!checked.ok) throw checked.error;
  const run = checked.value;
  const s = summarise(run);
  const [timeline, latency, restarts] = await Promise.all([
    run.faults.length > 0 || run.convergence.length > 0 ? renderSvg(timelineSpec(run)) : undefined,
    s.latencyP50Ms !== undefined && s.latencyP99Ms !== undefined ? renderSvg(latencySpec(run.programmingLatencyMs, s.latencyP50Ms, s.latencyP99Ms)) : undefined,
    run.restarts.length > 0 ? renderSvg(restartsSpec(run.restarts)) : undefined,
  ]);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(run.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    header(run, s),
    section('timeline', 'Faults and convergence', timeline ?? note('No fault was applied and no node was seen converged.')),
    section('latency', 'Programming latency', latency ? `${latency}${latencyText(run, s)}` : note('No programming latency was observed.')),
    section('restarts', 'Restarts and escalations', restarts ?? note('No supervisor restart was recorded.')),
    section('invariants', 'Invariants', invariantsTable(run)),
    section('convergence', 'Convergence per node', convergenceTable(s)),
    faultsTable(run),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function header(run: ReportInput, s: RunSummary): string {
  const listed = run.nodes.slice(0, NODES_LISTED).map(escapeHtml).join(', ');
  const more = run.nodes.length > NODES_LISTED ? ` … +${run.nodes.length - NODES_LISTED} more` : '';
  const verdict = s.pass ? '<span class="badge pass">PASS</span>' : '<span class="badge fail">FAIL</span>';
  const figure = (v: number | undefined, unit: 's' | 'ms'): string => (v === undefined ? '—' : unit === 's' ? `${Number(v.toFixed(2))} s` : formatMs(v));
  const rows: [string, string][] = [
    ['seed', escapeHtml(String(run.seed))],
    ['mode', escapeHtml(run.mode)],
    ['nodes', `${run.nodes.length}${run.nodes.length > 0 ? ` (${listed}${more})` : ''}`],
    ['duration', `${Number(run.durationS.toFixed(1))} s`],
    ['faults', String(run.faults.length)],
    ['invariants', `${run.invariants.length - s.failedInvariants} of ${run.invariants.length} held, ${s.violations} violation${s.violations === 1 ? '' : 's'}`],
    ['convergence after a fault', `p50 ${figure(s.convergeP50S, 's')}, p99 ${figure(s.convergeP99S, 's')}`],
    ['programming latency', `p50 ${figure(s.latencyP50Ms, 'ms')}, p99 ${figure(s.latencyP99Ms, 'ms')} (${run.programmingLatencyMs.length} changes)`],
    ['supervisors', `${s.restarts} restart${s.restarts === 1 ? '' : 's'}, ${s.escalations} escalation${s.escalations === 1 ? '' : 's'}`],
  ];
  return [
    '<header>',
    `<h1>${escapeHtml(run.title)} ${verdict}</h1>`,
    `<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`,
    '<p class="replay">Replay this run:</p>',
    `<pre><code>${escapeHtml(run.replayCommand)}</code></pre>`,
    '</header>',
  ].join('\n');
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}">\n<h2>${title}</h2>\n<div class="figure">${body}</div>\n</section>`;
}

function note(text: string): string {
  return `<p class="note">${escapeHtml(text)}</p>`;
}

function latencyText(run: ReportInput, s: RunSummary): string {
  const max = run.programmingLatencyMs.reduce((m, v) => (v > m ? v : m), 0);
  return `<p class="caption">p50 ${formatMs(s.latencyP50Ms!)} · p99 ${formatMs(s.latencyP99Ms!)} · max ${formatMs(max)} over ${run.programmingLatencyMs.length} changes</p>`;
}

function invariantsTable(run: ReportInput): string {
  if (run.invariants.length === 0) return note('No invariant was checked.');
  const rows = run.invariants.map((inv) => {
    const first = [...inv.violations].sort((a, b) => a.atS - b.atS).slice(0, FIRST_VIOLATIONS);
    const items = first.map((v) => `<li><span class="t">${v.atS.toFixed(2)} s</span>${v.node !== undefined ? ` <span class="node">${escapeHtml(v.node)}</span>` : ''} ${escapeHtml(v.detail)}</li>`);
    const rest = inv.violations.length - first.length;
    const list = inv.violations.length === 0 ? '—' : `<ol>${items.join('')}${rest > 0 ? `<li class="more">… and ${rest} more</li>` : ''}</ol>`;
    return `<tr class="${inv.ok ? 'ok' : 'bad'}"><td>${escapeHtml(inv.name)}</td><td>${escapeHtml(inv.kind)}</td><td>${inv.ok ? '✔ held' : '✘ violated'}</td><td class="num">${inv.violations.length}</td><td>${list}</td></tr>`;
  });
  return `<table><thead><tr><th>invariant</th><th>kind</th><th>verdict</th><th>violations</th><th>first violations</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function convergenceTable(s: RunSummary): string {
  if (s.nodes.length === 0) return note('No node in this run.');
  const t = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(2)} s`);
  const rows = s.nodes.map((n) => `<tr class="${n.times > 0 ? 'ok' : 'bad'}"><td>${escapeHtml(n.node)}</td><td class="num">${n.times}</td><td class="num">${t(n.lastAtS)}</td><td class="num">${t(n.worstAfterFaultS)}</td></tr>`);
  return `<table><thead><tr><th>node</th><th>seen converged</th><th>last at</th><th>slowest after a fault</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Every fault as applied, for the record (collapsed: readable without JavaScript all the same). */
function faultsTable(run: ReportInput): string {
  if (run.faults.length === 0) return '';
  const rows = [...run.faults]
    .sort((a, b) => a.startS - b.startS)
    .map((f) => `<tr><td class="num">${f.startS.toFixed(2)}</td><td class="num">${f.endS === undefined ? 'instant' : f.endS.toFixed(2)}</td><td>${escapeHtml(f.node)}</td><td>${escapeHtml(f.kind)}</td><td>${escapeHtml(f.detail ?? '')}</td></tr>`);
  return `<section id="faults">\n<details><summary>All ${run.faults.length} faults</summary>\n<table><thead><tr><th>start (s)</th><th>end (s)</th><th>node</th><th>kind</th><th>detail</th></tr></thead><tbody>${rows.join('')}</tbody></table>\n</details>\n</section>`;
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; margin-top: 2.2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1.2rem; margin: 0 0 1rem; }
dt { color: #59636e; } dd { margin: 0; }
.badge { display: inline-block; font-size: .9rem; padding: .15rem .6rem; border-radius: 1rem; vertical-align: middle; color: white; }
.badge.pass { background: #1a7f37; } .badge.fail { background: #cf222e; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .7rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.replay { margin-bottom: .2rem; color: #59636e; }
.figure { overflow-x: auto; }
.figure svg { max-width: none; }
.note, .caption { color: #59636e; font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td:nth-child(3), tr.bad td:first-child { color: #cf222e; font-weight: 600; }
ol { margin: 0; padding-left: 1.2rem; }
.t { font-variant-numeric: tabular-nums; color: #59636e; }
.node { font-family: ui-monospace, monospace; }
.more { list-style: none; color: #59636e; }
summary { cursor: pointer; margin-top: 2rem; font-weight: 600; }
`;
