/**
 * The docs match the commands: every `npm run <script>` in README.md and docs/*.md is a script of
 * package.json, every `offloadctl … <command>` is one offloadctl knows, and every repository
 * path they name exists. Docs that drift from the code fail here rather than on a user.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.cwd();
const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const scripts = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
const OFFLOADCTL_COMMANDS = ['tables', 'flows', 'services', 'pods', 'tree', 'leadership', 'health'];
const TOP = ['actors', 'bin', 'cli', 'cni', 'core', 'deploy', 'docs', 'messages', 'p4', 'proto', 'protocol', 'simulations', 'supervisors', 'test'];

/** The commands of every `offloadctl [flags…] <command>` in the text's code blocks and spans. */
function offloadctlCommands(text: string): string[] {
  const code = [...text.matchAll(/```[\s\S]*?```|`[^`\n]+`/g)].map((m) => m[0]);
  return code.flatMap((c) => [...c.matchAll(/offloadctl(?:\s+--)?((?:\s+(?:--?[a-z-]+(?:[ =](?!-)[^\s`|]+)?|\\\n))*)\s+([a-z]+)\b/g)].map((m) => m[2]!));
}

describe('docs match the commands', function () {
  it('the checker finds the command after the flags, in code only', function () {
    const sample = 'run `npm run -s offloadctl -- --server nats://h:1 --tls-ca a.crt --node n1 tablez -o json` or\n```sh\noffloadctl --insecure \\\n  --node n1 healthz\n```\nand offloadctl works in prose';
    expect(offloadctlCommands(sample)).to.deep.equal(['tablez', 'healthz']);
  });

  for (const doc of docs) {
    const text = readFileSync(join(root, doc), 'utf8');

    it(`${doc}: every npm script it names exists`, function () {
      const named = [...text.matchAll(/npm run(?: -s)? ([a-z][a-z0-9:-]*)/g)].map((m) => m[1]!);
      const missing = [...new Set(named)].filter((s) => !scripts.includes(s));
      expect(missing, `scripts named in ${doc} but not in package.json`).to.deep.equal([]);
    });

    it(`${doc}: every offloadctl command it shows is one offloadctl has`, function () {
      // In code blocks and spans, `offloadctl [flags…] <command>`: the first bare word after the flags.
      const unknown = [...new Set(offloadctlCommands(text))].filter((c) => !OFFLOADCTL_COMMANDS.includes(c));
      expect(unknown, `offloadctl commands in ${doc}`).to.deep.equal([]);
    });

    it(`${doc}: every repository path it names exists`, function () {
      const paths = [...text.matchAll(/(?<![\w./-])((?:[a-z0-9-]+\/)+[A-Za-z0-9_.-]+\.(?:ts|md|json|p4|conflist|yaml|sh|proto|service))\b/g)].map((m) => m[1]!);
      const ours = [...new Set(paths)].filter((p) => TOP.includes(p.split('/')[0]!));
      const missing = ours.filter((p) => !existsSync(join(root, p)));
      expect(missing, `paths named in ${doc} that do not exist`).to.deep.equal([]);
    });
  }
});
