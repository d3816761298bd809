// SQLite WAL checkpoints on their own thread and connection, so no request waits for one.
// Plain JavaScript: a worker thread gets no TypeScript loader of its own.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs, rewindFrames } = workerData;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 0');

/** Catching up: passive rounds within one tick, and how long they may take in all. */
const CATCH_UP_ROUNDS = 200;
const CATCH_UP_MS = 100;
/** While the WAL is past `rewindFrames`, the next look comes this soon instead of `intervalMs`. */
const CATCH_UP_INTERVAL_MS = 100;

const passive = () => db.pragma('wal_checkpoint(PASSIVE)')[0];

/** One look at the WAL; true when it is past the rewind size and neither caught up nor rewound. */
function checkpoint() {
  // PASSIVE copies what it can without waiting for readers or blocking writers.
  let row = passive();
  // The WAL is rewound by the first write after a checkpoint has copied all of it. Under
  // constant writes a checkpoint is never complete when the next write comes, and the WAL grows
  // without end (bench: 80 MB in 15 s of verify). So past a size, passive rounds follow one
  // another until one finds nothing left: each copies only the last few commits, and the next
  // commit rewinds the WAL. No writer waits for it (a RESTART checkpoint blocks writers, and a
  // blocked writer sleeps in SQLite's busy handler for 1, 2, 5… ms: the bench's slowest answers).
  const start = performance.now();
  // A checkpoint reports the WAL as it found it: complete only when it found the same frames as
  // the one before (no commit in between) and copied them all.
  let caughtUp = row.log < rewindFrames;
  for (let i = 0, last = -1; !caughtUp && i < CATCH_UP_ROUNDS && performance.now() - start < CATCH_UP_MS; i++) {
    last = row.log;
    row = passive();
    caughtUp = row.log === last && row.checkpointed === row.log;
  }
  // Each round that copies anything flushes the WAL and the database file. When a flush takes
  // longer than the gap between commits (a disk shared with other work, a network volume), no
  // round finds the WAL quiet, and only a RESTART (writers wait for its last copy) rewinds it.
  const restarted = !caughtUp && row.log >= 2 * rewindFrames;
  let rewound = false;
  if (restarted) {
    db.pragma('busy_timeout = 25');
    try {
      rewound = db.pragma('wal_checkpoint(RESTART)')[0].busy === 0;
    } finally {
      db.pragma('busy_timeout = 5000');
    }
  }
  parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed, restarted });
  return !caughtUp && !rewound;
}

let stopped = false;
let timer;
const tick = () => {
  if (stopped) return;
  let behind = false;
  try {
    behind = checkpoint();
  } catch (err) {
    parentPort.postMessage({ error: String(err) });
  }
  timer = setTimeout(tick, behind ? CATCH_UP_INTERVAL_MS : intervalMs);
};
timer = setTimeout(tick, intervalMs);

parentPort.on('message', (m) => {
  if (m === 'stop') {
    stopped = true;
    clearTimeout(timer);
    db.close();
    parentPort.close();
  }
});
