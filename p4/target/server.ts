/**
 * The P4Runtime target: a gRPC server that serves one or more devices, each running a program
 * behind the TargetProgram interface (the behavioural model of k8s_dp by default). It
 * implements arbitration (arbitration.ts), Set/GetForwardingPipelineConfig (device.ts), Write
 * with per-update errors and CONTINUE_ON_ERROR / ROLLBACK_ON_ERROR, streamed Read, and
 * Capabilities. Every malformed request gets a status. For the simulator, TargetAdmin.SetFaults
 * slows and fails a device's writes (faults.ts, on the injected clock); a device without faults
 * pays one map lookup per Write RPC for it. The same handlers serve an in-process link through
 * handlers() (loopback.ts: the simulator's manager talks to a target in its own process).
 *
 * @example
 * const server = new P4RuntimeServer({ devices: [{ id: 1, instantiate, verify }], logger });
 * const port = await server.listen('127.0.0.1:0');
 */
import { createHash } from 'node:crypto';
import { Server, ServerCredentials, experimental, type MethodDefinition, type sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../core/clock.js';
import { parseP4Info } from '../p4info.js';
import { fromProto3Json, p4Types } from '../runtime-proto.js';
import { err, ok, type Result } from '../../core/result.js';
import { adminImplementation, adminServiceDefinition, TargetCounters } from './admin.js';
import { Arbitration } from './arbitration.js';
import { DeviceState, type PipelineConfig, type SetAction, type Verifier } from './device.js';
import { checkTargetFaults, DeviceFaults, faultsOff, TargetFaultsError, type TargetFaults } from './faults.js';
import { ReadChunker } from './lean-read.js';
import { LeanWrite } from './lean-write.js';
import type { TargetProgram, WireEntity } from './program.js';
import { handleStream, type StreamCall, type StreamContext } from './stream.js';
import { applyUpdates, tableIdOf, UPDATE_TYPES } from './write-apply.js';
import { Code, isMalformed, p4RuntimeServiceDefinition, u64, uint128, writeFailure, type UpdateStatus } from './wire.js';
import type { P4Info } from '../p4info.js';
import type { ReloadingCertificates } from './cert-reload.js';
import { lstat, rm } from 'node:fs/promises';
import { connect } from 'node:net';

export const P4RUNTIME_API_VERSION = '1.4.1';

export interface DeviceSpec {
  readonly id: number;
  readonly instantiate: (info: P4Info) => TargetProgram;
  readonly verify: Verifier;
}

export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** With a CA: mutual TLS, a client certificate signed by it is required. */
  readonly ca?: Buffer;
  /** Rotates the certificate and CA from their files (cert-reload.ts); `cert`/`key`/`ca` are then its first ones. */
  readonly reload?: ReloadingCertificates;
}

export interface TargetOptions {
  readonly devices: readonly DeviceSpec[];
  readonly logger: Logger;
  /** Most entities per ReadResponse message (default: no limit but the size). */
  readonly readChunk?: number;
  /** About how many bytes one ReadResponse message holds (default READ_CHUNK_BYTES, 256 KiB). */
  readonly readChunkBytes?: number;
  /**
   * The time write faults run on (held writes wait on its timers; default the system clock). A
   * simulator gives its ManualClock, and devices whose model needs time get it in `instantiate`
   * (modelDevice({ clock })). Injected failures are drawn from seededRandom(the SetFaults seed).
   */
  readonly clock?: Clock;
}

/** What a unary handler uses of its call: grpc-js's ServerUnaryCall, or the loopback's stand-in. */
export interface UnaryCall<Req> {
  readonly request: Req;
  /** Set once the caller gave up (deadline, cancel): a held write is then dropped. */
  readonly cancelled: boolean;
}

/** What Read uses of its call: the request, and a stream of encoded ReadResponse messages ending with a status. */
export interface ReadCall {
  readonly request: Msg;
  write(chunk: Uint8Array): unknown;
  end(): unknown;
  /** Ends the call with this status. */
  emit(event: 'error', status: { code: number; details: string }): unknown;
}

type Reply = sendUnaryData<unknown>;
type Msg = Record<string, unknown>;

