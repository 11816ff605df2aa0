/**
 * Test helpers for pod plumbing: read a namespace's state straight from `ip -j` (bypassing the
 * code under test), wrap the real runner to record or fail calls, and look for leaks in the
 * machine's root namespace.
 */
import { stat } from 'node:fs/promises';
import { err } from '../../core/result.js';
import { execIp, IpCommandError, type IpRunner } from '../../actors/agent/pool/mod.js';
import { ip } from '../agent-pool/netns.js';

export interface JsonLink {
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
}

export interface JsonRoute {
  dst: string;
  gateway?: string;
  scope?: string;
  flags?: string[];
}

async function json<T>(netns: string, ...args: string[]): Promise<T[]> {
  return JSON.parse((await ip('-n', netns, '-j', ...args)).trim() || '[]') as T[];
}

/** A link of a namespace, or undefined. */
export async function linkIn(netns: string, name: string): Promise<JsonLink | undefined> {
  return (await json<JsonLink>(netns, 'link', 'show')).find((l) => l.ifname === name);
}

/** A link's IPv4 addresses as "a.b.c.d/len", sorted. */
export async function addrsIn(netns: string, dev: string): Promise<string[]> {
  const links = await json<{ addr_info?: { family: string; local: string; prefixlen: number }[] }>(netns, '-4', 'addr', 'show', 'dev', dev);
  return links
    .flatMap((l) => l.addr_info ?? [])
    .filter((a) => a.family === 'inet')
    .map((a) => `${a.local}/${a.prefixlen}`)
    .sort();
}

/** A link's main-table IPv4 routes, as ip prints them. */
export async function routesIn(netns: string, dev: string): Promise<JsonRoute[]> {
  return json<JsonRoute>(netns, '-4', 'route', 'show', 'dev', dev);
}

/** Links in the machine's root namespace that carry the prefix or one of the MACs: must be none. */
export async function rootLeaks(prefix: string, macs: ReadonlySet<string>): Promise<string[]> {
  const links = JSON.parse((await ip('-j', 'link', 'show')).trim() || '[]') as JsonLink[];
  return links.filter((l) => l.ifname.startsWith(prefix) || macs.has(l.address)).map((l) => `${l.ifname} ${l.address}`);
}

/** A runner that records calls and executes none (for inputs that must be refused, dangerous if not). */
export function fakeIp(): { runner: IpRunner; calls: { args: readonly string[]; netns: string | undefined }[] } {
  const calls: { args: readonly string[]; netns: string | undefined }[] = [];
  const runner: IpRunner = {
    async run(args, netns) {
      calls.push({ args, netns });
      return err(new IpCommandError([...args], 'not executed in this test'));
    },
  };
  return { runner, calls };
}

/** Waits until two namespace files are the same namespace (a process started with `ip netns exec` has entered it). */
export async function waitSameNetns(a: string, b: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const [x, y] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
    if (x && y && x.dev === y.dev && x.ino === y.ino) return;
    if (Date.now() > deadline) throw new Error(`${a} did not become ${b}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The real runner, recording every call, and failing call number `failAt` (1-based) if given. */
export function wrapIp(failAt?: number): { runner: IpRunner; calls: { args: readonly string[]; netns: string | undefined }[] } {
  const calls: { args: readonly string[]; netns: string | undefined }[] = [];
  const runner: IpRunner = {
    async run(args, netns) {
      calls.push({ args, netns });
      if (calls.length === failAt) return err(new IpCommandError([...args], 'injected failure'));
      return execIp.run(args, netns);
    },
  };
  return { runner, calls };
}
