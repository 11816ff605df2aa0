/**
 * Where every file is, as the processes see it: inside the Kubernetes pods (the mount paths of
 * deploy/k8s — a test checks every path a rendered configuration names is under a mount of the
 * container that reads it) and on an ACC (the tree bin/render-config writes under acc/<node>/,
 * copied to the ACC's root). One place, so the manifests, the rendered configurations and the
 * systemd units cannot drift apart.
 *
 * @example
 * POD.busTls.cert;        // "/etc/infra-offload/bus/tls.crt" (the agent's or manager's NATS certificate)
 * accPaths('node-1').busCert; // "/etc/infra-offload/certs/bus/manager.node-1.crt"
 */

/** A kubernetes.io/tls Secret mounted as a directory: tls.crt, tls.key and ca.crt. */
export interface TlsMount {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

function tlsMount(dir: string): TlsMount {
  return { dir, cert: `${dir}/tls.crt`, key: `${dir}/tls.key`, ca: `${dir}/ca.crt` };
}

/** Paths inside the pods (deploy/k8s mounts them there). */
export const POD = {
  /** The node's ConfigMap: agent.yaml, manager.yaml, the CNI network list. */
  configDir: '/etc/infra-offload/config',
  agentConfig: '/etc/infra-offload/config/agent.yaml',
  managerConfig: '/etc/infra-offload/config/manager.yaml',
  conflist: '/etc/infra-offload/config/10-infra-offload.conflist',
  /** NATS client identity (agent.<node> or manager.<node>) and the bus CA. */
  busTls: tlsMount('/etc/infra-offload/bus'),
  /** The manager's P4Runtime client identity and the P4 CA. */
  p4Tls: tlsMount('/etc/infra-offload/p4'),
  /** The pod's ServiceAccount token and the cluster CA (mounted by Kubernetes). */
  serviceAccountToken: '/var/run/secrets/kubernetes.io/serviceaccount/token',
  serviceAccountCa: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
  /** hostPath: pool.json and portmap.json (the P4 target reads the port map). */
  stateDir: '/var/lib/infra-offload',
  /** hostPath: the CNI socket the plugin (on the host) dials. */
  socketDir: '/run/infra-offload',
  socket: '/run/infra-offload/cni.sock',
  /** The NATS server's configuration, certificate and JetStream store. */
  natsConfig: '/etc/nats/config/nats-server.conf',
  natsTls: tlsMount('/etc/nats/tls'),
  natsData: '/data/jetstream',
} as const;

/** Names in the CNI configuration directory and the CNI bin directory of a host. */
export const CNI = {
  conflistName: '10-infra-offload.conflist',
  binDir: '/opt/cni/bin',
  netDir: '/etc/cni/net.d',
} as const;

/** Where the image keeps the build (deploy/k8s/README.md). */
export const IMAGE_ROOT = '/opt/infra-offload';

/** Paths on an ACC (split mode), or on a host for its P4 target (host mode): the certificate tool's layout under certs/. */
export interface NodeLocalPaths {
  readonly etc: string;
  readonly managerConfig: string;
  readonly natsConfig: string;
  readonly targetEnv: string;
  readonly busCa: string;
  readonly busCert: string;
  readonly busKey: string;
  readonly natsCert: string;
  readonly natsKey: string;
  readonly p4Ca: string;
  readonly p4Cert: string;
  readonly p4Key: string;
  readonly targetCert: string;
  readonly targetKey: string;
  readonly unitDir: string;
}

/** The files of `node`'s ACC (or host, for the P4 target) under /etc. */
export function accPaths(node: string): NodeLocalPaths {
  const etc = '/etc/infra-offload';
  const bus = `${etc}/certs/bus`;
  const p4 = `${etc}/certs/p4`;
  return {
    etc,
    managerConfig: `${etc}/manager.yaml`,
    natsConfig: `${etc}/nats-server.conf`,
    targetEnv: `${etc}/target.env`,
    busCa: `${bus}/ca.crt`,
    busCert: `${bus}/manager.${node}.crt`,
    busKey: `${bus}/manager.${node}.key`,
    natsCert: `${bus}/nats-server.crt`,
    natsKey: `${bus}/nats-server.key`,
    p4Ca: `${p4}/ca.crt`,
    p4Cert: `${p4}/manager.${node}.crt`,
    p4Key: `${p4}/manager.${node}.key`,
    targetCert: `${p4}/target.${node}.crt`,
    targetKey: `${p4}/target.${node}.key`,
    unitDir: '/etc/systemd/system',
  };
}
