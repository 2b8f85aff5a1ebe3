import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createHttp } from './app';
import { clusterWorkerId } from './cluster';
import { type Config, ConfigError, publicUrlOf } from './config';
import { type Checkpointer, startCheckpointer } from './db/checkpointer';
import { checkPostgres, connect, type Database } from './db/connect';
import { LATEST_MIGRATION, migrate, newerMigrations, newerWhileServing } from './db/migrate';
import { forgetAnswersBefore } from './db/repos/idempotency';
import { foldAllUsage } from './db/repos/usage-fold';
import { sqliteStartProblem } from './db/sqlite-problems';
import { observeRetries } from './db/tx';
import { createLaunchStore, type LaunchStore } from './launch/store';
import { answerClientError } from './lib/client-error';
import { AdjustableClock, type Clock, systemClock } from './lib/clock';
import { newId } from './lib/ids';
import { jsonLogger, type Logger } from './lib/logger';
import { Metrics } from './lib/metrics';
import { connectionAccepted } from './lib/turns';
import { sweepAlerts } from './services/alerts';
import { settleExpiries } from './services/balance';
import { MailSender } from './services/outbox';
import { KeyRing } from './signing/keyring';
import { readRootKeyFile } from './signing/root';
import { Sealer } from './signing/seal';

export interface RunningGateway {
  url: string;
  port: number;
  database: Database;
  keys: KeyRing;
  clock: Clock;
  /** Every route the app answers (method and Hono path), middleware left out: what /openapi.json must document. */
  routes: { method: string; path: string }[];
  /** Stops accepting, lets in-flight requests finish, then closes the database. */
  close(): Promise<void>;
  /**
   * Resolves, with the line it logged, if a newer flexgate migrates the database while this one
   * serves: the gateway then refuses every request (503), stops its background jobs and closes
   * itself as `close()` does. The caller exits once `close()` resolves (main.ts: exit code 3).
   */
  newerSchema: Promise<string>;
  /** Reads the applied migrations now, as it does every `SCHEMA_CHECK_MS`: `newerSchema` resolves if one is newer. */
  checkSchema(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
}

/**
 * Binds the port, then connects, migrates, loads keys and serves; everything `main.ts` and the
 * tests share. The port comes first so that a port in use stops the start before the database is
 * touched (no file created, nothing migrated); requests that arrive meanwhile wait until ready.
 * A port in use, a database out of reach and the like throw a ConfigError (one line, no stack).
 */
export async function startGateway(config: Config, options: StartOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? jsonLogger(config.logLevel);
  const testClock = config.testClock ? new AdjustableClock(options.clock ?? systemClock) : null;
  const clock = testClock ?? options.clock ?? systemClock;

  const held: [IncomingMessage, ServerResponse][] = [];
  const hold = (req: IncomingMessage, res: ServerResponse) => {
    held.push([req, res]);
  };
  const server = createServer(hold);
  // A long step of work yields for as long as connections keep arriving (lib/turns.ts).
  server.on('connection', connectionAccepted);
  // Answers to requests Node's parser refuses carry the key set's version once the keys are loaded.
  let keysForErrors: KeyRing | undefined;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(error, socket, newId('req'), keysForErrors?.keySetVersion),
  );
  await listen(server, config);
  const port = (server.address() as AddressInfo).port;

