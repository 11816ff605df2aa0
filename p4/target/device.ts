/**
 * One P4 device's forwarding-pipeline state, as SetForwardingPipelineConfig defines it: a saved
 * config (VERIFY_AND_SAVE) and a committed one (VERIFY_AND_COMMIT, COMMIT) whose program the
 * device executes. Committing clears forwarding state (a new program instance); reconciling with
 * the same P4Info keeps it. Generic over the program instance so tests can use anything.
 *
 * @example
 * const dev = new DeviceState(1, verify, (info) => new Pipeline(info));
 * dev.set('VERIFY_AND_COMMIT', { p4info, deviceConfig, cookie: 7n });
 */
import type { P4Info } from '../p4info.js';

export type SetAction = 'VERIFY' | 'VERIFY_AND_SAVE' | 'VERIFY_AND_COMMIT' | 'COMMIT' | 'RECONCILE_AND_COMMIT';

export interface PipelineConfig {
  /** The P4Info as received (kept to answer GetForwardingPipelineConfig byte for byte). */
  readonly p4infoRaw: unknown;
  readonly p4info: P4Info;
  readonly deviceConfig: Uint8Array;
  readonly cookie: bigint | undefined;
  /** A stable fingerprint of the P4Info (equal programs reconcile without losing state). */
  readonly fingerprint: string;
}

export type DeviceOutcome = { readonly ok: true } | { readonly ok: false; readonly status: 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'UNIMPLEMENTED'; readonly message: string };

/** Checks that this target can execute the program; returns why not, or undefined. */
export type Verifier = (config: PipelineConfig) => string | undefined;

export class DeviceState<M> {
  private saved: PipelineConfig | undefined;
  private committed: PipelineConfig | undefined;
  private instance: M | undefined;
  /** Incremented on every commit that replaced the program instance (forwarding state cleared). */
  generation = 0;

  constructor(
    readonly deviceId: number,
    private readonly verify: Verifier,
    private readonly instantiate: (info: P4Info) => M,
  ) {}

  /** The running program, if a pipeline is committed. */
  get program(): M | undefined {
    return this.instance;
  }

  get config(): PipelineConfig | undefined {
    return this.committed;
  }

  set(action: SetAction, config: PipelineConfig | undefined): DeviceOutcome {
    if (action === 'COMMIT') {
      if (!this.saved) return { ok: false, status: 'NOT_FOUND', message: 'COMMIT without a saved config (VERIFY_AND_SAVE first)' };
      this.commit(this.saved);
      this.saved = undefined;
      return { ok: true };
    }
    if (!config) return { ok: false, status: 'INVALID_ARGUMENT', message: `${action} needs a config with a P4Info` };
    const problem = this.verify(config);
    if (problem) return { ok: false, status: 'INVALID_ARGUMENT', message: problem };
    switch (action) {
      case 'VERIFY':
        return { ok: true };
      case 'VERIFY_AND_SAVE':
        this.saved = config;
        return { ok: true };
      case 'VERIFY_AND_COMMIT':
        this.commit(config);
        return { ok: true };
      case 'RECONCILE_AND_COMMIT':
        if (this.committed && this.committed.fingerprint !== config.fingerprint) {
          return { ok: false, status: 'UNIMPLEMENTED', message: 'reconciling to a different program is not supported; use VERIFY_AND_COMMIT' };
        }
        if (!this.committed) this.commit(config);
        else this.committed = config; // same program: keep every table and learned entry
        return { ok: true };
    }
  }

  private commit(config: PipelineConfig): void {
    this.committed = config;
    this.instance = this.instantiate(config.p4info);
    this.generation++;
  }
}
