// SQLite WAL checkpoints on their own thread and connection, so no request waits for one.
// Plain JavaScript: a worker thread gets no TypeScript loader of its own.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs, rewindFrames, holdFrames, restartFrames, catchUpMs, hold } = workerData;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 0');

/** `hold[0]`: while 1, this process's turn writes wait (store/db.ts, TurnWrites). */
const held = new Int32Array(hold);

/** Catching up: the most passive rounds within one look (and `catchUpMs` in all). */
const CATCH_UP_ROUNDS = 200;
/** While the WAL is past `rewindFrames`, the next look comes this soon instead of `intervalMs`. */
const CATCH_UP_INTERVAL_MS = 100;
/** Before a hold: rounds until one has no more than this many frames left to copy. */
const FEW_FRAMES = 64;
const CLOSING_IN_ROUNDS = 4;
/** The longest the turn writes are held (no round starts after it), and its rounds at most. */
const HOLD_MS = 30;
const HOLD_ROUNDS = 8;

const passive = () => db.pragma('wal_checkpoint(PASSIVE)')[0];

/**
 * Passive rounds until one finds the same frames as the one before (no commit in between) and
 * copied them all, within `rounds` and `ms`.
 */
function catchUp(row, rounds, ms) {
  const start = performance.now();
  for (let i = 0; i < rounds && performance.now() - start < ms; i++) {
    const before = row.log;
    row = passive();
    if (row.log === before && row.checkpointed === row.log) return { row, done: true };
  }
  return { row, done: false };
}

/** One look at the WAL; true when it is past the rewind size and neither caught up nor rewound. */
function checkpoint() {
  // PASSIVE copies what it can without waiting for readers or blocking writers.
  let row = passive();
  if (row.log < rewindFrames) return false;
  // The WAL is rewound by the first write after a checkpoint has copied all of it. Under
  // constant writes a checkpoint is never complete when the next write comes, and the WAL grows
  // without end (bench: 80 MB in 15 s of verify). So past a size, passive rounds follow one
  // another until one finds nothing left: each copies only the last few commits, and the next
  // commit rewinds the WAL. No writer waits for it.
  let done;
  ({ row, done } = catchUp(row, CATCH_UP_ROUNDS, catchUpMs));
  // Each round that copies anything flushes the WAL and the database file. When a flush takes
  // longer than the gap between commits (a disk shared with other work, a network volume), no
  // round finds the WAL quiet. Past `holdFrames`, this process's turn writes wait for a last
  // round (its requests still run and read): the first commit after it rewinds the WAL.
  const holding = !done && row.log >= holdFrames;
  if (holding) {
    // Closing in first, without holding anyone: each round copies only what was committed while
    // the one before flushed, so the held round has only a handful of frames to copy and flush.
    for (let i = 0; i < CLOSING_IN_ROUNDS && row.log - row.checkpointed > FEW_FRAMES; i++) row = passive();
    Atomics.store(held, 0, 1);
    try {
      ({ row, done } = catchUp(row, HOLD_ROUNDS, HOLD_MS));
    } finally {
      Atomics.store(held, 0, 0);
    }
  }
  // Writes that no hold stops (another process's, a transaction spanning awaits): only a RESTART
  // rewinds the WAL then, and writers wait for its last copy.
  const restarted = !done && row.log >= restartFrames;
  let rewound = false;
  if (restarted) {
    db.pragma('busy_timeout = 25');
    try {
      rewound = db.pragma('wal_checkpoint(RESTART)')[0].busy === 0;
    } finally {
      db.pragma('busy_timeout = 5000');
    }
  }
  parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed, restarted, held: holding });
  return !done && !rewound;
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
    Atomics.store(held, 0, 0);
    db.close();
    parentPort.close();
  }
});
