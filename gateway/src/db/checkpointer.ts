import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

export interface Checkpointer {
  /** Waits for a checkpoint under way to finish, then closes the thread's connection. */
  stop(): Promise<void>;
}

/** WAL pages (4 KiB each) past which the serving connection still checkpoints itself: a safety net only. */
const SAFETY_NET_PAGES = 10_000;

// A plain CommonJS script: the thread needs no TypeScript loader, only better-sqlite3 (its path is
// resolved here and handed over, since the thread's own resolution would start from the cwd).
const THREAD = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const step = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // Busy (another instance's checkpointer holds the lock) or a transient I/O error: next tick.
    if (!String(error && error.code).startsWith('SQLITE_BUSY')) parentPort.postMessage(String(error && error.message));
  }
};
const timer = setInterval(step, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * WAL checkpoints off the event loop. SQLite checkpoints in whichever connection commits past
 * `wal_autocheckpoint` (1,000 pages): on the gateway that is the serving thread, where those
 * commits (copying the WAL into the file, two fsyncs) were most of all commit time and the event
 * loop's longest stalls (BENCHMARKS.md). Here a thread of its own runs a PASSIVE checkpoint every `intervalMs` on its own
 * connection: it never waits for readers or writers, and a frame it cannot copy yet is copied next
 * time. The serving connection keeps checkpointing itself only past `SAFETY_NET_PAGES`, so the WAL
 * stays bounded if this thread falls behind or dies.
 *
 * Safe with several processes on one file: checkpoints are crash-safe, and one that finds another
 * process's checkpointer running gets SQLITE_BUSY and tries again at its next tick.
 */
export function startCheckpointer(
  path: string,
  serving: SQLite.Database,
  options: { intervalMs?: number; onError?: (message: string) => void } = {},
): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD, { eval: true, workerData: { path, module, intervalMs: options.intervalMs ?? 50 } });
  const restore = () => serving.pragma('wal_autocheckpoint = 1000');
  serving.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
  worker.on('message', (m: unknown) => options.onError?.(String(m)));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', (error) => {
    options.onError?.(error.message);
    // The thread is gone: the serving connection checkpoints itself again, as SQLite does by default.
    if (serving.open) restore();
  });
  // Not a reason to keep the process alive: a stop that never comes must not hang an exit. After
  // the listeners, since attaching one refs the thread again.
  worker.unref();
  return {
    async stop() {
      // Asked to stop, the thread is awaited: unreferenced, it would let the process exit while a
      // failed start waits here to report its error (a silent exit 0).
      worker.ref();
      worker.postMessage('stop');
      await exited;
      if (serving.open) restore();
    },
  };
}
