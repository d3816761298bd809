// SQLite WAL checkpoints on their own thread and connection, so no request waits for one.
// Plain JavaScript: a worker thread gets no TypeScript loader of its own.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs } = workerData;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 0');

let stopped = false;
const timer = setInterval(() => {
  if (stopped) return;
  try {
    // PASSIVE: copies what it can without waiting for readers or blocking writers.
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
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
