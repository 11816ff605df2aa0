/**
 * A vega-lite chart as an SVG string: compiled by vega-lite, run by vega's dataflow headless
 * (no canvas, no DOM), drawn by vega's SVG renderer. Data must be inline: nothing is loaded. The
 * result is markup to inline in a page — vega escapes the text it draws; the XLink namespace it
 * declares is dropped when unused, so the SVG namespace is the only URL left. The libraries'
 * warnings go to `onWarning` (nowhere by default), never to the console.
 *
 * @example
 * const svg = await renderSvg({ data: { values: [{ x: 1, y: 2 }] }, mark: 'point', encoding: { x: { field: 'x', type: 'quantitative' } } });
 */
import { logger, parse, View, Warn } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec, onWarning?: (message: string) => void): Promise<string> {
  const log = logger(Warn, undefined, (_method, _level, args) => onWarning?.(args.map(String).join(' ')));
  const { spec: vega } = compile(spec, { logger: log });
  const view = new View(parse(vega), { renderer: 'none', logger: log });
  try {
    const svg = await view.toSVG();
    return svg.includes('xlink:') ? svg : svg.replace(/\s+xmlns:xlink="[^"]*"/, '');
  } finally {
    view.finalize();
  }
}
