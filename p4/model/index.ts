/**
 * The behavioural model of the k8s_dp P4 pipeline: public entry point.
 *
 * @example
 * import { Pipeline, EntityBuilder, TABLE_APPLY_ORDER } from './p4/model/index.js';
 * const p = new Pipeline(loadP4Info());
 */
export { Pipeline, checkP4Info, DEFAULT_AGE_BUDGET, type PipelineStats, type TableStats } from './pipeline.js';
export {
  DROP_REASONS,
  FLOW_AGED,
  FLOW_LEARNED,
  FLOW_REMOVED,
  type DropReason,
  type FlowEventHandler,
  type OutFrame,
  type PipelineOptions,
} from './outcomes.js';
export { EntityBuilder, type NamedEntry, type Values } from './entity-builder.js';
export type { ActionParam, ActionProfileGroup, ActionProfileMember, Entity, FieldMatch, GroupMember, TableAction, TableEntry, Update, UpdateType } from './entities.js';
export { Code, codeName, OK_STATUS, type Status, type StatusCode } from './status.js';
export { bytesOf, valueOf } from './bytestring.js';
export { crc32, crc32AddrPort } from './crc32.js';
export {
  TABLE_APPLY_ORDER,
  TABLES,
  ACTIONS,
  LB_SELECTOR,
  DEFAULT_EXPIRY_MS,
  PROFILE_TCP_CLOSING,
  PROFILE_TCP_ESTABLISHED,
  PROFILE_UDP,
  PORT_GATEWAY,
  PORT_UPLINK,
} from './names.js';
