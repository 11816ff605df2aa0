/**
 * Schemas and valid messages shared by the fuzz tests. The proto3 schema has what the generators
 * aim at: strings, uint32, an enum, a repeated nested message, a recursive field (directly and
 * through a child), packed and fixed repeated fields, a map and a oneof. The proto2 one adds what
 * proto3 lacks: a required field, a group, a closed enum and unchecked strings.
 */
import protobuf from 'protobufjs';

export const PROTO3 = `
syntax = "proto3";
package fuzz.test;

enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }

message Child {
  string label = 1;
  int64 weight = 2;
  Node owner = 3;
}

message Node {
  string name = 1;
  uint32 port = 2;
  Color color = 3;
  repeated Child children = 4;
  Node next = 5;
  repeated uint32 ids = 6;
  bytes blob = 7;
  fixed64 stamp = 8;
  repeated fixed32 masks = 9;
  map<string, uint32> labels = 10;
  oneof choice { string alias = 11; sint32 delta = 12; }
  repeated string tags = 13;
}

message Other { double ratio = 1; repeated string words = 2; }

message Empty {}
`;

export const PROTO2 = `
syntax = "proto2";
package fuzz.legacy;

enum Mode { MODE_A = 1; MODE_B = 2; }

message Legacy {
  required string id = 1;
  optional string comment = 2;
  optional Mode mode = 3;
  optional group Extra = 4 { optional int32 level = 1; }
  repeated Legacy parts = 5;
}
`;

export function proto3Root(): protobuf.Root {
  const root = protobuf.parse(PROTO3).root;
  root.resolveAll();
  return root;
}

export function proto2Root(): protobuf.Root {
  const root = protobuf.parse(PROTO2).root;
  root.resolveAll();
  return root;
}

/**
 * Valid Nodes whose bytes never hold a run of 9 or more bytes >= 0x80 (ASCII text, small numbers),
 * so a test looking for an over-long varint cannot find one by accident in the valid part.
 */
export function asciiNodes(type: protobuf.Type): Uint8Array[] {
  const objects = [
    { name: 'pod-a', port: 8080, color: 1, ids: [1, 2, 3], tags: ['x', 'y'] },
    { name: 'svc', children: [{ label: 'c1', weight: 5 }, { label: 'c2', owner: { name: 'inner', port: 7 } }] },
    { next: { name: 'n2', next: { name: 'n3', port: 3 } }, blob: Buffer.from('blob'), stamp: 12 },
    { alias: 'al', masks: [1, 2], labels: { a: 1, b: 2 }, port: 1 },
    { delta: -5, color: 2, name: 'a-rather-longer-name-for-cuts', children: [{}] },
  ];
  return objects.map((o) => type.encode(type.fromObject(o)).finish());
}

export function legacyMessages(type: protobuf.Type): Uint8Array[] {
  const objects = [
    { id: 'l1', comment: 'hello', mode: 1 },
    { id: 'l2', extra: { level: 3 }, parts: [{ id: 'p1' }, { id: 'p2', mode: 2 }] },
  ];
  return objects.map((o) => type.encode(type.fromObject(o)).finish());
}
