// Child processes for the bench: spawn (optionally pinned to a core), wait for HTTP, measure CPU, stop.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = new URL('..', import.meta.url).pathname;

/**
 * Every core of the machine, as `taskset` spells it. Not availableParallelism(): that is this
 * process's own affinity, one core once pinSelf has run, and PostgreSQL was left on core 0.
 */
export const ALL_CORES = `0-${cpus().length - 1}`;

export const hasTaskset = (() => {
  try {
    execFileSync('which', ['taskset'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Pins this process, all threads included, to one core: the load generator must not steal the server's. */
export function pinSelf(core: number): void {
  execFileSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' });
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise((ok) => srv.close(ok));
  return port;
}

export interface Child {
  name: string;
  proc: ChildProcess;
  /** The last few KB of its stdout + stderr, to explain a failure. */
  output(): string;
  exited: Promise<void>;
}

/** `core`: one core, a taskset list such as '0-1', or none (this process's own affinity). */
export function startNode(name: string, args: string[], env: Record<string, string>, core?: number | string): Child {
  // taskset execs node, so the pid we get is the server's own (for /proc and kill).
  const argv = core === undefined ? [process.execPath, ...args] : ['taskset', '-c', String(core), process.execPath, ...args];
  const proc = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // BENCH_SERVER_LOG=DIR: every child's whole output to DIR/NAME-PID.log, to study a run.
  const logDir = process.env.BENCH_SERVER_LOG;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const log = logDir ? createWriteStream(path.join(logDir, `${name}-${proc.pid}.log`)) : undefined;
  const keep = (b: Buffer) => {
    log?.write(b);
    out = (out + b.toString()).slice(-8000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
  void exited.then(() => log?.end());
  return { name, proc, output: () => out, exited };
}

export const isRunning = (c: Child) => c.proc.exitCode === null && c.proc.signalCode === null;

export async function waitForHttp(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error(`${child.name} exited (${child.proc.exitCode ?? child.proc.signalCode}) before answering:\n${child.output()}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} did not answer 200 on ${url} within ${timeoutMs / 1000}s:\n${child.output()}`);
}

/** SIGTERM (lets --cpu-prof write its file), then SIGKILL if it lingers. */
export async function stop(child: Child): Promise<void> {
  if (!isRunning(child)) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(timer);
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used so far; undefined off Linux. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 (utime), 15 (stime)
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds the whole machine has been busy (all cores), in two parts: `softirq`, the kernel's
 * deferred interrupt work, charged to no process (here mostly the loopback network of the
 * bench's own requests: 20-24% of the server's core during a hello-world on one machine), and
 * `busy`, everything else (steal included). With ours subtracted, `busy` is the noise.
 */
export function machineCpuSeconds(): { busy: number; softirq: number } | undefined {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: (user + nice + system + irq + steal) / CLK_TCK, softirq: softirq / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** The PostgreSQL server's processes (postmaster, background workers, backends). */
export function postgresPids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'postgres'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * PostgreSQL on the server's core while its scenarios run, so the server side has one core on
 * both dialects (new backends inherit the postmaster's affinity). Needs the right to set it
 * (root, or the postgres user); said when it fails.
 */
export function pinPostgres(core: number): void {
  const pids = postgresPids();
  let failed = 0;
  for (const pid of pids) {
    try {
      execFileSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
    } catch {
      failed++;
    }
  }
  if (failed || !pids.length) console.log(`note: PostgreSQL could not be pinned to core ${core} (${failed} of ${pids.length} processes refused): it may use the generator's core.`);
}

export function unpinPostgres(): void {
  for (const pid of postgresPids()) {
    try {
      execFileSync('taskset', ['-a', '-cp', ALL_CORES, String(pid)], { stdio: 'ignore' });
    } catch {
      // gone meanwhile
    }
  }
}
