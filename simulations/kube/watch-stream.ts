/**
 * One open watch of the API stand-in: a chunked HTTP response of newline-delimited JSON events,
 * filtered by namespace and selectors, with BOOKMARKs when the client allows them, an end after
 * `timeoutSeconds`, and a way to be cut (cleanly, abruptly, or with a 410 ERROR event).
 *
 * Selectors are applied to both sides of a change, as the API server does: an object that stops
 * matching arrives as DELETED, one that starts matching as ADDED.
 *
 * While the server is stalled, lines queue instead of being written; they go out in order when
 * the stall ends, so a BOOKMARK never overtakes the events it vouches for.
 *
 * @example
 * const w = new WatchStream(res, { filter, clock, bookmarks: true, bookmarkIntervalMs: 1000, timeoutMs: 300_000,
 *   currentVersion: () => store.resourceVersion, stalled: () => false, admin: false, onClose: (w) => watches.delete(w) });
 * w.open(store.eventsSince(r, since).value); // headers at once, then the replay
 * store.subscribe((e) => w.offer(e));
 */
import type { ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { fieldsOf, type Matcher } from './selectors.js';
import type { ChangeEvent, KubeObject, Status } from './store.js';
import type { ResourceType } from './resources.js';

export interface WatchFilter {
  readonly resource: ResourceType;
  readonly namespace: string | undefined;
  readonly labels: Matcher;
  readonly fields: Matcher;
}

export interface WatchStreamOptions {
  readonly filter: WatchFilter;
  readonly clock: Clock;
  /** Send BOOKMARKs every bookmarkIntervalMs (the client asked with allowWatchBookmarks). */
  readonly bookmarks: boolean;
  readonly bookmarkIntervalMs: number;
  /** End the watch cleanly after this long. */
  readonly timeoutMs: number;
  /** The current global resourceVersion, for BOOKMARKs. */
  readonly currentVersion: () => number;
  /** True while the server is stalled: lines queue until `flush()`. */
  readonly stalled: () => boolean;
  /** Watches opened on the admin listener are exempt from knobs. */
  readonly admin: boolean;
  readonly onClose: (w: WatchStream) => void;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export class WatchStream {
  private readonly queue: string[] = [];
  private bookmarkTimer: TimerHandle | undefined;
  private timeoutTimer: TimerHandle | undefined;
  private closed = false;
  /** Ending: no new events; the queue drains (after a stall, if one is on), then the response ends. */
  private ending = false;
  /** Events written (for the stand-in's statistics). */
  sent = 0;

  constructor(
    private readonly res: ServerResponse,
    readonly options: WatchStreamOptions,
  ) {
    res.once('close', () => this.finish());
  }

  get admin(): boolean {
    return this.options.admin;
  }

  get resource(): ResourceType {
    return this.options.filter.resource;
  }

  /** Sends the headers at once (clients wait for them), then the replayed events. */
  open(replay: readonly ChangeEvent[]): void {
    this.res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
    this.res.flushHeaders();
    for (const e of replay) this.offer(e);
    const { clock } = this.options;
    this.timeoutTimer = clock.setTimeout(() => this.end(), this.options.timeoutMs);
    if (this.options.bookmarks) this.scheduleBookmark();
  }

  /** Synthetic ADDED events for the current objects (a watch from version "0" or none). */
  openWithObjects(objects: readonly KubeObject[]): void {
    this.open([]);
    for (const o of objects) if (this.matches(o)) this.write('ADDED', o);
  }

  /** Passes a change on if it concerns this watch (selectors applied to before and after). */
  offer(e: ChangeEvent): void {
    if (this.closed || this.ending || e.resource !== this.options.filter.resource) return;
    const now = this.matches(e.object);
    if (e.type !== 'MODIFIED') {
      if (now) this.write(e.type, e.object);
      return;
    }
    const was = e.previous !== undefined && this.matches(e.previous);
    if (now && was) this.write('MODIFIED', e.object);
    else if (now) this.write('ADDED', e.object);
    else if (was) this.write('DELETED', e.object);
  }

  /** Writes what queued during a stall. */
  flush(): void {
    if (this.closed || this.options.stalled()) return;
    while (this.queue.length > 0) this.res.write(this.queue.shift());
    if (this.ending) {
      this.finish();
      this.res.end();
    }
  }

  /** The server's way to say "your version is gone": an ERROR event with a 410 Status, then the end. */
  expire(s: Status): void {
    this.writeLine({ type: 'ERROR', object: s });
    // No BOOKMARK after it: the client would take its version and skip the relist.
    this.end(false);
  }

  /** Ends the response cleanly (what timeoutSeconds does); a BOOKMARK first when allowed. */
  end(bookmark = true): void {
    if (this.closed || this.ending) return;
    if (bookmark && this.options.bookmarks) this.bookmark();
    this.ending = true;
    this.flush();
  }

  /** Cuts the connection without ending the response: the client sees a broken stream. */
  destroy(): void {
    if (this.closed) return;
    this.finish();
    this.res.destroy();
  }

  private matches(o: KubeObject): boolean {
    const { namespace, labels, fields, resource } = this.options.filter;
    if (resource.namespaced && namespace !== undefined && o.metadata?.namespace !== namespace) return false;
    return labels(o.metadata?.labels ?? {}) && fields(fieldsOf(o));
  }

  private scheduleBookmark(): void {
    this.bookmarkTimer = this.options.clock.setTimeout(() => {
      this.bookmark();
      if (!this.closed && !this.ending) this.scheduleBookmark();
    }, this.options.bookmarkIntervalMs);
  }

  private bookmark(): void {
    const { resource } = this.options.filter;
    const apiVersion = resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
    this.writeLine({
      type: 'BOOKMARK',
      object: { kind: resource.kind, apiVersion, metadata: { resourceVersion: String(this.options.currentVersion()) } },
    });
  }

  private write(type: WatchEventType, object: KubeObject): void {
    this.writeLine({ type, object });
  }

  private writeLine(event: { type: WatchEventType; object: unknown }): void {
    if (this.closed || this.ending) return;
    this.sent++;
    const line = JSON.stringify(event) + '\n';
    if (this.options.stalled() || this.queue.length > 0) {
      this.queue.push(line);
      this.flush();
      return;
    }
    this.res.write(line);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    const { clock } = this.options;
    if (this.bookmarkTimer) clock.clearTimeout(this.bookmarkTimer);
    if (this.timeoutTimer) clock.clearTimeout(this.timeoutTimer);
    this.options.onClose(this);
  }
}
