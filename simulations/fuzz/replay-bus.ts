/**
 * Replays one bus input against a live node (manager and agent, their own processes): the
 * request's typed error must be the one the server's codec predicts, both processes must stay up
 * and keep their state (digest and revision of ctl.state). Used to minimise bus findings and to
 * replay the bus corpus. A replay that kills a process gets a fresh node for the next one.
 *
 * @example
 * const replayer = await BusReplayer.start();
 * const v = await replayer.verdict('manager.pod.add', bytes); // { class: 'ok' | 'crash' | … }
 * await replayer.close();
 */
import { silentLogs } from '../../core/logger.js';
import { Bus } from '../../messages/bus.js';
import { startLocalNode, type LocalNode } from '../local-node.js';
import { baselineIntent, busTargets, type FuzzTarget } from './bus-targets.js';
import { entryMeta, type BusCorpusCase, type EntryMeta } from './corpus.js';
import { OK, type Verdict } from './findings.js';
import { seedBaseline, stateOf, waitForRegistration } from './node-fuzz.js';

const TIMEOUT_MS = 5000;

/** The typed error code the server must answer `bytes` with on `target`, or undefined for a valid request (never sent). */
export function expectedBusCode(target: FuzzTarget, bytes: Uint8Array): string | undefined {
  if (!target.method) return 'UNIMPLEMENTED';
  const decoded = target.method.request.decode(bytes);
  return decoded.ok ? undefined : decoded.error.code;
}

/**
 * Tests only: a planted oracle bug — a verdict for inputs the node answered correctly (e.g. a
 * "crash" on a marker), to prove the minimiser against a live node.
 */
export type BusPlant = (label: string, bytes: Uint8Array) => Verdict | undefined;

export class BusReplayer {
  private targets: FuzzTarget[] = [];
  private pids: [number?, number?] = [];

  private constructor(
    private local: LocalNode,
    private bus: Bus,
    private owned: boolean,
    private readonly plant: BusPlant | undefined,
  ) {}

  /** A node of its own: nats-server, manager and agent, the baseline intent seeded. */
  static async start(plant?: BusPlant): Promise<BusReplayer> {
    const local = await startLocalNode({ tls: false, heartbeatMs: 500, restartAfterMs: null });
    try {
      return await BusReplayer.over(local, true, plant);
    } catch (e) {
      await local.stop();
      throw e;
    }
  }

  /** Replays against a node already running with the baseline seeded (the fuzz run's own). */
  static async over(local: LocalNode, owned = false, plant?: BusPlant): Promise<BusReplayer> {
    const bus = await Bus.connect({ servers: local.nats.url, name: 'bus-replay', logger: silentLogs().root, timeoutMs: TIMEOUT_MS });
    const r = new BusReplayer(local, bus, owned, plant);
    try {
      await r.ready(owned);
    } catch (e) {
      await bus.close();
      throw e;
    }
    return r;
  }

  private async ready(seed: boolean): Promise<void> {
    const node = this.local.node;
    await waitForRegistration(this.bus, node);
    const baseline = baselineIntent(node);
    if (seed) await seedBaseline(this.bus, node, baseline);
    const agent = await stateOf(this.bus, node, 'agent');
    this.targets = busTargets(node, baseline, agent.instanceId);
    this.pids = [this.local.manager.pid, this.local.agent.pid];
  }

  /** The node replayed against (to share it with another replayer). */
  get node(): LocalNode {
    return this.local;
  }

  target(label: string): FuzzTarget | undefined {
    return this.targets.find((t) => t.label === label);
  }

  private alive(): boolean {
    const { manager, agent } = this.local;
    return manager.running && agent.running && manager.pid === this.pids[0] && agent.pid === this.pids[1];
  }

  private async digest(): Promise<string> {
    const node = this.local.node;
    const m = await stateOf(this.bus, node, 'manager', 2000);
    const a = await stateOf(this.bus, node, 'agent', 2000);
    return `${m.digest}/${m.revision} ${a.digest}/${a.revision}`;
  }

