/**
 * TargetAdmin (proto/infra/v1/target_admin.proto): the target's own counters, a packet trace and
 * write fault injection (faults.ts), served beside P4Runtime on the same gRPC server. Tests count
 * writes here, where they land.
 *
 * @example
 * const admin = new TargetAdminClient('unix:///tmp/p4rt.sock');
 * await admin.setFaults({ writeDelayMs: 100, failPerMille: 250, failCode: 14, seed: 7 });
 * const { injectedFailures, failedByCode } = await admin.stats();
 * await admin.setFaults({}); // off
 */
import { ChannelCredentials, Client, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Result } from '../../core/result.js';
import { loadProtoRoot } from '../../messages/codec.js';
import { checkTargetFaults, TargetFaultsError, type TargetFaults } from './faults.js';
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
  /** Updates failed by fault injection (never in updatesFailed / failedByCode). */
  injectedFailures = 0;
  delayedWrites = 0;
  /** Delayed writes whose caller gave up before they ran (not applied). */
  abandonedWrites = 0;
  /**
   * Deletes of learned connections the data plane had expired first (NOT_FOUND on an add-on-miss
   * table): a race with ageing the controller cannot avoid, never a sign of a wrong shadow, so
   * never in updatesFailed / failedByCode.
   */
  learnedGone = 0;

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

/** Sets a device's write faults (P4RuntimeServer.setFaults). */
export type SetFaults = (deviceId: number, faults: Partial<Record<keyof TargetFaults, unknown>>) => Result<TargetFaults, TargetFaultsError>;

export function adminImplementation(counters: TargetCounters, program: (deviceId: number) => TargetProgram | undefined, setFaults: SetFaults): UntypedServiceImplementation {
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
        injectedFailures: counters.injectedFailures,
        delayedWrites: counters.delayedWrites,
        abandonedWrites: counters.abandonedWrites,
        learnedGone: counters.learnedGone,
      });
    },
    SetFaults: (call: ServerUnaryCall<Req, unknown>, cb: sendUnaryData<unknown>) => {
      const req = call.request;
      if (req.__malformed) return cb({ code: Code.INVALID_ARGUMENT, details: 'malformed SetFaultsRequest' });
      const r = setFaults(Number(req.deviceId ?? 1), { writeDelayMs: req.writeDelayMs, failPerMille: req.failPerMille, failCode: req.failCode, seed: req.seed });
      if (!r.ok) return cb({ code: r.error.code, details: r.error.message });
      cb(null, r.value);
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

  /**
   * Sets the device's write faults (all zero or absent: off) and resolves with the faults now in
   * force. A bad setting is refused before anything is sent; every refusal rejects with a
   * TargetFaultsError (its code: 3 INVALID_ARGUMENT, 5 NOT_FOUND, or the call's gRPC status).
   */
  async setFaults(faults: Partial<TargetFaults> & { readonly deviceId?: number }): Promise<TargetFaults> {
    const deviceId = faults.deviceId ?? 1;
    if (!Number.isInteger(deviceId) || deviceId < 1) throw new TargetFaultsError(Code.INVALID_ARGUMENT, 'deviceId: a positive integer expected', 'deviceId');
    const checked = checkTargetFaults(faults);
    if (!checked.ok) throw checked.error;
    try {
      const r = await this.call('SetFaults', { deviceId, ...checked.value });
      return { writeDelayMs: Number(r.writeDelayMs), failPerMille: Number(r.failPerMille), failCode: Number(r.failCode), seed: Number(r.seed) };
    } catch (e) {
      const status = e as { code?: number; details?: string; message?: string };
      throw new TargetFaultsError(status.code ?? Code.UNKNOWN, status.details ?? status.message ?? 'SetFaults failed');
    }
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
