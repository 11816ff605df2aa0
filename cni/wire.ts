/**
 * A tiny protobuf writer/reader for the few flat messages of infra.v1.CniBackend
 * (proto/infra/v1/cni.proto), so the exec'd plugin loads no protobuf library.
 *
 * @example
 * const bytes = encodeAddRequest({ containerId: 'abc', netns: '/run/netns/x', ifname: 'eth0', … });
 */
export interface IpConfig {
  address: number;
  prefixLength: number;
  gateway: number;
}
export interface Route {
  dst: number;
  dstPrefixLength: number;
  gateway: number;
}
export interface PodRef {
  containerId: string;
  netns: string;
  ifname: string;
  podNamespace: string;
  podName: string;
  network: string;
}
export interface AddRequest extends PodRef {
  ips: IpConfig[];
  routes: Route[];
  mtu: number;
}
export interface CheckRequest extends AddRequest {
  mac: string;
}
export interface WireError {
  code: number;
  message: string;
  field: string;
}
export interface AddReply {
  ifname: string;
  mac: string;
  sandbox: string;
  portId: number;
  error?: WireError;
}

class Writer {
  private readonly bytes: number[] = [];
  varint(v: number): this {
    let n = v >>> 0;
    while (n > 127) {
      this.bytes.push((n & 127) | 128);
      n >>>= 7;
    }
    this.bytes.push(n);
    return this;
  }
  uint(field: number, v: number): this {
    return v === 0 ? this : this.varint(field << 3).varint(v);
  }
  fixed32(field: number, v: number): this {
    if (v === 0) return this;
    this.varint((field << 3) | 5);
    this.bytes.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
    return this;
  }
  bytesField(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2).varint(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  string(field: number, s: string): this {
    return s === '' ? this : this.bytesField(field, Buffer.from(s, 'utf8'));
  }
  finish(): Buffer {
    return Buffer.from(this.bytes);
  }
}

function writePodRef(w: Writer, r: PodRef): Writer {
  return w
    .string(1, r.containerId)
    .string(2, r.netns)
    .string(3, r.ifname)
    .string(4, r.podNamespace)
    .string(5, r.podName)
    .string(9, r.network);
}

function writeAddFields(w: Writer, r: AddRequest): Writer {
  for (const ip of r.ips) {
    w.bytesField(6, new Writer().fixed32(1, ip.address).uint(2, ip.prefixLength).fixed32(3, ip.gateway).finish());
  }
  for (const rt of r.routes) {
    w.bytesField(7, new Writer().fixed32(1, rt.dst).uint(2, rt.dstPrefixLength).fixed32(3, rt.gateway).finish());
  }
  return w.uint(8, r.mtu);
}

export function encodeAddRequest(r: AddRequest): Buffer {
  return writeAddFields(writePodRef(new Writer(), r), r).finish();
}
/** CniPrepareRequest: where the interface goes, sent while IPAM runs. */
export function encodePrepareRequest(r: { containerId: string; netns: string; ifname: string; mtu: number }): Buffer {
  return new Writer().string(1, r.containerId).string(2, r.netns).string(3, r.ifname).uint(8, r.mtu).finish();
}

export function encodeDelRequest(r: PodRef): Buffer {
  return writePodRef(new Writer(), r).finish();
}
export function encodeCheckRequest(r: CheckRequest): Buffer {
  return writeAddFields(writePodRef(new Writer(), r), r).string(10, r.mac).finish();
}

/** Calls `onField(field, wireType, value)` for each field; length-delimited values are subarrays. */
function readFields(buf: Uint8Array, onField: (field: number, value: number | Uint8Array) => void): void {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= buf.length || shift > 63) throw new Error('truncated varint');
      const b = buf[pos++]!;
      if (shift < 32) result += (b & 127) * 2 ** shift;
      if (b < 128) return result;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const type = key & 7;
    if (type === 0) onField(field, varint());
    else if (type === 5 || type === 1) {
      const size = type === 5 ? 4 : 8;
      if (pos + size > buf.length) throw new Error('truncated fixed field');
      onField(field, (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0);
      pos += size;
    } else if (type === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new Error('truncated length-delimited field');
      onField(field, buf.subarray(pos, pos + len));
      pos += len;
    } else throw new Error(`unsupported wire type ${type}`);
  }
}

const text = (v: number | Uint8Array): string => (typeof v === 'number' ? '' : Buffer.from(v).toString('utf8'));

function decodeError(buf: Uint8Array): WireError {
  const e: WireError = { code: 0, message: '', field: '' };
  readFields(buf, (f, v) => {
    if (f === 1 && typeof v === 'number') e.code = v;
    else if (f === 2) e.message = text(v);
    else if (f === 3) e.field = text(v);
  });
  return e;
}

export function decodeAddReply(buf: Uint8Array): AddReply {
  const r: AddReply = { ifname: '', mac: '', sandbox: '', portId: 0 };
  readFields(buf, (f, v) => {
    if (f === 1) r.ifname = text(v);
    else if (f === 2) r.mac = text(v);
    else if (f === 3) r.sandbox = text(v);
    else if (f === 4 && typeof v === 'number') r.portId = v;
    else if (f === 15 && typeof v !== 'number') r.error = decodeError(v);
  });
  return r;
}

/** CniDelReply and CniCheckReply: only the error. */
export function decodeStatusReply(buf: Uint8Array): { error?: WireError } {
  const r: { error?: WireError } = {};
  readFields(buf, (f, v) => {
    if (f === 15 && typeof v !== 'number') r.error = decodeError(v);
  });
  return r;
}
