// The bench's own PostgreSQL cluster, configured as an operator would for a million users: the
// machine's cluster keeps the packaged default of 128 MB of shared buffers, which a million users
// outgrow (their rows and indexes are about 0.5 GB), so each lookup read pages through the kernel
// instead of finding them in PostgreSQL's buffers. Measured here at 1M users, same code, in turns
// with the hello-world: user status 0.28-0.34 with 128 MB, 0.50 with 2 GB; verify with a wrong
// app token 0.15-0.16 against 0.34; the right SMS code 0.10 against 0.26.
//
// shared_buffers is PostgreSQL's own starting advice, a quarter of the memory
// (BENCH_PG_SHARED_BUFFERS to choose, e.g. 128MB for the packaged default); everything else keeps
// its default. Made with initdb in a temporary directory, on a free port, and removed at the end.
//
// Huge pages, as PostgreSQL's documentation advises for large shared_buffers: with the kernel's
// 4 kB pages, every backend maps each page of the shared buffers it touches on its own (a page
// fault) and the page tables of gigabytes outgrow the TLB, so a lookup's cost grows with the size
// of the database, not only its depth. Measured here with pgbench (8 clients, one core, a primary
// key lookup of a users-like table, everything in the buffers, 6 GB of them): 10M rows at 0.49 of
// 1M rows' throughput with 4 kB pages, 0.97 with 2 MB pages. The bench reserves them
// (vm.nr_hugepages) when it may (root) and gives them back at the end; BENCH_PG_HUGE_PAGES=off
// measures without.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchCluster {
  /** The `postgres` database of the cluster, from which the bench makes its own. */
  adminUrl: string;
  sharedBuffers: string;
  /** Whether PostgreSQL's shared memory is in huge pages. */
  hugePages: boolean;
  stop(): void;
}

/** initdb and pg_ctl of the newest PostgreSQL installed, or undefined. */
function binDir(): string | undefined {
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian) ? readdirSync(debian).filter((v) => existsSync(join(debian, v, 'bin/initdb'))) : [];
  if (versions.length) return join(debian, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    return existsSync(join(dir, 'initdb')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** A quarter of the memory, in MiB (PostgreSQL's documentation: "a reasonable starting value"); SQLite's cache gets the same. */
export const quarterOfMemoryMiB = () => Math.floor(totalmem() / 4 / 2 ** 20);
const quarterOfMemory = () => `${quarterOfMemoryMiB()}MB`;

/**
 * Starts the cluster, or says why not and returns undefined (the bench then uses the machine's).
 * PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user.
 */
export function startBenchCluster(port: number): BenchCluster | undefined {
  const bin = binDir();
  if (!bin) {
    console.log('note: no initdb found: the PostgreSQL scenarios use the machine\'s cluster as it is configured.');
    return undefined;
  }
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, { stdio: 'pipe', encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'openfactor-bench-pg-'));
  const data = join(dir, 'data');
  const sharedBuffers = process.env.BENCH_PG_SHARED_BUFFERS ?? quarterOfMemory();
  try {
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      chownSync(dir, uid, gid);
    }
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  } catch (err) {
    return notStarted(err, dir);
  }
  const start = (huge: boolean) =>
    run('pg_ctl', ['-D', data, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=${sharedBuffers} -c huge_pages=${huge ? 'on' : 'off'}`, '-l', join(dir, 'log'), '-w', 'start']);
  let hugePages =
    process.env.BENCH_PG_HUGE_PAGES === 'off' ? undefined : reserveHugePages(hugePagesNeeded(() => run('postgres', ['-D', data, '-c', `shared_buffers=${sharedBuffers}`, '-C', 'shared_memory_size_in_huge_pages'])));
  try {
    try {
      start(hugePages !== undefined);
    } catch (err) {
      if (!hugePages) throw err;
      // Reserved, yet PostgreSQL could not map them (pages taken meanwhile): on 4 kB pages, said so.
      console.log('note: PostgreSQL did not start in huge pages: it runs on 4 kB pages.');
      hugePages.release();
      hugePages = undefined;
      start(false);
    }
  } catch (err) {
    return notStarted(err, dir);
  }
  let stopped = false;
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    sharedBuffers,
    hugePages: hugePages !== undefined,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
      hugePages?.release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function notStarted(err: unknown, dir: string): undefined {
  const e = err as Error & { stderr?: string };
  console.log(`note: the bench's own PostgreSQL did not start (${(e.stderr || e.message).trim().split('\n').at(-1)}): the machine's cluster is used.`);
  rmSync(dir, { recursive: true, force: true });
  return undefined;
}

/** How many huge pages the cluster asks for; 0 where PostgreSQL cannot say (before 15). */
function hugePagesNeeded(ask: () => string): number {
  try {
    return Number(ask().trim()) || 0;
  } catch {
    return 0;
  }
}

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';
interface HugePages {
  release(): void;
}

/**
 * `needed` more 2 MB pages than the kernel holds now, or undefined (not root, or the memory too
 * fragmented to find them: the kernel then holds fewer than asked, and they are given back).
 */
function reserveHugePages(needed: number): HugePages | undefined {
  if (!(needed > 0) || process.getuid?.() !== 0) return undefined;
  const count = () => Number(readFileSync(NR_HUGEPAGES, 'utf8'));
  let before: number;
  try {
    before = count();
    writeFileSync(NR_HUGEPAGES, String(before + needed));
  } catch {
    return undefined;
  }
  const release = () => {
    try {
      writeFileSync(NR_HUGEPAGES, String(before));
    } catch {
      console.log(`note: the bench could not give back its huge pages: write ${before} to ${NR_HUGEPAGES}.`);
    }
  };
  if (count() < before + needed) {
    console.log(`note: the kernel found only ${count() - before} of ${needed} huge pages: PostgreSQL runs on 4 kB pages.`);
    release();
    return undefined;
  }
  return { release };
}
