/**
 * What the bus fuzzer aims at: every subject the manager and the agent serve (the operator's
 * views included), each with the protobuf type it expects and valid requests to mutate, plus a
 * baseline intent that makes the valid requests idempotent (re-sending them must change nothing).
 */
import type protobuf from 'protobufjs';
import type { AnyMethod } from '../../messages/method.js';
import { ctlPrefix, subjects } from '../../messages/subjects.js';
import { agentMethods, ctlMethods, managerMethods } from '../../protocol/methods.js';
import type { HostInterface, PodInterface, ServicePort } from '../../protocol/intent.js';
import type { Hello } from '../../protocol/node.js';
import { wireType } from '../../protocol/root.js';

export interface Baseline {
  readonly host: HostInterface;
  readonly pods: readonly PodInterface[];
  readonly services: readonly ServicePort[];
}

/** A small, realistic intent: the host interface, three pods, a TCP and a UDP service. */
export function baselineIntent(node: string): Baseline {
  const pod = (i: number): PodInterface => ({
    node,
    namespace: 'default',
    name: `web-${i}`,
    containerId: `c0ffee${i}`,
    interfaceName: `P4TAP_${i + 2}`,
    portId: i + 2,
    ipv4: 0x0af40000 + 10 + i,
    mac: 0x020000000000 + 10 + i,
  });
  const pods = [pod(0), pod(1), pod(2)];
  const endpoints = pods.map((p, i) => ({ ipv4: p.ipv4, port: 8080, node, ready: i !== 2, serving: true, terminating: i === 2 }));
  return {
    host: { node, interfaceName: 'P4TAP_1', portId: 1, ipv4: 0xc8010102, mac: 0x020000000001, nodeIp: 0xc000020a, podCidr: '10.244.0.0/24' },
    pods,
    services: [
      { namespace: 'default', name: 'web', portName: 'http', clusterIp: 0x0a600010, port: 80, protocol: 'TCP', endpoints },
      { namespace: 'kube-system', name: 'dns', portName: 'dns', clusterIp: 0x0a60000a, port: 53, protocol: 'UDP', endpoints: endpoints.slice(0, 1) },
    ],
  };
}

export interface FuzzTarget {
  /** Short name for reports, e.g. "manager.pod.add". */
  readonly label: string;
  readonly subject: string;
  /** The method served there; its request codec predicts what the server must answer. */
  readonly method: AnyMethod | undefined;
  readonly type: protobuf.Type;
  /** Valid encodings to mutate; re-sending any of them is idempotent. */
  readonly valid: readonly Uint8Array[];
  /** A request that must keep succeeding while the fuzzing goes on. */
  readonly probe: Uint8Array;
}

/** Every subject served by the node's manager and agent, plus an unknown operation. */
export function busTargets(node: string, baseline: Baseline, agentInstanceId: string): FuzzTarget[] {
  const m = managerMethods;
  const hello: Hello = { node, role: 'agent', instanceId: agentInstanceId, startedAtMs: 1, version: 'fuzz', nodeIp: 0xc000020a, podCidr: '' };
  const sync = { node, from: 'manager' as const, instanceId: 'fuzz' };
  const absentPod = { node, containerId: 'not-there' };
  const absentService = { node, clusterIp: 0x0a6000ff, port: 9, protocol: 'UDP' as const };
  const svc = baseline.services.map((service) => m.serviceUpsert.request.encode({ node, service }));
  const target = (label: string, subject: string, method: AnyMethod, valid: Uint8Array[]): FuzzTarget => ({
    label,
    subject,
    method,
    type: wireType(method.request.name.replace(/^infra\.v1\./, '')),
    valid,
    probe: valid[0]!,
  });
  return [
    target('manager.hello', subjects.manager(node, m.hello.op), m.hello, [m.hello.request.encode(hello)]),
    target('manager.pod.add', subjects.manager(node, m.podAdd.op), m.podAdd, baseline.pods.map((p) => m.podAdd.request.encode(p))),
    target('manager.pod.delete', subjects.manager(node, m.podDelete.op), m.podDelete, [m.podDelete.request.encode(absentPod)]),
    target('manager.host.setup', subjects.manager(node, m.hostSetup.op), m.hostSetup, [m.hostSetup.request.encode(baseline.host)]),
    target('manager.service.upsert', subjects.manager(node, m.serviceUpsert.op), m.serviceUpsert, svc),
    target('manager.service.delete', subjects.manager(node, m.serviceDelete.op), m.serviceDelete, [
      m.serviceDelete.request.encode(absentService),
    ]),
    target('manager.sync', subjects.manager(node, m.sync.op), m.sync, [m.sync.request.encode({ ...sync, from: 'agent' })]),
    target('ctl.manager.state', `${ctlPrefix(node, 'manager')}.state`, ctlMethods.state, [ctlMethods.state.request.encode({ node })]),
    target('agent.sync', subjects.agent(node, agentMethods.sync.op), agentMethods.sync, [agentMethods.sync.request.encode(sync)]),
    target('ctl.agent.state', `${ctlPrefix(node, 'agent')}.state`, ctlMethods.state, [ctlMethods.state.request.encode({ node })]),
    ...views(node, target),
  ];
}

/** The operator's read-only views (offloadctl): each role's, with valid requests to mutate. */
function views(node: string, target: (label: string, subject: string, method: AnyMethod, valid: Uint8Array[]) => FuzzTarget): FuzzTarget[] {
  const c = ctlMethods;
  const at = (role: 'manager' | 'agent', method: AnyMethod, valid: Uint8Array[]): FuzzTarget =>
    target(`ctl.${role}.${method.op}`, `${ctlPrefix(node, role)}.${method.op}`, method, valid);
  return [
    at('manager', c.tree, [c.tree.request.encode({ node })]),
    at('manager', c.tables, [
      c.tables.request.encode({ node, table: '', limit: 10, learnedOnly: false }),
      c.tables.request.encode({ node, table: 'service_lb', limit: 0, learnedOnly: false }),
      c.tables.request.encode({ node, table: '', limit: 100, learnedOnly: true }),
    ]),
    at('manager', c.services, [c.services.request.encode({ node, limit: 5 })]),
    at('manager', c.pods, [c.pods.request.encode({ node, limit: 5 })]),
    at('manager', c.leadership, [c.leadership.request.encode({ node })]),
    at('agent', c.tree, [c.tree.request.encode({ node })]),
    at('agent', c.pods, [c.pods.request.encode({ node, limit: 5 })]),
  ];
}

/** Valid messages of every request type, for the generator's "a valid message of another type". */
export function otherTypeSamples(targets: readonly FuzzTarget[]): Uint8Array[] {
  return targets.flatMap((t) => t.valid.slice(0, 1));
}
