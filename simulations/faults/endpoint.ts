/**
 * Where a fault proxy listens and where it connects: a TCP host and port, or a Unix socket path
 * (gRPC to the P4 target uses either). Checked before anything is bound or dialled.
 *
 * @example
 * const r = checkEndpoint({ host: '127.0.0.1', port: 0 }, 'listen', true);
 * if (r.ok) net.connect(connectOptions(r.value));
 */
import { isIP } from 'node:net';
import { err, ok, type Result } from '../../core/result.js';
import { FaultError } from './fault-error.js';

export type Endpoint = { readonly host: string; readonly port: number } | { readonly path: string };

/** `host:port` (`[::1]:port` for IPv6) or the socket path. */
export function endpointText(e: Endpoint): string {
  if ('path' in e) return e.path;
  return isIP(e.host) === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** A well-formed endpoint; port 0 (any free one) only where `anyPort` allows it (listening). */
export function checkEndpoint(e: unknown, field: string, anyPort: boolean): Result<Endpoint, FaultError> {
  if (typeof e !== 'object' || e === null) return err(new FaultError('INVALID_ARGUMENT', `${field}: { host, port } or { path } expected`, field));
  const o = e as Record<string, unknown>;
  if ('path' in o) {
    if (typeof o.path !== 'string' || o.path.length === 0 || o.path.includes('\0')) return err(new FaultError('INVALID_ARGUMENT', `${field}.path: a non-empty socket path expected`, `${field}.path`));
    // sun_path holds 107 bytes and a terminator on Linux.
    if (Buffer.byteLength(o.path) > 107) return err(new FaultError('INVALID_ARGUMENT', `${field}.path: longer than a Unix socket path may be (107 bytes)`, `${field}.path`));
    return ok({ path: o.path });
  }
  if (typeof o.host !== 'string' || o.host.length === 0 || /[\s/]/.test(o.host)) return err(new FaultError('INVALID_ARGUMENT', `${field}.host: a host name or address expected`, `${field}.host`));
  const min = anyPort ? 0 : 1;
  if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < min || o.port > 65535) {
    return err(new FaultError('INVALID_ARGUMENT', `${field}.port: an integer in ${min}..65535 expected`, `${field}.port`));
  }
  return ok({ host: o.host, port: o.port });
}
