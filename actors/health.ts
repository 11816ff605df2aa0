/**
 * Health endpoints of a process (config `health.listen`, loopback by default): plain HTTP, no
 * secrets in any answer — only the role, the node, the instance id, each top-level child's
 * status and the role's readiness checks.
 *
 *   GET /healthz  200 while the tree is starting or running (the process is worth keeping);
 *                 503 once it failed or is stopping (a liveness probe restarts it).
 *   GET /readyz   200 when the tree runs, every top-level child runs and the role's readiness
 *                 check (if given) says ready — the manager: leader, primary, reconciled; the
 *                 agent: pool prepared, manager answering. 503 otherwise, with a `reason`
 *                 (a readiness probe routes nothing to it meanwhile; a standby manager is 503
 *                 here yet 200 on /healthz).
 *   GET /metrics  the process's Prometheus metrics (text format 0.0.4), when given a registry.
 *
 * @example
 * const health = await startHealth({ listen: '127.0.0.1:9301', supervisor, role: 'agent', node, instanceId, logger,
 *   metrics: observability.registry, readiness: () => observability.readiness() });
 * await health.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Supervisor } from '../supervisors/index.js';
import type { Readiness } from './metrics/observability.js';

/** What /metrics serves: a prom-client Registry fits. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface HealthOptions {
  /** host:port; port 0 picks a free one. */
  readonly listen: string;
  readonly supervisor: Supervisor;
  readonly role: string;
  readonly node: string;
  readonly instanceId: string;
  readonly logger: Logger;
  /** Served on GET /metrics (404 without). */
  readonly metrics?: MetricsSource;
  /** The role's own readiness, checked after the tree's. */
  readonly readiness?: () => Readiness;
}

export interface HealthServer {
  /** The bound address, host:port. */
  readonly address: string;
  close(): Promise<void>;
}

/** Splits "host:port" (an IPv6 host in brackets). */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Why the tree is not ready: its own status, or the first child that does not run. */
function treeReason(status: string, children: readonly { id: string; status: string }[]): string {
  if (status !== 'running') return `the supervision tree is ${status}`;
  const child = children.find((c) => c.status !== 'running');
  return child ? `child ${child.id} is ${child.status}` : 'not running';
}

export async function startHealth(options: HealthOptions): Promise<HealthServer> {
  const where = parseListen(options.listen);
  if (!where) throw new Error(`health.listen "${options.listen}" is not host:port`);
  const { supervisor, role, node, instanceId } = options;

  const answer = (res: ServerResponse, code: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { error: 'method not allowed' });
    const path = (req.url ?? '/').split('?')[0];
    const status = supervisor.status;
    const children = supervisor.whichChildren().map((c) => ({ id: c.id, status: c.status }));
    const base = { role, node, instanceId, status };
    if (path === '/healthz') {
      const alive = status === 'starting' || status === 'running';
      return answer(res, alive ? 200 : 503, { ...base, ok: alive });
    }
    if (path === '/readyz') {
      const treeReady = status === 'running' && children.every((c) => c.status === 'running');
      const role = options.readiness?.();
      const ready = treeReady && (role?.ready ?? true);
      const reason = !treeReady ? treeReason(status, children) : role?.ready === false ? role.reason : undefined;
      return answer(res, ready ? 200 : 503, { ...base, ok: ready, ...(reason ? { reason } : {}), children, ...(role?.checks ? { checks: role.checks } : {}) });
    }
    if (path === '/metrics' && options.metrics) {
      const source = options.metrics;
      void source.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': source.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        (e: unknown) => {
          options.logger.error({ err: e }, 'cannot collect metrics');
          answer(res, 500, { error: 'cannot collect metrics' });
        },
      );
      return;
    }
    return answer(res, 404, { error: 'not found', paths: ['/healthz', '/readyz', ...(options.metrics ? ['/metrics'] : [])] });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const address = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  options.logger.info({ address }, 'health endpoints listening');
  let closing: Promise<void> | undefined;
  return {
    address,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
