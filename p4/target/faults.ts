/**
 * Write faults of the software target, set through TargetAdmin.SetFaults for the simulator: every
 * Write RPC of a device waits `writeDelayMs` before the target looks at it (in arrival order),
 * and each update fails with `failCode` (RESOURCE_EXHAUSTED or UNAVAILABLE) at `failPerMille`,
 * decided by a Random seeded with `seed` — the same updates in the same order fail the same way.
 * Failures are reported as any per-update error is (UNKNOWN with one p4.v1.Error per update).
 *
 * A write whose caller gave up while it waited (deadline, cancel) is dropped unapplied, as if it
 * had never arrived; arbitration and everything else are checked when it is applied.
 *
 * @example
 * const checked = checkTargetFaults({ writeDelayMs: 50, failPerMille: 100, failCode: 14, seed: 7 });
 * if (checked.ok) device.configure(checked.value);
 */
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { seededRandom, type Random } from '../../core/random.js';
import { err, ok, type Result } from '../../core/result.js';
import { Code, type UpdateStatus } from './wire.js';

export interface TargetFaults {
  readonly writeDelayMs: number;
  readonly failPerMille: number;
  /** google.rpc.Code: 8 RESOURCE_EXHAUSTED or 14 UNAVAILABLE (anything when failPerMille is 0). */
  readonly failCode: number;
  readonly seed: number;
}

export const NO_FAULTS: TargetFaults = { writeDelayMs: 0, failPerMille: 0, failCode: 0, seed: 0 };
export const INJECTABLE_CODES: readonly number[] = [Code.RESOURCE_EXHAUSTED, Code.UNAVAILABLE];
export const MAX_WRITE_DELAY_MS = 60_000;

/** A refused fault setting: the field to blame and why. */
export class TargetFaultsError extends Error {
  override readonly name = 'TargetFaultsError';
  constructor(
    /** google.rpc.Code the target answers with (3 INVALID_ARGUMENT, 5 NOT_FOUND), or the call's status. */
    readonly code: number,
    message: string,
    readonly field = '',
  ) {
    super(message);
  }
}

/** Checks a setting; `deviceId` is checked by the server, which knows its devices. */
export function checkTargetFaults(input: Partial<Record<keyof TargetFaults, unknown>>): Result<TargetFaults, TargetFaultsError> {
  const int = (field: keyof TargetFaults, max: number): Result<number, TargetFaultsError> => {
    const v = input[field] ?? 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) return err(new TargetFaultsError(Code.INVALID_ARGUMENT, `${field}: an integer in 0..${max} expected`, field));
    return ok(v);
  };
  const delay = int('writeDelayMs', MAX_WRITE_DELAY_MS);
  if (!delay.ok) return delay;
  const rate = int('failPerMille', 1000);
  if (!rate.ok) return rate;
  const code = int('failCode', 16);
  if (!code.ok) return code;
  const seed = int('seed', 0xffff_ffff);
  if (!seed.ok) return seed;
  if (rate.value > 0 && !INJECTABLE_CODES.includes(code.value)) {
    return err(new TargetFaultsError(Code.INVALID_ARGUMENT, 'failCode: 8 (RESOURCE_EXHAUSTED) or 14 (UNAVAILABLE) expected', 'failCode'));
  }
  if (rate.value === 0 && code.value !== 0 && !INJECTABLE_CODES.includes(code.value)) {
    return err(new TargetFaultsError(Code.INVALID_ARGUMENT, 'failCode: 0, 8 (RESOURCE_EXHAUSTED) or 14 (UNAVAILABLE) expected', 'failCode'));
  }
  return ok({ writeDelayMs: delay.value, failPerMille: rate.value, failCode: code.value, seed: seed.value });
}

/** All zero: the device behaves as if no faults were ever set. */
export function faultsOff(f: TargetFaults): boolean {
  return f.writeDelayMs === 0 && f.failPerMille === 0;
}

interface Waiting {
  readonly due: number;
  readonly run: () => void;
}

/** The faults of one device and the writes waiting out their delay, in arrival order. */
export class DeviceFaults {
  private config: TargetFaults = NO_FAULTS;
  private random: Random = seededRandom(0);
  private failure: UpdateStatus | undefined;
  private readonly waiting: Waiting[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly onIdle: () => void,
    private readonly clock: Clock = systemClock,
  ) {}

  get faults(): TargetFaults {
    return this.config;
  }

  /** A new setting, with a fresh random sequence from its seed. */
  configure(f: TargetFaults): void {
    this.config = f;
    this.random = seededRandom(f.seed);
    this.failure =
      f.failPerMille > 0 ? { code: f.failCode, message: `injected fault: ${f.failCode === Code.UNAVAILABLE ? 'UNAVAILABLE' : 'RESOURCE_EXHAUSTED'} (TargetAdmin.SetFaults, ${f.failPerMille}‰)` } : undefined;
    this.idleCheck();
  }

  /** Nothing set and nothing waiting: the device can leave the faulty path. */
  idle(): boolean {
    return faultsOff(this.config) && this.waiting.length === 0;
  }

  /**
   * Runs `run` once the write delay has passed and every write that arrived before ran; returns
   * whether it was held back at all. Writes keep their order even when the delay changes.
   */
  schedule(run: () => void): boolean {
    const last = this.waiting[this.waiting.length - 1]?.due ?? 0;
    const now = this.clock.now();
    const due = Math.max(now + this.config.writeDelayMs, last);
    if (due <= now && this.waiting.length === 0) {
      run();
      return false;
    }
    this.waiting.push({ due, run });
    if (this.waiting.length === 1) this.arm();
    return true;
  }

  /**
   * The decision for the next update: the injected failure, or undefined to apply it. One draw
   * per update while failures are on, whatever the update.
   */
  readonly inject = (): UpdateStatus | undefined => (this.failure && this.random.next() * 1000 < this.config.failPerMille ? this.failure : undefined);

  /** Whether failures are being injected now (the write path then counts them apart). */
  injecting(): UpdateStatus | undefined {
    return this.failure;
  }

  /** Drops what waits (the server is stopping). */
  dispose(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.length = 0;
  }

  private arm(): void {
    const head = this.waiting[0];
    if (!head) return;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, head.due - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.waiting.length > 0 && this.waiting[0]!.due <= now) this.waiting.shift()!.run();
    if (this.waiting.length > 0) this.arm();
    else this.idleCheck();
  }

  private idleCheck(): void {
    if (this.idle()) this.onIdle();
  }
}
