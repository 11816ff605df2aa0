/**
 * The cluster's nats-server (JetStream, no TLS: the NATS proxies in front of the agents must read
 * the plaintext protocol to drop, duplicate, reorder and delay whole messages — TLS is tested
 * elsewhere, in test/security/). It can be killed with SIGKILL and started again on the same port
 * with the same JetStream store, as systemd would restart it: clients reconnect to the same URL
 * and the KV buckets are still there.
 *
 * @example
 * const nats = await RestartableNats.start(join(runDir, 'nats'));
 * await nats.kill9AndRestart(300);
 * await nats.stop();
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../nats-server.js';

export class RestartableNats {
  private constructor(
    private server: NatsServer,
    readonly dir: string,
  ) {}

  static async start(dir: string): Promise<RestartableNats> {
    await mkdir(dir, { recursive: true });
    return new RestartableNats(await startNatsServer({ dir }), dir);
  }

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  get pid(): number {
    return this.server.pid;
  }

  /** SIGKILL by PID, then after `downMs` a new server on the same port and store. */
  async kill9AndRestart(downMs: number): Promise<void> {
    const old = this.server;
    try {
      process.kill(old.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await old.stop(100);
    await new Promise((r) => setTimeout(r, downMs));
    // A killed server leaves its ports file: the new one must be waited for, not the stale one.
    for (const f of await readdir(this.dir)) if (f.endsWith('.ports')) await rm(join(this.dir, f), { force: true });
    // The port may linger for a moment: try a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        this.server = await startNatsServer({ dir: this.dir, port: old.port, startTimeoutMs: 5000 });
        return;
      } catch (e) {
        if (attempt >= 10) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}
