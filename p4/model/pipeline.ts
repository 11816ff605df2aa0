/**
 * The behavioural model of k8s_dp (PIPELINE.md), driven by its P4Info: the packet path of
 * Datapath plus a P4Runtime-shaped control plane (write/read of table entries, action-profile
 * members and groups, with P4Runtime status codes), idle ageing of learned connections on an
 * injected clock, flow events and counters.
 *
 * @example
 * const p = new Pipeline(loadP4Info(), { clock, expiryMs: [86_400_000, 120_000, 10_000] });
 * const s = p.insert({ tableEntry: { tableId, match, action } });   // { code: 0, message: '' }
 * const port = p.process(2, frame, frame.length, out);              // forward or drop (-1)
 * p.age();                                                          // expire idle learned flows
 */
import { err, ok, type Result } from '../../core/result.js';
import type { P4Info } from '../p4info.js';
import { Ager } from './ageing.js';
import { Datapath } from './datapath.js';
import { DROP_ETHERTYPE, DROP_NONE, DROP_REASONS, FLOW_AGED, PARSER_ERRORS, type DropReason, type PipelineOptions } from './outcomes.js';
import type { Entity, TableEntry, Update } from './entities.js';
import type { ExactTable } from './exact-table.js';
import { ACTIONS, DEFAULT_ACTIONS, KEYS, LB_SELECTOR, TABLES } from './names.js';
import { Code, status, type Status } from './status.js';
import { entryAt, readEntries, writeEntry } from './table-writes.js';

/** Learned entries one age() call visits at most, by default (about a millisecond of work). */
export const DEFAULT_AGE_BUDGET = 65_536;

export interface TableStats {
  readonly name: string;
  readonly alias: string;
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly learned: number;
  readonly size: number;
}

export interface PipelineStats {
  readonly packets: number;
  readonly dropped: number;
  readonly parserErrors: number;
  readonly unknownEthertype: number;
  readonly drops: Readonly<Record<DropReason, number>>;
  /** In TABLE_APPLY_ORDER. */
  readonly tables: readonly TableStats[];
  readonly learned: number;
  readonly learnFailed: number;
  readonly aged: number;
  readonly removedByRst: number;
  readonly members: number;
  readonly groups: number;
}

export class Pipeline extends Datapath {
  readonly info: P4Info;
  aged = 0;
  private readonly byId: Map<number, ExactTable>;
  private readonly ager: Ager;

  constructor(info: P4Info, options: PipelineOptions = {}) {
    const problem = checkP4Info(info);
    if (problem) throw new Error(`the P4Info does not fit the k8s_dp model: ${problem}`);
    super(info, options);
    this.info = info;
    this.byId = new Map(this.tables.map((t) => [t.id, t]));
    this.ager = new Ager([this.tFwd, this.tRev]);
  }

  /** One P4Runtime update. Never throws: a bad update (even a malformed object) gets its status. */
  write(update: Update): Status {
    try {
      const { type, entity } = update;
      if (type !== 'INSERT' && type !== 'MODIFY' && type !== 'DELETE') return status(Code.INVALID_ARGUMENT, `unknown update type ${String(type)}`);
      if (typeof entity !== 'object' || entity === null) return status(Code.INVALID_ARGUMENT, 'no entity');
      if ('tableEntry' in entity && entity.tableEntry) {
        const t = this.byId.get(entity.tableEntry.tableId);
        if (!t) return status(Code.INVALID_ARGUMENT, `unknown table id ${entity.tableEntry.tableId}`);
        return writeEntry(t, t === this.tLb ? this.selector : undefined, type, entity.tableEntry);
      }
      if ('member' in entity && entity.member) {
        if (entity.member.profileId !== this.selector.id) return status(Code.INVALID_ARGUMENT, `unknown action profile id ${entity.member.profileId}`);
        return this.selector.write(type, entity.member);
      }
      if ('group' in entity && entity.group) {
        if (entity.group.profileId !== this.selector.id) return status(Code.INVALID_ARGUMENT, `unknown action profile id ${entity.group.profileId}`);
        return this.selector.writeGroup(type, entity.group);
      }
      return status(Code.INVALID_ARGUMENT, 'empty entity');
    } catch (thrown) {
      return status(Code.INTERNAL, `write failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`);
    }
  }

  insert(entity: Entity): Status {
    return this.write({ type: 'INSERT', entity });
  }

  modify(entity: Entity): Status {
    return this.write({ type: 'MODIFY', entity });
  }

  delete(entity: Entity): Status {
    return this.write({ type: 'DELETE', entity });
  }

  /**
   * Reads entities: a table entry with tableId 0 reads every table, an empty match a whole table,
   * a full match one entry; a member/group id of 0 reads them all. Learned entries come back
   * with `learned: true` (data-plane state, not the controller's intent).
   */
  read(entity: Entity): Result<Entity[], Status> {
    if ('tableEntry' in entity) {
      const { tableId, match = [] } = entity.tableEntry;
      const tables = tableId === 0 ? this.tables : [this.byId.get(tableId)].filter((t) => t !== undefined);
      if (tables.length === 0) return err(status(Code.INVALID_ARGUMENT, `unknown table id ${tableId}`));
      if (tableId === 0 && match.length > 0) return err(status(Code.INVALID_ARGUMENT, 'a match needs a table id'));
      const out: Entity[] = [];
      for (const t of tables) {
        const r = readEntries(t, t === this.tLb ? this.selector : undefined, match, this.now);
        if (!Array.isArray(r)) return err(r);
        for (const tableEntry of r) out.push({ tableEntry });
      }
      return ok(out);
    }
    const x = 'member' in entity ? entity.member : entity.group;
    if (x.profileId !== 0 && x.profileId !== this.selector.id) return err(status(Code.INVALID_ARGUMENT, `unknown action profile id ${x.profileId}`));
    if ('member' in entity) return ok(this.selector.readMembers(entity.member.memberId).map((member) => ({ member })));
    return ok(this.selector.readGroups(entity.group.groupId).map((group) => ({ group })));
  }

