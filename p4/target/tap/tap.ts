/**
 * Packet I/O on persistent TAP devices for the P4 software target, through the native addon in
 * tap.c: attach (from inside the TAP's network namespace when given one), epoll-driven reads into
 * a caller-owned receive area, non-blocking writes, close. Expected failures come back as a
 * `TapError` inside a `Result`; nothing here throws for them.
 *
 * Receive contract. `start(area, onFrames, onError)` hands the addon a receive area: a slab of
 * `slots` fixed slots of `slotSize` bytes and a `lengths` array. Each time the descriptor becomes
 * readable the addon reads frames until EAGAIN, at most `min(slots, 64)` of them, into slots
 * 0..count-1, stores their lengths in `lengths[0..count-1]`, then calls `onFrames(count)` once.
 * Frame i is `area.slab.subarray(i * area.slotSize, i * area.slotSize + area.lengths[i])`
 * (`frameAt(area, i)`). Those bytes are valid only until `onFrames` returns: the next wakeup
 * overwrites them, so copy what must outlive the call. Nothing is allocated per frame. One area
 * may serve several TAPs (callbacks never overlap on the JS thread). The kernel truncates a frame
 * to the slot it is read into, so a frame that fills its slot is dropped: make slots larger than
 * the largest frame (MTU + 18 with a VLAN tag). A TAP that fails (its device deleted) stops
 * polling and reports once through `onError`; an exception thrown by `onFrames` is uncaught,
 * as from any I/O callback.
 *
 * Descriptors are non-blocking and hold no libuv pool thread; a TAP that is polling keeps the
 * process alive like a socket does, and `close()` (idempotent) releases it. Whatever is still
 * open when the process or worker ends is closed by the addon's cleanup hook.
 */
import { createRequire } from 'node:module';
import { err, ok, toError, type Result } from '../../../core/result.js';
import { buildTapAddon } from './build.js';

/** Linux's IFNAMSIZ - 1. */
export const MAX_IFNAME = 15;
/** Most frames read (and so slots used) per wakeup. */
export const MAX_BATCH = 64;
export const MIN_SLOT_SIZE = 64;
export const MAX_SLOT_SIZE = 262_144;
/** Largest frame `write` accepts. */
export const MAX_FRAME = 65_535;
export const DEFAULT_SLOTS = 16;
/** A 9000-byte jumbo frame plus Ethernet and VLAN headers, rounded up. */
export const DEFAULT_SLOT_SIZE = 9216;

/**
 * An errno name from the kernel ('ENOENT', 'EBUSY', 'EPERM'…) or one of:
 * NOT_FOUND (no interface of that name in that namespace), NOT_PERSISTENT (the device is not
 * persistent, so not one created beforehand), IFINDEX_CHANGED (the name moved to another device
 * while attaching), BAD_ARGUMENT, CLOSED (the Tap was closed), LOAD (addon build or load failed).
 */
export type TapErrorCode = 'NOT_FOUND' | 'NOT_PERSISTENT' | 'IFINDEX_CHANGED' | 'BAD_ARGUMENT' | 'CLOSED' | 'LOAD' | (string & {});

