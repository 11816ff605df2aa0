import { join } from 'node:path';
import { expect } from 'chai';
import { startCniPeer, type CniPeer } from '../../simulations/cni-peer.js';
import { bundlePlugin, cniEnv, execFile, leases, netconf, tempDir, type CallEnv } from './support.js';

interface Case {
  name: string;
  env?: Partial<CallEnv> & { command?: string };
  /** The stdin text, or a function of the valid netconf. */
  stdin: string | ((valid: Record<string, unknown>) => unknown);
  code: number;
}

const without = (key: string) => (c: Record<string, unknown>) => Object.fromEntries(Object.entries(c).filter(([k]) => k !== key));

const CASES: Case[] = [
  { name: 'empty stdin', stdin: '', code: 6 },
  { name: 'stdin is not JSON', stdin: '{"cniVersion": "1.0.0",', code: 6 },
  { name: 'stdin is a JSON array', stdin: '[1,2]', code: 6 },
  { name: 'missing cniVersion', stdin: without('cniVersion'), code: 7 },
  { name: 'wrong cniVersion', stdin: (c) => ({ ...c, cniVersion: '0.2.0' }), code: 1 },
  { name: 'missing name', stdin: without('name'), code: 7 },
  { name: 'no ipam', stdin: without('ipam'), code: 7 },
  { name: 'ipam without type', stdin: (c) => ({ ...c, ipam: {} }), code: 7 },
  { name: 'ipam type is a path', stdin: (c) => ({ ...c, ipam: { type: '../../bin/sh' } }), code: 7 },
  { name: 'ipam plugin not on CNI_PATH', stdin: (c) => ({ ...c, ipam: { type: 'no-such-ipam' } }), code: 7 },
  { name: 'mtu not a number', stdin: (c) => ({ ...c, mtu: '1400' }), code: 7 },
  { name: 'prevResult not an object', stdin: (c) => ({ ...c, prevResult: 'x' }), code: 7 },
  { name: 'missing CNI_CONTAINERID', env: { containerId: undefined }, stdin: (c) => c, code: 4 },
  { name: 'bad CNI_CONTAINERID', env: { containerId: '-bad id' }, stdin: (c) => c, code: 4 },
  { name: 'missing CNI_IFNAME', env: { ifname: undefined }, stdin: (c) => c, code: 4 },
  { name: 'CNI_IFNAME too long', env: { ifname: 'a-very-long-ifname' }, stdin: (c) => c, code: 4 },
  { name: 'missing CNI_NETNS on ADD', env: { netns: undefined }, stdin: (c) => c, code: 4 },
  { name: 'CNI_ARGS not KEY=VALUE', env: { args: 'K8S_POD_NAME' }, stdin: (c) => c, code: 4 },
  { name: 'unknown CNI_COMMAND', env: { command: 'UPDATE' }, stdin: (c) => c, code: 4 },
  { name: 'empty CNI_COMMAND', env: { command: '' }, stdin: (c) => c, code: 4 },
  // host-local's own error code (999, "generic") is passed through with its message.
  { name: 'IPAM refuses (subnet is not CIDR)', stdin: (c) => ({ ...c, ipam: { type: 'host-local', ranges: [[{ subnet: 'nope' }]] } }), code: 999 },
];

describe('CNI plugin: malformed input → a CNI error JSON, exit 1, no stack trace, no agent call', function () {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let plugin: string;
  let peer: CniPeer;
  let dataDir: string;

  before(async () => {
    dir = await tempDir('infra-cni-bad-');
    plugin = await bundlePlugin(dir.path);
    dataDir = join(dir.path, 'ipam');
    peer = await startCniPeer({ socketPath: join(dir.path, 'agent.sock') });
  });
  after(async () => {
    await peer.close();
    await dir.remove();
  });

  for (const c of CASES) {
    it(`${c.name} → code ${c.code}`, async () => {
      const valid = netconf(peer.socketPath, dataDir);
      const stdin = typeof c.stdin === 'string' ? c.stdin : JSON.stringify(c.stdin(valid));
      const env = cniEnv({ command: 'ADD', containerId: 'c1', ifname: 'eth0', netns: '/var/run/netns/x', ...c.env });
      const r = await execFile(plugin, [], env, stdin);
      expect(r.code, c.name).to.equal(1);
      expect(r.stderr, c.name).to.not.match(/\bat .*:\d+:\d+/);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out.code, `${c.name}: ${r.stdout}`).to.equal(c.code);
      expect(out.cniVersion, c.name).to.be.a('string');
      expect(out.msg, c.name).to.be.a('string').and.not.empty;
      expect(peer.requests, c.name).to.have.length(0);
      expect(await leases(dataDir), c.name).to.deep.equal([]);
    });
  }
});
