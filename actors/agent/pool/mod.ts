/**
 * The interface pool: set-up, discovery, allocation and the port map.
 *
 * @example
 * import { createPool, discoverPool, PoolAllocator, execIp } from './actors/agent/pool/mod.js';
 */
export * from './errors.js';
export { execIp, checkName, type IpRunner } from './ip.js';
export { checkPoolSize } from './size.js';
export { createPool, checkPoolOptions, MAX_IFNAME, type CreatePoolOptions, type CreatePoolReport } from './setup.js';
export { discoverPool, validatePool, listLinks, poolName, type DiscoveredPool, type LinkInfo } from './discover.js';
export { readState, writeState, writeJsonAtomic, stateErrorCode, type PoolState } from './state-file.js';
export { fsFiles, type AgentFiles, type ReplaceOptions } from './files.js';
export * from './allocator.js';
