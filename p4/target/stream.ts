/**
 * StreamChannel: one bidirectional stream per client. The first message must be an arbitration
 * update; every arbitration outcome is sent to each stream of that (device, role); when a stream
 * ends, the others hear whether they lost their primary. Malformed messages end the stream with
 * INVALID_ARGUMENT; messages the target does not handle get a StreamError, not silence.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Arbitration, Notice } from './arbitration.js';
import { Code, isMalformed, toUint128, u64, uint128 } from './wire.js';

type Msg = Record<string, unknown>;
type Stream = ServerDuplexStream<Msg, unknown>;

export interface StreamContext {
  readonly arbitration: Arbitration;
  /** Every open stream by id, so that arbitration notices reach all of them. */
  readonly streams: Map<string, Stream>;
  readonly log: Logger;
}

let nextStreamId = 1;

const NOTICE_CODE = { OK: Code.OK, ALREADY_EXISTS: Code.ALREADY_EXISTS, NOT_FOUND: Code.NOT_FOUND } as const;

export function handleStream(call: Stream, ctx: StreamContext): void {
  const id = `s${nextStreamId++}`;
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
