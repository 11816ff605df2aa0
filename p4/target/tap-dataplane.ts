/**
 * Real packet I/O for the software target: the ports of the agent's port map (pool index = P4
 * port id → TAP name and the namespace it lives in) attached through the native TAP addon, and
 * every frame read from one forwarded through the running program to the TAP of its output port.
 *
 * Attaching follows the device, not the name: a TAP attached in the pool namespace keeps its
 * descriptor when the agent moves it into a pod's namespace and renames it, so a live port is
 * never re-attached. A port whose TAP died (its pod's namespace deleted) is closed and attached
 * again once the agent has re-created it and the port map says where; after a target restart
 * every port is attached where the map says it now is (from inside that namespace). Attaching
 * never creates a device (the addon checks). The map is polled (its mtime and size), and ports
 * that failed to attach are retried on the same beat.
 *
 * The hot path allocates nothing per frame: one receive area for all ports (reads never
 * overlap on the JS thread), the program's own output buffer, counters in typed arrays.
 *
 * @example
 * const dp = new TapDataplane({ addon, program: () => server.devices.get(1)?.program, portMapFile, logger });
 * dp.sync(); // then every pollMs by itself
 * dp.close();
 */
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import { err, ok, toError, type Result } from '../../core/result.js';
import type { TargetProgram } from './program.js';
import { createReceiveArea, frameAt, type ReceiveArea, type Tap, type TapAddon } from './tap/tap.js';

const NETNS_RUN_DIR = '/var/run/netns';
/** Ports the counters cover (pool indices); a bigger map is refused. */
export const MAX_PORTS = 4096;

const portMapSchema = z.object({
  version: z.literal(1),
  ports: z
    .array(
      z.object({
        port: z.number().int().min(0).max(MAX_PORTS - 1),
        name: z.string().min(1).max(15),
        netns: z.string().min(1).max(4096).nullable(),
      }),
    )
    .max(MAX_PORTS),
});

export interface PortMapEntry {
  readonly port: number;
  readonly name: string;
  /** A namespace name (under /var/run/netns), an absolute path, or null: the target's own. */
  readonly netns: string | null;
}

/** Reads and checks the agent's port map. */
export function readPortMap(file: string): Result<PortMapEntry[], Error> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return err(new Error(`cannot read the port map ${file}: ${toError(e).message}`));
  }
  const parsed = portMapSchema.safeParse(json);
  if (!parsed.success) return err(new Error(`${file} is not a port map: ${parsed.error.message}`));
  return ok(parsed.data.ports);
}

/** Where to attach: undefined for the target's own namespace. */
export function netnsPathOf(netns: string | null): string | undefined {
  if (netns === null) return undefined;
  return netns.startsWith('/') ? netns : `${NETNS_RUN_DIR}/${netns}`;
}

export interface DataplaneOptions {
  readonly addon: TapAddon;
  /** The running program, looked up per batch (a new pipeline replaces it). */
  readonly program: () => TargetProgram | undefined;
  readonly portMapFile: string;
  readonly logger: Logger;
  /** How often the map is looked at and failed ports retried (default 250 ms). */
  readonly pollMs?: number;
}

interface PortState {
  entry: PortMapEntry;
  tap: Tap | undefined;
  /** Why the last attach failed (logged once per change). */
  failure: string | undefined;
}

export interface PortStats {
  readonly port: number;
  readonly name: string;
  readonly attached: boolean;
  readonly rx: number;
  readonly tx: number;
  readonly drops: number;
}

export class TapDataplane {
  private readonly ports = new Map<number, PortState>();
  private readonly area: ReceiveArea;
  private readonly rx = new Float64Array(MAX_PORTS);
  private readonly tx = new Float64Array(MAX_PORTS);
  /** Frames that could not be sent: output port not attached, or its queue full (EAGAIN). */
  private readonly txDrops = new Float64Array(MAX_PORTS);
  /** Frames the pipeline dropped. */
  pipelineDrops = 0;
  private stamp = '';
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: DataplaneOptions) {
    const area = createReceiveArea(64, 9216);
    if (!area.ok) throw area.error; // fixed, valid arguments: cannot happen
    this.area = area.value;
  }

  /** Attaches what the map lists and starts polling it. */
  start(): void {
    this.sync();
    this.timer = setInterval(() => this.sync(), this.opts.pollMs ?? 250);
    this.timer.unref();
  }

  /** One look at the map: attach new or failed ports, close ports no longer listed. */
  sync(): void {
    if (this.closed) return;
    let stamp: string;
    try {
      const s = statSync(this.opts.portMapFile);
      stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return; // no map yet: the agent has not prepared its pool
    }
    const detached = [...this.ports.values()].some((p) => !p.tap);
    if (stamp === this.stamp && !detached) return;
    const map = readPortMap(this.opts.portMapFile);
    if (!map.ok) {
      this.opts.logger.warn({ err: map.error.message }, 'port map unreadable; keeping the ports as they are');
      return;
    }
    this.stamp = stamp;
    const listed = new Set<number>();
    for (const entry of map.value) {
      listed.add(entry.port);
      const state = this.ports.get(entry.port) ?? { entry, tap: undefined, failure: undefined };
      state.entry = entry;
      this.ports.set(entry.port, state);
      if (!state.tap) this.attach(state);
    }
    for (const [port, state] of this.ports) {
      if (listed.has(port)) continue;
      state.tap?.close();
      this.ports.delete(port);
    }
  }

  stats(): PortStats[] {
    return [...this.ports.values()]
      .map(({ entry, tap }) => ({ port: entry.port, name: entry.name, attached: tap !== undefined, rx: this.rx[entry.port]!, tx: this.tx[entry.port]!, drops: this.txDrops[entry.port]! }))
      .sort((a, b) => a.port - b.port);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const state of this.ports.values()) state.tap?.close();
    this.ports.clear();
  }

  private attach(state: PortState): void {
    const { port, name, netns } = state.entry;
    const where = netnsPathOf(netns);
    const tap = this.opts.addon.attach(name, where);
    if (!tap.ok) {
      const why = `${tap.error.code}: ${tap.error.message}`;
      if (why !== state.failure) this.opts.logger.debug({ port, name, netns, err: why }, 'port not attached (yet)');
      state.failure = why;
      return;
    }
    const started = tap.value.start(this.area, (n) => this.onFrames(port, n), (e) => this.onTapError(port, e.message));
    if (!started.ok) {
      tap.value.close();
      state.failure = started.error.message;
      return;
    }
    state.tap = tap.value;
    state.failure = undefined;
    this.opts.logger.info({ port, name, netns }, 'port attached');
  }

  private onTapError(port: number, message: string): void {
    const state = this.ports.get(port);
    if (!state) return;
    this.opts.logger.info({ port, name: state.entry.name, err: message }, 'port lost (its device is gone); re-attaching when the port map lists it again');
    state.tap?.close();
    state.tap = undefined;
  }

  private onFrames(port: number, count: number): void {
    this.rx[port]! += count;
    const program = this.opts.program();
    if (!program?.forward || !program.forwarded) {
      this.pipelineDrops += count;
      return;
    }
    program.tick?.();
    for (let i = 0; i < count; i++) {
      const out = program.forward(port, frameAt(this.area, i));
      if (out < 0) {
        this.pipelineDrops++;
        continue;
      }
      const dst = out < MAX_PORTS ? this.ports.get(out)?.tap : undefined;
      const sent = dst?.write(program.forwarded());
      if (sent?.ok && sent.value > 0) this.tx[out]!++;
      else if (out < MAX_PORTS) this.txDrops[out]!++;
    }
  }
}
