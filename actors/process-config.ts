/**
 * The configuration files of the manager and the agent. A missing node IP stops start-up with
 * `node.ip: required`, as the original's NODE_IP check did, but for every field and at once.
 */
import { z } from 'zod';
import { heartbeatSchema, loggingSchema, natsSchema } from '../core/config.js';
import { dnsSubdomain, ipv4Cidr, unicastIpv4 } from '../messages/validate.js';

/** Runs one of our validators inside zod, turning its error into a zod issue. */
function checked<T>(check: (value: unknown, field: string) => T) {
  return z.string().transform((value, ctx): T => {
    try {
      return check(value, '');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^: /, '') });
      return z.NEVER;
    }
  });
}

const ipv4Text = checked(unicastIpv4);
const nodeNameText = checked(dnsSubdomain);
const cidrText = checked(ipv4Cidr);

export const nodeSchema = z
  .object({
    name: nodeNameText,
    /** The node's InternalIP. */
    ip: ipv4Text,
    /** The node's pod range (spec.podCIDR); learned from the Node object when absent. */
    podCidr: cidrText.optional(),
  })
  .strict();

/** The fields every process has; each process's schema adds its own as later issues need them. */
const processConfigShape = { node: nodeSchema, nats: natsSchema, heartbeat: heartbeatSchema, logging: loggingSchema };

export const managerConfigSchema = z.object({ ...processConfigShape }).strict();
export const agentConfigSchema = z.object({ ...processConfigShape }).strict();

export type ProcessConfig = z.output<z.ZodObject<typeof processConfigShape>>;
export type ManagerConfig = z.output<typeof managerConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema>;