  let database: Database | null = null;
  let store: LaunchStore | null = null;
  let checkpointer: Checkpointer | null = null;
  let keys: KeyRing;
  const metrics = new Metrics(clusterWorkerId());
  const sqlitePath = config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl.slice('sqlite:'.length) : null;
  try {
    // A root key file that cannot be used stops the start before the database is touched.
    const rootKey = config.rootKeyFile === undefined ? undefined : await readRootKeyFile(config.rootKeyFile);
    if (isPostgres(config.databaseUrl)) await checkPostgres(config.databaseUrl);
    database = connect({
      url: config.databaseUrl,
      poolSize: config.databasePoolSize,
      timeoutMs: config.databaseTimeoutMs,
      sqliteSync: config.sqliteSync,
    });
    // Before anything runs a transaction on it (the signing keys below): every retry is counted.
    observeRetries(database.db, metrics.retryObserver(logger));
    const applied = await migrate(database);
    if (applied.length > 0) logger.info('migrated', { applied });
    database.watchStatements(config.databaseTimeoutMs);
    const sqliteFile = sqlitePath && sqlitePath !== ':memory:' ? sqlitePath : null;
    const writer = database.sqlite;
    checkpointer =
      sqliteFile && writer
        ? startCheckpointer(sqliteFile, writer, { onError: (message) => logger.warn('wal checkpoint failed', { err: message }) })
        : null;
    keys = new KeyRing(database.db, clock, {
      issuer: config.issuer,
      idTokenTtlSeconds: config.idTokenTtlSeconds,
      rootKey,
      sealer: new Sealer(config.kek, config.kekPrevious),
    });
    await keys.init();
    keysForErrors = keys;
    if (config.kek === undefined) {
      logger.warn('FLEXGATE_KEK is unset: the private signing keys are stored in clear in the database (SECURITY.md, secrets at rest)');
    }
    await keys.revocations.poll(database.db, clock.now());
    // The launch's storage port needs the tables (a second SQLite connection, a PostgreSQL listener).
    store = createLaunchStore(database, config.databaseUrl, {
      groupMax: config.chargeGroup,
      now: () => clock.now(),
      logger,
      observer: metrics.chargeObserver(),
    });
  } catch (error) {
    // Nothing half-started outlives a failed start (tests start gateways in their own process).
    server.closeAllConnections();
    server.close();
    await store?.close().catch(() => {});
    await checkpointer?.stop().catch(() => {});
    await database?.close().catch(() => {});
    throw (sqlitePath !== null ? sqliteStartProblem(error, sqlitePath) : undefined) ?? error;
  }
  const db: Database = database;
  const launchStore: LaunchStore = store;

