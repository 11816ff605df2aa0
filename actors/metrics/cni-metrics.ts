/**
 * The agent's CNI requests (ADD, DEL, CHECK and the Prepare that overlaps IPAM), from the gRPC
 * request arriving at the agent to its reply, by result: `ok` or the typed error code the plugin
 * turns into a CNI error (UNAVAILABLE → code 11, try again later; MALFORMED / INVALID_ARGUMENT for
 * a request the codecs refused). The plugin's own exec, host-local and the runtime are outside
 * this: `npm run bench:cni` measures the whole ADD.
 *
 * @example
 * const cni = new CniMetrics(registry);
 * startCniServer({ socketPath, backend, logger, observer: cni });
 */
import { Histogram, type Registry } from 'prom-client';
import type { CniMethod, CniObserver } from '../agent/cni-server.js';
import { BUCKETS, LabelSet, PREFIX } from './registry.js';

export class CniMetrics implements CniObserver {
  private readonly histogram: Histogram<'method' | 'result'>;
  private readonly results = new LabelSet(32);
  private readonly children = new Map<string, (s: number) => void>();

  constructor(registry: Registry) {
    this.histogram = new Histogram({
      name: `${PREFIX}cni_request_duration_seconds`,
      help: 'CNI requests the agent served, from the request reaching its gRPC socket to the reply, by method (add, del, check, prepare) and result (ok or the typed error code).',
      labelNames: ['method', 'result'],
      buckets: [...BUCKETS.cni],
      registers: [registry],
    });
    for (const method of ['add', 'del']) this.histogram.zero({ method, result: 'ok' });
  }

  served(method: CniMethod, seconds: number, result: string): void {
    const key = `${method}\0${result}`;
    let observe = this.children.get(key);
    if (!observe) {
      const child = this.histogram.labels({ method: method.toLowerCase(), result: this.results.of(result) });
      observe = (s) => child.observe(s);
      if (this.children.size < 256) this.children.set(key, observe);
    }
    observe(seconds);
  }
}
