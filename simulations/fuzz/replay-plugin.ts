/**
 * Replays one CNI plugin case (CNI_* environment + stdin bytes) against the plugin — its entry in
 * this process, or the bundled plugin exec'd — in a world of IPAM stub and protocol peer, and
 * judges it as the fuzz run does: the answer `predictPlugin` predicts (exit code, CNI code, the
 * JSON's shape; `checkAnswer`), the agent reached and IPAM run exactly as often as predicted, no
 * throw (crash), an answer within the deadline (hang); exec'd, nothing on stderr.
 *
 * `shrinkPluginCase` minimises such a case: stdin as JSON (structure, then bytes; minimise.ts),
 * then the environment (variables dropped, then long values shortened).
 *
 * @example
 * const r = await PluginReplayer.start(dir);
 * const v = await r.verdict(c); // { class: 'ok' } when the plugin answers as predicted
 * await r.close();
 */
import { runPlugin } from '../../cni/plugin.js';
import { startCniPeer, type CniPeer } from '../cni-peer.js';
import { checkAnswer, execPlugin, peerCalls, pluginWorld, type PluginRunner, type PluginWorld } from './cni-fuzz.js';
import { predictPlugin, type CniCase, type CniCommand } from './cni-json.js';
import { fromCorpus, type CorpusCase } from './corpus.js';
import { OK, shrinkJson, type Shrinker, type Verdict } from './findings.js';
import { ddmin, type MinimiseResult } from './minimise.js';

const TIMEOUT_MS = 15_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** How a replay runs the plugin: in this process (a runner), or the bundle exec'd. */
export type PluginVia = { readonly runner: PluginRunner } | { readonly bundle: string };

export class PluginReplayer {
  private constructor(
    readonly world: PluginWorld,
    private readonly peer: CniPeer,
    private readonly via: PluginVia,
  ) {}

  /** The world of `dir` (made if missing) with a fresh peer on its live socket. */
  static async start(dir: string, via: PluginVia = { runner: runPlugin }): Promise<PluginReplayer> {
    const world = await pluginWorld(dir);
    const peer = await startCniPeer({ socketPath: world.liveSocket });
    return new PluginReplayer(world, peer, via);
  }

  async verdict(c: CniCase): Promise<Verdict> {
    const p = predictPlugin(c, this.world);
    const ipamBefore = await this.world.ipamCalls();
    this.peer.requests.length = 0;
    let exitCode: number;
    let stdout: string;
    if ('runner' in this.via) {
      let out: Awaited<ReturnType<PluginRunner>> | 'timeout';
      try {
        out = await withTimeout(this.via.runner({ ...c.env }, Buffer.from(c.stdin).toString('utf8')), TIMEOUT_MS);
      } catch (e) {
        return { class: 'crash', detail: `the plugin threw: ${(e as Error).message}` };
      }
      if (out === 'timeout') return { class: 'hang', detail: `no answer within ${TIMEOUT_MS} ms` };
      ({ exitCode, stdout } = out);
    } else {
      const r = await execPlugin(this.via.bundle, c.env, c.stdin, TIMEOUT_MS).catch((e: Error) => e);
      if (r instanceof Error) return { class: 'crash', detail: `exec failed: ${r.message}` };
      if (r.code === null) return r.signal === 'SIGKILL' ? { class: 'hang', detail: `no answer within ${TIMEOUT_MS} ms` } : { class: 'crash', detail: `killed by ${r.signal}` };
      if (r.stderr !== '') return { class: 'crash', detail: `stderr: ${r.stderr.slice(0, 300)}` };
      exitCode = r.code;
      stdout = r.stdout;
    }
    const wrong = checkAnswer(c, p, exitCode, stdout);
    if (wrong) return { class: 'mismatch', detail: `expected exit ${p.exitCode}${p.code !== undefined ? ` code ${p.code}` : ''} (${p.reason}); ${wrong}` };
    const ipamAfter = await this.world.ipamCalls();
    const ipam = (['ADD', 'DEL', 'CHECK'] as CniCommand[]).map((k) => ipamAfter[k] - ipamBefore[k]);
    const agent = peerCalls(this.peer);
    if (agent !== p.agentCalls || ipam.some((n, i) => n !== p.ipam[(['ADD', 'DEL', 'CHECK'] as const)[i]!])) {
      return { class: 'state', detail: `side effects: agent ${agent} (predicted ${p.agentCalls}), IPAM ${JSON.stringify(ipam)} (predicted ${JSON.stringify(p.ipam)})` };
    }
    return OK;
  }

  async close(): Promise<void> {
    await this.peer.close();
  }
}

/** Bytes of stdin plus the environment's text: the size a plugin case is measured by. */
export function caseSize(c: CniCase): number {
  return c.stdin.length + Object.entries(c.env).reduce((n, [k, v]) => n + k.length + v.length, 0);
}

/**
 * Minimises a plugin case: stdin (JSON structure, then bytes), then the environment's variables,
 * then the characters of the long values left. One budget for all of it.
 *
 * @example
 * const r = await shrinkPluginCase(c, async (x) => (await replayer.verdict(x)).class === 'mismatch', { maxAttempts: 300 });
 */
export const shrinkPluginCase: Shrinker<CniCase> = async (c, fails, budget) => {
  const started = performance.now();
  const maxAttempts = budget.maxAttempts ?? 400;
  const maxMs = budget.maxMs ?? 60_000;
  let attempts = 0;
  let minimal = true;
  const left = () => ({ maxAttempts: Math.max(0, maxAttempts - attempts), maxMs: Math.max(0, maxMs - (performance.now() - started)) });
  const account = <T>(r: MinimiseResult<T>): T => {
    attempts += r.attempts;
    minimal &&= r.minimal;
    return r.value;
  };
  let current = c;
  const stdin = account(await shrinkJson(current.stdin, (b) => fails({ ...current, stdin: b }), left()));
  current = { ...current, stdin };
  const keys = account(await ddmin(Object.keys(current.env), (ks) => fails({ ...current, env: Object.fromEntries(ks.map((k) => [k, current.env[k]!])) }), left()));
  current = { ...current, env: Object.fromEntries(keys.map((k) => [k, current.env[k]!])) };
  for (const k of keys) {
    const value = current.env[k]!;
    if (value.length <= 8) continue;
    const chars = account(await ddmin([...value], (cs) => fails({ ...current, env: { ...current.env, [k]: cs.join('') } }), left(), (cs) => cs.join('')));
    current = { ...current, env: { ...current.env, [k]: chars.join('') } };
  }
  return { value: current, attempts, ms: Math.round(performance.now() - started), minimal: minimal && left().maxAttempts > 0 };
};

/** What is wrong with a stored plugin case now, or undefined: the oracle must still predict it, and the plugin answer so. */
export async function checkPluginCase(replayer: PluginReplayer, entry: CorpusCase): Promise<string | undefined> {
  const c = fromCorpus(entry, replayer.world);
  const p = predictPlugin(c, replayer.world);
  if (p.exitCode !== entry.expected.exitCode || p.code !== entry.expected.code || p.output !== entry.expected.output) {
    return `the oracle now says ${JSON.stringify({ exitCode: p.exitCode, code: p.code, output: p.output })}`;
  }
  const v = await replayer.verdict(c);
  return v.class === 'ok' ? undefined : `${v.class}: ${v.detail}`;
}
