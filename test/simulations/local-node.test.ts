import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { binCommand } from '../../simulations/processes.js';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function namespaces(runId: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout.split('\n').filter((l) => l.startsWith(`ioff-${runId}-`));
}

interface Started {
  readonly lines: string[];
  readonly pids: Record<string, number>;
  runDir: string;
  runId: string;
  readonly exited: Promise<number | null>;
  readonly pid: number;
}

/** The README's main command, as a person runs it (in its own process group, as a shell would). */
function start(args: string[]): Started {
  const { command, args: base } = binCommand('local-node');
  const child = spawn(command, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' }, detached: true });
  const s: Started = {
    lines: [],
    pids: {},
    runDir: '',
    runId: '',
    pid: child.pid!,
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    s.lines.push(line);
    const pid = /^\s+(nats-server|manager|agent|p4 target|kube API)\s+pid (\d+)/.exec(line);
    if (pid) s.pids[pid[1]!] = Number(pid[2]);
    const dir = /^\s+run dir\s+(\S+)/.exec(line);
    if (dir) s.runDir = dir[1]!;
    const id = /\(run ([0-9a-f]{6})\)/.exec(line);
    if (id) s.runId = id[1]!;
  });
  child.stderr.on('data', (d: Buffer) => s.lines.push(`stderr: ${d.toString()}`));
  return s;
}

async function expectNothingLeft(s: Started): Promise<void> {
  for (const [name, pid] of Object.entries(s.pids)) expect(alive(pid), `${name} (pid ${pid}) still running`).to.equal(false);
  expect(s.runDir, 'the run dir was printed').to.not.equal('');
  expect(existsSync(s.runDir), `run dir ${s.runDir} removed`).to.equal(false);
  expect(s.runId, 'the run id was printed').to.match(/^[0-9a-f]{6}$/);
  expect(await namespaces(s.runId), 'namespaces of the run').to.deep.equal([]);
  const { stdout } = await run('ip', ['-j', 'link', 'show']);
  expect(stdout, 'links of the run in the root namespace').to.not.contain(s.runId);
}

describe('npm start: a whole split-mode node on real interfaces', function () {
  this.timeout(180_000);

  it('--check proves pod → pod, VIPs, UDP, endpoint changes and iperf3 on real TAPs, exits 0 and leaves nothing behind', async function () {
    const s = start(['--check']);
    const code = await s.exited;
    expect(code, s.lines.slice(-25).join('\n')).to.equal(0);
    const summary = JSON.parse(s.lines.at(-1) ?? '{}') as Record<string, unknown>; // the last line
    expect(summary, s.lines.slice(-12).join('\n')).to.deep.include({ demo: 'ok', mode: 'tap' });
    expect(summary.passed).to.equal(summary.checks);
    expect(summary.checks).to.be.at.least(6);
    expect(summary.iperf_mbps).to.be.a('number').greaterThan(0);
    expect(summary.vip_conn_per_s).to.be.a('number').greaterThan(0);
    expect(Object.keys(s.pids).sort()).to.deep.equal(['agent', 'kube API', 'manager', 'nats-server', 'p4 target']);
    await expectNothingLeft(s);
  });

  it('stays up with heartbeats both ways; Ctrl-C stops every process and removes every namespace', async function () {
    const s = start(['--heartbeat-ms', '200']);
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const count = (re: RegExp) => s.lines.filter((l) => re.test(l)).length;
        if (count(/checks passed/) > 0 && count(/♥ manager .*seq\s+\d+/) >= 3 && count(/♥ agent .*seq\s+\d+/) >= 3) {
          clearInterval(timer);
          resolve();
        }
      }, 100);
      void s.exited.then((code) => {
        clearInterval(timer);
        reject(new Error(`exited early with ${code}:\n${s.lines.slice(-30).join('\n')}`));
      });
    });
    expect(s.lines.some((l) => /6\/6 checks passed/.test(l)), s.lines.filter((l) => /✘/.test(l)).join('\n')).to.equal(true);
    const t0 = Date.now();
    process.kill(-s.pid, 'SIGINT'); // Ctrl-C: the terminal signals the whole foreground group
    const code = await s.exited;
    expect(code, s.lines.slice(-10).join('\n')).to.equal(0);
    expect(Date.now() - t0).to.be.below(20_000);
    expect(s.lines.some((l) => /stopped \(manager exit 0, agent exit 0, target exit 0\)/.test(l)), s.lines.slice(-8).join('\n')).to.equal(true);
    await expectNothingLeft(s);
  });
});
