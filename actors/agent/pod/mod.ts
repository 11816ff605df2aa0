/**
 * Pod network-namespace plumbing: a pool TAP moved into a pod's namespace and configured
 * (plumbPod / unplumbPod / checkPod), and the gateway and host interfaces (setupGateway /
 * setupHost).
 *
 * @example
 * import { plumbPod, setupGateway, GATEWAY_IP, PlumbError } from './actors/agent/pod/mod.js';
 */
export { PlumbError, type PlumbErrorOptions, type PlumbStep } from './errors.js';
export { GATEWAY_IP, setupGateway, setupHost, type GatewayOptions, type HostOptions } from './gateway.js';
export { checkPod, plumbPod, unplumbPod, type Plumbed, type PlumbSpec, type PodAddress, type PodRoute } from './plumbing.js';
export { NETNS_RUN_DIR, netnsPath, netnsExists } from './inputs.js';
