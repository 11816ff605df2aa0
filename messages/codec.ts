/**
 * Codecs turn internal values into protobuf bytes and untrusted bytes back into checked internal
 * values. Decoding never throws: the raw bytes are prechecked (size, depth, field count, wire
 * types, UTF-8), then decoded by protobufjs, then converted and validated by the codec's own
 * `fromWire`, and any failure comes back as a typed BusError.
 *
 * @example
 * const hello = protoCodec(root.lookupType('infra.v1.NodeHello'), {
 *   toWire: (h: Hello) => ({ node: h.node, role: h.role }),
 *   fromWire: (w) => ({ node: nodeName(w.node, 'node'), role: w.role }),
 * });
 * const r = hello.decode(bytes); // { ok: true, value } or { ok: false, error: MalformedError | ValidationError }
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { err, ok, type Result } from '../core/result.js';
import { BusError, MalformedError } from './errors.js';
import { compileSchema, DEFAULT_LIMITS, precheck, type Limits, type ScanSchema } from './precheck.js';

export interface Codec<T> {
  /** Fully-qualified protobuf type name, for logs and errors. */
  readonly name: string;
  readonly limits: Limits;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): Result<T, BusError>;
}

/** A protobuf message as protobufjs decodes it: field values by camelCase name. */
export type WireMessage = Record<string, unknown>;

export interface WireMapping<T> {
  /** Internal value → plain object with the protobuf field names (enums as numbers). */
  toWire(value: T): WireMessage;
  /** Decoded message → checked internal value; throws ValidationError on a bad field. */
  fromWire(wire: WireMessage): T;
}

const schemaCache = new Map<protobuf.Type, ScanSchema>();

/** Builds a codec for one protobuf message type. */
export function protoCodec<T>(type: protobuf.Type, mapping: WireMapping<T>, limits: Partial<Limits> = {}): Codec<T> {
  const schema = compileSchema(type, schemaCache);
  const effective: Limits = { ...DEFAULT_LIMITS, ...limits };
  return {
    name: type.fullName.replace(/^\./, ''),
    limits: effective,
    encode(value: T): Uint8Array {
      return type.encode(mapping.toWire(value)).finish();
    },
    decode(bytes: Uint8Array): Result<T, BusError> {
      const problem = precheck(schema, bytes, effective);
      if (problem) return err(problem);
      let wire: WireMessage;
      try {
        wire = type.decode(bytes);
      } catch (e) {
        return err(new MalformedError(`not a valid ${type.name}: ${(e as Error).message}`, -1, { cause: e }));
      }
      try {
        return ok(mapping.fromWire(wire));
      } catch (e) {
        if (e instanceof BusError) return err(e);
        return err(new MalformedError(`${type.name} failed conversion: ${(e as Error).message}`, -1, { cause: e }));
      }
    },
  };
}

/** A codec for messages with no fields worth converting (e.g. an empty reply). */
export function passthroughCodec(type: protobuf.Type, limits: Partial<Limits> = {}): Codec<WireMessage> {
  return protoCodec(type, { toWire: (v) => v, fromWire: (w) => w }, limits);
}

/**
 * Loads .proto files (paths relative to the project's proto/ folder) into one resolved root.
 * Works from sources (tsx) and from dist/ alike by finding proto/ upwards from this module.
 */
export function loadProtoRoot(files: readonly string[], options: { keepCase?: boolean } = {}): protobuf.Root {
  const dir = protoDir();
  const root = new protobuf.Root();
  // google/protobuf/*.proto imports never reach this: protobufjs serves its bundled copies.
  root.resolvePath = (_origin, target) => join(dir, target);
  root.loadSync([...files], { keepCase: options.keepCase ?? false });
  root.resolveAll();
  return root;
}

let cachedProtoDir: string | undefined;

/** The project's proto/ folder, found upwards from this module (sources or dist/). */
export function protoDir(): string {
  if (cachedProtoDir) return cachedProtoDir;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'infra'))) return (cachedProtoDir = candidate);
    dir = dirname(dir);
  }
  throw new Error('cannot find the proto/ folder above ' + fileURLToPath(import.meta.url));
}
