/**
 * P4Runtime client arbitration, as the specification (v1.1+) defines it, with no I/O: which
 * stream is the primary of each (device_id, role), what every stream is told, and who may write.
 *
 * - The primary is the stream with the highest election id ever seen for that (device, role);
 *   an id greater than or equal to that high-water mark takes (or keeps) the primary role.
 * - Everyone hears the outcome: the primary OK, backups ALREADY_EXISTS, and NOT_FOUND for all
 *   while there is no primary; each update carries the highest election id seen (absent if
 *   there never was a primary).
 * - When the primary's stream ends no backup is promoted: there is no primary until some client
 *   arbitrates with an id at least as high as the high-water mark.
 * - First-message errors: unknown device NOT_FOUND, an election id already used by a live
 *   stream of that (device, role) INVALID_ARGUMENT, too many streams RESOURCE_EXHAUSTED; a later
 *   message that changes device or role FAILED_PRECONDITION.
 *
 * @example
 * const arb = new Arbitration({ devices: [1] });
 * arb.update('s1', { deviceId: 1, role: '', electionId: 5n }); // s1 primary
 * arb.checkWrite(1, '', 4n); // 'PERMISSION_DENIED'
 */
export type StatusName = 'OK' | 'ALREADY_EXISTS' | 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'RESOURCE_EXHAUSTED' | 'PERMISSION_DENIED';

export interface ArbitrationRequest {
  readonly deviceId: number;
  /** Role name; '' is the default role (full pipeline access). */
  readonly role: string;
  /** Absent: the client never becomes primary (read-only use). */
  readonly electionId: bigint | undefined;
}

/** What one stream is told. */
export interface Notice {
  readonly streamId: string;
  readonly deviceId: number;
  readonly role: string;
  readonly status: 'OK' | 'ALREADY_EXISTS' | 'NOT_FOUND';
  /** The highest election id seen for (device, role); undefined if never a primary. */
  readonly electionId: bigint | undefined;
}

export type UpdateOutcome = { readonly ok: true; readonly notices: Notice[] } | { readonly ok: false; readonly status: StatusName; readonly message: string };

interface StreamState {
  readonly deviceId: number;
  readonly role: string;
  electionId: bigint | undefined;
}

interface GroupState {
  highest: bigint | undefined;
  primary: string | undefined;
  readonly members: Set<string>;
}

export interface ArbitrationOptions {
  readonly devices: Iterable<number>;
  /** Live arbitrated streams per (device, role). Default 64. */
  readonly maxStreams?: number;
}

export class Arbitration {
  private readonly devices: Set<number>;
  private readonly maxStreams: number;
  private readonly streams = new Map<string, StreamState>();
  private readonly groups = new Map<string, GroupState>();

  constructor(options: ArbitrationOptions) {
    this.devices = new Set(options.devices);
    this.maxStreams = options.maxStreams ?? 64;
  }

  /** Handles a MasterArbitrationUpdate from stream `streamId`. */
  update(streamId: string, req: ArbitrationRequest): UpdateOutcome {
    const known = this.streams.get(streamId);
    if (known && (known.deviceId !== req.deviceId || known.role !== req.role)) {
      return { ok: false, status: 'FAILED_PRECONDITION', message: 'a stream cannot change its device or role' };
    }
    if (!known) {
      if (req.deviceId === 0 || !this.devices.has(req.deviceId)) {
        return { ok: false, status: 'NOT_FOUND', message: `unknown device ${req.deviceId}` };
      }
      const group = this.group(req.deviceId, req.role);
      if (group.members.size >= this.maxStreams) {
        return { ok: false, status: 'RESOURCE_EXHAUSTED', message: `more than ${this.maxStreams} streams for this device and role` };
      }
    }
    const group = this.group(req.deviceId, req.role);
    if (req.electionId !== undefined) {
      for (const id of group.members) {
        if (id !== streamId && this.streams.get(id)?.electionId === req.electionId) {
          return { ok: false, status: 'INVALID_ARGUMENT', message: `election id ${req.electionId} is in use by another stream` };
        }
      }
    }
    const state = known ?? { deviceId: req.deviceId, role: req.role, electionId: undefined };
    state.electionId = req.electionId;
    this.streams.set(streamId, state);
    group.members.add(streamId);
    if (req.electionId !== undefined && (group.highest === undefined || req.electionId >= group.highest)) {
      group.highest = req.electionId;
      group.primary = streamId;
    } else if (group.primary === streamId) {
      // The primary lowered its own id below the high-water mark: it is no longer primary.
      group.primary = undefined;
    }
    return { ok: true, notices: this.noticesFor(req.deviceId, req.role, group) };
  }

  /** The stream ended. Returns what the remaining streams of its group are told (if anything changed). */
  close(streamId: string): Notice[] {
    const state = this.streams.get(streamId);
    if (!state) return [];
    this.streams.delete(streamId);
    const group = this.group(state.deviceId, state.role);
    group.members.delete(streamId);
    if (group.primary !== streamId) return [];
    group.primary = undefined;
    return this.noticesFor(state.deviceId, state.role, group);
  }

  /**
   * May a request with this (device, role, election id) write? The spec's order: unknown device
   * NOT_FOUND, then PERMISSION_DENIED unless it names the current primary's election id.
   */
  checkWrite(deviceId: number, role: string, electionId: bigint | undefined): StatusName {
    if (!this.devices.has(deviceId)) return 'NOT_FOUND';
    const group = this.groups.get(key(deviceId, role));
    const primary = group?.primary === undefined ? undefined : this.streams.get(group.primary);
    if (!primary || electionId === undefined || primary.electionId !== electionId) return 'PERMISSION_DENIED';
    return 'OK';
  }

  /** The primary stream of (device, role), if any. */
  primary(deviceId: number, role: string): string | undefined {
    return this.groups.get(key(deviceId, role))?.primary;
  }

  hasDevice(deviceId: number): boolean {
    return this.devices.has(deviceId);
  }

  private group(deviceId: number, role: string): GroupState {
    const k = key(deviceId, role);
    let g = this.groups.get(k);
    if (!g) {
      g = { highest: undefined, primary: undefined, members: new Set() };
      this.groups.set(k, g);
    }
    return g;
  }

  private noticesFor(deviceId: number, role: string, group: GroupState): Notice[] {
    return [...group.members].map((streamId) => ({
      streamId,
      deviceId,
      role,
      status: group.primary === undefined ? 'NOT_FOUND' : group.primary === streamId ? 'OK' : 'ALREADY_EXISTS',
      electionId: group.highest,
    }));
  }
}

function key(deviceId: number, role: string): string {
  return `${deviceId}\u0000${role}`;
}
