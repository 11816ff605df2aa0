/**
 * Time as a dependency. Every timer in the system (heartbeats, deadlines, restart backoff,
 * lease expiry) goes through a Clock passed in from the outside, so that a test or a simulation
 * can drive time itself and replay a run exactly.
 *
 * @example
 * const clock = new ManualClock(0);
 * clock.setTimeout(() => console.log('fired'), 1000);
 * await clock.advance(1000); // prints "fired" without sleeping
 */
export interface Clock {
  /** Milliseconds; wall time for the system clock, simulated time for a manual one. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Resolves after `ms`; rejects with the signal's reason if aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Opaque timer handle; only the clock that issued it may clear it. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    // Timers must never be what keeps a process alive past its shutdown.
    t.unref?.();
    return t;
  }
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}

/** The real clock. Timers it creates are unref'd. */
export const systemClock: Clock = new SystemClock();

interface ManualTimer {
  readonly id: number;
  readonly due: number;
  /** Dropped when the timer is cleared: a cleared timer waits in the heap until its time, its closure must not. */
  fn: (() => void) | undefined;
}

/** Earlier due first; ties in creation order. */
const before = (a: ManualTimer, b: ManualTimer): boolean => a.due < b.due || (a.due === b.due && a.id < b.id);

/**
 * A clock that moves only when told to. `advance(ms)` fires every due timer in time order
 * (ties in creation order) and lets promise continuations run between timers, so async code
 * that chains on timers (backoff → restart → next timer) progresses as it would in real time.
 *
 * Timers live in a binary heap (the in-process simulator keeps thousands pending and fires
 * millions); a cleared timer is only marked, and skipped when it comes up — without its closure,
 * which would otherwise keep what it refers to (a stopped actor, a closed watch) alive until then.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly heap: ManualTimer[] = [];
  /** Timers set and neither fired nor cleared, by id. */
  private readonly live = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    this.live.set(timer.id, timer);
    this.push(timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    if (typeof id !== 'number') return;
    const timer = this.live.get(id);
    if (!timer) return;
    timer.fn = undefined;
    this.live.delete(id);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of timers not yet fired. */
  pending(): number {
    return this.live.size;
  }

  /** When the next timer is due, or undefined when none is set. */
  nextDue(): number | undefined {
    return this.earliest()?.due;
  }

  /** Moves time forward by `ms`, firing due timers in order and settling promises between them. */
  async advance(ms: number): Promise<void> {
    const target = this.current + Math.max(0, ms);
    await settle();
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.pop();
      this.live.delete(next.id);
      this.current = Math.max(this.current, next.due);
      const fn = next.fn;
      next.fn = undefined;
      fn?.();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Fires timers until none is left or `limitMs` of simulated time has passed. */
  async runAll(limitMs = 3_600_000): Promise<void> {
    const end = this.current + limitMs;
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > end) return;
      await this.advance(next.due - this.current);
    }
  }

  /** The earliest live timer (cleared ones at the top are dropped on the way). */
  private earliest(): ManualTimer | undefined {
    while (this.heap.length > 0 && !this.live.has(this.heap[0]!.id)) this.pop();
    return this.heap[0];
  }

  private push(t: ManualTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (h.length === 0 || !last) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/**
 * A process's own view of a shared clock, `offsetMs` ahead (or behind): what it reads as now moves
 * when the offset does, as after an NTP step; its timers still run on the shared clock (a step
 * changes what is read, not how long a timeout lasts). The in-process simulator's clock jumps.
 *
 * @example
 * const agentClock = new OffsetClock(clock);
 * agentClock.jump(-20_000); // the agent now reads 20 s in the past
 */
export class OffsetClock implements Clock {
  constructor(
    private readonly base: Clock,
    private offsetMs = 0,
  ) {}

  now(): number {
    return this.base.now() + this.offsetMs;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.base.setTimeout(fn, ms);
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.base.sleep(ms, signal);
  }
  /** Steps what this view reads by `ms` (negative: back), for good. */
  jump(ms: number): void {
    this.offsetMs += ms;
  }
  get offset(): number {
    return this.offsetMs;
  }
}

/** Lets queued promise continuations (and one macrotask turn) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
