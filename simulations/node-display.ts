/**
 * What `npm start` shows: one line per log event of the node's processes and per heartbeat seen
 * on the bus, aligned and coloured when the terminal supports it.
 */
import { formatWithOptions } from 'node:util';
import type { Heartbeat } from '../protocol/node.js';
import type { LogLine } from './processes.js';

const useColour = process.stdout.isTTY && !process.env.NO_COLOR;
const colours: Record<string, string> = { manager: '36', agent: '35', nats: '33', warn: '33', error: '31', dim: '2' };

export function paint(text: string, colour: string): string {
  return useColour ? `\x1b[${colours[colour] ?? colour}m${text}\x1b[0m` : text;
}

function time(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

const SKIP = new Set(['level', 'time', 'pid', 'name', 'msg', 'module', 'hostname']);

/** Formats one log line of a process. */
export function formatLog(process: string, line: LogLine | string): string {
  if (typeof line === 'string') return `${time(Date.now())} ${paint(process.padEnd(7), process)} ${line}`;
  const extra = Object.entries(line)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : formatWithOptions({ breakLength: Infinity, depth: 2 }, '%j', v)}`)
    .join(' ');
  const level = line.level >= 50 ? 'error' : line.level >= 40 ? 'warn' : '';
  const msg = level ? paint(line.msg, level) : line.msg;
  const when = typeof line.time === 'string' ? line.time.slice(11, 23) : time(Date.now());
  return `${when} ${paint(process.padEnd(7), process)} ${paint(String(line.module ?? '').padEnd(10), 'dim')} ${msg}${extra ? '  ' + paint(extra, 'dim') : ''}`;
}

/** Formats one heartbeat seen on the bus. */
export function formatHeartbeat(hb: Heartbeat): string {
  const peer = hb.role === 'manager' ? 'agent' : 'manager';
  return `${time(hb.sentAtMs)} ${paint('♥', hb.role)} ${paint(hb.role.padEnd(7), hb.role)} → ${peer.padEnd(7)} seq ${String(hb.seq).padStart(4)}  instance ${hb.instanceId}  revision ${hb.stateRevision}`;
}
