/**
 * The P4Runtime protobuf definitions (p4.v1, p4.config.v1, google.rpc; spec v1.4.1) loaded into
 * one protobufjs root, and the message types the client and the software target use.
 *
 * Field names stay as written in the .proto files (`keepCase: true`, snake_case), because:
 * - the specification, every P4Runtime server's error text ("table_entry.match[0]…"), the
 *   golden encodings and other implementations' code all use those names, so ours read the same;
 * - protobufjs's bundled google.protobuf.Any always names its field `type_url`: with camelCase
 *   the P4Runtime messages would mix two spellings;
 * - decoded messages are converted into internal types at the edge anyway, so nothing else
 *   sees these names.
 * Proto3 JSON is read with `fromProto3Json`, which accepts both the lowerCamelCase names that
 * p4c writes (p4/k8s_dp.p4info.json) and the proto names, as the JSON mapping requires.
 *
 * @example
 * const write = p4Types.WriteRequest;
 * const bytes = write.encode(write.fromObject({ device_id: 1, election_id: { low: 10 }, updates: [] })).finish();
 * const back = write.toObject(write.decode(bytes), PROTO_OBJECT); // { device_id: '1', election_id: { low: '10' } }
 * const info = fromProto3Json(lookup('p4.config.v1.P4Info'), JSON.parse(p4infoText));
 */
import type protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import { loadProtoRoot } from '../messages/codec.js';

/** Entry files, relative to proto/; their imports (status, p4info, p4types, p4data, any) follow. */
export const P4RUNTIME_PROTO_FILES: readonly string[] = ['p4/v1/p4runtime.proto', 'google/rpc/code.proto'];

/**
 * toObject options that give the proto3 JSON value encodings with the proto field names:
 * 64-bit integers as decimal strings, bytes as base64, enums by name, defaults omitted, and a
 * google.protobuf.Any unpacked under its "@type" when its type is known.
 */
export const PROTO_OBJECT: protobuf.IConversionOptions = Object.freeze({
  longs: String,
  enums: String,
  bytes: String,
  json: true,
});

/**
 * Loads a fresh, fully resolved root. Most code uses the shared `p4RuntimeRoot`; a fresh one is
 * for callers that must change definitions without affecting others (tests).
 */
export function loadP4RuntimeRoot(): protobuf.Root {
  return loadProtoRoot(P4RUNTIME_PROTO_FILES, { keepCase: true });
}

/** The shared root holding every P4Runtime definition. Treat as read-only. */
export const p4RuntimeRoot: protobuf.Root = loadP4RuntimeRoot();

/**
 * A message type by its fully-qualified name, e.g. `lookup('p4.v1.WriteRequest')`.
 * Throws if the name is not a message type of the P4Runtime definitions.
 */
export function lookup(name: string, root: protobuf.Root = p4RuntimeRoot): protobuf.Type {
  return root.lookupType(name);
}

/** The P4Runtime service (methods with their request/response types and streaming flags). */
export const p4RuntimeService: protobuf.Service = p4RuntimeRoot.lookupService('p4.v1.P4Runtime');

/** The message types the control plane and the target exchange. */
export const p4Types = Object.freeze({
  WriteRequest: lookup('p4.v1.WriteRequest'),
  WriteResponse: lookup('p4.v1.WriteResponse'),
  ReadRequest: lookup('p4.v1.ReadRequest'),
  ReadResponse: lookup('p4.v1.ReadResponse'),
  Entity: lookup('p4.v1.Entity'),
  TableEntry: lookup('p4.v1.TableEntry'),
  StreamMessageRequest: lookup('p4.v1.StreamMessageRequest'),
  StreamMessageResponse: lookup('p4.v1.StreamMessageResponse'),
  SetForwardingPipelineConfigRequest: lookup('p4.v1.SetForwardingPipelineConfigRequest'),
  SetForwardingPipelineConfigResponse: lookup('p4.v1.SetForwardingPipelineConfigResponse'),
  GetForwardingPipelineConfigRequest: lookup('p4.v1.GetForwardingPipelineConfigRequest'),
  GetForwardingPipelineConfigResponse: lookup('p4.v1.GetForwardingPipelineConfigResponse'),
  CapabilitiesRequest: lookup('p4.v1.CapabilitiesRequest'),
  CapabilitiesResponse: lookup('p4.v1.CapabilitiesResponse'),
  Error: lookup('p4.v1.Error'),
  P4Info: lookup('p4.config.v1.P4Info'),
  Status: lookup('google.rpc.Status'),
});

/**
 * Parses proto3 JSON (lowerCamelCase or proto field names, "@type" for Any) into a message.
 * Strict: an unknown field or enum name throws, so a definition that lacks a field is noticed.
 */
export function fromProto3Json(type: protobuf.Type, json: unknown): protobuf.Message {
  return protojson.fromJson(type, json);
}
