/**
 * Checks for the primitive values every protocol message carries: IPv4 unicast addresses, MACs,
 * ports, Kubernetes names and CNI identifiers. Each returns the parsed value or throws a
 * ValidationError naming the field; codecs catch it at the edge and reply with a typed error,
 * so the throw never leaves the decode path.
 *
 * @example
 * const ip = unicastIpv4(wire.ipv4, 'interface.ipv4'); // 10.244.0.5 → 0x0af40005
 */
import { ValidationError } from './errors.js';

const MAC_TEXT = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Parses strict dotted-decimal IPv4 (no leading zeros, no shorthand) into a uint32. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (part.length === 0 || part.length > 3 || (part.length > 1 && part[0] === '0')) return undefined;
    let octet = 0;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return undefined;
      octet = octet * 10 + c;
    }
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(ip: number): string {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/**
 * A unicast address a pod, service or node may have: not 0.0.0.0/8 ("this network"),
 * 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast) or 240.0.0.0/4 (reserved, incl. broadcast).
 * Accepts the wire form (a fixed32 number) or dotted text (configuration, Kubernetes objects).
 */
export function unicastIpv4(value: unknown, field: string): number {
  let ip: number | undefined;
  if (typeof value === 'number') {
    if (value === 0) throw new ValidationError(field, 'required');
    ip = Number.isInteger(value) && value > 0 && value <= 0xffffffff ? value : undefined;
  } else {
    const text = requireString(value, field, 64);
    ip = parseIpv4(text);
    if (ip === undefined) throw new ValidationError(field, `"${clip(text)}" is not a dotted-decimal IPv4 address`);
  }
  if (ip === undefined) throw new ValidationError(field, 'not an IPv4 address');
  const first = ip >>> 24;
  if (first === 0) throw new ValidationError(field, `${formatIpv4(ip)} is in 0.0.0.0/8`);
  if (first === 127) throw new ValidationError(field, `${formatIpv4(ip)} is a loopback address`);
  if (first >= 224 && first <= 239) throw new ValidationError(field, `${formatIpv4(ip)} is a multicast address`);
  if (first >= 240) throw new ValidationError(field, `${formatIpv4(ip)} is reserved or broadcast`);
  return ip;
}

/** An IPv4 CIDR whose address is the network address ("10.244.0.0/24"). */
export function ipv4Cidr(value: unknown, field: string): { readonly network: number; readonly prefix: number } {
  const text = requireString(value, field);
  const slash = text.indexOf('/');
  const ip = slash > 0 ? parseIpv4(text.slice(0, slash)) : undefined;
  const prefixText = slash > 0 ? text.slice(slash + 1) : '';
  const prefix = /^(?:[0-9]|[12][0-9]|3[0-2])$/.test(prefixText) ? Number(prefixText) : -1;
  if (ip === undefined || prefix < 0) throw new ValidationError(field, `"${clip(text)}" is not an IPv4 CIDR`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((ip & ~mask) >>> 0 !== 0) throw new ValidationError(field, `${text} has host bits set`);
  return { network: ip, prefix };
}

/** Parses "aa:bb:cc:dd:ee:ff" into a 48-bit number (exact in a double). */
export function parseMac(text: string): number | undefined {
  if (!MAC_TEXT.test(text)) return undefined;
  return parseInt(text.replaceAll(':', ''), 16);
}

const HEX_PAIRS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function formatMac(mac: number): string {
  const hi = Math.floor(mac / 0x100000000);
  const lo = mac >>> 0;
  return `${HEX_PAIRS[(hi >>> 8) & 255]}:${HEX_PAIRS[hi & 255]}:${HEX_PAIRS[lo >>> 24]}:${HEX_PAIRS[(lo >>> 16) & 255]}:${HEX_PAIRS[(lo >>> 8) & 255]}:${HEX_PAIRS[lo & 255]}`;
}

/** A 48-bit MAC number as the 6 bytes P4Runtime and our wire use. */
export function macToBytes(mac: number): Uint8Array {
  const out = new Uint8Array(6);
  const hi = Math.floor(mac / 0x100000000);
  const lo = mac >>> 0;
  out[0] = hi >>> 8;
  out[1] = hi;
  out[2] = lo >>> 24;
  out[3] = lo >>> 16;
  out[4] = lo >>> 8;
  out[5] = lo;
  return out;
}

/**
 * A unicast, non-zero MAC: not broadcast, not multicast (group bit), not 00:00:00:00:00:00.
 * Accepts the wire form (6 bytes) or colon-separated text.
 */
export function unicastMac(value: unknown, field: string): number {
  let mac: number | undefined;
  if (value instanceof Uint8Array) {
    if (value.length === 0) throw new ValidationError(field, 'required');
    if (value.length !== 6) throw new ValidationError(field, `${value.length} bytes, a MAC has 6`);
    const lo = ((value[2]! << 24) | (value[3]! << 16) | (value[4]! << 8) | value[5]!) >>> 0;
    mac = (value[0]! * 256 + value[1]!) * 0x100000000 + lo;
  } else {
    const text = requireString(value, field, 64);
    mac = parseMac(text);
    if (mac === undefined) throw new ValidationError(field, `"${clip(text)}" is not a MAC address`);
  }
  if (mac === 0) throw new ValidationError(field, 'the all-zero MAC is not an interface address');
  if (Math.floor(mac / 2 ** 40) & 1) throw new ValidationError(field, `${formatMac(mac)} is a multicast or broadcast MAC`);
  return mac;
}

/** A TCP/UDP port, 1–65535. */
export function port(value: unknown, field: string): number {
  return uint(value, field, 1, 65535);
}

/** An integer in [min, max]. */
export function uint(value: unknown, field: string, min: number, max: number): number {
  const n = u64(value, field);
  if (n < min || n > max) throw new ValidationError(field, `${n} is outside ${min}–${max}`);
  return n;
}

/** A protobuf uint64 (a number, or a Long from protobufjs) as a safe integer. */
export function u64(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (value !== null && typeof value === 'object' && 'toNumber' in value && 'high' in value) {
    const long = value as { high: number; low: number; unsigned: boolean; toNumber(): number };
    if (!long.unsigned && long.high < 0) throw new ValidationError(field, 'negative');
    if (long.high >>> 0 > 0x1fffff) throw new ValidationError(field, 'above 2^53');
    return long.toNumber();
  }
  throw new ValidationError(field, 'not an unsigned integer');
}

/** A DNS-1123 subdomain (node, pod and service names): lowercase, ≤ 253, dot-separated labels. */
export function dnsSubdomain(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (text.length > 253) throw new ValidationError(field, `longer than 253 characters`);
  if (!isDnsName(text, true)) throw new ValidationError(field, `"${clip(text)}" is not a DNS-1123 subdomain`);
  return text;
}

/** A DNS-1123 label (namespaces): lowercase alphanumerics and '-', ≤ 63. */
export function dnsLabel(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (text.length > 63 || !isDnsName(text, false)) throw new ValidationError(field, `"${clip(text)}" is not a DNS-1123 label`);
  return text;
}

/** One pass over the characters: labels of [a-z0-9-], alphanumeric at both ends, ≤ 63 each. */
function isDnsName(text: string, dotsAllowed: boolean): boolean {
  let labelStart = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (i === text.length || dotsAllowed) {
        const len = i - labelStart;
        if (len === 0 || len > 63) return false;
        if (text.charCodeAt(labelStart) === 45 || text.charCodeAt(i - 1) === 45) return false;
        labelStart = i + 1;
        continue;
      }
      return false;
    }
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) return false;
  }
  return true;
}

