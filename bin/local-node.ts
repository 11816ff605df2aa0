#!/usr/bin/env node
/**
 * `npm start`: a local node — nats-server, manager and agent as separate processes — showing
 * their registration and heartbeats until Ctrl-C, which stops everything it started.
 *
 * Options: --node NAME  --heartbeat-ms N  --duration SECONDS (stop by itself)  --log-level LEVEL
 */
import { parseArgs } from 'node:util';
import { silentLogs } from '../core/logger.js';
import { Bus } from '../messages/bus.js';
import { subjects } from '../messages/subjects.js';
import { heartbeatCodec } from '../protocol/node.js';
import { startLocalNode } from '../simulations/local-node.js';
import { formatHeartbeat, formatLog, paint } from '../simulations/node-display.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string', default: 'node-1' },
    'heartbeat-ms': { type: 'string', default: '1000' },
    duration: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const heartbeatMs = Number(values['heartbeat-ms']);
if (!Number.isInteger(heartbeatMs) || heartbeatMs < 10) {
  console.error('--heartbeat-ms must be an integer ≥ 10');
  process.exit(2);
}

const node = await startLocalNode({
  node: values.node,
  heartbeatMs,
  logLevel: values['log-level'],
  onLog: (name, line) => console.log(formatLog(name, line)),
  onExit: (name, code, signal) => {
    if (!stopping) console.log(paint(`${name} exited (code ${code}, signal ${signal}); restarting`, 'warn'));
  },
});
let stopping = false;
console.log(`Infra Offload — local node "${node.node}"`);
console.log(`  nats-server  pid ${node.nats.pid}  ${node.nats.url}`);
for (const m of node.managers) console.log(`  ${m === node.manager ? 'manager     ' : 'manager (2) '} pid ${m.pid}`);
if (node.target) console.log(`  p4 target    pid ${node.target.pid}  ${node.targetAddress}`);
if (node.kube) console.log(`  kube API     pid ${node.kube.pid}  ${node.kube.url} (apply objects: node dist/bin/kubectl-lite.js --server ${node.kube.adminUrl} apply -f FILE)`);
console.log(`  agent        pid ${node.agent.pid}`);
console.log(`  run dir      ${node.dir}`);
console.log('Ctrl-C stops everything.\n');

// The display is an operator: it may read every node's events, nothing more.
const watcher = await Bus.connect({ servers: node.nats.url, name: 'local-node-display', logger: silentLogs().root, ...node.credentials({ kind: 'operator', name: 'offloadctl' }) });
watcher.subscribe(subjects.events(node.node, 'heartbeat'), heartbeatCodec, (r) => {
  if (r.ok) console.log(formatHeartbeat(r.value));
});

async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${reason}: stopping agent, manager and nats-server…`);
  await watcher.close();
  const codes = await node.stop();
  console.log(`stopped (manager exit ${codes.manager}, agent exit ${codes.agent}, target exit ${codes.target}); run dir removed`);
  process.exit(codes.manager === 0 && codes.agent === 0 && (codes.target ?? 0) === 0 ? 0 : 1);
}

process.on('SIGINT', () => void shutdown('Ctrl-C'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
if (values.duration) setTimeout(() => void shutdown(`${values.duration} s elapsed`), Number(values.duration) * 1000);
