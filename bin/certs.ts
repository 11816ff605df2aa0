#!/usr/bin/env node
/**
 * Certificate tooling for a deployment (the original's gen-certs / tls-secrets):
 *
 *   certs [generate] --out DIR --node NAME [--node NAME]… [--operator NAME]…
 *         [--nats-san HOST|IP]… [--target-san [NODE=]HOST|IP]… [--days 365] [--ca-days 3650]
 *         [--key ec|rsa] [--rsa-bits 2048] [--renew-within-days 30] [--namespace infra-offload]
 *         [--nats-cert-dir DIR] [--lease-bucket infra_leases] [--force] [--json]
 *   certs check --ca FILE [--cert FILE --key FILE] [--usage server|client]
 *
 * `generate` writes the layout of deploy/certs/deployment.ts (keys 0600, directories 0700) and
 * keeps what is still good on a re-run; `check` verifies files the way a process must before
 * it starts (exit 1 and the reason when they are unusable).
 *
 * @example
 * npm run certs -- --out /etc/infra-offload/certs --node node-1 --nats-san 192.168.100.2 --target-san node-1=192.168.100.2
 */
import { parseArgs } from 'node:util';
import { inspectTlsFiles } from '../deploy/certs/check.js';
import { generateDeployment, type DeploymentOptions } from '../deploy/certs/deployment.js';
import { inboxPrefix } from '../deploy/certs/identities.js';
import type { KeySpec } from '../deploy/certs/issue.js';

const USAGE = 'usage: certs [generate] --out DIR --node NAME… | certs check --ca FILE [--cert FILE --key FILE] [--usage server|client]';

function fail(message: string, code = 2): never {
  console.error(`certs: ${message}`);
  process.exit(code);
}

function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, not "${text}"`);
  return n;
}

/** "--target-san X" goes to every node's target; "--target-san node-1=X" to node-1's only. */
function targetSans(values: readonly string[]): { all: string[]; perNode: Record<string, string[]> } {
  const all: string[] = [];
  const perNode: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) all.push(v);
    else (perNode[v.slice(0, eq)] ??= []).push(v.slice(eq + 1));
  }
  return { all, perNode };
}

async function generate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      node: { type: 'string', multiple: true, default: [] },
      operator: { type: 'string', multiple: true },
      'nats-san': { type: 'string', multiple: true },
      'target-san': { type: 'string', multiple: true, default: [] },
      days: { type: 'string' },
      'ca-days': { type: 'string' },
      key: { type: 'string', default: 'ec' },
      'rsa-bits': { type: 'string' },
      'renew-within-days': { type: 'string' },
      namespace: { type: 'string' },
      'nats-cert-dir': { type: 'string' },
      'lease-bucket': { type: 'string' },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.out || values.node.length === 0) fail(`--out and at least one --node are required\n${USAGE}`);
  if (values.key !== 'ec' && values.key !== 'rsa') fail('--key is ec (ECDSA P-256) or rsa');
  const key: KeySpec = values.key === 'ec' ? { type: 'ec' } : { type: 'rsa', bits: positiveInt(values['rsa-bits'], '--rsa-bits', 2048) };
  const sans = targetSans(values['target-san']);
  for (const node of Object.keys(sans.perNode)) if (!values.node.includes(node)) fail(`--target-san ${node}=…: ${node} is not a --node`);
  const options: DeploymentOptions = {
    outDir: values.out,
    nodes: values.node,
    key,
    days: positiveInt(values.days, '--days', 365),
    caDays: positiveInt(values['ca-days'], '--ca-days', 3650),
    renewWithinDays: positiveInt(values['renew-within-days'], '--renew-within-days', 30),
    force: values.force,
    nodeTargetSans: sans.perNode,
    ...(values.operator ? { operators: values.operator } : {}),
    ...(values['nats-san'] ? { natsSans: values['nats-san'] } : {}),
    ...(sans.all.length > 0 ? { targetSans: sans.all } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values['nats-cert-dir'] ? { natsCertDir: values['nats-cert-dir'] } : {}),
    ...(values['lease-bucket'] ? { leaseBucket: values['lease-bucket'] } : {}),
  };
  const report = await generateDeployment(options);
  if (values.json) {
    console.log(JSON.stringify({ actions: report.actions, natsConfig: report.paths.natsConfig, secrets: report.paths.secrets }));
    return;
  }
  for (const a of report.actions) console.log(`${a.action.padEnd(8)} ${a.file}${a.reason ? `  (${a.reason})` : ''}`);
  console.log(`\nnats-server: include ${report.paths.natsConfig}\nKubernetes:  kubectl apply -f ${report.paths.secrets}`);
  console.log('NATS clients (bus CA, own certificate, own inbox prefix):');
  for (const id of report.identities) console.log(`  ${report.paths.identity(id).cert}  inboxPrefix: ${inboxPrefix(id)}`);
}

function check(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: { ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, usage: { type: 'string' } },
  });
  if (!values.ca) fail(`--ca is required\n${USAGE}`);
  const usage = values.usage;
  if (usage !== undefined && usage !== 'server' && usage !== 'client') fail('--usage is server or client');
  const r = inspectTlsFiles(
    { caFile: values.ca, ...(values.cert ? { certFile: values.cert } : {}), ...(values.key ? { keyFile: values.key } : {}) },
    usage ? { usage } : {},
  );
  if (!r.ok) fail(`${r.error.problem}: ${r.error.message}`, 1);
  for (const w of r.value.warnings) console.error(`certs: warning: ${w}`);
  const c = r.value.certificate;
  console.log(c ? `ok: ${c.subject}, valid until ${c.validTo}, issued by ${c.issuer}` : `ok: ${r.value.caCerts.length} CA certificate(s)`);
}

const [first, ...rest] = process.argv.slice(2);
try {
  if (first === 'check') check(rest);
  else if (first === 'generate') await generate(rest);
  else if (first === undefined || first.startsWith('-')) await generate(process.argv.slice(2));
  else fail(`unknown command "${first}"\n${USAGE}`);
} catch (e) {
  // Bad flags, names or SANs, an unusable existing CA, openssl missing: the message says what to
  // do, a stack trace would only hide it.
  if (!(e instanceof Error)) throw e;
  const badFlags = (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true;
  fail(badFlags ? `${e.message}\n${USAGE}` : e.message, badFlags ? 2 : 1);
}
