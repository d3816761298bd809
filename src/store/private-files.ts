// Data at rest is this user's alone: the data directory 0700, the files in it 0600 (database,
// its -wal and -shm, master key, admin token), whatever the umask. Modes are set explicitly:
// a umask only ever removes bits, and an operator's may be 0 or 002.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';

/** What was tightened or could not be, said once a logger exists (the config is read before it). */
const notes: string[] = [];
export const takeFileModeNotes = (): string[] => notes.splice(0);

/**
 * Creates `dir` 0700; an existing one is tightened to 0700 when `tightenExisting` (the data dir:
 * ours by configuration; not the directory of a database file someone put elsewhere).
 */
export function privateDir(dir: string, tightenExisting = true): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } else if (tightenExisting) {
    tighten(dir, 0o700);
  }
}

/** Creates `file` empty and 0600 if it is missing; an existing one is tightened to 0600. */
export function privateFile(file: string): void {
  if (existsSync(file)) {
    tighten(file, 0o600);
    return;
  }
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** An existing path loses the bits `mode` does not have (never gains any), if this user owns it. */
export function tighten(path: string, mode: number): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const was = st.mode & 0o777;
  if ((was & ~mode) === 0) return;
  if (process.getuid && st.uid !== process.getuid()) {
    notes.push(`${path} is mode ${was.toString(8)} and owned by another user: left as it is; make it ${mode.toString(8)}`);
    return;
  }
  chmodSync(path, was & mode);
  notes.push(`${path} was mode ${was.toString(8)}: now ${(was & mode).toString(8)}`);
}
