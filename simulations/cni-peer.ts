/**
 * A protocol peer for tests: serves infra.v1.CniBackend (proto/infra/v1/cni.proto) with
 * @grpc/grpc-js on a Unix socket, records every request (decoded with protobufjs from the
 * proto itself, so the plugin's hand encoding is checked against the real schema) and answers
 * as configured. Not the agent: no pool, no plumbing.
 *
 * @example
 * const peer = await startCniPeer({ socketPath: '/tmp/x/cni.sock' });
 * peer.answer.add = (req) => ({ error: { code: 11, message: 'pool empty' } });
 * await peer.close();
 */
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadProtoRoot } from '../messages/codec.js';

export type CniMethod = 'Add' | 'Del' | 'Check' | 'Prepare';
/** A decoded request or reply, as protobufjs toObject gives it (camelCase, defaults filled). */
export type WireObject = Record<string, unknown>;
/** What the peer answers: a reply message, or a gRPC status failure. */
export type PeerAnswer = WireObject | { grpcStatus: grpc.status; message: string };
export type Responder = (request: WireObject) => PeerAnswer | Promise<PeerAnswer>;

export interface CniPeer {
  readonly socketPath: string;
  /** Add, Del and Check requests, in order. */
  readonly requests: { method: CniMethod; request: WireObject }[];
  /** Prepare requests (sent while IPAM runs), in order. */
  readonly prepares: WireObject[];
  /** Replace to change the answers; defaults succeed (Add gives port 5 and a fixed MAC). */
  readonly answer: Record<CniMethod, Responder>;
  close(): Promise<void>;
}

const TYPES: Record<CniMethod, [string, string]> = {
  Add: ['CniAddRequest', 'CniAddReply'],
  Del: ['CniDelRequest', 'CniDelReply'],
  Check: ['CniCheckRequest', 'CniCheckReply'],
  Prepare: ['CniPrepareRequest', 'CniPrepareReply'],
};

export const PEER_MAC = '02:42:0a:f4:4d:05';
export const PEER_PORT_ID = 5;

function defaultAnswers(): Record<CniMethod, Responder> {
  return {
    Add: (req) => ({ ifname: req.ifname, mac: PEER_MAC, sandbox: req.netns, portId: PEER_PORT_ID }),
    Del: () => ({}),
    Check: () => ({}),
    Prepare: () => ({}),
  };
}

function methodDefinition(root: protobuf.Root, method: CniMethod): grpc.MethodDefinition<WireObject, WireObject> {
  const req = root.lookupType(`infra.v1.${TYPES[method][0]}`);
  const res = root.lookupType(`infra.v1.${TYPES[method][1]}`);
  const toObject = (t: protobuf.Type, b: Buffer): WireObject => t.toObject(t.decode(b), { longs: Number, defaults: true, enums: Number });
  const encode = (t: protobuf.Type, o: WireObject): Buffer => Buffer.from(t.encode(t.fromObject(o)).finish());
  return {
    path: `/infra.v1.CniBackend/${method}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (o) => encode(req, o),
    requestDeserialize: (b) => toObject(req, b),
    responseSerialize: (o) => encode(res, o),
    responseDeserialize: (b) => toObject(res, b),
  };
}

/** Starts the peer on `socketPath` (a fresh path; the caller owns its directory). */
export async function startCniPeer(options: { socketPath: string }): Promise<CniPeer> {
  const root = loadProtoRoot(['infra/v1/errors.proto', 'infra/v1/cni.proto']);
  const server = new grpc.Server();
  const requests: CniPeer['requests'] = [];
  const prepares: WireObject[] = [];
  const answer = defaultAnswers();
  const definition: Record<string, grpc.MethodDefinition<WireObject, WireObject>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(TYPES) as CniMethod[]) {
    definition[method] = methodDefinition(root, method);
    handlers[method] = (call: grpc.ServerUnaryCall<WireObject, WireObject>, callback: grpc.sendUnaryData<WireObject>) => {
      if (method === 'Prepare') prepares.push(call.request);
      else requests.push({ method, request: call.request });
      Promise.resolve()
        .then(() => answer[method](call.request))
        .then((a) => ('grpcStatus' in a ? callback({ code: a.grpcStatus as grpc.status, details: String(a.message) }) : callback(null, a)))
        .catch((e: Error) => callback({ code: grpc.status.INTERNAL, details: e.message }));
    };
  }
  server.addService(definition, handlers);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${options.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return {
    socketPath: options.socketPath,
    requests,
    prepares,
    answer,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
