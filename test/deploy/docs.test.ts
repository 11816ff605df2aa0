/**
 * docs/split-mode.md says only what exists: every command of its shell blocks is run (the
 * renderer, the certificate check), parsed (offloadctl) or checked against what the renderer
 * wrote (kubectl apply -k, rsync, systemctl units), with the paths of the guide replaced by
 * scratch ones; every dist/bin program, systemd unit and configuration field it names exists.
 * A command of a kind this test does not know fails it, so a new one cannot slip in unchecked.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { COMMANDS, parseInvocation } from '../../cli/offloadctl/args.js';
import { offloadConfigSchema } from '../../deploy/config/schema.js';
import { kustomize, renderCli } from './support.js';

const run = promisify(execFile);
const GUIDE = 'docs/split-mode.md';

/** The lines of the guide's ```sh blocks. */
function shellLines(text: string): string[] {
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
}

/** Dotted paths of the deployment configuration's fields (objects walked, arrays entered). */
function fieldPaths(schema: z.ZodType, prefix = ''): string[] {
  let s: z.ZodType = schema;
  for (;;) {
    const def = (s as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType } } })._zod.def;
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else if (def.type === 'array' && def.element) s = def.element;
    else break;
  }
  if (!(s instanceof z.ZodObject)) return [];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => [`${prefix}${k}`, ...fieldPaths(v, `${prefix}${k}.`)]);
}

describe('deploy: docs/split-mode.md describes commands that exist and work', function () {
  this.timeout(60_000);
  let text: string;
  let dir: string;

  before(async () => {
    text = await readFile(GUIDE, 'utf8');
    dir = await mkdtemp(join(tmpdir(), 'ioff-deploy-docs-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs every command of its shell blocks (in a scratch directory)', async () => {
    const lines = shellLines(text);
    expect(lines.length).to.be.greaterThan(5);
    const sub = (line: string): string => line.split('/root/offload.yaml').join(join(dir, 'offload.yaml')).split('/root/infra-offload').join(join(dir, 'out'));
    const handled: string[] = [];
    for (const original of lines) {
      const line = sub(original);
      const args = line.split(/\s+/);
      let m: RegExpExecArray | null;
      if ((m = /^cp (\S+) (\S+)$/.exec(line))) {
        await cp(m[1]!, m[2]!);
      } else if (args[0] === 'node' && args[1] === 'dist/bin/render-config.js') {
        const r = await renderCli(args.slice(2));
        expect(r.code, `${original}\n${r.stderr}`).to.equal(0);
      } else if (args[0] === 'node' && args[1] === 'dist/bin/certs.js') {
        const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bin/certs.ts', ...args.slice(2)], { timeout: 30_000 });
        expect(stdout, original).to.match(/^ok: /);
      } else if (args[0] === 'node' && args[1] === 'dist/bin/offloadctl.js') {
        const inv = parseInvocation(args.slice(2));
        expect(inv.ok, `${original}: ${inv.ok ? '' : inv.error.message}`).to.equal(true);
        expect(COMMANDS).to.include(args[args.length - 1]);
      } else if ((m = /^kubectl apply -k (\S+)$/.exec(line))) {
        expect((await kustomize(m[1]!)).length, original).to.be.greaterThan(0);
      } else if ((m = /^rsync -a (\S+)\/ root@(\S+):\/$/.exec(line))) {
        expect((await stat(m[1]!)).isDirectory(), original).to.equal(true);
        expect(await readFile(join(m[1]!, 'etc/infra-offload/nats-server.conf'), 'utf8'), 'the ACC of the guide listens where it says').to.include(`listen: "${m[2]}:4222"`);
      } else if ((m = /^ssh root@\S+ systemctl (daemon-reload|enable --now (.+))$/.exec(line))) {
        for (const unit of (m[2] ?? '').split(/\s+/).filter(Boolean)) {
          expect(existsSync(`deploy/acc/${unit}.service`), `${original}: no deploy/acc/${unit}.service`).to.equal(true);
          expect(existsSync(join(dir, 'out/acc/node-1/etc/systemd/system', `${unit}.service`)), `${unit} is not in the ACC tree`).to.equal(true);
        }
      } else {
        expect.fail(`${GUIDE}: a command this test does not know how to check: ${original}`);
      }
      handled.push(original);
    }
    expect(handled).to.have.length(lines.length);
  });

  it('names only programs, units and configuration fields that exist', () => {
    for (const [, name] of text.matchAll(/dist\/bin\/([a-z-]+)\.js/g)) expect(existsSync(`bin/${name}.ts`), `dist/bin/${name}.js`).to.equal(true);
    for (const [unit] of text.matchAll(/infra-offload-(?:nats|target|manager)(?=[\s`.,)])/g)) expect(existsSync(`deploy/acc/${unit}.service`), unit).to.equal(true);
    const fields = new Set(fieldPaths(offloadConfigSchema));
    expect(fields).to.include.members(['nodes.acc.address', 'nats.extraSans', 'kubernetes.server']);
    const named = [...text.matchAll(/`((?:nats|nodes|kubernetes|pool|p4|health|logging)\.[A-Za-z0-9.]+)`/g)].map((m) => m[1]!.replace(/^nodes\.\d+\./, 'nodes.').replace(/^nodes\.\d+$/, 'nodes'));
    expect(named.length, 'fields named in the guide').to.be.greaterThan(3);
    for (const field of named) expect(fields.has(field) || field === 'nodes', `configuration field ${field}`).to.equal(true);
    for (const [, field] of text.matchAll(/`(mode|namespace|image|operators|mtu|heartbeatMs): /g)) expect(fields.has(field!), field).to.equal(true);
    for (const [, flag] of text.matchAll(/render-config\.js [^`\n]*?(--[a-z-]+)/g)) expect(['--config', '--out', '--certs', '--check', '--dry-run', '--json'], flag).to.include(flag);
    expect(text).to.include('`--dry-run`');
  });
});
