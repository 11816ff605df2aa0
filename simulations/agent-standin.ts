/**
 * An agent stand-in for tests and benchmarks: it holds a node's intent (the truth), serves the
 * manager's full-state pull (infra.v1.<node>.agent.sync), publishes the agent's heartbeats (so
 * the manager's registry sees it, and pulls again after the manager restarts) and drives steps
 * against the manager exactly as the agent does — one managerMethods request per change, retried
 * until the manager answers, in order per object.
 *
 * Like the real agent it records a change in its own state before it sends it, so a pull that
 * crosses a request never misses what was asked (the manager keeps what it was asked during the
 * pull: see ManagerIntent.replaceAll). It uses one NATS connection for requests and replies, so
 * the manager receives them in the order they were sent.
 *
 * @example
 * const standin = await AgentStandin.start({ servers: nats.url, node: 'node-1' });
 * const outcome = await standin.run(rounds[0]!);   // every step answered
 * await standin.stop();
 */
import { silentLogs } from '../core/logger.js';
import { ok } from '../core/result.js';
import { seededRandom } from '../core/random.js';
import { Bus, route, type Served } from '../messages/bus.js';
import { BusError } from '../messages/errors.js';
import { prefix, subjects } from '../messages/subjects.js';
import { newInstanceId } from '../actors/process-identity.js';
import { SyncSnapshots } from '../actors/sync-pages.js';
import { systemClock } from '../core/clock.js';
import type { ChangeReply } from '../protocol/intent.js';
import { agentMethods, managerMethods } from '../protocol/methods.js';
import { heartbeatCodec } from '../protocol/node.js';
import { stepKey, Truth, type Step } from './workload.js';
import type { Result } from '../core/result.js';

export interface StandinOptions {
  readonly servers: string;
  readonly node: string;
  readonly heartbeatMs?: number;
  /** Requests in flight at once (distinct objects). */
  readonly concurrency?: number;
  /** Pause between retries of a request the manager could not answer. */
  readonly retryMs?: number;
  readonly seed?: number;
}

export interface RunOutcome {
  readonly requests: number;
  readonly retries: number;
  /** Requests the manager refused for good (a valid workload has none). */
  readonly errors: readonly string[];
}

/** Failures that go away by asking again: the manager is restarting, loading, or slow. */
const RETRIABLE = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED']);

export class AgentStandin {
  readonly truth: Truth;
  private readonly served: Served;
  private readonly timer: NodeJS.Timeout;
  private seq = 0;
  /** Called after each answered request (progress, e.g. to kill the manager mid-run). */
  onAnswered: ((count: number) => void) | undefined;
  private answered = 0;

  private constructor(
    private readonly bus: Bus,
    private readonly options: StandinOptions,
    readonly instanceId: string,
  ) {
    this.truth = new Truth(options.node);
    const node = options.node;
    // Served in pages like the real agent's (one snapshot per pull; the truth is small enough to take whole).
    const snapshots = new SyncSnapshots({ clock: systemClock, random: seededRandom(options.seed ?? 1) });
    this.served = bus.serve(prefix(node, 'agent'), [route(agentMethods.sync, (r) => snapshots.page(r, () => Promise.resolve(ok(this.truth.fullState()))))]);
    const beat = (): void => {
      bus.publish(subjects.events(node, 'heartbeat'), heartbeatCodec, {
        node,
        role: 'agent',
        instanceId,
        seq: ++this.seq,
        sentAtMs: Date.now(),
        stateRevision: this.truth.revision,
      });
    };
    beat();
    this.timer = setInterval(beat, options.heartbeatMs ?? 100);
  }

  static async start(options: StandinOptions): Promise<AgentStandin> {
    const bus = await Bus.connect({ servers: options.servers, name: `agent-standin-${options.node}`, logger: silentLogs().root, timeoutMs: 2000 });
    return new AgentStandin(bus, options, newInstanceId(seededRandom(options.seed ?? Date.now())));
  }

  /** Sends every step (recording it first), in order per object, until the manager answers each. */
  async run(steps: readonly Step[]): Promise<RunOutcome> {
    const queues = new Map<string, Step[]>();
    for (const s of steps) {
      const k = stepKey(s);
      const q = queues.get(k);
      if (q) q.push(s);
      else queues.set(k, [s]);
    }
    const keys = [...queues.keys()];
    let next = 0;
    let retries = 0;
    let requests = 0;
    const errors: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const q = queues.get(keys[next++]!)!;
        for (const step of q) {
          this.truth.apply(step);
          requests++;
          for (let attempt = 0; ; attempt++) {
            const r = await this.send(step);
            if (r.ok) break;
            if (!RETRIABLE.has(r.error.code)) {
              errors.push(`${stepKey(step)}: ${r.error.code} ${r.error.message}`);
              break;
            }
            retries++;
            await new Promise((res) => setTimeout(res, this.options.retryMs ?? 50));
          }
          this.onAnswered?.(++this.answered);
        }
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency ?? 16 }, worker));
    return { requests, retries, errors };
  }

  /** One step as the manager request the agent would send. */
  send(step: Step): Promise<Result<ChangeReply, BusError>> {
    const node = this.options.node;
    const m = managerMethods;
    switch (step.kind) {
      case 'host':
        return this.bus.request(subjects.manager(node, m.hostSetup.op), m.hostSetup, step.host);
      case 'pod':
        return this.bus.request(subjects.manager(node, m.podAdd.op), m.podAdd, step.pod);
      case 'pod.delete':
        return this.bus.request(subjects.manager(node, m.podDelete.op), m.podDelete, { node, containerId: step.containerId });
      case 'service':
        return this.bus.request(subjects.manager(node, m.serviceUpsert.op), m.serviceUpsert, { node, service: step.service });
      case 'service.delete':
        return this.bus.request(subjects.manager(node, m.serviceDelete.op), m.serviceDelete, { node, ...step.key });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.served.stop();
    await this.bus.close();
  }
}