  /** The entry at index `entry` of a table (e.g. from a flow event), or undefined. */
  entryAt(tableId: number, entry: number): TableEntry | undefined {
    const t = this.byId.get(tableId);
    if (!t?.live(entry)) return undefined;
    return entryAt(t, t === this.tLb ? this.selector : undefined, entry, this.now);
  }

  /** Sets the time packets are stamped with (default: the clock's now). */
  setTime(now: number = this.clock.now()): void {
    this.now = now;
  }

  /** The model's current time (ms). */
  get time(): number {
    return this.now;
  }

  /**
   * Sets the time and expires idle learned entries: at most `budget` visited per call (so it never
   * stalls), all of them when the budget covers them. Returns how many expired (FLOW_AGED events).
   */
  age(now: number = this.clock.now(), budget = DEFAULT_AGE_BUDGET): number {
    this.now = now;
    const n = this.ager.run(now, budget, this.expiry, (t, e) => this.removeLearned(t, e, FLOW_AGED));
    this.aged += n;
    return n;
  }

  /** A table by fully-qualified name or alias. */
  table(name: string): ExactTable {
    const t = this.tables.find((x) => x.name === name || x.alias === name);
    if (!t) throw new Error(`no table ${name}`);
    return t;
  }

  /** A snapshot of the counters. */
  stats(): PipelineStats {
    const drops = Object.fromEntries(DROP_REASONS.map((r, i) => [r, this.drops[i]!])) as Record<DropReason, number>;
    let dropped = 0;
    for (let i = 1; i < this.drops.length; i++) dropped += this.drops[i]!;
    return {
      packets: this.packets,
      dropped,
      parserErrors: PARSER_ERRORS.reduce((n, r) => n + this.drops[r]!, 0),
      unknownEthertype: this.drops[DROP_ETHERTYPE]!,
      drops,
      tables: this.tables.map((t, i) => ({ name: t.name, alias: t.alias, hits: this.hits[i]!, misses: this.misses[i]!, entries: t.count, learned: t.learnedCount, size: t.size })),
      learned: this.learned,
      learnFailed: this.learnFailed,
      aged: this.aged,
      removedByRst: this.removedByRst,
      members: this.selector.memberCount,
      groups: this.selector.groupCount,
    };
  }

  /** Drop reason of the last packet, or undefined if it was forwarded. */
  lastDropReason(): DropReason | undefined {
    return this.lastDrop === DROP_NONE ? undefined : DROP_REASONS[this.lastDrop];
  }
}

/**
 * Whether a P4Info has everything the model gives meaning to (tables, key fields, actions,
 * parameters, the selector, const default actions). Returns the first problem, or undefined.
 *
 * @example
 * checkP4Info(loadP4Info()); // undefined
 */
export function checkP4Info(info: P4Info): string | undefined {
  const keys: Record<string, readonly string[]> = {
    [TABLES.arpToPort]: KEYS.arpToPort,
    [TABLES.serviceLb]: KEYS.serviceLb,
    [TABLES.ctForward]: KEYS.ctForward,
    [TABLES.ctReverse]: KEYS.ctReverse,
    [TABLES.ipv4ToPort]: KEYS.ipv4ToPort,
  };
  for (const [name, fields] of Object.entries(keys)) {
    const t = info.tables.find((x) => x.name === name);
    if (!t) return `no table ${name}`;
    for (const f of fields) {
      const m = t.matchFields.find((x) => x.name === f);
      if (!m) return `table ${name} has no key field ${f}`;
      if (m.matchType !== 'EXACT' || m.bitwidth > 32) return `key field ${f} of ${name} must be exact and at most 32 bits`;
    }
    if (t.matchFields.length !== fields.length) return `table ${name} has ${t.matchFields.length} key fields, the model knows ${fields.length}`;
    const def = info.action(t.constDefaultActionId);
    if (def?.name !== DEFAULT_ACTIONS[name]) return `table ${name} must have the const default action ${DEFAULT_ACTIONS[name]}`;
  }
  const profile = info.actionProfiles.find((p) => p.name === LB_SELECTOR);
  if (!profile?.withSelector) return `no action selector ${LB_SELECTOR}`;
  const params: [string, string][] = [
    [ACTIONS.setPort, 'port'],
    [ACTIONS.setDestMacPort, 'port'],
    [ACTIONS.setDestMacPort, 'dmac'],
    [ACTIONS.lbSetEndpoint, 'ep_ip'],
    [ACTIONS.lbSetEndpoint, 'ep_port'],
    [ACTIONS.ctDnat, 'ep_ip'],
    [ACTIONS.ctDnat, 'ep_port'],
    [ACTIONS.ctSnat, 'vip'],
    [ACTIONS.ctSnat, 'vport'],
  ];
  for (const [a, p] of params) {
    const action = info.actions.find((x) => x.name === a);
    if (!action?.params.some((x) => x.name === p)) return `no action ${a} with parameter ${p}`;
  }
  const dmac = info.actions.find((x) => x.name === ACTIONS.setDestMacPort)?.params.find((x) => x.name === 'dmac');
  if (dmac && dmac.bitwidth !== 48) return 'dmac must be 48 bits';
  return undefined;
}
