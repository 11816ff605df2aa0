/**
 * The P4Runtime wire, for the target: the grpc-js service definition built from our protobufjs
 * types (requests prechecked for size and depth before decoding, so hostile bytes get a status,
 * not a crash; Write requests read by the lean decoder first, Read responses sent pre-encoded),
 * 64/128-bit helpers, and the google.rpc.Status trailer that carries per-update p4.v1.Error
 * details.
 */
import { Metadata, type ServiceDefinition } from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { compileSchema, precheck, type Limits } from '../../messages/precheck.js';
import { RpcCode } from '../rpc-code.js';
import { p4RuntimeService, p4Types } from '../runtime-proto.js';
import { decodeLeanWrite } from './lean-write.js';

/** A request that failed the precheck or decoding: handlers answer it with INVALID_ARGUMENT. */
export interface MalformedRequest {
  readonly __malformed: string;
}

export function isMalformed(x: unknown): x is MalformedRequest {
  return typeof x === 'object' && x !== null && '__malformed' in x;
}

/** P4Runtime requests can be large (a batch write, a pipeline with its P4Info) but not deep. */
const REQUEST_LIMITS: Limits = { maxBytes: 64 << 20, maxDepth: 32, maxFields: 16_000_000 };

/** The P4Runtime service as grpc-js wants it, (de)serialising with protobufjs. */
export function p4RuntimeServiceDefinition(): ServiceDefinition {
  const definition: Record<string, unknown> = {};
  for (const method of p4RuntimeService.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    const schema = compileSchema(req);
    const generic = (buf: Buffer): unknown => decodeChecked(req, schema, buf);
    definition[method.name] = {
      path: `/p4.v1.P4Runtime/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: (msg: object) => Buffer.from(req.encode(msg).finish()),
      // Write: the lean decoder (lean-write.ts) first; what it does not handle goes the generic way.
      requestDeserialize: method.name === 'Write' ? (buf: Buffer) => decodeLeanWrite(buf, REQUEST_LIMITS.maxBytes, REQUEST_LIMITS.maxFields) ?? generic(buf) : generic,
      // Read answers with ReadResponse messages already encoded (lean-read.ts ReadChunker).
      responseSerialize: (msg: object) => (msg instanceof Uint8Array ? asBuffer(msg) : Buffer.from(res.encode(msg).finish())),
      responseDeserialize: (buf: Buffer) => res.decode(buf),
    };
  }
  return definition as unknown as ServiceDefinition;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
}

const writeSchema = compileSchema(p4Types.WriteRequest);

/** A WriteRequest decoded the generic way (precheck, then protobufjs), or a MalformedRequest. */
export function decodeGenericWrite(buf: Uint8Array): unknown {
  return decodeChecked(p4Types.WriteRequest, writeSchema, buf);
}

function decodeChecked(type: protobuf.Type, schema: ReturnType<typeof compileSchema>, buf: Uint8Array): unknown {
  const problem = precheck(schema, buf, REQUEST_LIMITS);
  if (problem) return { __malformed: problem.message };
  try {
    return type.decode(buf);
  } catch (e) {
    return { __malformed: (e as Error).message };
  }
}

export { toUint128, u64, uint128 } from '../uint128.js';

/** google.rpc.Code values the target uses (the same numbers as gRPC status codes). */
export const Code = RpcCode;

export interface UpdateStatus {
  readonly code: number;
  readonly message: string;
}

/** The error a failed Write returns: UNKNOWN, with one p4.v1.Error per update in the trailer. */
export function writeFailure(results: readonly UpdateStatus[]): { code: number; details: string; metadata: Metadata } {
  const details = results.map((r) => ({
    type_url: 'type.googleapis.com/p4.v1.Error',
    value: p4Types.Error.encode({ canonical_code: r.code, message: r.message }).finish(),
  }));
  const failed = results.filter((r) => r.code !== Code.OK).length;
  const message = `${failed} of ${results.length} write operations failed`;
  const statusBytes = p4Types.Status.encode({ code: Code.UNKNOWN, message, details }).finish();
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(statusBytes));
  return { code: Code.UNKNOWN, details: message, metadata };
}
