/** The agent ↔ manager protocol's protobuf definitions (proto/infra/v1), loaded once. */
import type protobuf from 'protobufjs';
import { loadProtoRoot } from '../messages/codec.js';

export const protoRoot = loadProtoRoot([
  'infra/v1/errors.proto',
  'infra/v1/node.proto',
  'infra/v1/intent.proto',
  'infra/v1/sync.proto',
  'infra/v1/ctl.proto',
]);

export function wireType(name: string): protobuf.Type {
  return protoRoot.lookupType(`infra.v1.${name}`);
}