/** A Kubernetes node name. */
export function nodeName(value: unknown, field: string): string {
  return dnsSubdomain(value, field);
}

/** A Service port name: empty (single-port services) or an IANA service name of ≤ 15. */
export function portName(value: unknown, field: string): string {
  const text = typeof value === 'string' ? value : '';
  if (text === '') return text;
  if (text.length > 15 || !IANA_SVC_NAME.test(text)) throw new ValidationError(field, `"${clip(text)}" is not a port name`);
  return text;
}

/** CNI_CONTAINERID: alphanumerics, '_', '.', '-', starting alphanumeric, ≤ 256. */
export function containerId(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (text.length > 256 || !CONTAINER_ID.test(text)) throw new ValidationError(field, `"${clip(text)}" is not a container id`);
  return text;
}

/** A Linux interface name: 1–15 bytes, no '/', ':', whitespace, not "." or "..". */
export function interfaceName(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (text.length > 15 || /[/:\s]/.test(text) || text === '.' || text === '..' || !/^[\x21-\x7e]+$/.test(text)) {
    throw new ValidationError(field, `"${clip(text)}" is not a Linux interface name`);
  }
  return text;
}

/** A non-empty string of at most `max` characters. */
export function requireString(value: unknown, field: string, max = 1024): string {
  if (typeof value !== 'string' || value.length === 0) throw new ValidationError(field, 'required');
  if (value.length > max) throw new ValidationError(field, `longer than ${max} characters`);
  return value;
}

/** One of the enum's non-zero values (proto3 enums are open: unknown numbers arrive as numbers). */
export function enumValue<T extends number>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value === 'number' && (allowed as readonly number[]).includes(value)) return value as T;
  throw new ValidationError(field, value === 0 || value === undefined ? 'required' : `unknown value ${typeof value === 'number' ? value : typeof value}`);
}

/** A sub-message that must be present. */
export function present<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) throw new ValidationError(field, 'required');
  return value;
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

export function formatCidr(cidr: { readonly network: number; readonly prefix: number }): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}
