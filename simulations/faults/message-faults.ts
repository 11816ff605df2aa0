/**
 * Faults on whole NATS messages, one stage per direction of a connection: each message (never a
 * control line) may be dropped, duplicated, swapped with the next message, or delayed — decided by
 * a seeded Random, so the same messages in the same order meet the same fate.
 *
 * Order: a direction is a FIFO. A delayed message holds back what comes after it (control lines
 * included: they are never delayed themselves, but they do not overtake), so delays keep
 * per-direction order. Only reordering changes it: a message picked for it is set aside and
 * goes out right after the next message of the same direction (or after `holdMs` if none comes).
 *
 * @example
 * const faults = checkMessageFaults({ dropP: 0.1, duplicateP: 0, reorderP: 0, delayMs: 20, delayJitterMs: 10 });
 * const stage = new FaultStage({ direction: 'toServer', out: (b) => socket.write(b), end: () => socket.end(), faults: () => current, random, clock, counters });
 * stage.unit(unit); // from NatsFramer.push
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import { err, ok, type Result } from '../../core/result.js';
import { FaultError } from './fault-error.js';
import type { NatsUnit } from './nats-framer.js';

/** Client → server (PUB, HPUB) or server → client (MSG, HMSG). */
export type MessageDirection = 'toServer' | 'toClient';

export interface MessageFaults {
  /** Probability (0..1) that a message is dropped. */
  readonly dropP: number;
  /** Probability that a message is sent twice. */
  readonly duplicateP: number;
  /** Probability that a message swaps places with the next one of its direction. */
  readonly reorderP: number;
  /** Every message waits this long (ms) … */
  readonly delayMs: number;
  /** … plus a uniform extra in [0, delayJitterMs). */
  readonly delayJitterMs: number;
  /** Which directions the faults apply to (default both). */
  readonly directions?: 'both' | MessageDirection;
}

export const TRANSPARENT: MessageFaults = { dropP: 0, duplicateP: 0, reorderP: 0, delayMs: 0, delayJitterMs: 0, directions: 'both' };

/** What the stages of one proxy did, summed over its connections. */
export interface MessageCounters {
  messagesToServer: number;
  messagesToClient: number;
  controlLines: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  /** Bytes passed on untouched because the framer could not read them (see NatsFramer). */
  opaqueBytes: number;
}

export function messageCounters(): MessageCounters {
  return { messagesToServer: 0, messagesToClient: 0, controlLines: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, opaqueBytes: 0 };
}

const MAX_DELAY_MS = 600_000;

/** Checks a fault setting: probabilities in 0..1, delays in 0..600000 ms. */
export function checkMessageFaults(input: unknown): Result<MessageFaults, FaultError> {
  if (typeof input !== 'object' || input === null) return err(new FaultError('INVALID_ARGUMENT', 'message faults: an object expected'));
  const o = input as Record<string, unknown>;
  for (const field of ['dropP', 'duplicateP', 'reorderP'] as const) {
    const v = o[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) return err(new FaultError('INVALID_ARGUMENT', `${field}: a probability in 0..1 expected`, field));
  }
  for (const field of ['delayMs', 'delayJitterMs'] as const) {
    const v = o[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_DELAY_MS) return err(new FaultError('INVALID_ARGUMENT', `${field}: milliseconds in 0..${MAX_DELAY_MS} expected`, field));
  }
  const directions = o.directions ?? 'both';
  if (directions !== 'both' && directions !== 'toServer' && directions !== 'toClient') {
    return err(new FaultError('INVALID_ARGUMENT', 'directions: both, toServer or toClient expected', 'directions'));
  }
  return ok({ dropP: o.dropP as number, duplicateP: o.duplicateP as number, reorderP: o.reorderP as number, delayMs: o.delayMs as number, delayJitterMs: o.delayJitterMs as number, directions });
}

/** No fault at all: messages pass as they come. */
export function isTransparent(f: MessageFaults): boolean {
  return f.dropP === 0 && f.duplicateP === 0 && f.reorderP === 0 && f.delayMs === 0 && f.delayJitterMs === 0;
}

export interface FaultStageOptions {
  readonly direction: MessageDirection;
  readonly out: (bytes: Buffer) => void;
  /** The source ended and everything was written. */
  readonly end: () => void;
  /** The faults in force (read for every message). */
  readonly faults: () => MessageFaults;
  readonly random: Random;
  readonly clock: Clock;
  readonly counters: MessageCounters;
  /** How long a message picked for reordering waits for one to swap with (default 100 ms). */
  readonly holdMs?: number;
}

