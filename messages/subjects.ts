/**
 * The subject scheme. Every subject lives under one node's namespace, so NATS permissions can
 * confine each identity to its own node:
 *
 *   infra.v1.<node>.manager.<op>   requests to the node's manager
 *   infra.v1.<node>.agent.<op>     requests to the node's agent
 *   infra.v1.<node>.events.<kind>  heartbeats and change notices
 *   infra.v1.<node>.ctl.<op>       operator queries (offloadctl)
 *
 * Node names are DNS-1123 subdomains and may contain dots, which NATS treats as token
 * separators; a dot becomes '_' (never valid in a node name), so the mapping is reversible.
 *
 * @example
 * subjects.manager('node-1', 'pod.add'); // "infra.v1.node-1.manager.pod.add"
 */
import { nodeName } from './validate.js';

export const SUBJECT_ROOT = 'infra.v1';
export const SIDES = ['manager', 'agent', 'events', 'ctl'] as const;
export type Side = (typeof SIDES)[number];

const OP = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*$/;

/** The subject token for a node name (validated; throws ValidationError for a bad name). */
export function nodeToken(node: string): string {
  return nodeName(node, 'node').replaceAll('.', '_');
}

/** Inverse of nodeToken. */
export function nodeFromToken(token: string): string {
  return token.replaceAll('_', '.');
}

/** `infra.v1.<node>.<side>` — the prefix a process serves with `<prefix>.>`. */
export function prefix(node: string, side: Side): string {
  return `${SUBJECT_ROOT}.${nodeToken(node)}.${side}`;
}

function subject(node: string, side: Side, op: string): string {
  if (!OP.test(op)) throw new Error(`invalid operation name "${op}"`);
  return `${prefix(node, side)}.${op}`;
}

export const subjects = {
  manager: (node: string, op: string): string => subject(node, 'manager', op),
  agent: (node: string, op: string): string => subject(node, 'agent', op),
  events: (node: string, kind: string): string => subject(node, 'events', kind),
  ctl: (node: string, op: string): string => subject(node, 'ctl', op),
  /** Every event of every node, for observers such as the local node's display. */
  allEvents: (kind = '>'): string => `${SUBJECT_ROOT}.*.events.${kind}`,
};

export interface ParsedSubject {
  readonly node: string;
  readonly side: Side;
  readonly op: string;
}

/** Splits a subject of the scheme into its parts; undefined for anything else. */
export function parseSubject(text: string): ParsedSubject | undefined {
  const parts = text.split('.');
  if (parts.length < 5 || `${parts[0]}.${parts[1]}` !== SUBJECT_ROOT) return undefined;
  const side = parts[3] as Side;
  if (!SIDES.includes(side)) return undefined;
  const op = parts.slice(4).join('.');
  if (!OP.test(op)) return undefined;
  return { node: nodeFromToken(parts[2]!), side, op };
}

/** `infra.v1.<node>.ctl.<role>` — where one process of the node serves operator queries. */
export function ctlPrefix(node: string, role: string): string {
  if (!OP.test(role)) throw new Error(`invalid role "${role}"`);
  return `${prefix(node, 'ctl')}.${role}`;
}
