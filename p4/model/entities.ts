/**
 * P4Runtime-shaped entities of the control-plane API (p4.v1 TableEntry, ActionProfileMember,
 * ActionProfileGroup, Update), so that the software target can map protobuf messages onto them
 * field by field. Values are big-endian bytestrings; ids come from the P4Info.
 *
 * @example
 * const update: Update = {
 *   type: 'INSERT',
 *   entity: { tableEntry: { tableId, match: [{ fieldId: 1, exact: Uint8Array.of(10, 0, 0, 2) }],
 *             action: { actionId, params: [{ paramId: 1, value: Uint8Array.of(2) }] } } },
 * };
 */
export interface FieldMatch {
  readonly fieldId: number;
  readonly exact: Uint8Array;
}

export interface ActionParam {
  readonly paramId: number;
  readonly value: Uint8Array;
}

export interface TableAction {
  readonly actionId: number;
  readonly params: readonly ActionParam[];
}

export interface TableEntry {
  readonly tableId: number;
  readonly match: readonly FieldMatch[];
  /** Direct tables: the action. */
  readonly action?: TableAction;
  /** Indirect tables (action selector): a member or a group, not both. */
  readonly memberId?: number;
  readonly groupId?: number;
  /** Must be 0: every table here is exact-match. */
  readonly priority?: number;
  /** The default entry (const in every table of this program). */
  readonly isDefaultAction?: boolean;
  /** Read only: the data plane learned this entry (add-on-miss); not the controller's intent. */
  readonly learned?: boolean;
  /** Read only, learned entries: the PNA expire-time profile in force. */
  readonly expiryProfileId?: number;
  /** Read only, learned entries: ms since the last hit, on the model's clock. */
  readonly elapsedMs?: number;
}

export interface ActionProfileMember {
  readonly profileId: number;
  readonly memberId: number;
  readonly action?: TableAction;
}

export interface GroupMember {
  readonly memberId: number;
  readonly weight: number;
}

export interface ActionProfileGroup {
  readonly profileId: number;
  readonly groupId: number;
  readonly members?: readonly GroupMember[];
  /** Must be 1 … the profile's max group size; fixed at INSERT. */
  readonly maxSize?: number;
}

export type Entity =
  | { readonly tableEntry: TableEntry }
  | { readonly member: ActionProfileMember }
  | { readonly group: ActionProfileGroup };

export type UpdateType = 'INSERT' | 'MODIFY' | 'DELETE';

export interface Update {
  readonly type: UpdateType;
  readonly entity: Entity;
}
