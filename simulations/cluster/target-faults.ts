/**
 * Write faults at a node's P4 target (TargetAdmin.SetFaults): every Write RPC delayed, and
 * updates failed with RESOURCE_EXHAUSTED (8) or UNAVAILABLE (14) at a seeded rate — counted by the
 * target apart from other failures, so the duplicate-write invariant is not fooled. All zero turns
 * them off. A target that restarts comes back without faults.
 *
 * @example
 * await setTargetFaults(node.admin, { writeDelayMs: 300, failPerMille: 0, failCode: 8, seed: 1 });
 * await setTargetFaults(node.admin, NO_TARGET_FAULTS);
 */
import { err, ok, toError, type Result } from '../../core/result.js';
import type { TargetAdminClient } from '../../p4/target/admin.js';

export interface TargetFaults {
  readonly writeDelayMs: number;
  readonly failPerMille: number;
  /** 8 RESOURCE_EXHAUSTED or 14 UNAVAILABLE. */
  readonly failCode: number;
  readonly seed: number;
}

export const NO_TARGET_FAULTS: TargetFaults = { writeDelayMs: 0, failPerMille: 0, failCode: 14, seed: 0 };

export async function setTargetFaults(admin: TargetAdminClient, faults: TargetFaults): Promise<Result<void, Error>> {
  try {
    await admin.setFaults({ deviceId: 1, ...faults });
    return ok(undefined);
  } catch (e) {
    return err(toError(e));
  }
}
