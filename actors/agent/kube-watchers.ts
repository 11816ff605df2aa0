/**
 * The agent's Kubernetes watches, as one supervised actor: informers for its own Node, for
 * Services and for EndpointSlices; every event recomputes the ServicePorts of the service it
 * touches (kube-mapping.ts) and records them; the syncer (kube-sync.ts) writes what changed to
 * the agent's intent store and to the manager.
 *
 * When is the agent's state complete? Each time this actor starts (process start, or a restart
 * by its supervisor), `status.complete` is false and agent.sync answers UNAVAILABLE (the
 * manager retries on its heartbeat interval). It becomes true once (1) every informer has
 * applied its initial list, (2) services the intent store held but the API no longer has are
 * recorded as gone, and (3) one sync round has written all of it to the intent store. Only then
 * can the manager's pull of a new agent instance see the whole state.
 *
 * Who tells the manager? During a fresh process's first rebuild, only the intent store is
 * written: the manager pulls everything at once (it pulls each new agent instance, and could
 * not before, since agent.sync refused). After that — and during a rebuild after a restart of
 * this actor inside a running process, which the manager would not notice — every change goes
 * to the manager as service.upsert / service.delete.
 *
 * During an API outage the informers retry with back-off and nothing is forgotten: the intent
 * store and the manager keep the last known state.
 *
 * @example
 * createActor(kubeWatchersLogic, { clock, input: { node, config: config.kube, clock, logger, intent, manager, status } });
 */
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { fromPromise } from 'xstate';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { toError } from '../../core/result.js';
import { formatIpv4 } from '../../messages/validate.js';
import type { KubeSection } from '../process-config.js';
import { KubeApi } from './kube-informer.js';
import { nodeInfo, serviceId, servicePorts, sliceServiceId, type NodeInfo } from './kube-mapping.js';
import { KubeSource, type OpenInformer, type SourceHandlers } from './kube-source.js';
import { ServiceSyncer, type IntentPort, type ManagerPort, type RoundResult } from './kube-sync.js';

/** Lives as long as the process (held by the tree): what routes and tools read. */
export class KubeStatus {
  /** agent.sync may answer: the current watchers' initial lists are in the intent store. */
  complete = false;
  /** `complete` was reached at least once in this process. */
  everComplete = false;
  /** This node as the API describes it (pod CIDRs, InternalIP), once seen. */
  node: NodeInfo | undefined;
  /** The running watchers, for tests and inspection. */
  current: KubeWatchers | undefined;
}

/** Where informers come from: the API server (KubeApi), or fakes in tests. */
export interface InformerFactory {
  node(name: string): OpenInformer<V1Node>;
  services(): OpenInformer<V1Service>;
  endpointSlices(): OpenInformer<V1EndpointSlice>;
}

export interface KubeWatchersInput {
  /** This agent's node name. */
  readonly node: string;
  /** The node IP from the configuration, to warn when the API says otherwise. */
  readonly nodeIp?: number;
  readonly config: KubeSection;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intent: IntentPort;
  readonly manager: ManagerPort;
  readonly status: KubeStatus;
  readonly informers?: InformerFactory;
}

/** Runs until stopped (its signal aborts) or until a bug makes it fail (the supervisor restarts it). */
export const kubeWatchersLogic = fromPromise<void, KubeWatchersInput>(({ input, signal }) => new KubeWatchers(input).run(signal));

export class KubeWatchers {
  readonly sources: readonly [KubeSource<V1Node>, KubeSource<V1Service>, KubeSource<V1EndpointSlice>];
  readonly syncer: ServiceSyncer;
  private readonly services = new Map<string, V1Service>();
  private readonly slicesByService = new Map<string, Map<string, V1EndpointSlice>>();
  private readonly sliceOwner = new Map<string, string>();
  private readonly lastSkipped = new Map<string, string>();
  private seededServices = new Set<string>();
  private resyncTimer: TimerHandle | undefined;
  private finished = false;
  private fail: (e: Error) => void = () => undefined;

  constructor(private readonly input: KubeWatchersInput) {
    const { config, clock, logger, node } = input;
    const informers = input.informers ?? new KubeApi({ server: config.server, clock, ...pick(config) });
    const common = { clock, logger, backoff: config.backoff, onHandlerError: (e: Error) => this.fail(e) };
    this.sources = [
      new KubeSource<V1Node>({ ...common, name: 'nodes', open: informers.node(node), handlers: this.nodeHandlers() }),
      new KubeSource<V1Service>({ ...common, name: 'services', open: informers.services(), handlers: this.serviceHandlers() }),
      new KubeSource<V1EndpointSlice>({ ...common, name: 'endpointslices', open: informers.endpointSlices(), handlers: this.sliceHandlers() }),
    ];
    this.syncer = new ServiceSyncer({
      clock,
      logger,
      intent: input.intent,
      manager: input.manager,
      delayMs: config.syncDelayMs,
      maxDelayMs: config.maxSyncDelayMs,
      backoff: config.backoff,
      onRound: (r) => this.afterRound(r),
      onFatal: (e) => this.fail(e),
    });
  }

  run(signal: AbortSignal): Promise<void> {
    this.input.status.complete = false;
    this.input.status.current = this;
    return new Promise<void>((resolve, reject) => {
      const finish = (e?: Error): void => {
        if (this.finished) return;
        this.finished = true;
        void this.shutdown().then(() => (e ? reject(e) : resolve()));
      };
      this.fail = (e) => finish(e);
      if (signal.aborted) return finish();
      signal.addEventListener('abort', () => finish(), { once: true });
      this.begin().catch((e: unknown) => finish(toError(e)));
    });
  }

