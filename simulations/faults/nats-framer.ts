/**
 * Cuts one direction of a plaintext NATS connection into protocol units, without changing a byte:
 * control lines (INFO, CONNECT, SUB, UNSUB, PING, PONG, +OK, -ERR) and whole messages — the
 * PUB/HPUB or MSG/HMSG line with its payload and the CRLF after it — however the bytes were split
 * across TCP reads. The fault proxy acts on whole messages only, so it can never break framing.
 *
 * Anything it does not understand (an unknown operation, a line or payload over the limits, a
 * payload not followed by CRLF, the TLS upgrade an INFO with `tls_required` announces) turns the
 * rest of the stream into `opaque` units: passed on untouched, never faulted.
 *
 * @example
 * const framer = new NatsFramer('client');
 * framer.push(Buffer.from('PUB a 5\r\nhel'));  // []
 * framer.push(Buffer.from('lo\r\nPING\r\n'));  // [{ kind: 'message', op: 'PUB', … }, { kind: 'control', op: 'PING', … }]
 */

/** Who sends the bytes this framer reads. */
export type NatsSender = 'client' | 'server';

export type MessageOp = 'PUB' | 'HPUB' | 'MSG' | 'HMSG';

export type NatsUnit =
  | { readonly kind: 'message'; readonly op: MessageOp; readonly subject: string; readonly bytes: Buffer }
  | { readonly kind: 'control'; readonly op: string; readonly bytes: Buffer }
  | { readonly kind: 'opaque'; readonly bytes: Buffer };

export interface FramerLimits {
  /** Longest control line (default 64 KiB; nats-server's own limit is 4 KiB for clients). */
  readonly maxLine?: number;
  /** Largest payload (default 64 MiB). */
  readonly maxPayload?: number;
}

const CONTROL: Record<NatsSender, ReadonlySet<string>> = {
  client: new Set(['CONNECT', 'SUB', 'UNSUB', 'PING', 'PONG']),
  server: new Set(['INFO', 'PING', 'PONG', '+OK', '-ERR']),
};
const MESSAGES: Record<NatsSender, ReadonlySet<string>> = {
  client: new Set(['PUB', 'HPUB']),
  server: new Set(['MSG', 'HMSG']),
};
/** Argument counts of each message line (with and without a reply subject). */
const ARGS: Record<MessageOp, readonly number[]> = { PUB: [2, 3], HPUB: [3, 4], MSG: [3, 4], HMSG: [4, 5] };
const SIZE = /^\d{1,10}$/;
const LF = 10;
const CR = 13;

export class NatsFramer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes of the buffer already searched for a line end. */
  private scanned = 0;
  /** The line of the message whose payload is awaited. */
  private pendingLine: { line: Buffer; op: MessageOp; subject: string; need: number } | undefined;
  private opaqueReason: string | undefined;
  private readonly maxLine: number;
  private readonly maxPayload: number;

  constructor(
    private readonly sender: NatsSender,
    limits: FramerLimits = {},
  ) {
    this.maxLine = limits.maxLine ?? 64 * 1024;
    this.maxPayload = limits.maxPayload ?? 64 * 1024 * 1024;
  }

  /** Why the stream became opaque, once it has. */
  get opaque(): string | undefined {
    return this.opaqueReason;
  }

  /** Bytes held waiting for the rest of a unit. */
  get buffered(): number {
    return this.size + (this.pendingLine?.line.length ?? 0);
  }

  /** The complete units `chunk` finished, in order. */
  push(chunk: Buffer): NatsUnit[] {
    if (this.opaqueReason !== undefined) return chunk.length > 0 ? [{ kind: 'opaque', bytes: chunk }] : [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out: NatsUnit[] = [];
    for (;;) {
      const p = this.pendingLine;
      if (p) {
        if (this.size < p.need + 2) break;
        const body = this.take(p.need + 2);
        this.pendingLine = undefined;
        if (body[body.length - 2] !== CR || body[body.length - 1] !== LF) {
          this.giveUp(`${p.op} payload not followed by CRLF`, out, Buffer.concat([p.line, body]));
          break;
        }
        out.push({ kind: 'message', op: p.op, subject: p.subject, bytes: Buffer.concat([p.line, body], p.line.length + body.length) });
        continue;
      }
      const end = this.findLineEnd();
      if (end < 0) {
        if (this.size > this.maxLine) this.giveUp(`a control line longer than ${this.maxLine} bytes`, out);
        break;
      }
      if (end + 1 > this.maxLine) {
        this.giveUp(`a control line longer than ${this.maxLine} bytes`, out);
        break;
      }
      const line = this.take(end + 1);
      if (!this.line(line, out)) break;
    }
    return out;
  }

  /** Parses one complete line; false when the stream became opaque. */
  private line(line: Buffer, out: NatsUnit[]): boolean {
    const text = line.toString('latin1', 0, line.length - (line.length >= 2 && line[line.length - 2] === CR ? 2 : 1));
    const tokens = text.trim().split(/[ \t]+/);
    const op = (tokens[0] ?? '').toUpperCase();
    if (MESSAGES[this.sender].has(op)) {
      const mop = op as MessageOp;
      const args = tokens.slice(1);
      const total = args[args.length - 1] ?? '';
      const headers = mop === 'HPUB' || mop === 'HMSG' ? (args[args.length - 2] ?? '') : '0';
      if (!ARGS[mop].includes(args.length) || !SIZE.test(total) || !SIZE.test(headers) || Number(headers) > Number(total)) {
        this.giveUp(`a malformed ${mop} line`, out, line);
        return false;
      }
      const need = Number(total);
      if (need > this.maxPayload) {
        this.giveUp(`a ${mop} payload of ${need} bytes, over ${this.maxPayload}`, out, line);
        return false;
      }
      this.pendingLine = { line, op: mop, subject: args[0]!, need };
      return true;
    }
    if (!CONTROL[this.sender].has(op)) {
      this.giveUp(op === '' ? 'an empty line' : `an unknown operation from the ${this.sender}`, out, line);
      return false;
    }
    out.push({ kind: 'control', op, bytes: line });
    // The server announced TLS: what follows is encrypted, not NATS.
    if (op === 'INFO' && /"tls_required"\s*:\s*true/.test(text)) this.giveUp('TLS required by the server', out);
    return true;
  }

  /** Turns the rest of the stream opaque: `head` (already taken) and what is buffered go out as they are. */
  private giveUp(reason: string, out: NatsUnit[], head?: Buffer): void {
    this.opaqueReason = reason;
    const rest = this.take(this.size);
    const bytes = head ? Buffer.concat([head, rest]) : rest;
    if (bytes.length > 0) out.push({ kind: 'opaque', bytes });
  }

  /** Index of the first LF in the buffered bytes, or -1. */
  private findLineEnd(): number {
    // A line trickling in byte by byte: keep the pieces few, so a search does not walk them all.
    if (this.chunks.length > 8) this.chunks = [Buffer.concat(this.chunks, this.size)];
    let base = 0;
    for (const c of this.chunks) {
      if (this.scanned < base + c.length) {
        const i = c.indexOf(LF, Math.max(0, this.scanned - base));
        if (i >= 0) return base + i;
      }
      base += c.length;
    }
    this.scanned = this.size;
    return -1;
  }

  /** Removes and returns the first `n` buffered bytes (no copy when they are in one chunk). */
  private take(n: number): Buffer {
    this.scanned = 0;
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    this.size -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        parts.push(c);
        this.chunks.shift();
        left -= c.length;
      } else {
        parts.push(c.subarray(0, left));
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    return Buffer.concat(parts, n);
  }
}
