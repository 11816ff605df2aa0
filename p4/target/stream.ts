/**
 * StreamChannel: one bidirectional stream per client. The first message must be an arbitration
 * update; every arbitration outcome is sent to each stream of that (device, role); when a stream
 * ends, the others hear whether they lost their primary. Malformed messages end the stream with
 * INVALID_ARGUMENT; messages the target does not handle get a StreamError, not silence.
 */
import type { Logger } from 'pino';
import type { Arbitration, Notice } from './arbitration.js';
import { Code, isMalformed, toUint128, u64, uint128 } from './wire.js';

type Msg = Record<string, unknown>;

/**
 * What the handler uses of a StreamChannel call: grpc-js's ServerDuplexStream, or the in-process
 * loopback's stand-in (loopback.ts). Emitting 'error' with a status ends the call with it.
 */
export interface StreamCall {
  on(event: 'data', listener: (msg: Msg) => void): unknown;
  on(event: 'end' | 'error' | 'cancelled' | 'close', listener: () => void): unknown;
  emit(event: 'error', status: { code: number; details: string }): unknown;
  write(msg: Msg): unknown;
  end(): unknown;
}

export interface StreamContext {
  readonly arbitration: Arbitration;
  /** Every open stream by id, so that arbitration notices reach all of them. */
  readonly streams: Map<string, StreamCall>;
  readonly log: Logger;
  /** A new stream id, unique in this target (per target, so that a run replays the same ids). */
  readonly newId: () => string;
}

const NOTICE_CODE = { OK: Code.OK, ALREADY_EXISTS: Code.ALREADY_EXISTS, NOT_FOUND: Code.NOT_FOUND } as const;

export function handleStream(call: StreamCall, ctx: StreamContext): void {
  const id = ctx.newId();
  let arbitrated = false;
  ctx.streams.set(id, call);
  const end = (): void => {
    if (!ctx.streams.delete(id)) return;
    send(ctx, ctx.arbitration.close(id));
  };
  call.on('data', (msg: Msg) => {
    if (isMalformed(msg)) {
      call.emit('error', { code: Code.INVALID_ARGUMENT, details: `malformed StreamMessageRequest: ${msg.__malformed}` });
      return end();
    }
    const arb = msg.arbitration as Msg | undefined;
    if (!arb) {
      if (!arbitrated) {
        call.emit('error', { code: Code.FAILED_PRECONDITION, details: 'the first message on a stream must be an arbitration update' });
        return end();
      }
      return void call.write({ error: { canonical_code: Code.UNIMPLEMENTED, message: 'only arbitration is supported on this stream' } });
    }
    const role = ((arb.role as Msg | undefined)?.name as string | undefined) ?? '';
    const out = ctx.arbitration.update(id, { deviceId: Number(u64(arb.device_id)), role, electionId: uint128(arb.election_id) });
    if (!out.ok) {
      call.emit('error', { code: Code[out.status], details: out.message });
      return end();
    }
    arbitrated = true;
    send(ctx, out.notices);
  });
  call.on('end', () => {
    end();
    call.end();
  });
  call.on('error', () => end());
  call.on('cancelled', () => end());
  call.on('close', () => end());
}

function send(ctx: StreamContext, notices: readonly Notice[]): void {
  for (const n of notices) {
    const stream = ctx.streams.get(n.streamId);
    if (!stream) continue;
    try {
      stream.write({
        arbitration: {
          device_id: n.deviceId,
          role: n.role === '' ? undefined : { name: n.role },
          election_id: n.electionId === undefined ? undefined : toUint128(n.electionId),
          status: { code: NOTICE_CODE[n.status], message: n.status === 'OK' ? 'primary' : n.status === 'ALREADY_EXISTS' ? 'backup' : 'no primary' },
        },
      });
    } catch (e) {
      ctx.log.warn({ err: e, stream: n.streamId }, 'cannot notify a stream');
    }
  }
}
