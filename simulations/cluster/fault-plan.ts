/**
 * The fault schedule of a run, from a seed: every chosen kind at least once, more faults on
 * bigger clusters (about one per node every 8 s), spread over the window from 6 s (the cluster has
 * its first pods and flows) to 1 s before the end, each with a seeded duration, node and detail
 * (which process to stall, black-hole or reset, the message-fault rates, the injected error
 * code). The same kind never overlaps itself on one node. Pure: seed in, events out.
 *
 * @example
 * const faults = buildFaultPlan(seededRandom(7), nodes, 40_000, ['kill-manager', 'bus-drop']);
 * faults[0]; // { atMs: 6400, node: 'node-2', kind: 'bus-drop', durationMs: 3100, detail: { dropPerMille: 310 } }
 */
import type { Random } from '../../core/random.js';
import { CLUSTER, FAULT_SPECS, type FaultKind } from './fault-kinds.js';
import type { FaultEvent, NodeSpec } from './plan-types.js';

const WINDOW_START_MS = 6000;
const TAIL_MS = 1000;

function shuffle<T>(r: Random, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** What exactly a fault does, seeded. */
function detailOf(r: Random, kind: FaultKind, node: NodeSpec | undefined): Record<string, string | number> {
  switch (kind) {
    case 'kill-manager':
      // Mostly the leader (the interesting one); with two managers, sometimes the standby.
      return { which: (node?.managers ?? 1) > 1 && r.next() < 0.25 ? 'standby' : 'leader' };
    case 'stall':
      return { process: (['manager', 'agent', 'target'] as const)[r.int(0, 2)]! };
    case 'partition-agent-nats':
    case 'partition-manager-target':
      return { mode: r.next() < 0.5 ? 'blackhole' : 'reset' };
    case 'bus-drop':
      return { dropPerMille: r.int(200, 500) };
    case 'bus-duplicate':
      return { duplicatePerMille: r.int(300, 700) };
    case 'bus-reorder':
      return { reorderPerMille: r.int(300, 700) };
    case 'bus-delay':
      return { delayMs: r.int(100, 600), jitterMs: r.int(0, 200) };
    case 'p4-slow-writes':
      return { writeDelayMs: r.int(100, 800) };
    case 'p4-write-failures':
      return { failPerMille: r.int(200, 700), code: r.next() < 0.5 ? 8 : 14, seed: r.int(1, 1_000_000) };
    case 'kube-watch-drop':
      return { mode: r.next() < 0.5 ? 'reset' : 'close' };
    case 'kv-loss':
      return { what: (['intent', 'lease', 'both'] as const)[r.int(0, 2)]! };
    case 'clock-jump': {
      const who = (node?.managers ?? 1) > 1 ? (['leader', 'standby', 'agent'] as const)[r.int(0, 2)]! : (['leader', 'agent'] as const)[r.int(0, 1)]!;
      return { process: who, offsetMs: (r.next() < 0.5 ? -1 : 1) * r.int(2000, 20_000) };
    }
    default:
      return {};
  }
}

/** The schedule, sorted by time. `kinds` empty → no faults. */
export function buildFaultPlan(r: Random, nodes: readonly NodeSpec[], durationMs: number, kinds: readonly FaultKind[]): FaultEvent[] {
  if (kinds.length === 0) return [];
  const start = Math.min(WINDOW_START_MS, Math.floor(durationMs / 4));
  const end = durationMs - TAIL_MS;
  const window = end - start;
  if (window <= 0) return [];
  const count = Math.max(kinds.length, Math.round(((window / 1000) * nodes.length) / 8));
  const sequence = shuffle(r, [...kinds]);
  while (sequence.length < count) sequence.push(kinds[r.int(0, kinds.length - 1)]!);
  const slot = window / count;
  const events: FaultEvent[] = [];
  sequence.forEach((kind, i) => {
    const spec = FAULT_SPECS[kind];
    const atMs = Math.round(start + (i + r.next() * 0.8) * slot);
    const durationMsOf = spec.maxMs === 0 ? 0 : Math.max(spec.minMs / 2, Math.min(r.int(spec.minMs, spec.maxMs), end - atMs));
    const busy = (node: string): boolean =>
      events.some((e) => e.node === node && e.kind === kind && atMs <= e.atMs + e.durationMs + 500 && e.atMs <= atMs + durationMsOf + 500);
    let node: NodeSpec | undefined;
    if (spec.scope === 'node') {
      const candidates = shuffle(r, [...nodes]).filter((n) => !busy(n.name));
      node = candidates[0];
      if (!node) return;
    } else if (busy(CLUSTER)) {
      return;
    }
    events.push({ atMs, node: node?.name ?? CLUSTER, kind, durationMs: Math.round(durationMsOf), detail: detailOf(r, kind, node) });
  });
  return events.sort((a, b) => a.atMs - b.atMs);
}