/** The P4Runtime service's handlers, as grpc-js calls them (and the loopback, with its stand-in calls). */
export type P4RuntimeHandlers = {
  readonly Capabilities: (call: UnaryCall<Msg>, cb: Reply) => void;
  readonly Write: (call: UnaryCall<Msg | LeanWrite>, cb: Reply) => void;
  readonly Read: (call: ReadCall) => void;
  readonly SetForwardingPipelineConfig: (call: UnaryCall<Msg>, cb: Reply) => void;
  readonly GetForwardingPipelineConfig: (call: UnaryCall<Msg>, cb: Reply) => void;
  readonly StreamChannel: (call: StreamCall) => void;
};

/**
 * What a transport other than grpc-js needs to serve P4Runtime from this target: the handlers,
 * the service definition whose (de)serialisers grpc-js uses (so the same bytes are decoded the
 * same way), and the target's stop.
 */
export interface P4RuntimeEndpoint {
  readonly implementation: P4RuntimeHandlers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly definition: Readonly<Record<keyof P4RuntimeHandlers, MethodDefinition<any, any>>>;
  /** Whether close() was called: nothing is served any more. */
  closed(): boolean;
  /** Calls `listener` once when close() is called (the connections drop); returns a function that forgets it. */
  onClose(listener: () => void): () => void;
}

const ACTIONS: readonly (SetAction | undefined)[] = [undefined, 'VERIFY', 'VERIFY_AND_SAVE', 'VERIFY_AND_COMMIT', 'COMMIT', 'RECONCILE_AND_COMMIT'];

