import cluster, { type Worker } from 'node:cluster';
import { EXIT_NEWER_SCHEMA } from './config';
import type { Logger } from './lib/logger';

/**
 * `pnpm gateway --cluster N`: N worker processes share one port through node:cluster (the primary
 * accepts connections and hands them out round-robin). Every worker is a whole gateway: it
 * connects, migrates, loads the signing keys and runs the background upkeep. That is safe because
 * nothing that must happen once relies on memory: migrations hold a lock (db/migrate.ts), the
 * first signing key is created under a lock (signing/keyring.ts), charges are exactly-once by the
 * database's unique key and guarded decrement, and every background job is idempotent. The
 * primary only forks, watches and relays signals; it never opens the database.
 *
 * Nothing here touches `process`: main.ts passes what is needed.
 */

export const isClusterWorker = (): boolean => cluster.isWorker;
/** This worker's id in its cluster (1, 2, ...; a replacement gets the next), as its metrics label it. */
export const clusterWorkerId = (): string | undefined => (cluster.worker ? String(cluster.worker.id) : undefined);

const LISTENING = 'flexgate:listening';

/** What a worker tells the primary once its server accepts requests. */
export interface ListeningMessage {
  type: typeof LISTENING;
  url: string;
  engine: string;
}

export function listeningMessage(url: string, engine: string): ListeningMessage {
  return { type: LISTENING, url, engine };
}

function isListeningMessage(m: unknown): m is ListeningMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === LISTENING;
}

const FAILED = 'flexgate:failed';

/**
 * What a worker tells the primary instead of printing, when it cannot start for a configuration
 * problem (port in use, database out of reach): every worker meets the same problem, and the
 * primary prints it once.
 */
export interface FailedMessage {
  type: typeof FAILED;
  problems: string[];
}

export function failedMessage(problems: readonly string[]): FailedMessage {
  return { type: FAILED, problems: [...problems] };
}

function isFailedMessage(m: unknown): m is FailedMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as { type?: unknown }).type === FAILED &&
    Array.isArray((m as { problems?: unknown }).problems)
  );
}

const CHECK_SCHEMA = 'flexgate:check-schema';

/** What the primary tells the workers once one stopped for a newer schema: read the migrations now. */
export function checkSchemaMessage(): { type: typeof CHECK_SCHEMA } {
  return { type: CHECK_SCHEMA };
}

export function isCheckSchemaMessage(m: unknown): boolean {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === CHECK_SCHEMA;
}

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** Writes the plain "listening on http://HOST:PORT" line people and scripts wait for. */
  announce(line: string): void;
  /** Writes a worker's configuration problems, one line each (on stderr). */
  report(problems: readonly string[]): void;
  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): void;
}

/** A worker that dies more often than this within a minute is not coming back: stop, exit 1. */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * The primary: forks `workers` gateways, announces once every one of them listens, replaces a
 * worker that dies unexpectedly, and on SIGTERM/SIGINT passes SIGTERM to every worker (each
 * finishes its in-flight requests and closes its database) and exits once they all have.
 * A worker that reports a configuration problem (port in use, database out of reach) before the
 * first announcement stops everything with exit code 2 and that problem printed once; any other
 * death before it means the gateway cannot start: exit code 1. Neither loops. A worker that
 * stopped because a newer flexgate migrated the database (exit code 3) stops them all, with 3.
 */
export function runPrimary(options: PrimaryOptions): void {
  const { workers, logger } = options;
  const listening = new Set<number>();
  const restarts: number[] = [];
  /** Workers forked and not yet gone (exited and their IPC channel drained). */
  let running = 0;
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  const alive = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  const terminate = (w: Worker) => w.process.kill('SIGTERM');
  /** Stops every worker (`tell` them how: SIGTERM, unless said otherwise), then exits with `code`. */
  const stop = (code: number, why: string, tell: (w: Worker) => void = terminate) => {
    // A SIGTERM while workers stop by another way still reaches them (twice is harmless).
    if (stopping) {
      if (tell === terminate) for (const w of alive()) terminate(w);
      return;
    }
    stopping = true;
    exitCode = code;
    logger.info('shutting down', { reason: why, workers: alive().length });
    if (running === 0) return options.exit(exitCode);
    for (const w of alive()) tell(w);
  };

  const fork = () => {
    const worker = cluster.fork();
    running += 1;
    let problems: string[] | null = null;
    worker.on('message', (m: unknown) => {
      if (isFailedMessage(m)) {
        problems = m.problems;
        return;
      }
      if (!isListeningMessage(m)) return;
      listening.add(worker.id);
      if (announced) {
        logger.info('replacement worker listening', { pid: worker.process.pid, url: m.url });
      } else if (listening.size >= workers) {
        announced = true;
        logger.info(`listening on ${m.url}`, { engine: m.engine, workers });
        options.announce(`flexgate listening on ${m.url} (${m.engine}, ${workers} workers)`);
      }
    });
    // 'exit' may come before the worker's last messages are read; 'disconnect' comes after them.
    worker.once('exit', (code, signal) => {
      const gone = () => died(worker, code, signal, problems);
      if (worker.isConnected()) worker.once('disconnect', gone);
      else gone();
    });
  };

  const died = (worker: Worker, code: number | null, signal: string | null, problems: string[] | null) => {
    running -= 1;
    listening.delete(worker.id);
    if (stopping) {
      // SIGTERM before a worker installed its handler ends it by the signal: nothing was in flight.
      if (code !== 0 && code !== null) exitCode = exitCode || 1;
      if (running === 0) options.exit(exitCode);
      return;
    }
    // Before the announcement every worker meets the same problem at once (they share the port
    // and the database): it is said once, by the first, and respawning would only meet it again.
    if (problems && !announced) {
      options.report(problems);
      return stop(2, 'a worker cannot start: configuration problem');
    }
    // A newer flexgate migrated the database (the worker logged it): every worker must stop
    // writing, and a replacement would only be refused. The others check now rather than at their
    // next period, and stop as that worker did: refusing what arrives (a SIGTERM's drain would
    // still serve it). The supervisor restarting the primary meets the start's refusal (exit 2).
    if (code === EXIT_NEWER_SCHEMA)
      return stop(EXIT_NEWER_SCHEMA, 'the database was migrated by a newer flexgate', (w) =>
        // A worker already on its way out may have closed its channel: nothing to tell it then.
        w.send(checkSchemaMessage(), () => {}),
      );
    // A replacement that cannot start (PostgreSQL restarting, say) is retried within the budget:
    // the workers still serving must not stop for what may pass.
    const fields = { pid: worker.process.pid, code, signal, ...(problems ? { problems } : {}) };
    logger.error(problems ? 'replacement worker cannot start' : 'worker died', fields);
    if (!announced) return stop(1, 'a worker failed to start');
    const now = Date.now();
    restarts.push(now);
    while ((restarts[0] ?? now) < now - 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE * workers) {
      if (!problems) return stop(1, 'workers keep dying');
      options.report(problems);
      return stop(2, 'replacement workers cannot start: configuration problem');
    }
    fork();
  };

  options.onSignal('SIGTERM', () => stop(0, 'SIGTERM'));
  options.onSignal('SIGINT', () => stop(0, 'SIGINT'));
  for (let i = 0; i < workers; i++) fork();
}