  /** A fresh node of our own after a crash (the run's node is left to its owner). */
  private async renew(): Promise<void> {
    await this.bus.close();
    if (this.owned) await this.local.stop();
    this.local = await startLocalNode({ tls: false, heartbeatMs: 500, restartAfterMs: null });
    this.owned = true;
    this.bus = await Bus.connect({ servers: this.local.nats.url, name: 'bus-replay', logger: silentLogs().root, timeoutMs: TIMEOUT_MS });
    await this.ready(true);
  }

  /** Sends `bytes` to the subject labelled `label` and judges the answer and the processes. */
  async verdict(label: string, bytes: Uint8Array): Promise<Verdict> {
    if (!this.alive()) await this.renew();
    const target = this.target(label);
    if (!target) return { class: 'mismatch', detail: `no subject labelled ${label}` };
    const expected = expectedBusCode(target, bytes);
    if (expected === undefined) return { ...OK, detail: 'a valid request (not sent)' };
    let before: string;
    try {
      before = await this.digest();
    } catch (e) {
      return { class: 'crash', detail: `not answering before the replay: ${(e as Error).message}` };
    }
    const reply = await this.bus.requestBytes(target.subject, bytes, { timeoutMs: TIMEOUT_MS });
    if (!this.alive()) return { class: 'crash', detail: `a process of the node exited (${label}, ${bytes.length} bytes)` };
    if (reply.ok) return { class: 'mismatch', detail: `expected ${expected}, got a success reply` };
    const e = reply.error;
    if (e.name !== 'RemoteError') {
      if (bytes.length > 1024 * 1024 && e.code === 'UNAVAILABLE') return { ...OK, detail: 'over max_payload: refused by the client' };
      return /TIMEOUT|DEADLINE/.test(e.code) ? { class: 'hang', detail: `no answer within ${TIMEOUT_MS} ms (${e.code})` } : { class: 'mismatch', detail: `expected ${expected}, got ${e.name} ${e.code}: ${e.message}` };
    }
    if (e.code !== expected) return { class: 'mismatch', detail: `expected ${expected}, got ${e.code}: ${e.message}` };
    let after: string;
    try {
      after = await this.digest();
    } catch (x) {
      return { class: 'crash', detail: `not answering after the replay: ${(x as Error).message}` };
    }
    if (after !== before) return { class: 'state', detail: `state changed: ${before} → ${after}` };
    return this.plant?.(label, bytes) ?? OK;
  }

  async close(): Promise<void> {
    await this.bus.close();
    if (this.owned) await this.local.stop();
  }
}

/**
 * The corpus entry of a (minimised) bus input.
 *
 * @example
 * const entry = busCorpusEntry(replayer.target(label)!, bytes, { seed, category: 'finding-random', note, found });
 */
export function busCorpusEntry(target: FuzzTarget, bytes: Uint8Array, meta: EntryMeta): BusCorpusCase {
  return {
    target: 'bus',
    ...entryMeta(meta, bytes),
    subject: target.label,
    bytesBase64: Buffer.from(bytes).toString('base64'),
    expected: { code: expectedBusCode(target, bytes) ?? 'OK' },
  };
}

/** What is wrong with a stored bus case now, or undefined: the oracle must still predict its code, and the node answer it. */
export async function checkBusCase(replayer: BusReplayer, entry: BusCorpusCase): Promise<string | undefined> {
  const target = replayer.target(entry.subject);
  if (!target) return `no subject labelled ${entry.subject}`;
  const bytes = Buffer.from(entry.bytesBase64, 'base64');
  const predicted = expectedBusCode(target, bytes) ?? 'OK';
  if (predicted !== entry.expected.code) return `the oracle now says ${predicted}`;
  const v = await replayer.verdict(entry.subject, bytes);
  return v.class === 'ok' ? undefined : `${v.class}: ${v.detail}`;
}

/** A 32-bit FNV-1a of bytes: a stable index for a saved finding. */

