/**
 * A small aligned-column formatter for offloadctl's human-readable output: an upper-case header
 * row, then one line per row, columns padded to their widest cell (by code points, so tree
 * drawing characters count as one), two spaces between columns, no trailing blanks. Cells with
 * control characters are shown escaped, so a hostile name cannot rewrite the terminal.
 *
 * @example
 * formatTable(['id', 'status'], [['bus', 'running'], ['intent', 'restarting']]);
 * // "ID      STATUS\nbus     running\nintent  restarting"
 */

/** Printable form of a cell: control characters (ESC, newlines…) as \xNN. */
export function cell(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : '';
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const width = (s: string): number => [...s].length;

/** Header and rows as aligned lines (header upper-cased). Missing cells are blank. */
export function formatTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const head = headers.map((h) => cell(h).toUpperCase());
  const body = rows.map((r) => headers.map((_, i) => cell(r[i])));
  const widths = head.map((h, i) => Math.max(width(h), ...body.map((r) => width(r[i]!))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c) + 2)))
      .join('')
      .trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

/**
 * A duration for people: "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min".
 *
 * @example
 * duration(12_345); // "12.3 s"
 */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
