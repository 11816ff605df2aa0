#!/usr/bin/env node
/**
 * A kubectl for the API server stand-in (or any API server without auth): applies and deletes
 * manifests over HTTP, and turns the stand-in's knobs.
 *
 *   kubectl-lite [--server URL] apply -f FILE|-              YAML or JSON; several documents; kind: List
 *   kubectl-lite [--server URL] delete -f FILE|-
 *   kubectl-lite [--server URL] delete RESOURCE NAME [-n NS]
 *   kubectl-lite [--server URL] get RESOURCE [NAME] [-n NS] [-l SELECTOR]   prints JSON
 *   kubectl-lite [--server URL] standin drop-watches|expire-watches|compact|stats
 *   kubectl-lite [--server URL] standin stall|outage SECONDS
 *
 * The server defaults to $KUBE_SERVER, then http://127.0.0.1:6443. Exit 0 when every object
 * went through, 1 when the server refused one, 2 on a usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { KubeClient, type Knob } from '../simulations/kube/client.js';
import { resourceFor } from '../simulations/kube/resources.js';
import type { KubeObject } from '../simulations/kube/store.js';

const USAGE = 'usage: kubectl-lite [--server URL] apply|delete -f FILE | delete RESOURCE NAME [-n NS] | get RESOURCE [NAME] | standin KNOB [SECONDS]';

function usage(message: string): never {
  console.error(`kubectl-lite: ${message}\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      server: { type: 'string', short: 's' },
      filename: { type: 'string', short: 'f' },
      namespace: { type: 'string', short: 'n' },
      selector: { type: 'string', short: 'l' },
    },
  });
} catch (e) {
  usage((e as Error).message);
}
const { values, positionals } = parsed;
const kube = new KubeClient(values.server ?? process.env.KUBE_SERVER ?? 'http://127.0.0.1:6443');
const [verb, ...rest] = positionals;

/** The objects of a manifest: every YAML/JSON document, with `kind: List` flattened. */
function readManifest(file: string): KubeObject[] {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) usage(`${file}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as KubeObject | null;
    if (value === null) continue;
    if (value.kind === 'List' || (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items))) {
      out.push(...((value.items ?? []) as KubeObject[]));
    } else out.push(value);
  }
  return out;
}

function label(o: KubeObject): string {
  const r = resourceFor(String(o.apiVersion), String(o.kind));
  return `${r ? (r.group === '' ? r.kind.toLowerCase() : `${r.kind.toLowerCase()}.${r.group}`) : String(o.kind)}/${o.metadata?.name ?? '?'}`;
}

async function applyOrDelete(action: 'apply' | 'delete'): Promise<number> {
  if (!values.filename) usage(`${action} needs -f FILE`);
  let failures = 0;
  for (const o of readManifest(values.filename)) {
    if (values.namespace && o.metadata && !o.metadata.namespace) o.metadata.namespace = values.namespace;
    const r = action === 'apply' ? await kube.apply(o) : await kube.deleteObject(o);
    if (r.ok) console.log(`${label(o)} ${'action' in r.value ? String(r.value.action) : 'deleted'}`);
    else {
      failures++;
      console.error(`Error from server (${r.error.reason}): ${r.error.message}`);
    }
  }
  return failures === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  switch (verb) {
    case 'apply':
      return applyOrDelete('apply');
    case 'delete': {
      if (values.filename) return applyOrDelete('delete');
      const [resource, name] = rest;
      if (!resource || !name) usage('delete RESOURCE NAME');
      const r = await kube.delete(resource, values.namespace, name);
      if (r.ok) console.log(`${label(r.value)} deleted`);
      else console.error(`Error from server (${r.error.reason}): ${r.error.message}`);
      return r.ok ? 0 : 1;
    }
    case 'get': {
      const [resource, name] = rest;
      if (!resource) usage('get RESOURCE [NAME]');
      const r = name
        ? await kube.get(resource, values.namespace, name)
        : await kube.list(resource, { ...(values.namespace ? { namespace: values.namespace } : {}), ...(values.selector ? { labelSelector: values.selector } : {}) });
      if (r.ok) console.log(JSON.stringify(r.value, null, 2));
      else console.error(`Error from server (${r.error.reason}): ${r.error.message}`);
      return r.ok ? 0 : 1;
    }
    case 'standin': {
      const [knob, seconds] = rest;
      const knobs = ['drop-watches', 'expire-watches', 'compact', 'stall', 'outage', 'stats'];
      if (!knob || !knobs.includes(knob)) usage(`standin ${knobs.join('|')}`);
      if ((knob === 'stall' || knob === 'outage') && !/^\d+(\.\d+)?$/.test(seconds ?? '')) usage(`standin ${knob} SECONDS`);
      const r = knob === 'stats' ? await kube.stats() : await kube.knob(knob as Knob, seconds ? { seconds } : {});
      if (r.ok) console.log(JSON.stringify(r.value));
      else console.error(`Error from server (${r.error.reason}): ${r.error.message}`);
      return r.ok ? 0 : 1;
    }
    default:
      usage(verb ? `unknown command "${verb}"` : 'missing command');
  }
}

process.exitCode = await main();