/** A TAP operation failed; `code` says how. */
export class TapError extends Error {
  override readonly name = 'TapError';
  constructor(
    readonly code: TapErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Where frames are read to; see the receive contract at the top of this file. */
export interface ReceiveArea {
  readonly slab: Uint8Array;
  readonly lengths: Uint32Array;
  readonly slotSize: number;
  readonly slots: number;
}

/** Called once per wakeup with the number of frames now in the receive area. */
export type FramesHandler = (count: number) => void;
/** Called when polling stopped on an error (for example EBADF: the device was deleted). */
export type PollErrorHandler = (error: TapError) => void;

interface NativeFailure {
  readonly code: string;
  readonly syscall: string;
}

/** The addon's exports (tap.c). */
interface NativeTap {
  attach(name: string, netnsPath: string | null): { readonly fd: number; readonly ifindex: number } | NativeFailure;
  start(fd: number, slab: Uint8Array, lengths: Uint32Array, slotSize: number, callback: (count: number, error?: string) => void): true | NativeFailure;
  stop(fd: number): true | NativeFailure;
  write(fd: number, bytes: Uint8Array, offset: number, length: number): number | NativeFailure;
  close(fd: number): boolean;
}

function isFailure(v: unknown): v is NativeFailure {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string';
}

function failed(what: string, f: unknown): TapError {
  if (!isFailure(f)) return new TapError('LOAD', `${what}: unexpected value from the addon`);
  return new TapError(f.code, `${what}: ${f.code} (${f.syscall})`);
}

function badArgument(message: string): { readonly ok: false; readonly error: TapError } {
  return err(new TapError('BAD_ARGUMENT', message));
}

/**
 * A valid Linux interface name: 1–15 bytes, not . or .., no /, :, %, whitespace or NUL.
 *
 * @example
 * checkIfname('P4TAP_12').ok; // true
 * checkIfname('a-name-that-is-too-long').ok; // false: BAD_ARGUMENT
 */
export function checkIfname(name: unknown): Result<string, TapError> {
  if (typeof name !== 'string' || name.length === 0) return badArgument('the interface name must be a non-empty string');
  if (Buffer.byteLength(name) > MAX_IFNAME) return badArgument(`interface name ${name} is longer than ${MAX_IFNAME} bytes`);
  if (name === '.' || name === '..' || /[/:%\s\0]/.test(name)) return badArgument(`interface name ${JSON.stringify(name)} is not valid`);
  return ok(name);
}

/**
 * A receive area of `slots` slots of `slotSize` bytes (one allocation, made once).
 *
 * @example
 * const area = createReceiveArea(16, 9216);
 * if (area.ok) tap.start(area.value, (n) => { for (let i = 0; i < n; i++) handle(frameAt(area.value, i)); }, console.error);
 */
export function createReceiveArea(slots = DEFAULT_SLOTS, slotSize = DEFAULT_SLOT_SIZE): Result<ReceiveArea, TapError> {
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_BATCH) return badArgument(`slots must be an integer from 1 to ${MAX_BATCH}, not ${slots}`);
  if (!Number.isInteger(slotSize) || slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE) {
    return badArgument(`slotSize must be an integer from ${MIN_SLOT_SIZE} to ${MAX_SLOT_SIZE}, not ${slotSize}`);
  }
  return ok({ slab: new Uint8Array(slots * slotSize), lengths: new Uint32Array(slots), slotSize, slots });
}

/**
 * Frame `i` of the last wakeup, as a view into the slab (valid until the handler returns).
 *
 * @example
 * tap.start(area, (n) => { const first = frameAt(area, 0); console.log(first.length); }, onError);
 */
export function frameAt(area: ReceiveArea, i: number): Uint8Array {
  const start = i * area.slotSize;
  return area.slab.subarray(start, start + (area.lengths[i] ?? 0));
}

function checkArea(area: ReceiveArea): Result<ReceiveArea, TapError> {
  if (!(area.slab instanceof Uint8Array) || !(area.lengths instanceof Uint32Array)) return badArgument('the receive area needs a Uint8Array slab and Uint32Array lengths');
  const { slotSize, slots } = area;
  if (!Number.isInteger(slotSize) || slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE) return badArgument(`slotSize ${slotSize} is out of range`);
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_BATCH) return badArgument(`slots ${slots} is out of range`);
  if (area.slab.length < slots * slotSize || area.lengths.length < slots) return badArgument('the slab or lengths array is smaller than slots × slotSize');
  return ok(area);
}

/** One attached TAP. Obtained from `TapAddon.attach`. */
export class Tap {
  private isClosed = false;

  /** @internal */
  constructor(
    private readonly native: NativeTap,
    private readonly onClose: (tap: Tap) => void,
    readonly name: string,
    readonly netnsPath: string | undefined,
    readonly fd: number,
    readonly ifindex: number,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Starts polling: `onFrames(count)` once per wakeup (see the receive contract above).
   *
   * @example
   * const r = tap.start(area, (n) => forward(area, n), (e) => log.warn(e.code));
   * if (!r.ok) console.error(r.error.message); // e.g. "start tap0: EBUSY (start)" when already polling
   */
  start(area: ReceiveArea, onFrames: FramesHandler, onError: PollErrorHandler): Result<void, TapError> {
    if (this.isClosed) return err(new TapError('CLOSED', `start ${this.name}: closed`));
    const checked = checkArea(area);
    if (!checked.ok) return checked;
    if (typeof onFrames !== 'function' || typeof onError !== 'function') return badArgument('onFrames and onError must be functions');
    const callback = (count: number, error?: string): void => {
      if (count > 0) onFrames(count);
      if (error !== undefined) onError(new TapError(error, `polling ${this.name} stopped: ${error}`));
    };
    const slab = area.slab.subarray(0, area.slots * area.slotSize); // exactly `slots` slots
    const r = this.native.start(this.fd, slab, area.lengths, area.slotSize, callback);
    return r === true ? ok(undefined) : err(failed(`start ${this.name}`, r));
  }

  /**
   * Stops polling (the descriptor stays attached; `start` may be called again).
   *
   * @example
   * tap.stop(); // back-pressure: frames queue in the kernel (and are dropped there when full)
   */
  stop(): Result<void, TapError> {
    if (this.isClosed) return err(new TapError('CLOSED', `stop ${this.name}: closed`));
    const r = this.native.stop(this.fd);
    return r === true ? ok(undefined) : err(failed(`stop ${this.name}`, r));
  }

  /**
   * Writes one frame (non-blocking). The value is the bytes written, or 0 when the device's queue
   * was full (EAGAIN): the frame was dropped and the caller counts it.
   *
   * @example
   * const r = tap.write(frame);
   * if (r.ok && r.value === 0) drops++;
   */
  write(frame: Uint8Array, offset = 0, length = frame.length - offset): Result<number, TapError> {
    if (this.isClosed) return err(new TapError('CLOSED', `write ${this.name}: closed`));
    if (!(frame instanceof Uint8Array)) return badArgument('the frame must be a Uint8Array');
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1 || length > MAX_FRAME || offset + length > frame.length) {
      return badArgument(`offset ${offset} and length ${length} do not fit a frame of ${frame.length} bytes (1..${MAX_FRAME})`);
    }
    const r = this.native.write(this.fd, frame, offset, length);
    return typeof r === 'number' ? ok(r) : err(failed(`write ${this.name}`, r));
  }