export class P4RuntimeServer {
  readonly arbitration: Arbitration;
  readonly devices = new Map<number, DeviceState<TargetProgram>>();
  private readonly streams = new Map<string, StreamCall>();
  // Keepalive pings every connection: one the HTTP/2 layer gave up on (a GOAWAY after a
  // protocol error stops it reading, so it never sees the client leave) is destroyed when its
  // ping goes unanswered, instead of holding a descriptor for the process's lifetime — a leak a
  // client could repeat until no one else can connect (found by the HTTP/2 fuzzer).
  private readonly server = new Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 });
  private readonly log: Logger;
  /** What the target itself counts (served by TargetAdmin.Stats). */
  readonly counters = new TargetCounters();
  /** Devices with write faults set (TargetAdmin.SetFaults) or writes still held back by them. */
  private readonly faults = new Map<number, DeviceFaults>();
  private readonly clock: Clock;
  private readonly handlerSet: P4RuntimeHandlers;
  private readonly definition: P4RuntimeEndpoint['definition'];
  private readonly streamContext: StreamContext;
  private readonly closeListeners = new Set<() => void>();
  private isClosed = false;

  constructor(private readonly options: TargetOptions) {
    this.log = options.logger;
    this.clock = options.clock ?? systemClock;
    for (const d of options.devices) this.devices.set(d.id, new DeviceState(d.id, d.verify, d.instantiate));
    this.arbitration = new Arbitration({ devices: this.devices.keys() });
    let streamSeq = 0;
    this.streamContext = { arbitration: this.arbitration, streams: this.streams, log: this.log, newId: () => `s${++streamSeq}` };
    this.handlerSet = this.implementation();
    this.definition = p4RuntimeServiceDefinition() as unknown as P4RuntimeEndpoint['definition'];
    this.server.addService(this.definition, this.handlerSet);
    this.server.addService(adminServiceDefinition(), adminImplementation(this.counters, (id) => this.devices.get(id)?.program, (id, f) => this.setFaults(id, f)));
  }

  /** Commits a pipeline from its P4Info JSON, as a VERIFY_AND_COMMIT would (start-up default). */
  load(deviceId: number, p4infoJson: unknown, deviceConfig = new Uint8Array(0)): void {
    const dev = this.devices.get(deviceId);
    if (!dev) throw new Error(`no device ${deviceId}`);
    const info = parseP4Info(p4infoJson);
    // The JSON is proto3 JSON (lowerCamelCase, as p4c writes it): parse it as such.
    const encoded = p4Types.P4Info.encode(fromProto3Json(p4Types.P4Info, p4infoJson)).finish();
    const out = dev.set('VERIFY_AND_COMMIT', { p4infoRaw: p4Types.P4Info.decode(encoded), p4info: info, deviceConfig, cookie: undefined, fingerprint: fingerprint(encoded) });
    if (!out.ok) throw new Error(`cannot load the pipeline: ${out.message}`);
  }

  /**
   * Listens on host:port (port 0: any free one) or unix:/path; resolves with the bound port. A
   * Unix socket left behind by a target that was killed is removed first (nothing answers on it);
   * one that something still answers on is left alone, and the bind then fails.
   */
  async listen(address: string, tls?: ServerTls): Promise<number> {
    const unixPath = /^unix:(?:\/\/)?(\/.+)$/.exec(address)?.[1];
    if (unixPath) await removeStaleSocket(unixPath);
    const creds = tls?.reload
      ? experimental.createCertificateProviderServerCredentials(tls.reload, tls.reload, tls.ca !== undefined)
      : tls
        ? ServerCredentials.createSsl(tls.ca ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.ca !== undefined)
        : ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, creds, (e, port) => (e ? reject(e) : resolve(port)));
    });
  }

  /**
   * Slows and fails the writes of a device from now on (faults.ts); all zero turns that off once
   * the writes already held back have run. A bad setting changes nothing.
   */
  setFaults(deviceId: number, input: Partial<Record<keyof TargetFaults, unknown>>): Result<TargetFaults, TargetFaultsError> {
    if (!this.devices.has(deviceId)) return err(new TargetFaultsError(Code.NOT_FOUND, `unknown device ${deviceId}`, 'deviceId'));
    const checked = checkTargetFaults(input);
    if (!checked.ok) return checked;
    let device = this.faults.get(deviceId);
    if (!device) {
      if (faultsOff(checked.value)) return ok(checked.value);
      const created: DeviceFaults = new DeviceFaults(() => {
        if (this.faults.get(deviceId) === created) this.faults.delete(deviceId);
      }, this.clock);
      this.faults.set(deviceId, created);
      device = created;
    }
    device.configure(checked.value);
    this.log.warn({ device: deviceId, ...checked.value }, faultsOff(checked.value) ? 'write faults off' : 'write faults on');
    return ok(checked.value);
  }

  /**
   * The handlers and the service definition, for an in-process transport (loopback.ts) that
   * carries the same bytes to the same code as grpc-js does.
   *
   * @example
   * const { implementation, definition } = server.handlers();
   * const request = definition.Write.requestDeserialize(encodeWriteRequest(req));
   */
  handlers(): P4RuntimeEndpoint {
    return {
      implementation: this.handlerSet,
      definition: this.definition,
      closed: () => this.isClosed,
      onClose: (listener) => {
        this.closeListeners.add(listener);
        return () => this.closeListeners.delete(listener);
      },
    };
  }

  /** Stops accepting calls, ends the streams, waits for in-flight calls up to `graceMs`. */
  async close(graceMs = 1000): Promise<void> {
    for (const f of this.faults.values()) f.dispose();
    this.faults.clear();
    this.isClosed = true;
    // In-process connections drop at once, as a connection to a stopped target does.
    for (const listener of [...this.closeListeners]) listener();
    this.closeListeners.clear();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private implementation(): P4RuntimeHandlers {
    return {
      Capabilities: (_call, cb) => cb(null, { p4runtime_api_version: P4RUNTIME_API_VERSION }),
      Write: (call, cb) => this.guard(cb, () => this.write(call, cb)),
      Read: (call) => this.read(call),
      SetForwardingPipelineConfig: (call, cb) => this.guard(cb, () => this.setPipeline(call.request, cb)),
      GetForwardingPipelineConfig: (call, cb) => this.guard(cb, () => this.getPipeline(call.request, cb)),
      StreamChannel: (call) => handleStream(call, this.streamContext),
    };
  }

  /** No handler exception ever escapes: it becomes INTERNAL and a log line. */
  private guard(cb: Reply, run: () => void): void {
    try {
      run();
    } catch (e) {
      this.log.error({ err: e }, 'P4Runtime handler failed');
      cb({ code: Code.INTERNAL, details: 'internal error' });
    }
  }

  private write(call: UnaryCall<Msg | LeanWrite>, cb: Reply): void {
    const req = call.request;
    if (isMalformed(req)) return cb({ code: Code.INVALID_ARGUMENT, details: `malformed WriteRequest: ${req.__malformed}` });
    const head = req instanceof LeanWrite ? req : writeHeader(req);
    const faults = this.faults.get(head.deviceId);
    if (faults === undefined) return this.applyWrite(req, head, cb, undefined);
    // Write faults: held back in arrival order, then applied — unless the caller gave up meanwhile.
    const held = faults.schedule(() => {
      if (call.cancelled) {
        this.counters.abandonedWrites++;
        return;
      }
      this.guard(cb, () => this.applyWrite(req, head, cb, faults));
    });
    if (held) this.counters.delayedWrites++;
  }

  private applyWrite(req: Msg | LeanWrite, head: WriteHead, cb: Reply, faults: DeviceFaults | undefined): void {
    const access = this.arbitration.checkWrite(head.deviceId, head.role, head.electionId);
    if (access !== 'OK') return cb({ code: Code[access], details: access === 'NOT_FOUND' ? `unknown device ${head.deviceId}` : 'not the primary client' });
    const program = this.devices.get(head.deviceId)?.program;
    if (!program) return cb({ code: Code.FAILED_PRECONDITION, details: 'no forwarding pipeline is configured' });
    const atomicity = head.atomicity;
    if (atomicity === 2) return cb({ code: Code.UNIMPLEMENTED, details: 'DATAPLANE_ATOMIC is not supported' });
    if (atomicity !== 0 && atomicity !== 1) return cb({ code: Code.INVALID_ARGUMENT, details: `unknown atomicity ${atomicity}` });
    const failure = faults?.injecting();
    const { statuses, types } = applyUpdates(program, req, atomicity === 1, failure && faults ? faults.inject : undefined);
    this.counters.writeRpcs++;
    if (failure) return this.countInjected(program, req, statuses, types, failure, atomicity === 1, cb);
    let ok = true;
    for (let i = 0; i < statuses.length; i++) {
      const code = statuses[i]!.code;
      if (code !== Code.OK) ok = false;
      this.count(program, req, i, types[i]!, code);
    }
    if (ok) return cb(null, {});
    cb(writeFailure(statuses));
  }

  /**
   * Counts a write that ran with failures injected: the injected ones (and, under
   * ROLLBACK_ON_ERROR, those rolled back with them) apart from genuine failures, so checks on
   * failed_by_code (duplicate writes) see only what the program itself refused.
   */
  private countInjected(program: TargetProgram, req: Msg | LeanWrite, statuses: readonly UpdateStatus[], types: readonly number[], failure: UpdateStatus, rollback: boolean, cb: Reply): void {
    const injectedBatch = rollback && statuses.includes(failure);
    let allOk = true;
    for (let i = 0; i < statuses.length; i++) {
      const s = statuses[i]!;
      if (s.code !== Code.OK) allOk = false;
      if (s === failure || (injectedBatch && s.code !== Code.OK)) this.counters.injectedFailures++;
      else this.count(program, req, i, types[i]!, s.code);
    }
    if (allOk) return cb(null, {});
    cb(writeFailure(statuses));
  }

  /** Counts update `i`; a delete of a learned connection the data plane expired first is counted apart. */
  private count(program: TargetProgram, req: Msg | LeanWrite, i: number, type: number, code: number): void {
    if (code === Code.NOT_FOUND && UPDATE_TYPES[type] === 'DELETE') {
      const table = tableIdOf(req, i);
      if (table !== undefined && program.learnedTable?.(table)) {
        this.counters.learnedGone++;
        return;
      }
    }
    this.counters.update(UPDATE_TYPES[type] ?? '', code);
  }

  private read(call: ReadCall): void {
    const req = call.request;
    const fail = (code: number, details: string): void => void call.emit('error', { code, details });
    if (isMalformed(req)) return fail(Code.INVALID_ARGUMENT, `malformed ReadRequest: ${req.__malformed}`);
    const deviceId = Number(u64(req.device_id));
    const dev = this.devices.get(deviceId);
    if (!dev) return fail(Code.NOT_FOUND, `unknown device ${deviceId}`);
    const program = dev.program;
    if (!program) return fail(Code.FAILED_PRECONDITION, 'no forwarding pipeline is configured');
    const entities = Array.isArray(req.entities) ? (req.entities as WireEntity[]) : [];
    if (entities.length === 0) return fail(Code.INVALID_ARGUMENT, 'a ReadRequest needs at least one entity');
    this.counters.readRpcs++;
    // Responses go out as encoded ReadResponse messages of about readChunkBytes each.
    const out = new ReadChunker((chunk) => call.write(chunk), this.options.readChunkBytes, this.options.readChunk);
    try {
      for (const entity of entities) {
        if (Object.keys(entity).length === 0) return fail(Code.INVALID_ARGUMENT, 'an empty Entity matches nothing');
        const bad = program.readEncoded ? program.readEncoded(entity, out) : readGeneric(program, entity, out);
        if (bad) return fail(bad.code, bad.message);
      }
      out.flush();
      call.end();
    } catch (e) {
      this.log.error({ err: e }, 'P4Runtime read failed');
      fail(Code.INTERNAL, 'internal error');
    } finally {
      this.counters.entitiesRead += out.entities;
    }
  }

  private setPipeline(req: Msg, cb: Reply): void {
    if (isMalformed(req)) return cb({ code: Code.INVALID_ARGUMENT, details: `malformed request: ${req.__malformed}` });
    const deviceId = Number(u64(req.device_id));
    const dev = this.devices.get(deviceId);
    if (!dev) return cb({ code: Code.NOT_FOUND, details: `unknown device ${deviceId}` });
    const access = this.arbitration.checkWrite(deviceId, typeof req.role === 'string' ? req.role : '', uint128(req.election_id));
    if (access !== 'OK') return cb({ code: Code.PERMISSION_DENIED, details: 'not the primary client' });
    const action = ACTIONS[Number(req.action ?? 0)];
    if (!action) return cb({ code: Code.INVALID_ARGUMENT, details: 'action must be one of VERIFY … RECONCILE_AND_COMMIT' });
    const config = req.config as Msg | undefined;
    let parsed: PipelineConfig | undefined;
    if (config?.p4info) {
      try {
        parsed = toPipelineConfig(config);
      } catch (e) {
        return cb({ code: Code.INVALID_ARGUMENT, details: `bad P4Info: ${(e as Error).message}` });
      }
    }
    const out = dev.set(action, parsed);
    if (!out.ok) return cb({ code: Code[out.status], details: out.message });
    if (action === 'VERIFY_AND_COMMIT' || action === 'COMMIT') this.counters.pipelineCommits++;
    this.log.info({ device: deviceId, action, generation: dev.generation }, 'forwarding pipeline config set');
    cb(null, {});
  }

  private getPipeline(req: Msg, cb: Reply): void {
    if (isMalformed(req)) return cb({ code: Code.INVALID_ARGUMENT, details: `malformed request: ${req.__malformed}` });
    const deviceId = Number(u64(req.device_id));
    const dev = this.devices.get(deviceId);
    if (!dev) return cb({ code: Code.NOT_FOUND, details: `unknown device ${deviceId}` });
    const c = dev.config;
    if (!c) return cb(null, { config: {} });
    const type = Number(req.response_type ?? 0); // ALL, COOKIE_ONLY, P4INFO_AND_COOKIE, DEVICE_CONFIG_AND_COOKIE
    const cookie = c.cookie === undefined ? undefined : { cookie: c.cookie.toString() };
    cb(null, {
      config: {
        ...(type === 0 || type === 2 ? { p4info: c.p4infoRaw } : {}),
        ...(type === 0 || type === 3 ? { p4_device_config: c.deviceConfig } : {}),
        ...(cookie ? { cookie } : {}),
      },
    });
  }
}

