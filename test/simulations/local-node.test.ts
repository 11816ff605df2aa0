import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { binCommand } from '../../simulations/processes.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The README's main command, as a person runs it: heartbeats on screen, Ctrl-C stops all. */
describe('npm start: the local node', function () {
  this.timeout(60_000);

  it('shows registration and heartbeats both ways, and Ctrl-C stops every process it started', async () => {
    const { command, args } = binCommand('local-node');
    const child = spawn(command, [...args, '--heartbeat-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const lines: string[] = [];
    const pids: Record<string, number> = {};
    let runDir = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no heartbeats both ways:\n${lines.join('\n')}`)), 30_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const pid = /^\s+(nats-server|manager|agent|p4 target|kube API)\s+pid (\d+)/.exec(line);
        if (pid) pids[pid[1]!] = Number(pid[2]);
        const dir = /^\s+run dir\s+(\S+)/.exec(line);
        if (dir) runDir = dir[1]!;
        const seen = (re: RegExp): boolean => lines.some((l) => re.test(l));
        if (seen(/♥ manager .*seq\s+3/) && seen(/♥ agent .*seq\s+3/) && seen(/registered with manager/) && seen(/agent registered/)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr.on('data', (d: Buffer) => lines.push(`stderr: ${d.toString()}`));
      child.once('exit', (code) => reject(new Error(`exited early with ${code}:\n${lines.join('\n')}`)));
    });
    await ready;
    expect(Object.keys(pids).sort()).to.deep.equal(['agent', 'kube API', 'manager', 'nats-server', 'p4 target']);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const t0 = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    expect(code, lines.slice(-10).join('\n')).to.equal(0);
    expect(Date.now() - t0).to.be.below(10_000);
    for (const [name, pid] of Object.entries(pids)) expect(alive(pid), `${name} (pid ${pid}) still running`).to.equal(false);
    expect(existsSync(runDir), `run dir ${runDir} removed`).to.equal(false);
    expect(lines.some((l) => /stopped \(manager exit 0, agent exit 0, target exit 0\)/.test(l)), lines.slice(-5).join('\n')).to.equal(true);
  });
});