  let accepting = true;
  const { app, launchLane, unavailable } = createHttp({
    // Links in e-mails need the port actually bound (PORT=0 picks one).
    config: Object.freeze({ ...config, publicUrl: publicUrlOf(config, port) }),
    database: db,
    clock,
    testClock,
    keys,
    logger,
    store: launchStore,
    metrics,
    ready: () => accepting,
  });
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
  // Swapped in for `hold` rather than wrapped by it, so that serving costs no readiness check.
  const serve = (req: IncomingMessage, res: ServerResponse) => launchLane(req, res, appListener);
  server.off('request', hold);
  server.on('request', serve);
  for (const [req, res] of held.splice(0)) serve(req, res);

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      accepting = false;
      for (const t of timers) clearInterval(t);
      await mailer?.stop();
      await drain(server, inFlight);
      await launchStore.close();
      await checkpointer?.stop();
      await db.close();
    })();
    return closing;
  };

  // A newer flexgate migrated the database under this one (an instance left running through an
  // upgrade): what this version writes may break what that schema holds (a ledger entry without
  // its hash, before migration 023). So it takes no new work: every request that arrives is
  // refused with a 503 (Connection: close; /healthz too), and it stops as on SIGTERM, the requests
  // in flight answered. Swapped in for `serve`, so that serving costs no check.
  let foundNewer: (line: string) => void = () => {};
  const newerSchema = new Promise<string>((resolve) => {
    foundNewer = resolve;
  });
  const retire = (newer: string[]) => {
    if (newer.length === 0 || closing) return;
    const line = newerWhileServing(newer);
    logger.error(line, { newer, known: LATEST_MIGRATION });
    server.off('request', serve);
    server.on('request', unavailable('This gateway is stopping: a newer version of flexgate migrated its database. Retry.'));
    foundNewer(line);
    // The caller awaits the same close() and reports its failure.
    close().catch(() => {});
  };
  const checkSchema = async () => {
    if (closing) return;
    await newerMigrations(db).then(retire, (e) => logger.warn('schema check failed', { err: String(e) }));
  };

  // Background upkeep, each step idempotent so that several instances may run it at once.
  const timers = [
    // An instance a newer flexgate migrated the database under stops within this period.
    setInterval(checkSchema, SCHEMA_CHECK_MS),
    setInterval(() => keys.refresh().catch((e) => logger.warn('key refresh failed', { err: String(e) })), 30_000),
    // A key revoked through another instance leaves this one's key set and answers within seconds.
    setInterval(() => keys.follow().catch((e) => logger.warn('key set check failed', { err: String(e) })), KEY_SET_FOLLOW_MS),
    // A sign-out or revocation made on another instance is refused here within this period.
    setInterval(
      () => keys.revocations.poll(db.db, clock.now()).catch((e) => logger.warn('revocation poll failed', { err: String(e) })),
      2_000,
    ),
    setInterval(
      () => settleExpiries({ db: db.db, clock }, null).catch((e) => logger.warn('expiry sweep failed', { err: String(e) })),
      60_000,
    ),
    setInterval(
      () =>
        forgetAnswersBefore(db.db, new Date(clock.now().getTime() - 86_400_000).toISOString()).catch((e) =>
          logger.warn('forgetting old Idempotency-Key answers failed', { err: String(e) }),
        ),
      3_600_000,
    ),
    // R19: lots come within 90 days of expiry by time alone; the sweep e-mails once per lot.
    setInterval(() => sweepAlerts(db.db, clock.now()).catch((e) => logger.warn('alert sweep failed', { err: String(e) })), 600_000),
    // The usage rollups trail the ledger by at most this much, so that a report, which folds
    // the rest itself, has little to fold (db/repos/usage-fold.ts).
    setInterval(() => foldAllUsage(db.db).catch((e) => logger.warn('usage fold failed', { err: String(e) })), 60_000),
  ];
  for (const t of timers) t.unref();
  // R14: without SMTP_URL messages stay in the outbox (GET /v1/outbox); with it they are delivered.
  const mailer = config.smtpUrl
    ? new MailSender({ db: db.db, clock, logger, smtpUrl: config.smtpUrl, from: config.mailFrom, sealer: keys.sealer })
    : null;
  mailer?.start();

  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    database: db,
    keys,
    clock,
    routes: app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: r.path })),
    close,
    newerSchema,
    checkSchema,
  };
}

/**
 * How often an instance reads the applied migrations: it serves at most this long on a schema a
 * newer flexgate migrated (one short read per period; see README, "Upgrading several instances").
 */
export const SCHEMA_CHECK_MS = 5_000;

/** How often an instance checks the key set's version: a revocation elsewhere is served here this much later at most. */
const KEY_SET_FOLLOW_MS = 2_000;

const isPostgres = (url: string) => url.startsWith('postgres://') || url.startsWith('postgresql://');

/** Binds the port; the usual reasons it cannot be bound become one ConfigError line each. */
async function listen(server: Server, config: Config): Promise<void> {
  const { host, port } = config;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const problem =
      code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use (another gateway?); set PORT to another port`
        : code === 'EACCES'
          ? `port ${port} on ${host} may not be opened by this user (ports below 1024 need privileges); set PORT to 1024 or above`
          : code === 'EADDRNOTAVAIL'
            ? `HOST ${host} is not an address of this machine; set HOST to one of its addresses (127.0.0.1: this machine only, 0.0.0.0: every interface)`
            : code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME'
              ? `HOST ${host} is not a known host name; set HOST to an address of this machine (127.0.0.1: this machine only, 0.0.0.0: every interface)`
              : null;
    if (problem) throw new ConfigError([problem]);
    throw error;
  }
}

interface DrainableServer {
  close(callback: () => void): void;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

/** How long a graceful stop waits for in-flight requests before it cuts the connections. */
const DRAIN_DEADLINE_MS = 25_000;

/**
 * Graceful close: stop listening, let every in-flight request finish and answer, then
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
