#!/usr/bin/env node
/**
 * The software P4 target: a P4Runtime gRPC server running the behavioural model of k8s_dp.
 *
 *   target [--listen 127.0.0.1:9559 | unix:/path] [--device-id 1] [--no-pipeline]
 *          [--tls-cert FILE --tls-key FILE --tls-ca FILE]   (mutual TLS; the files are checked first)
 *          [--tls-reload-ms 60000]                          (rotated files are picked up once they pass the same checks)
 *          [--port-map FILE]                                 (attach the agent's TAPs and forward real frames; root)
 *          [--log-level info]
 *
 * Without --insecure it refuses to start without its certificates.
 * By default it loads k8s_dp (p4/k8s_dp.p4info.json) on the device, so a client can write at
 * once; a client may still replace it with SetForwardingPipelineConfig.
 */
import { readFileSync } from 'node:fs';
import { inspectTlsFiles } from '../deploy/certs/check.js';
import { parseArgs } from 'node:util';
import { createLogs, LOG_LEVELS, type LogLevel } from '../core/logger.js';
import { DEFAULT_P4INFO_PATH } from '../p4/p4info.js';
import { modelDevice } from '../p4/target/model-program.js';
import { P4RuntimeServer, type ServerTls } from '../p4/target/server.js';
import { ReloadingCertificates } from '../p4/target/cert-reload.js';
import { TapDataplane } from '../p4/target/tap-dataplane.js';
import { loadTap } from '../p4/target/tap/tap.js';
import { watchParent } from '../core/parent-watch.js';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:9559' },
    'device-id': { type: 'string', default: '1' },
    'no-pipeline': { type: 'boolean', default: false },
    insecure: { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' },
    /** How often the TLS files are checked for a rotated certificate (0: never). */
    'tls-reload-ms': { type: 'string', default: '60000' },
    /** The agent's port map: attach its TAPs and forward real frames (as root). */
    'port-map': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const deviceId = Number(values['device-id']);
const level = values['log-level'] as LogLevel;
const reloadMs = Number(values['tls-reload-ms']);
if (!Number.isInteger(deviceId) || deviceId < 1 || !LOG_LEVELS.includes(level) || !Number.isInteger(reloadMs) || reloadMs < 0) {
  console.error('target: --device-id must be a positive integer, --tls-reload-ms a whole number of ms (0: off) and --log-level one of ' + LOG_LEVELS.join(', '));
  process.exit(2);
}
const tlsFlags = [values['tls-cert'], values['tls-key'], values['tls-ca']].filter((v) => v !== undefined).length;
if (tlsFlags !== 0 && tlsFlags !== 3) {
  console.error('target: mutual TLS needs --tls-cert, --tls-key and --tls-ca together');
  process.exit(2);
}
if (tlsFlags === 0 && !values.insecure) {
  console.error('target: mutual TLS is the default: give --tls-cert, --tls-key and --tls-ca (npm run certs makes them), or --insecure for a test target');
  process.exit(2);
}
let tls: ServerTls | undefined;
if (tlsFlags === 3) {
  // Node's TLS accepts a garbage CA or an expired certificate without complaint and then refuses
  // every client: check the files first, and refuse to start degraded.
  const checked = inspectTlsFiles({ caFile: values['tls-ca']!, certFile: values['tls-cert']!, keyFile: values['tls-key']! }, { usage: 'server' });
  if (!checked.ok) {
    console.error(`target: ${checked.error.message}`);
    process.exit(2);
  }
  tls = { cert: checked.value.cert!, key: checked.value.key!, ca: checked.value.ca };
  for (const w of checked.value.warnings) console.error(`target: warning: ${w}`);
}

const logs = createLogs({ level }, 'target');
const log = logs.for('p4rt');
if (tls && reloadMs > 0) {
  const reload = ReloadingCertificates.open({ caFile: values['tls-ca']!, certFile: values['tls-cert']!, keyFile: values['tls-key']!, intervalMs: reloadMs, logger: logs.for('tls') });
  if (!reload.ok) {
    console.error(`target: ${reload.error.message}`);
    process.exit(2);
  }
  tls = { ...tls, reload: reload.value };
}
let dataplane: TapDataplane | undefined;
const server = new P4RuntimeServer({ devices: [{ id: deviceId, ...modelDevice() }], logger: log });
if (!values['no-pipeline']) server.load(deviceId, JSON.parse(readFileSync(DEFAULT_P4INFO_PATH, 'utf8')));
try {
  const port = await server.listen(values.listen, tls);
  log.info({ listen: values.listen, port, device: deviceId, tls: tls ? (tls.ca ? 'mtls' : 'tls') : 'none' }, 'P4Runtime target listening');
  if (values['port-map']) {
    const addon = await loadTap();
    if (!addon.ok) {
      log.fatal({ err: addon.error.message }, 'cannot load the TAP addon for --port-map');
      process.exit(1);
    }
    dataplane = new TapDataplane({ addon: addon.value, program: () => server.devices.get(deviceId)?.program, portMapFile: values['port-map'], logger: logs.for('ports') });
    dataplane.start();
    log.info({ portMap: values['port-map'] }, 'forwarding frames between the TAPs of the port map');
  }
  // A line a launcher can wait for, whatever the log level.
  console.log(JSON.stringify({ ready: true, port }));
} catch (e) {
  log.fatal({ err: e }, 'cannot listen');
  process.exit(1);
}

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  dataplane?.close(); // the TAPs stay (persistent); only our descriptors go
  void server.close(1000).then(() => process.exit(0));
};
process.on('SIGTERM', () => stop('SIGTERM'));
watchParent(); // started by a launcher of ours: stop when it is gone
process.on('SIGINT', () => stop('SIGINT'));
