import cluster, { type Worker } from 'node:cluster';
import { parseArgs } from 'node:util';
import { ConfigError } from './config';
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

/** Command-line flags, turned into the environment variables they stand for so that config.ts's one schema validates them. */
export function argsToEnv(argv: readonly string[]): Record<string, string> {
  let values: { cluster?: string | undefined };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { cluster: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new ConfigError(`${error instanceof Error ? error.message : String(error)}\nusage: flexgate [--cluster N]`);
  }
  return values.cluster === undefined ? {} : { FLEXGATE_CLUSTER: values.cluster };
}

export const isClusterWorker = (): boolean => cluster.isWorker;

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

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** Writes the plain "listening on http://HOST:PORT" line people and scripts wait for. */
  announce(line: string): void;
  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): void;
}

/** A worker that dies more often than this within a minute is not coming back: stop, exit 1. */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * The primary: forks `workers` gateways, announces once every one of them listens, replaces a
 * worker that dies unexpectedly, and on SIGTERM/SIGINT passes SIGTERM to every worker (each
 * finishes its in-flight requests and closes its database) and exits once they all have.
 * A worker that dies before the first announcement means the gateway cannot start (bad
 * database URL, port taken, ...): everything stops with exit code 1 instead of looping.
 */
export function runPrimary(options: PrimaryOptions): void {
  const { workers, logger } = options;
  const listening = new Set<number>();
  const restarts: number[] = [];
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  const alive = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  const stop = (code: number, why: string) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info('shutting down', { reason: why, workers: alive().length });
    const running = alive();
    if (running.length === 0) return options.exit(exitCode);
    for (const w of running) w.process.kill('SIGTERM');
  };

  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (m: unknown) => {
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
  };

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) {
      // SIGTERM before a worker installed its handler ends it by the signal: nothing was in flight.
      if (code !== 0 && code !== null) exitCode = exitCode || 1;
      if (alive().length === 0) options.exit(exitCode);
      return;
    }
    logger.error('worker died', { pid: worker.process.pid, code, signal });
    if (!announced) return stop(1, 'a worker failed to start');
    const now = Date.now();
    restarts.push(now);
    while ((restarts[0] ?? now) < now - 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE * workers) return stop(1, 'workers keep dying');
    fork();
  });

  options.onSignal('SIGTERM', () => stop(0, 'SIGTERM'));
  options.onSignal('SIGINT', () => stop(0, 'SIGINT'));
  for (let i = 0; i < workers; i++) fork();
}
