// SQLite WAL checkpoints on their own thread and connection, so no request waits for one.
// Plain JavaScript: a worker thread gets no TypeScript loader of its own.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs, restartFrames } = workerData;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 0');

let stopped = false;
const timer = setInterval(() => {
  if (stopped) return;
  try {
    // PASSIVE: copies what it can without waiting for readers or blocking writers.
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    // Under constant writes a passive checkpoint is never complete when the next write comes,
    // so the WAL is never rewound and grows without end (bench: 80 MB in 15 s of verify). Past
    // a size, RESTART copies the few frames left and rewinds it: writers wait meanwhile (a few
    // ms), and at most 25 ms for readers, else it gives up until the next tick.
    if (row.log >= restartFrames) {
      db.pragma('busy_timeout = 25');
      try {
        db.pragma('wal_checkpoint(RESTART)');
      } finally {
        db.pragma('busy_timeout = 5000');
      }
    }
    parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String(err) });
  }
}, intervalMs);

parentPort.on('message', (m) => {
  if (m === 'stop') {
    stopped = true;
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
