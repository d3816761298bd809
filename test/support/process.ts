// The real server and CLI as separate processes (for crash tests and the CLI).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The compiled CLI, as `npm start` and `openfactor` run it (`npm test` builds it first). */
const CLI = ['build/cli.js'];

/**
 * Processes a test started and has not seen end. A test file the runner ends (a timeout, a
 * failed hook) never reaches its `after`: they are killed when its process exits or is told to.
 */
const running = new Set<ChildProcess>();
const killRunning = () => {
  for (const p of running) p.kill('SIGKILL');
};
process.once('exit', killRunning);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    killRunning();
    process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
  });
}

/** Kills `proc` with the test's process if nothing else has by then. */
export function stoppedWithTest(proc: ChildProcess): ChildProcess {
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  return proc;
}

export interface ServerProcess {
  url: string;
  proc: ChildProcess;
  output: () => string;
  /** SIGKILL, no chance to flush anything. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function spawnServer(env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const proc = stoppedWithTest(spawn(process.execPath, [...CLI, 'serve'], { cwd: root, env: { ...env, PORT: '0', LOG_LEVEL: 'info' } }));
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    // One that does not start in time is killed: no test leaves a server behind.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start:\n${out}`));
    }, 90_000);
    const check = () => {
      const m = /OpenFactor listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => reject(new Error(`server exited (${code}):\n${out}`)));
  });
  return {
    url,
    proc,
    output: () => out,
    kill9: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/openfactor.mjs', ...args], { cwd: root, env, encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user created over HTTP on a spawned server (a US number `+1 415 555 xxxx`). */
export async function createUserOver(url: string, apiKey: string, phone: string, email = `u${phone}@example.com`): Promise<number> {
  const res = await fetch(`${url}/protected/json/users/new`, {
    method: 'POST',
    headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/x-www-form-urlencoded' },
    body: `user[email]=${encodeURIComponent(email)}&user[cellphone]=${phone}&user[country_code]=1`,
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`users/new: ${res.status} ${JSON.stringify(body)}`);
  return body.user.id;
}

/** `openfactor outbox --json`, parsed: newest first. */
export const outboxLines = (env: NodeJS.ProcessEnv): any[] =>
  runCli(['outbox', '--json'], env).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** `n` server processes at once; if one does not start, those that did are stopped and its failure thrown. */
export async function spawnServers(n: number, env: NodeJS.ProcessEnv): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => spawnServer(env)));
  const up = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(up.map((s) => s.stop()));
    throw failed.reason;
  }
  return up;
}
