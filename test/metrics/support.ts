/**
 * Reading Prometheus text exposition (format 0.0.4) back, as a scraper would: samples with their
 * labels, and lookups by name and label subset. Written for the tests of test/metrics/.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Every sample line of an exposition; comments (# HELP, # TYPE) and blank lines skipped. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    for (const l of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const raw = m[4]!;
    out.push({ name: m[1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return out;
}

/** The HELP text of each metric family. */
export function helpTexts(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# HELP (\S+) (.*)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

const matches = (s: Sample, name: string, labels: Record<string, string>): boolean =>
  s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);

/** The sum of every sample of `name` whose labels include `labels` (0 when none). */
export function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => matches(s, name, labels)).reduce((n, s) => n + s.value, 0);
}

/** The one sample of `name` with exactly these labels, or undefined. */
export function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const n = Object.keys(labels).length;
  return samples.find((s) => matches(s, name, labels) && Object.keys(s.labels).length === n)?.value;
}

/** label value → sample value, for a metric with one varying label (others fixed by `labels`). */
export function byLabel(samples: readonly Sample[], name: string, label: string, labels: Record<string, string> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) if (matches(s, name, labels) && s.labels[label] !== undefined) out[s.labels[label]] = (out[s.labels[label]] ?? 0) + s.value;
  return out;
}

/** GETs host:port + path; the status and body. */
export async function get(address: string, path: string): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(`http://${address}${path}`);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** Scrapes /metrics of a process. */
export async function scrape(address: string): Promise<Sample[]> {
  const r = await get(address, '/metrics');
  if (r.status !== 200) throw new Error(`GET ${address}/metrics: ${r.status} ${r.text.slice(0, 200)}`);
  return parseExposition(r.text);
}

/** Polls `check` until it returns a value (not undefined) or `ms` pass. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 15_000, describe?: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}${describe ? `\n${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