interface Queued {
  readonly bytes: Buffer;
  readonly due: number;
}

export class FaultStage {
  private readonly queue: Queued[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;
  private held: { items: Queued[]; timer: TimerHandle } | undefined;
  private ending = false;
  private disposed = false;

  constructor(private readonly o: FaultStageOptions) {}

  /** Takes one unit from the framer. */
  unit(u: NatsUnit): void {
    if (this.disposed) return;
    if (u.kind !== 'message') {
      if (u.kind === 'control') this.o.counters.controlLines++;
      else this.o.counters.opaqueBytes += u.bytes.length;
      return this.enqueue([{ bytes: u.bytes, due: 0 }]);
    }
    if (this.o.direction === 'toServer') this.o.counters.messagesToServer++;
    else this.o.counters.messagesToClient++;
    const f = this.o.faults();
    const applies = f.directions === undefined || f.directions === 'both' || f.directions === this.o.direction;
    const fate = !applies || isTransparent(f) ? { items: [{ bytes: u.bytes, due: 0 }], reorder: false } : this.decide(f, u.bytes);
    if (fate.items.length === 0) return;
    if (this.held) {
      // The message set aside goes right after this one.
      const held = this.held;
      this.held = undefined;
      this.o.clock.clearTimeout(held.timer);
      this.o.counters.reordered++;
      return this.enqueue([...fate.items, ...held.items]);
    }
    if (fate.reorder && !this.ending) {
      const timer = this.o.clock.setTimeout(() => this.releaseHeld(), this.o.holdMs ?? 100);
      this.held = { items: fate.items, timer };
      return;
    }
    this.enqueue(fate.items);
  }

  /** The copies of a message to send (none: dropped), when, and whether it is set aside to swap. */
  private decide(f: MessageFaults, bytes: Buffer): { items: Queued[]; reorder: boolean } {
    // Four draws per message, whatever the outcome: the same messages meet the same fate.
    const r = this.o.random;
    const drop = r.next();
    const dup = r.next();
    const reorder = r.next();
    const jitter = r.next();
    if (drop < f.dropP) {
      this.o.counters.dropped++;
      return { items: [], reorder: false };
    }
    const delay = f.delayMs + jitter * f.delayJitterMs;
    if (delay > 0) this.o.counters.delayed++;
    const due = this.o.clock.now() + delay;
    const items: Queued[] = [{ bytes, due }];
    if (dup < f.duplicateP) {
      this.o.counters.duplicated++;
      items.push({ bytes, due });
    }
    return { items, reorder: reorder < f.reorderP };
  }

  /** The source ended: deliver what is pending (a held message without a partner too), then end. */
  end(): void {
    if (this.disposed || this.ending) return;
    this.ending = true;
    this.releaseHeld();
    this.flush();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    if (this.held) this.o.clock.clearTimeout(this.held.timer);
    this.held = undefined;
    this.queue.length = 0;
    this.head = 0;
  }

  private releaseHeld(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    this.o.clock.clearTimeout(held.timer);
    this.enqueue(held.items);
  }

  private enqueue(items: readonly Queued[]): void {
    if (this.disposed) return;
    if (this.head === this.queue.length && this.timer === undefined) {
      // Nothing waiting: what is due goes out now (the common, fault-free path).
      const now = this.o.clock.now();
      let i = 0;
      while (i < items.length && items[i]!.due <= now) this.o.out(items[i++]!.bytes);
      if (i === items.length) return this.maybeEnd();
      items = items.slice(i);
    }
    this.queue.push(...items);
    this.flush();
  }

  /** Writes the due head of the queue; arms a timer for the next one. */
  private flush(): void {
    if (this.disposed) return;
    const now = this.o.clock.now();
    while (this.head < this.queue.length && this.queue[this.head]!.due <= now) this.o.out(this.queue[this.head++]!.bytes);
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.queue[this.head];
    if (next) {
      this.timer = this.o.clock.setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, next.due - now);
      return;
    }
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.ending && !this.held && this.head === this.queue.length && !this.disposed) {
      this.disposed = true;
      this.o.end();
    }
  }
}
