/**
 * Network namespaces for a fuzz run that needs a real agent with a TAP pool (the CNI gRPC target):
 * named `ioff-<runid>-<role>` and a TAP prefix `io<runid>_`, made here and deleted by `cleanup()`
 * — also, synchronously, when the process exits without it (a coordinator's SIGTERM). Nothing is
 * ever added to the root namespace; TAPs live only inside these namespaces, so deleting a
 * namespace deletes them.
 *
 * @example
 * const net = new FuzzNet();
 * const host = await net.add('host');
 * try { … } finally { await net.cleanup(); }
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const live = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const name of live) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // already gone
      }
    }
  });
}

export class FuzzNet {
  readonly id = randomBytes(3).toString('hex');
  /** TAP names: `${prefix}${index}` (IFNAMSIZ: io + 6 + _ + index). */
  readonly prefix = `io${this.id}_`;
  private readonly made = new Set<string>();

  ns(role: string): string {
    return `ioff-${this.id}-${role}`;
  }

  /** Creates `ioff-<id>-<role>`. */
  async add(role: string): Promise<string> {
    const name = this.ns(role);
    hookExit();
    await run('ip', ['netns', 'add', name], { timeout: 10_000 });
    this.made.add(name);
    live.add(name);
    return name;
  }

  /** Registers a namespace of this run that the code under test creates (for cleanup). */
  adopt(role: string): string {
    const name = this.ns(role);
    hookExit();
    this.made.add(name);
    live.add(name);
    return name;
  }

  /** Deletes every namespace of this run (their TAPs with them). */
  async cleanup(): Promise<void> {
    for (const name of [...this.made]) {
      await run('ip', ['netns', 'del', name], { timeout: 10_000 }).catch(() => undefined);
      this.made.delete(name);
      live.delete(name);
    }
  }
}

/** Whether this process may make namespaces and TAPs (root, with iproute2). */
export function canMakeNamespaces(): boolean {
  return process.getuid?.() === 0;
}
