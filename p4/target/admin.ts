/**
 * TargetAdmin (proto/infra/v1/target_admin.proto): the target's own counters and a packet trace,
 * served beside P4Runtime on the same gRPC server. Tests count writes here, where they land.
 */
import { ChannelCredentials, Client, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadProtoRoot } from '../../messages/codec.js';
import type { TargetProgram } from './program.js';
import { Code } from './wire.js';

const root = loadProtoRoot(['infra/v1/target_admin.proto']);
const service = root.lookupService('infra.v1.TargetAdmin');

/** What the server counts (the write path updates it). */
export class TargetCounters {
  writeRpcs = 0;
  inserts = 0;
  modifies = 0;
  deletes = 0;
  updatesFailed = 0;
  readonly failedByCode = new Map<number, number>();
  readRpcs = 0;
  entitiesRead = 0;
  pipelineCommits = 0;

  update(type: string, code: number): void {
    if (code !== Code.OK) {
      this.updatesFailed++;
      this.failedByCode.set(code, (this.failedByCode.get(code) ?? 0) + 1);
    } else if (type === 'INSERT') this.inserts++;
    else if (type === 'MODIFY') this.modifies++;
    else if (type === 'DELETE') this.deletes++;
  }
}

export function adminServiceDefinition(): ServiceDefinition {
  const definition: Record<string, unknown> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/infra.v1.TargetAdmin/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: object) => Buffer.from(req.encode(m).finish()),
      requestDeserialize: (b: Buffer) => {
        try {
          return req.toObject(req.decode(b), { longs: Number });
        } catch {
          return { __malformed: true };
        }
      },
      responseSerialize: (m: object) => Buffer.from(res.encode(res.fromObject(m)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), { longs: Number, defaults: true }),
    };
  }
  return definition as unknown as ServiceDefinition;
}

type Req = Record<string, unknown>;

export function adminImplementation(counters: TargetCounters, program: (deviceId: number) => TargetProgram | undefined): UntypedServiceImplementation {
  return {
    Stats: (call: ServerUnaryCall<Req, unknown>, cb: sendUnaryData<unknown>) => {
      const p = program(Number(call.request.deviceId ?? 1));
      const s = p?.stats();
      cb(null, {
        writeRpcs: counters.writeRpcs,
        inserts: counters.inserts,
        modifies: counters.modifies,
        deletes: counters.deletes,
        updatesFailed: counters.updatesFailed,
        failedByCode: Object.fromEntries(counters.failedByCode),
        readRpcs: counters.readRpcs,
        entitiesRead: counters.entitiesRead,
        pipelineCommits: counters.pipelineCommits,
        packets: s?.packets ?? 0,
        learned: s?.learned ?? 0,
        tableEntries: s?.tableEntries ?? 0,
      });
    },
    Process: (call: ServerUnaryCall<Req, unknown>, cb: sendUnaryData<unknown>) => {
      const req = call.request;
      const p = program(Number(req.deviceId ?? 1));
      if (!p) return cb({ code: Code.FAILED_PRECONDITION, details: 'no pipeline on that device' });
      const frame = req.frame instanceof Uint8Array ? req.frame : new Uint8Array(0);
      const out = p.process(Number(req.port ?? 0), frame);
      cb(null, out.dropped ? { dropped: true, dropReason: out.reason } : { dropped: false, port: out.port, frame: out.frame });
    },
  };
}

/** A client of TargetAdmin, for tests, benchmarks and tools. */
export class TargetAdminClient {
  private readonly client: Client;
  private readonly definition = adminServiceDefinition() as unknown as Record<
    string,
    { path: string; requestSerialize: (m: object) => Buffer; responseDeserialize: (b: Buffer) => unknown }
  >;

  constructor(address: string) {
    this.client = new Client(address, ChannelCredentials.createInsecure());
  }

  close(): void {
    this.client.close();
  }

  stats(deviceId = 1): Promise<Record<string, unknown>> {
    return this.call('Stats', { deviceId });
  }

  process(port: number, frame: Uint8Array, deviceId = 1): Promise<{ dropped: boolean; port: number; frame: Uint8Array; dropReason: string }> {
    return this.call('Process', { deviceId, port, frame }) as Promise<{ dropped: boolean; port: number; frame: Uint8Array; dropReason: string }>;
  }

  private call(name: string, request: object): Promise<Record<string, unknown>> {
    const m = this.definition[name]!;
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, request, (e, r) => (e ? reject(e) : resolve(r as Record<string, unknown>))),
    );
  }
}
