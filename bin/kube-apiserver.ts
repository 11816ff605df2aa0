#!/usr/bin/env node
/**
 * The Kubernetes API server stand-in (simulations/kube/server.ts) as a process.
 *
 *   kube-apiserver [--listen 127.0.0.1:6443] [--admin-listen 127.0.0.1:0] [--history 1000]
 *                  [--bookmark-interval-ms 1000] [--watch-timeout-s 1800] [--expired-watch event|http]
 *                  [--log-level info]
 *
 * Prints `{"ready":true,"port":N[,"adminPort":M]}` on stdout once listening, whatever the log
 * level. The admin listener serves the same API but no knob affects it (tests change objects
 * through it while the main listener is away).
 */
import { parseArgs } from 'node:util';
import { createLogs, LOG_LEVELS, type LogLevel } from '../core/logger.js';
import { KubeApiStandin } from '../simulations/kube/server.js';

function fail(message: string): never {
  console.error(`kube-apiserver: ${message}`);
  process.exit(2);
}

function hostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535) fail(`${flag} must be HOST:PORT, not "${text}"`);
  return { host: m[1]!, port };
}

function positive(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) fail(`${flag} must be an integer ≥ ${min}`);
  return n;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      listen: { type: 'string', default: '127.0.0.1:6443' },
      'admin-listen': { type: 'string' },
      history: { type: 'string', default: '1000' },
      'bookmark-interval-ms': { type: 'string', default: '1000' },
      'watch-timeout-s': { type: 'string', default: '1800' },
      'expired-watch': { type: 'string', default: 'event' },
      'log-level': { type: 'string', default: 'info' },
    },
  }));
} catch (e) {
  fail((e as Error).message);
}
const level = values['log-level'] as LogLevel;
if (!LOG_LEVELS.includes(level)) fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
const expired = values['expired-watch'];
if (expired !== 'event' && expired !== 'http') fail('--expired-watch must be event or http');
const main = hostPort(values.listen, '--listen');
const admin = values['admin-listen'] === undefined ? undefined : hostPort(values['admin-listen'], '--admin-listen');

const log = createLogs({ level }, 'kube-apiserver').for('standin');
const api = new KubeApiStandin({
  historySize: positive(values.history, '--history'),
  bookmarkIntervalMs: positive(values['bookmark-interval-ms'], '--bookmark-interval-ms', 10),
  defaultWatchTimeoutS: positive(values['watch-timeout-s'], '--watch-timeout-s'),
  expiredWatch: expired,
  log: (message, fields) => log.info(fields ?? {}, message),
});
try {
  const port = await api.listen(main.host, main.port);
  const adminPort = admin ? await api.listenAdmin(admin.host, admin.port) : undefined;
  log.info({ port, adminPort }, 'API server stand-in listening');
  // A line a launcher can wait for, whatever the log level.
  console.log(JSON.stringify(adminPort === undefined ? { ready: true, port } : { ready: true, port, adminPort }));
} catch (e) {
  log.fatal({ err: e }, 'cannot listen');
  process.exit(1);
}

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  void api.close().then(() => process.exit(0));
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
