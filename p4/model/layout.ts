/**
 * How P4Info objects are laid out in the model's typed arrays: key fields packed into 32-bit
 * words (a field never straddles a word; fields wider than 32 bits take whole words), and action
 * parameters one after another in words. Also the validation of a P4Runtime-shaped action
 * against a table's (or an action profile's) actions, writing its parameters into words.
 *
 * @example
 * const fields = layoutFields(info.tableByName('MainControlImpl.ct_forward').matchFields);
 * keyWords(fields); // 4: [src] [dst] [proto | sport << 8] [dport]
 */
import type { P4ActionRef, P4Info, P4MatchField } from '../p4info.js';
import { canonical, decodeInto, wordsFor } from './bytestring.js';
import type { ActionParam, TableAction } from './entities.js';
import { ACTION_SCOPE_CODE, Code, status, type Status } from './status.js';

export interface FieldLayout {
  readonly id: number;
  readonly name: string;
  readonly bitwidth: number;
  /** First word of the field in the key. */
  readonly word: number;
  /** Bit offset inside the word (fields of at most 32 bits). */
  readonly shift: number;
  readonly nWords: number;
}

export interface ParamLayout {
  readonly id: number;
  readonly name: string;
  readonly bitwidth: number;
  readonly offset: number;
  readonly nWords: number;
}

export interface ActionLayout {
  readonly id: number;
  readonly name: string;
  readonly scope: P4ActionRef['scope'];
  readonly params: readonly ParamLayout[];
  readonly paramWords: number;
}

/** Packs the fields in order: a field of ≤ 32 bits goes into the current word if it fits. */
export function layoutFields(fields: readonly P4MatchField[]): FieldLayout[] {
  const out: FieldLayout[] = [];
  let word = 0;
  let used = 0;
  for (const f of fields) {
    if (f.bitwidth > 32) {
      if (used > 0) word++;
      out.push({ id: f.id, name: f.name, bitwidth: f.bitwidth, word, shift: 0, nWords: wordsFor(f.bitwidth) });
      word += wordsFor(f.bitwidth);
      used = 0;
      continue;
    }
    if (used + f.bitwidth > 32) {
      word++;
      used = 0;
    }
    out.push({ id: f.id, name: f.name, bitwidth: f.bitwidth, word, shift: used, nWords: 1 });
    used += f.bitwidth;
  }
  return out;
}

export function keyWords(fields: readonly FieldLayout[]): number {
  const last = fields[fields.length - 1];
  return last === undefined ? 0 : last.word + last.nWords;
}

/** The actions of a table (its action refs, in P4Info order) with their parameter offsets. */
export function layoutActions(info: P4Info, refs: readonly P4ActionRef[]): ActionLayout[] {
  return refs.map((ref) => {
    const a = info.action(ref.id);
    if (!a) throw new Error(`action id ${ref.id} is referenced but not defined in the P4Info`);
    let offset = 0;
    const params = a.params.map((p) => {
      const l = { id: p.id, name: p.name, bitwidth: p.bitwidth, offset, nWords: wordsFor(p.bitwidth) };
      offset += l.nWords;
      return l;
    });
    return { id: a.id, name: a.name, scope: ref.scope, params, paramWords: offset };
  });
}

export function maxParamWords(actions: readonly ActionLayout[]): number {
  return actions.reduce((m, a) => Math.max(m, a.paramWords), 0);
}

/**
 * Validates a match-entry (or member) action and writes its parameters to out[offset..].
 * Returns the action's index in `actions`, or a Status.
 */
export function decodeAction(actions: readonly ActionLayout[], action: TableAction, out: Uint32Array, offset: number, where: string): number | Status {
  const index = actions.findIndex((a) => a.id === action.actionId);
  const layout = actions[index];
  if (layout === undefined) return status(Code.INVALID_ARGUMENT, `action id ${action.actionId} is not an action of ${where}`);
  if (layout.scope === 'DEFAULT_ONLY') return status(ACTION_SCOPE_CODE, `action ${layout.name} is DEFAULT_ONLY in ${where}`);
  const problem = decodeParams(layout, action.params ?? [], out, offset);
  return problem ?? index;
}

function decodeParams(layout: ActionLayout, params: readonly ActionParam[], out: Uint32Array, offset: number): Status | undefined {
  const seen = new Set<number>();
  for (const p of params) {
    const pl = layout.params.find((x) => x.id === p.paramId);
    if (!pl) return status(Code.INVALID_ARGUMENT, `action ${layout.name} has no parameter id ${p.paramId}`);
    if (seen.has(p.paramId)) return status(Code.INVALID_ARGUMENT, `parameter ${pl.name} of ${layout.name} given twice`);
    seen.add(p.paramId);
    if (!(p.value instanceof Uint8Array)) return status(Code.INVALID_ARGUMENT, `parameter ${pl.name} of ${layout.name} has no value`);
    if (!decodeInto(p.value, pl.bitwidth, out, offset + pl.offset, pl.nWords)) {
      return status(Code.OUT_OF_RANGE, `parameter ${pl.name} of ${layout.name}: ${p.value.length === 0 ? 'empty bytestring' : `value wider than ${pl.bitwidth} bits`}`);
    }
  }
  if (seen.size !== layout.params.length) return status(Code.INVALID_ARGUMENT, `action ${layout.name} needs ${layout.params.length} parameter(s), got ${seen.size}`);
  return undefined;
}

/** The P4Runtime form of a stored action (canonical bytestrings). */
export function encodeAction(layout: ActionLayout, words: Uint32Array, offset: number): TableAction {
  return {
    actionId: layout.id,
    params: layout.params.map((p) => ({ paramId: p.id, value: canonical(words, offset + p.offset, p.nWords) })),
  };
}