function toPipelineConfig(config: Msg): PipelineConfig {
  const raw = config.p4info as protobufMessage;
  const encoded = p4Types.P4Info.encode(raw).finish();
  const json = p4Types.P4Info.toObject(p4Types.P4Info.decode(encoded), { longs: String, enums: String });
  const cookieMsg = config.cookie as Msg | undefined;
  return {
    p4infoRaw: raw,
    p4info: parseP4Info(json),
    deviceConfig: (config.p4_device_config as Uint8Array | undefined) ?? new Uint8Array(0),
    cookie: cookieMsg ? u64(cookieMsg.cookie) : undefined,
    fingerprint: fingerprint(encoded),
  };
}

type protobufMessage = Parameters<typeof p4Types.P4Info.encode>[0];

function fingerprint(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface WriteHead {
  readonly deviceId: number;
  readonly role: string;
  readonly electionId: bigint | undefined;
  readonly atomicity: number;
}

/** The header fields of a generic WriteRequest, read as the lean decoder reads them (LeanWrite). */
function writeHeader(req: Msg): WriteHead {
  return {
    deviceId: Number(u64(req.device_id)),
    role: typeof req.role === 'string' ? req.role : '',
    electionId: uint128(req.election_id),
    atomicity: Number(req.atomicity ?? 0),
  };
}

/** A program without a lean read path: its entities encoded one by one, the generic way. */
function readGeneric(program: TargetProgram, entity: WireEntity, out: ReadChunker): UpdateStatus | undefined {
  const r = program.read(entity);
  if (!r.ok) return r.status;
  for (const e of r.entities) out.add(p4Types.Entity.encode(e).finish());
  return undefined;
}

/** Removes a Unix socket file nobody listens on (a killed process's); keeps a live one. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isSocket()) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (!live) await rm(path, { force: true });
}
