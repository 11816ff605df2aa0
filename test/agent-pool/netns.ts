/**
 * Test helpers: namespaces and TAP prefixes named with the project prefix and a run id, and
 * removed afterwards. TAPs live only inside these namespaces, so deleting a namespace deletes them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `ip ...args`, throwing on failure (tests want loud failures). */
export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 });
  return stdout;
}

/** A run's names: `ioff-<id>-<role>` namespaces and an `io<id>_` TAP prefix (short: IFNAMSIZ). */
export class TestNet {
  readonly id = randomBytes(3).toString('hex');
  readonly prefix = `io${this.id}_`;
  private readonly made = new Set<string>();

  ns(role: string): string {
    return `ioff-${this.id}-${role}`;
  }

  async addNs(role: string): Promise<string> {
    const name = this.ns(role);
    await ip('netns', 'add', name);
    this.made.add(name);
    return name;
  }

  /**
   * Registers a namespace the code under test creates (e.g. a gateway namespace) for cleanup;
   * call it before that code runs. Only this run's names (`ioff-<id>-…`) are accepted.
   */
  adopt(name: string): string {
    if (!name.startsWith(`ioff-${this.id}-`)) throw new Error(`refusing to adopt ${name}: not a namespace of run ${this.id}`);
    this.made.add(name);
    return name;
  }

  async delNs(name: string): Promise<void> {
    await ip('netns', 'del', name).catch(() => undefined);
    this.made.delete(name);
  }

  /** Adds `count` TAPs prefix0.. in a namespace by hand (bypassing the code under test). */
  async addTaps(netns: string, indices: readonly number[]): Promise<void> {
    for (const i of indices) await ip('-n', netns, 'tuntap', 'add', 'dev', `${this.prefix}${i}`, 'mode', 'tap');
  }

  /** Names of the TAPs with the run's prefix in a namespace. */
  async taps(netns: string): Promise<string[]> {
    const links = JSON.parse((await ip('-n', netns, '-j', 'link', 'show')) || '[]') as { ifname: string }[];
    return links.map((l) => l.ifname).filter((n) => n.startsWith(this.prefix)).sort();
  }

  /** Removes every namespace of this run (and with them their TAPs). */
  async cleanup(): Promise<void> {
    for (const name of [...this.made]) await this.delNs(name);
  }

  /** Namespaces of this run still present in `ip netns list`. */
  async leftovers(): Promise<string[]> {
    const list = await ip('netns', 'list');
    return list.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`ioff-${this.id}-`));
  }
}
