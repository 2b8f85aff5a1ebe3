import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createHttp } from './app';
import type { Config } from './config';
import { startCheckpointer } from './db/checkpointer';
import { connect, type Database } from './db/connect';
import { migrate } from './db/migrate';
import { createLaunchStore } from './launch/store';
import { forgetAnswersBefore } from './db/repos/idempotency';
import { AdjustableClock, type Clock, systemClock } from './lib/clock';
import { jsonLogger, type Logger } from './lib/logger';
import { sweepAlerts } from './services/alerts';
import { settleExpiries } from './services/balance';
import { MailSender } from './services/outbox';
import { KeyRing } from './signing/keyring';

export interface RunningGateway {
  url: string;
  port: number;
  database: Database;
  keys: KeyRing;
  clock: Clock;
  /** Stops accepting, lets in-flight requests finish, then closes the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
}

/** Connects, migrates, loads keys, serves; everything `main.ts` and the tests share. */
export async function startGateway(config: Config, options: StartOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? jsonLogger(config.logLevel);
  const testClock = config.testClock ? new AdjustableClock(options.clock ?? systemClock) : null;
  const clock = testClock ?? options.clock ?? systemClock;
  const database = connect({ url: config.databaseUrl, poolSize: config.databasePoolSize, sqliteSync: config.sqliteSync });
  const applied = await migrate(database);
  if (applied.length > 0) logger.info('migrated', { applied });
  const sqlitePath = config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl.slice('sqlite:'.length) : null;
  const sqliteFile = sqlitePath && sqlitePath !== ':memory:' ? sqlitePath : null;
  const checkpointer =
    sqliteFile && database.sqlite
      ? startCheckpointer(sqliteFile, database.sqlite, { onError: (message) => logger.warn('wal checkpoint failed', { err: message }) })
      : null;
  const keys = new KeyRing(database.db, clock, { issuer: config.issuer, idTokenTtlSeconds: config.idTokenTtlSeconds });
  await keys.init();
  // The launch's storage port needs the tables (a second SQLite connection, a PostgreSQL listener).
  const store = createLaunchStore(database, config.databaseUrl, { groupMax: config.chargeGroup, now: () => clock.now(), logger });

  let accepting = true;
  const { app, launchLane } = createHttp({ config, database, clock, testClock, keys, logger, store, ready: () => accepting });
  const toApp = getRequestListener(app.fetch, { hostname: config.host });
  // The app's responses in flight, so that a drain can ask each of their connections to close
  // after it. The launch lane needs no such list: it writes its answers in one call and adds
  // `Connection: close` itself while draining (its `draining` dependency), which spares every
  // launch a 'close' listener and two Set operations.
  const inFlight = new Set<ServerResponse>();
  const appListener = (req: IncomingMessage, res: ServerResponse) => {
    // While draining, every answer closes its connection: no keep-alive socket outlives it.
    if (!accepting) res.setHeader('connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    return toApp(req, res);
  };
  // The launch lane first: it answers POST /v1/launch itself and hands everything else to the app.
  const server = createServer((req, res) => launchLane(req, res, appListener));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  // Background upkeep, each step idempotent so that several instances may run it at once.
  const timers = [
    setInterval(() => keys.refresh().catch((e) => logger.warn('key refresh failed', { err: String(e) })), 30_000),
    setInterval(
      () =>
        settleExpiries({ db: database.db, clock, keys, config }, null).catch((e) => logger.warn('expiry sweep failed', { err: String(e) })),
      60_000,
    ),
    setInterval(
      () => forgetAnswersBefore(database.db, new Date(clock.now().getTime() - 86_400_000).toISOString()).catch(() => {}),
      3_600_000,
    ),
    // R19: lots come within 90 days of expiry by time alone; the sweep e-mails once per lot.
    setInterval(() => sweepAlerts(database.db, clock.now()).catch((e) => logger.warn('alert sweep failed', { err: String(e) })), 600_000),
  ];
  for (const t of timers) t.unref();
  // R14: without SMTP_URL messages stay in the outbox (GET /v1/outbox); with it they are delivered.
  const mailer = config.smtpUrl ? new MailSender({ db: database.db, clock, logger, smtpUrl: config.smtpUrl, from: config.mailFrom }) : null;
  mailer?.start();

  let closing: Promise<void> | null = null;
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    database,
    keys,
    clock,
    close() {
      closing ??= (async () => {
        accepting = false;
        for (const t of timers) clearInterval(t);
        await mailer?.stop();
        await drain(server, inFlight);
        await store.close();
        await checkpointer?.stop();
        await database.close();
      })();
      return closing;
    },
  };
}

interface DrainableServer {
  close(callback: () => void): void;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

/** How long a graceful stop waits for in-flight requests before it cuts the connections. */
const DRAIN_DEADLINE_MS = 25_000;

/**
 * Graceful close (issue 8): stop listening, let every in-flight request finish and answer, then
 * close its connection. `server.close()` alone closes only the connections idle at that moment; a
 * keep-alive connection whose request finishes later stayed open until its keep-alive timeout (5 s),
 * and could even carry a new request into a closing database. So: answers in flight get
 * `Connection: close`, idle sockets are closed as they appear, and a deadline bounds it all.
 */
async function drain(server: DrainableServer, inFlight: Set<ServerResponse>): Promise<void> {
  for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => server.closeAllConnections(), DRAIN_DEADLINE_MS);
    server.close(() => {
      clearInterval(poll);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