  /**
   * Stops polling and closes the descriptor; the persistent device stays. Idempotent.
   *
   * @example
   * process.once('SIGTERM', () => tap.close());
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.native.close(this.fd);
    this.onClose(this);
  }
}

/** The loaded addon: attaches TAPs and keeps track of the open ones. */
export class TapAddon {
  private readonly taps = new Set<Tap>();

  /** @internal */
  constructor(private readonly native: NativeTap) {}

  /**
   * Attaches to the existing persistent TAP `name`, looked up in the network namespace at
   * `netnsPath` (e.g. /var/run/netns/NAME or /proc/PID/ns/net), or in the caller's when undefined.
   * Never creates a device. The calling thread's namespace is restored before this returns.
   *
   * @example
   * const r = addon.attach('P4TAP_3', '/var/run/netns/pod-a');
   * if (!r.ok) console.error(r.error.code); // 'NOT_FOUND', 'NOT_PERSISTENT', 'EBUSY', 'ENOENT'…
   */
  attach(name: string, netnsPath?: string): Result<Tap, TapError> {
    const checked = checkIfname(name);
    if (!checked.ok) return checked;
    if (netnsPath !== undefined && (typeof netnsPath !== 'string' || netnsPath.length === 0 || netnsPath.includes('\0'))) {
      return badArgument('netnsPath must be a non-empty path or undefined');
    }
    let r: ReturnType<NativeTap['attach']>;
    try {
      r = this.native.attach(name, netnsPath ?? null);
    } catch (e) {
      return err(new TapError('BAD_ARGUMENT', `attach ${name}: ${toError(e).message}`, { cause: e }));
    }
    if (isFailure(r) || typeof r !== 'object' || r === null) return err(failed(`attach ${name}${netnsPath ? ` in ${netnsPath}` : ''}`, r));
    const tap = new Tap(this.native, (t) => this.taps.delete(t), name, netnsPath, r.fd, r.ifindex);
    this.taps.add(tap);
    return ok(tap);
  }

  /** The TAPs attached through this object and not closed yet. */
  get open(): readonly Tap[] {
    return [...this.taps];
  }

  /**
   * Closes every open TAP (for a SIGTERM handler).
   *
   * @example
   * process.once('SIGTERM', () => addon.closeAll());
   */
  closeAll(): void {
    for (const tap of [...this.taps]) tap.close();
  }
}

let loading: Promise<Result<NativeTap, TapError>> | undefined;

async function loadNative(): Promise<Result<NativeTap, TapError>> {
  try {
    const path = await buildTapAddon();
    return ok(createRequire(import.meta.url)(path) as NativeTap);
  } catch (e) {
    loading = undefined; // let a later call try again
    return err(new TapError('LOAD', `the TAP addon could not be built or loaded: ${toError(e).message}`, { cause: e }));
  }
}

/**
 * Loads the addon (building it first when dist/native/tap.node is missing or older than tap.c)
 * and returns a fresh TapAddon over it.
 *
 * @example
 * const addon = await loadTap();
 * if (!addon.ok) throw addon.error;
 * const tap = addon.value.attach('P4TAP_0', '/var/run/netns/node');
 */
export async function loadTap(): Promise<Result<TapAddon, TapError>> {
  loading ??= loadNative();
  const native = await loading;
  return native.ok ? ok(new TapAddon(native.value)) : native;
}
