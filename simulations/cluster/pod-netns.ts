/**
 * Pod network namespaces in a node's synthetic kernel (simulations/kernel/): the simulator makes
 * one before a pod's CNI ADD and removes it after its DEL, as a container runtime does with a real
 * one. Namespaces are marker files the kernel reads on its next command; the CNI requests name
 * the marker's path, which exists on disk as the agent's checks expect.
 *
 * @example
 * const netns = await makePodNetns(node.kernelDir, 'ctr-node-1-0');
 * await cniAdd(node.cniSocket, pod, netns);
 * await removePodNetns(node.kernelDir, 'ctr-node-1-0');
 */
import { createNamespace, deleteNamespace, namespacePath } from '../kernel/synthetic-ip.js';

/** The path a pod's CNI requests give as CNI_NETNS. */
export function podNetnsPath(kernelDir: string, name: string): string {
  return namespacePath(kernelDir, name);
}

/** Makes the namespace (its marker); returns its path. Throws what the kernel directory refused. */
export async function makePodNetns(kernelDir: string, name: string): Promise<string> {
  const r = await createNamespace(kernelDir, name);
  if (!r.ok) throw r.error;
  return r.value;
}

export async function removePodNetns(kernelDir: string, name: string): Promise<void> {
  const r = await deleteNamespace(kernelDir, name);
  if (!r.ok) throw r.error;
}
