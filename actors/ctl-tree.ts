/**
 * A supervision tree as the operator's `tree` view carries it (protocol/ctl.ts SupervisionNode):
 * the plain `Supervisor.inspect()` snapshot with state values flattened to text
 * ("connected.ready"), last errors as "Name: message", and bounded — at most
 * MAX_TREE_CHILDREN children per supervisor (the rest counted) and MAX_TREE_DEPTH levels.
 *
 * @example
 * supervisionView(tree.supervisor.inspect()).children.map((c) => `${c.id} ${c.status} ${c.restarts}`);
 */
import { MAX_TREE_CHILDREN, MAX_TREE_DEPTH, type SupervisionNode } from '../protocol/ctl.js';
import type { ChildInfo, SupervisorTree } from '../supervisors/index.js';

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * An xstate state value as text: "ready", {connected: 'ready'} → "connected.ready", parallel
 * regions joined with ", " in parentheses.
 *
 * @example
 * stateText({ connected: { reconciling: 'writing' } }); // "connected.reconciling.writing"
 */
export function stateText(value: unknown, depth = 0): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null || depth > 8) return '';
  if (typeof value !== 'object') return typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
  const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) => {
    const inner = stateText(v, depth + 1);
    return inner ? `${k}.${inner}` : k;
  });
  return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
}

function childView(c: ChildInfo, depth: number): SupervisionNode {
  const children = depth < MAX_TREE_DEPTH ? (c.children ?? []) : [];
  return {
    id: clip(c.id, 128),
    kind: c.type,
    status: c.status,
    strategy: c.strategy ?? '',
    restarts: c.restarts,
    state: clip(stateText(c.stateValue), 256),
    lastError: c.lastError ? clip(`${c.lastError.name}: ${c.lastError.message}`, 512) : '',
    lastErrorAtMs: c.lastError ? Math.max(0, Math.round(c.lastError.at)) : 0,
    dynamic: c.dynamic,
    children: children.slice(0, MAX_TREE_CHILDREN).map((x) => childView(x, depth + 1)),
    omittedChildren: Math.max(0, (c.children?.length ?? 0) - Math.min(children.length, MAX_TREE_CHILDREN)),
  };
}

/** The root supervisor and everything below it. */
export function supervisionView(tree: SupervisorTree): SupervisionNode {
  return {
    id: clip(tree.id, 128),
    kind: 'supervisor',
    status: tree.status,
    strategy: tree.strategy,
    restarts: tree.restarts,
    state: '',
    lastError: '',
    lastErrorAtMs: 0,
    dynamic: false,
    children: tree.children.slice(0, MAX_TREE_CHILDREN).map((c) => childView(c, 2)),
    omittedChildren: Math.max(0, tree.children.length - MAX_TREE_CHILDREN),
  };
}
