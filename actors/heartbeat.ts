/**
 * Heartbeats, both ways: publishes this process's heartbeat every interval (injected clock) and
 * hands the peer's heartbeats on this node (agent ↔ manager) to `onPeer`.
 *
 * @example
 * createActor(heartbeatLogic, { input: { bus, clock, node, role: 'agent', instanceId, intervalMs: 1000,
 *   revision: () => 0, onPeer: (hb) => link.send({ type: 'manager.heartbeat', heartbeat: hb }), logger } });
 */
import type { Logger } from 'pino';
import { fromCallback } from 'xstate';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Bus } from '../messages/bus.js';
import { subjects } from '../messages/subjects.js';
import { heartbeatCodec, type Heartbeat, type Role } from '../protocol/node.js';

export interface HeartbeatInput {
  readonly bus: Bus;
  readonly clock: Clock;
  readonly node: string;
  readonly role: Role;
  readonly instanceId: string;
  readonly intervalMs: number;
  /** The sender's current intent revision, carried in each heartbeat. */
  readonly revision: () => number;
  readonly onPeer: (heartbeat: Heartbeat) => void;
  readonly logger: Logger;
}

export const heartbeatLogic = fromCallback<{ type: string }, HeartbeatInput>(({ input }) => {
  const { bus, clock, node, role, logger } = input;
  const subject = subjects.events(node, 'heartbeat');
  let seq = 0;
  let timer: TimerHandle | undefined;
  let stopped = false;
  const beat = (): void => {
    if (stopped) return;
    const sent = bus.publish(subject, heartbeatCodec, {
      node,
      role,
      instanceId: input.instanceId,
      seq: ++seq,
      sentAtMs: clock.now(),
      stateRevision: input.revision(),
    });
    if (!sent.ok) logger.warn({ err: sent.error }, 'heartbeat not sent');
    timer = clock.setTimeout(beat, input.intervalMs);
  };
  const sub = bus.subscribe(subject, heartbeatCodec, (r) => {
    if (!r.ok) {
      logger.warn({ err: r.error }, 'unreadable heartbeat ignored');
      return;
    }
    if (r.value.role !== role && r.value.node === node) input.onPeer(r.value);
  });
  beat();
  return () => {
    stopped = true;
    if (timer) clock.clearTimeout(timer);
    sub.stop();
  };
});