  /** Seeds the shadow from the intent store, starts the informers, and releases the first round once all have listed. */
  private async begin(): Promise<void> {
    const held = await this.input.intent.services();
    if (!held.ok) throw held.error; // the intent store is restarting; so will we
    this.syncer.tracker.seed(held.value);
    this.seededServices = new Set(held.value.map((p) => `${p.namespace}/${p.name}`));
    for (const s of this.sources) s.start();
    await Promise.all(this.sources.map((s) => s.synced));
    if (this.finished) return;
    // What the intent store held and the API no longer has is gone.
    for (const id of this.seededServices) if (!this.services.has(id)) this.syncer.record(id, []);
    this.syncer.pushToManager = this.input.status.everComplete;
    this.input.logger.info({ services: this.services.size, pushToManager: this.syncer.pushToManager }, 'initial lists applied');
    this.syncer.release();
    if (this.syncer.tracker.pendingCount === 0) this.markComplete();
  }

  private afterRound(r: RoundResult): void {
    if (!this.input.status.complete && r.intentFailures === 0) this.markComplete();
  }

  private markComplete(): void {
    const { status, config, clock } = this.input;
    if (status.complete || this.finished) return;
    status.complete = true;
    status.everComplete = true;
    this.syncer.pushToManager = true;
    this.input.logger.info({ services: this.services.size }, 'services rebuilt from the API: state complete');
    if (config.resyncMs > 0 && !this.resyncTimer) {
      const tick = (): void => {
        this.syncer.resync();
        this.resyncTimer = clock.setTimeout(tick, config.resyncMs);
      };
      this.resyncTimer = clock.setTimeout(tick, config.resyncMs);
    }
  }

  private async shutdown(): Promise<void> {
    this.syncer.stop();
    if (this.resyncTimer) this.input.clock.clearTimeout(this.resyncTimer);
    await Promise.all(this.sources.map((s) => s.stop()));
    if (this.input.status.current === this) this.input.status.current = undefined;
  }

  private recompute(id: string): void {
    const service = this.services.get(id);
    if (!service) {
      this.lastSkipped.delete(id);
      this.syncer.record(id, []);
      return;
    }
    const mapped = servicePorts(service, [...(this.slicesByService.get(id)?.values() ?? [])], this.input.node);
    const skipped = mapped.skipped.join('; ');
    if (skipped !== (this.lastSkipped.get(id) ?? '')) {
      if (skipped) this.input.logger.info({ service: id, skipped: mapped.skipped }, 'parts of a service are not offloaded');
      this.lastSkipped.set(id, skipped);
    }
    this.syncer.record(id, mapped.ports);
  }

  private serviceHandlers(): SourceHandlers<V1Service> {
    const changed = (s: V1Service, gone: boolean): void => {
      const id = serviceId(s.metadata?.namespace, s.metadata?.name);
      if (gone) this.services.delete(id);
      else this.services.set(id, s);
      this.recompute(id);
    };
    return { add: (s) => changed(s, false), update: (s) => changed(s, false), delete: (s) => changed(s, true) };
  }

  private sliceHandlers(): SourceHandlers<V1EndpointSlice> {
    const changed = (slice: V1EndpointSlice, gone: boolean): void => {
      const key = serviceId(slice.metadata?.namespace, slice.metadata?.name);
      const before = this.sliceOwner.get(key);
      const owner = gone ? undefined : sliceServiceId(slice);
      // A slice relabelled to another service leaves its old one.
      if (before !== undefined && before !== owner) {
        this.slicesByService.get(before)?.delete(key);
        if (this.slicesByService.get(before)?.size === 0) this.slicesByService.delete(before);
        this.sliceOwner.delete(key);
        this.recompute(before);
      }
      if (owner === undefined) return;
      let slices = this.slicesByService.get(owner);
      if (!slices) this.slicesByService.set(owner, (slices = new Map<string, V1EndpointSlice>()));
      slices.set(key, slice);
      this.sliceOwner.set(key, owner);
      this.recompute(owner);
    };
    return { add: (s) => changed(s, false), update: (s) => changed(s, false), delete: (s) => changed(s, true) };
  }

  private nodeHandlers(): SourceHandlers<V1Node> {
    const { status, logger, nodeIp } = this.input;
    const seen = (n: V1Node): void => {
      const info = nodeInfo(n);
      if (info.name !== this.input.node) return;
      if (JSON.stringify(info) !== JSON.stringify(status.node)) {
        logger.info({ podCidrs: info.podCidrs, internalIp: info.internalIp === undefined ? null : formatIpv4(info.internalIp) }, 'node seen');
      }
      if (nodeIp !== undefined && info.internalIp !== undefined && info.internalIp !== nodeIp) {
        logger.warn({ configured: formatIpv4(nodeIp), api: formatIpv4(info.internalIp) }, 'the Node object has another InternalIP than node.ip');
      }
      status.node = info;
    };
    return {
      add: seen,
      update: seen,
      delete: (n) => {
        if (n.metadata?.name !== this.input.node) return;
        logger.warn({ node: this.input.node }, 'our Node object was deleted');
        status.node = undefined;
      },
    };
  }
}

function pick(c: KubeSection): { watchTimeoutSeconds: number; idleGraceMs: number; requestTimeoutMs: number; pageSize: number; tokenFile?: string; caFile?: string } {
  return {
    watchTimeoutSeconds: c.watchTimeoutSeconds,
    idleGraceMs: c.idleGraceMs,
    requestTimeoutMs: c.requestTimeoutMs,
    pageSize: c.pageSize,
    ...(c.tokenFile ? { tokenFile: c.tokenFile } : {}),
    ...(c.caFile ? { caFile: c.caFile } : {}),
  };
}
