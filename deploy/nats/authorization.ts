/**
 * nats-server configuration for mutual TLS with one user per certificate subject
 * (`verify_and_map`), and the least permissions each identity needs under the subject scheme of
 * messages/subjects.ts:
 *
 *   agent of node A    serves  infra.v1.A.agent.>, infra.v1.A.ctl.agent.>
 *                      asks    infra.v1.A.manager.>
 *                      pub/sub infra.v1.A.events.>
 *   manager of node A  serves  infra.v1.A.manager.>, infra.v1.A.ctl.manager.>
 *                      asks    infra.v1.A.agent.>   (sync)
 *                      pub/sub infra.v1.A.events.>
 *                      JetStream: its own lease key in the lease bucket, nothing else
 *   operator           asks    infra.v1.*.ctl.*.<read op>, subscribes infra.v1.*.events.>
 *
 * Each identity subscribes only under its own inbox prefix, so no one reads another's replies;
 * responders answer through `allow_responses` (only into the reply subject of a request they
 * received, once), never through a publish right on someone's inbox.
 *
 * @example
 * const text = natsAuthConfig({
 *   tls: { certFile: 'bus/nats-server.crt', keyFile: 'bus/nats-server.key', caFile: 'bus/ca.crt' },
 *   identities: deploymentIdentities(['node-1']),
 * });
 * await startNatsServer({ extraConfig: text });
 */
import { ctlPrefix, nodeToken, prefix } from '../../messages/subjects.js';
import { inboxPrefix, subjectDn, type Identity } from '../certs/identities.js';

/** The manager's lease bucket (actors/manager/lease-keeper.ts LEASE_BUCKET). */
export const DEFAULT_LEASE_BUCKET = 'infra_leases';
/**
 * Operator queries that only read: every op of protocol/methods.ts ctlMethods (a test keeps the
 * two lists equal; spelled out here so the certificate tooling loads no protocol definitions).
 */
export const DEFAULT_OPERATOR_OPS: readonly string[] = ['state', 'tree', 'pods', 'tables', 'services', 'leadership'];

export interface Permissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** May publish to the reply subject of a request it received (one reply, then the right lapses). */
  readonly allowResponses: boolean;
}

export interface PermissionOptions {
  /** JetStream KV bucket of the manager's leadership lease. */
  readonly leaseBucket?: string;
  /** The ctl operations operators may call. */
  readonly operatorOps?: readonly string[];
}

export interface NatsTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** TLS handshake timeout in seconds (the server's 0.5 s default is short on a busy ACC). */
  readonly timeoutSeconds?: number;
}

export interface NatsAuthOptions extends PermissionOptions {
  readonly tls: NatsTlsFiles;
  readonly identities: readonly Identity[];
}

/** The least permissions of one identity. */
export function permissionsFor(id: Identity, options: PermissionOptions = {}): Permissions {
  const inbox = `${inboxPrefix(id)}.>`;
  if (id.kind === 'operator') {
    const ops = options.operatorOps ?? DEFAULT_OPERATOR_OPS;
    return { publish: ops.map((op) => `infra.v1.*.ctl.*.${op}`), subscribe: ['infra.v1.*.events.>', inbox], allowResponses: false };
  }
  const n = id.node;
  const events = `${prefix(n, 'events')}.>`;
  if (id.kind === 'agent') {
    return {
      publish: [`${prefix(n, 'manager')}.>`, events],
      subscribe: [`${prefix(n, 'agent')}.>`, `${ctlPrefix(n, 'agent')}.>`, events, inbox],
      allowResponses: true,
    };
  }
  return {
    publish: [`${prefix(n, 'agent')}.>`, events, ...leaseApi(n, options.leaseBucket ?? DEFAULT_LEASE_BUCKET), ...intentApi(n)],
    subscribe: [`${prefix(n, 'manager')}.>`, `${ctlPrefix(n, 'manager')}.>`, events, inbox],
    allowResponses: true,
  };
}

/**
 * What the lease keeper's KV calls publish (replies come back to the manager's own inbox):
 * the account check, the bucket's stream info and create, a direct get of its own key, and
 * writes of its own key. Not STREAM.DELETE/PURGE, not other nodes' keys, not MSG.GET (which
 * would read any key): the bucket is created with allow_direct, so direct get suffices.
 */
function leaseApi(node: string, bucket: string): string[] {
  const stream = `KV_${bucket}`;
  const key = `$KV.${bucket}.${nodeToken(node)}.manager`;
  return ['$JS.API.INFO', `$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.DIRECT.GET.${stream}.${key}`, key];
}

/**
 * What the manager's durable intent needs in its own node's bucket `infra_intent_<node>` (and
 * nothing of any other node's): create and inspect the stream, write keys with expected
 * revisions, read everything back through an ordered consumer (create/delete it, answer its flow
 * control), and purge delete markers.
 */
function intentApi(node: string): string[] {
  const bucket = `infra_intent_${nodeToken(node)}`;
  const stream = `KV_${bucket}`;
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.PURGE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.FC.${stream}.>`,
    `$KV.${bucket}.>`,
  ];
}

/**
 * The `tls` and `authorization` blocks, to append to a nats-server configuration. Throws if two
 * identities would share a user name or an inbox prefix (they could read each other's replies).
 */
export function natsAuthConfig(options: NatsAuthOptions): string {
  checkDistinct(options.identities);
  const q = (s: string): string => JSON.stringify(s);
  const list = (xs: readonly string[]): string => `[${xs.map(q).join(', ')}]`;
  const users = options.identities.map((id) => {
    const p = permissionsFor(id, options);
    return [
      '    {',
      `      user: ${q(subjectDn(id))}`,
      '      permissions: {',
      `        publish: { allow: ${list(p.publish)} }`,
      `        subscribe: { allow: ${list(p.subscribe)} }`,
      ...(p.allowResponses ? ['        allow_responses: true'] : []),
      '      }',
      '    }',
    ].join('\n');
  });
  return [
    '# Generated by infra-offload (deploy/nats): mutual TLS, one user per certificate subject.',
    'tls {',
    `  cert_file: ${q(options.tls.certFile)}`,
    `  key_file: ${q(options.tls.keyFile)}`,
    `  ca_file: ${q(options.tls.caFile)}`,
    '  verify_and_map: true',
    `  timeout: ${options.tls.timeoutSeconds ?? 2}`,
    '}',
    'authorization {',
    '  users: [',
    users.join('\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}

function checkDistinct(identities: readonly Identity[]): void {
  const seen = new Set<string>();
  for (const id of identities) {
    for (const name of [subjectDn(id), inboxPrefix(id)]) {
      if (seen.has(name)) throw new Error(`two identities share "${name}"`);
      seen.add(name);
    }
  }
}
