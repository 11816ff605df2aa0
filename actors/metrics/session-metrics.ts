/**
 * The hardware session's metrics (it calls these as a SessionObserver):
 *
 * - P4Runtime write results, one count per update, by op (insert, modify, delete) and status
 *   code (OK, or the per-update code the target gave; a Write that failed as a whole counts its
 *   updates under the call's code);
 * - reconcile duration (read back everything, diff, write the difference) and the entries each
 *   reconcile wrote, by kind (insert, modify, delete; retired = learned flows of removed
 *   endpoints);
 * - table occupancy: what the manager believes is programmed (its shadow of the target after
 *   the last reconcile or sync; default entries left out), per table and per action profile;
 * - learned connections per add-on-miss table, as of the session's last read of them (every
 *   reconcile, i.e. every resync period, and every sweep after an endpoint went away).
 *
 * Counting is per call: a Write's updates are tallied in plain integers and added to cached
 * children at most six times per batch; occupancy moves by the sync's change list, and is
 * recounted only when the whole shadow is (a reconcile, itself O(entries)).
 *
 * @example
 * const metrics = new SessionMetrics(registry, loadP4Info());
 * createActor(sessionLogic, { input: { …, observer: metrics } });
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { KIND_GROUP, KIND_MEMBER, KIND_TABLE, type Keyed, type WireEntity, type WireUpdate } from '../../p4/desired.js';
import type { P4Info } from '../../p4/p4info.js';
import { P4RuntimeError } from '../../p4/runtime-client.js';
import type { ReconcileOutcome, SessionObserver } from '../manager/session/session-io.js';
import { BUCKETS, PREFIX, RPC_CODE_NAMES, rpcCodeName } from './registry.js';

const OPS = ['insert', 'modify', 'delete'] as const;
const OP_INDEX: Readonly<Record<string, number>> = { INSERT: 0, MODIFY: 1, DELETE: 2 };

type Inc = (n: number) => void;
type SetValue = (n: number) => void;

export class SessionMetrics implements SessionObserver {
  private readonly writes: Counter<'op' | 'code'>;
  /** [op][code] → inc of the labelled child, made on first use. */
  private readonly writeIncs: (Inc | undefined)[][] = OPS.map(() => []);
  private readonly reconcileOk: (s: number) => void;
  private readonly reconcileFailed: (s: number) => void;
  private readonly entries: Record<'insert' | 'modify' | 'delete' | 'retired', Inc>;
  /** Per table id / action profile id: count and the gauge child that shows it. */
  private readonly tables = new Map<number, Slot>();
  private readonly members = new Map<number, Slot>();
  private readonly groups = new Map<number, Slot>();
  private readonly learned = new Map<number, Slot>();
  private readonly unknownTable: Slot;
  private readonly unknownProfile: { member: Slot; group: Slot };

  constructor(registry: Registry, info: P4Info) {
    this.writes = new Counter({
      name: `${PREFIX}p4_write_updates_total`,
      help: 'P4Runtime updates the manager wrote, by op (insert, modify, delete) and status code (OK, or the per-update code the target returned; a Write that failed as a whole counts its updates under the call\'s code).',
      labelNames: ['op', 'code'],
      registers: [registry],
    });
    for (const op of OPS) this.writes.inc({ op, code: 'OK' }, 0);
    const reconcile = new Histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: 'Full reconciles of the P4 target (read back every entry, member and group, diff with the desired state, write the difference), by result (ok, error).',
      labelNames: ['result'],
      buckets: [...BUCKETS.slow],
      registers: [registry],
    });
    reconcile.zero({ result: 'ok' });
    reconcile.zero({ result: 'error' });
    const ok = reconcile.labels({ result: 'ok' });
    const failed = reconcile.labels({ result: 'error' });
    this.reconcileOk = (s) => ok.observe(s);
    this.reconcileFailed = (s) => failed.observe(s);
    const written = new Counter({
      name: `${PREFIX}reconcile_entries_total`,
      help: 'Entities completed reconciles wrote, by kind: insert, modify, delete (drift or a wiped target repaired), retired (learned flows of endpoints no longer backed). Zero after a restart against an intact target.',
      labelNames: ['kind'],
      registers: [registry],
    });
    const incOf = (kind: string): Inc => {
      const child = written.labels({ kind });
      child.inc(0);
      return (n) => child.inc(n);
    };
    this.entries = { insert: incOf('insert'), modify: incOf('modify'), delete: incOf('delete'), retired: incOf('retired') };

    const occupancy = new Gauge({
      name: `${PREFIX}p4_table_entries`,
      help: 'Entries per P4 table as the manager believes them programmed (its shadow of the target after the last reconcile or sync; default entries not counted).',
      labelNames: ['table'],
      registers: [registry],
    });
    const profiles = new Gauge({
      name: `${PREFIX}p4_action_profile_entries`,
      help: 'Members and groups per action profile as the manager believes them programmed.',
      labelNames: ['profile', 'kind'],
      registers: [registry],
    });
    const learned = new Gauge({
      name: `${PREFIX}learned_connections`,
      help: 'Connections the data plane learned (add-on-miss entries) per table, as of the session\'s last read of them: every reconcile (the resync period) and every sweep after an endpoint went away.',
      labelNames: ['table'],
      registers: [registry],
    });
    const slot = (gauge: Gauge<string>, labels: Record<string, string>): Slot => {
      const child = gauge.labels(labels);
      child.set(0);
      return { count: 0, set: (n) => child.set(n) };
    };
    for (const t of info.tables) {
      if (t.addOnMiss) this.learned.set(t.id, slot(learned, { table: t.alias }));
      else this.tables.set(t.id, slot(occupancy, { table: t.alias }));
    }
    for (const p of info.actionProfiles) {
      this.members.set(p.id, slot(profiles, { profile: p.alias, kind: 'member' }));
      this.groups.set(p.id, slot(profiles, { profile: p.alias, kind: 'group' }));
    }
    // Ids the P4Info does not name (a bug elsewhere): shown as `other` once one is counted.
    const lazy = (gauge: Gauge<string>, labels: Record<string, string>): Slot => {
      let shown = false;
      return {
        count: 0,
        set: (n) => {
          if (n === 0 && !shown) return;
          shown = true;
          gauge.labels(labels).set(n);
        },
      };
    };
    this.unknownTable = lazy(occupancy, { table: 'other' });
    this.unknownProfile = { member: lazy(profiles, { profile: 'other', kind: 'member' }), group: lazy(profiles, { profile: 'other', kind: 'group' }) };
  }

  wrote(updates: readonly WireUpdate[], error?: unknown): void {
    if (error === undefined) {
      // The common case: every update OK. Three integers, at most three increments.
      let insert = 0;
      let modify = 0;
      for (const u of updates) {
        if (u.type === 'INSERT') insert++;
        else if (u.type === 'MODIFY') modify++;
      }
      const del = updates.length - insert - modify;
      if (insert) this.writeInc(0, 0)(insert);
      if (modify) this.writeInc(1, 0)(modify);
      if (del) this.writeInc(2, 0)(del);
      return;
    }
    const tally = new Map<number, number>(); // op * 32 + code → updates
    const details = error instanceof P4RuntimeError && error.details.length === updates.length ? error.details : undefined;
    const whole = error instanceof P4RuntimeError ? error.code : 2; // 2: UNKNOWN (no status at all)
    for (let i = 0; i < updates.length; i++) {
      const op = OP_INDEX[updates[i]!.type] ?? 0;
      const code = details ? (details[i]!.canonical_code ?? 2) : whole;
      const key = op * 32 + code;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    for (const [key, n] of tally) this.writeInc(key >> 5, key & 31)(n);
  }

  reconciled(seconds: number, outcome?: ReconcileOutcome): void {
    if (!outcome) {
      this.reconcileFailed(seconds);
      return;
    }
    this.reconcileOk(seconds);
    const { counts } = outcome;
    if (counts.insert) this.entries.insert(counts.insert);
    if (counts.modify) this.entries.modify(counts.modify);
    if (counts.delete) this.entries.delete(counts.delete);
    if (counts.retired) this.entries.retired(counts.retired);
    this.replaced(outcome.shadow);
    // Learned entries as read, less those this reconcile retired.
    for (const s of this.learned.values()) s.count = 0;
    for (const k of outcome.actual) {
      const slot = k.kind === KIND_TABLE ? this.learned.get(k.tableId) : undefined;
      if (slot) slot.count++;
    }
    for (const phase of outcome.plan.phases) {
      if (phase[0]?.type !== 'DELETE') continue;
      this.countLearned(
        phase.map((u) => u.entity),
        -1,
      );
    }
    for (const s of this.learned.values()) s.set(s.count);
  }

  synced(shadow: ReadonlyMap<string, Keyed>, updates: readonly (readonly [string, Keyed | undefined])[]): void {
    const touched = new Set<Slot>();
    for (const [key, next] of updates) {
      const prev = shadow.get(key);
      if (prev && !prev.isDefault) touched.add(this.move(prev, -1));
      if (next && !next.isDefault) touched.add(this.move(next, 1));
    }
    for (const s of touched) s.set(s.count);
  }

  replaced(shadow: ReadonlyMap<string, Keyed>): void {
    const all = this.occupancySlots();
    for (const s of all) s.count = 0;
    // O(entries), once per reconcile: entries of one table come in runs, so remember the last slot.
    let lastTable = -1;
    let last: Slot = this.unknownTable;
    for (const k of shadow.values()) {
      if (k.isDefault) continue;
      if (k.kind !== KIND_TABLE) {
        this.move(k, 1);
        continue;
      }
      if (k.tableId !== lastTable) {
        lastTable = k.tableId;
        last = this.tables.get(lastTable) ?? this.unknownTable;
      }
      last.count++;
    }
    for (const s of all) s.set(s.count);
  }

  swept(learned: readonly WireEntity[], retired: readonly WireEntity[]): void {
    for (const s of this.learned.values()) s.count = 0;
    this.countLearned(learned, 1);
    this.countLearned(retired, -1);
    for (const s of this.learned.values()) s.set(s.count);
  }

  private writeInc(op: number, code: number): Inc {
    const row = this.writeIncs[op]!;
    let inc = row[code];
    if (!inc) {
      const child = this.writes.labels({ op: OPS[op]!, code: code < RPC_CODE_NAMES.length ? rpcCodeName(code) : 'UNKNOWN' });
      inc = (n) => child.inc(n);
      row[code] = inc;
    }
    return inc;
  }

  /** Moves the count of the slot `k` belongs to by `by`; returns the slot. */
  private move(k: Keyed, by: number): Slot {
    let s: Slot;
    if (k.kind === KIND_MEMBER) s = this.members.get(profileOf(k.entity.action_profile_member)) ?? this.unknownProfile.member;
    else if (k.kind === KIND_GROUP) s = this.groups.get(profileOf(k.entity.action_profile_group)) ?? this.unknownProfile.group;
    else s = this.tables.get(k.tableId) ?? this.unknownTable;
    s.count += by;
    return s;
  }

  private occupancySlots(): Slot[] {
    return [...this.tables.values(), ...this.members.values(), ...this.groups.values(), this.unknownTable, this.unknownProfile.member, this.unknownProfile.group];
  }

  private countLearned(entities: readonly WireEntity[], by: number): void {
    let lastTable: unknown = undefined;
    let last: Slot | undefined;
    for (const e of entities) {
      const t = e.table_entry as { table_id?: unknown } | undefined;
      if (!t) continue;
      if (t.table_id !== lastTable) {
        lastTable = t.table_id;
        last = this.learned.get(Number(t.table_id));
      }
      if (last) last.count += by;
    }
  }
}

interface Slot {
  count: number;
  readonly set: SetValue;
}

function profileOf(m: unknown): number {
  return Number((m as { action_profile_id?: unknown } | undefined)?.action_profile_id ?? 0);
}
