#!/usr/bin/env node
/**
 * offloadctl: the operator's view of a node over NATS — device tables, learned connections,
 * services, pods, supervision trees, leadership and health (see cli/offloadctl/args.ts USAGE).
 *
 * @example
 * npm run offloadctl -- --tls-ca bus/ca.crt --tls-cert bus/offloadctl.crt --tls-key bus/offloadctl.key --node node-1 tables
 */
import { main } from '../cli/offloadctl/main.js';

const code = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
// Exit once the output is written: a connection attempt the NATS client gave up on (a server that
// accepts and never answers) keeps its socket, and with it this process, alive for minutes.
await new Promise((resolve) => process.stdout.write('', resolve));
await new Promise((resolve) => process.stderr.write('', resolve));
process.exit(code);
