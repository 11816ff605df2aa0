/**
 * Who talks on the bus, and the names that tie a certificate to NATS permissions. The
 * certificate's subject is the NATS user (verify_and_map), so the common name, the DN the
 * server maps, the inbox prefix and the file names are all derived here, in one place, and
 * cannot drift apart between the certificate tooling and the nats-server configuration.
 *
 * @example
 * const agent: Identity = { kind: 'agent', node: 'node-1' };
 * commonName(agent);   // "agent.node-1"
 * subjectDn(agent);    // "CN=agent.node-1"  (the NATS user)
 * inboxPrefix(agent);  // "_INBOX_agent_node-1" (Bus.connect({ inboxPrefix }))
 */
import { nodeToken } from '../../messages/subjects.js';
import { nodeName } from '../../messages/validate.js';

export type Identity =
  | { readonly kind: 'agent'; readonly node: string }
  | { readonly kind: 'manager'; readonly node: string }
  /** An operator (offloadctl): read access to every node's ctl queries and events. */
  | { readonly kind: 'operator'; readonly name: string };

/**
 * Operator names: no dots, so "offloadctl" can never be mistaken for "agent.<node>" and the
 * inbox prefix is one subject token.
 */
const OPERATOR_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The default operator identity, as offloadctl presents it. */
export const DEFAULT_OPERATOR = 'offloadctl';

/** Throws a plain Error naming the problem when an identity's name is not acceptable. */
export function validateIdentity(id: Identity): Identity {
  if (id.kind === 'operator') {
    if (!OPERATOR_NAME.test(id.name)) throw new Error(`operator name "${id.name}": lowercase letters, digits and '-', at most 63`);
    return id;
  }
  nodeName(id.node, `${id.kind} node`);
  return id;
}

/** The certificate's CN: "agent.<node>", "manager.<node>" or the operator's name. */
export function commonName(id: Identity): string {
  validateIdentity(id);
  return id.kind === 'operator' ? id.name : `${id.kind}.${id.node}`;
}

/** The RFC 2253 subject DN nats-server maps to a user: our certificates carry a CN only. */
export function subjectDn(id: Identity): string {
  return `CN=${commonName(id)}`;
}

/**
 * This identity's reply-subject prefix. NATS permissions let each user subscribe only under its
 * own, so nobody can read another identity's replies (`_INBOX.>` would show them all).
 */
export function inboxPrefix(id: Identity): string {
  validateIdentity(id);
  return id.kind === 'operator' ? `_INBOX_ctl_${id.name}` : `_INBOX_${id.kind}_${nodeToken(id.node)}`;
}

/** The identities of a deployment: an agent and a manager per node, then the operators. */
export function deploymentIdentities(nodes: readonly string[], operators: readonly string[] = [DEFAULT_OPERATOR]): Identity[] {
  return [
    ...nodes.flatMap((node): Identity[] => [
      { kind: 'agent', node },
      { kind: 'manager', node },
    ]),
    ...operators.map((name): Identity => ({ kind: 'operator', name })),
  ].map(validateIdentity);
}
