import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from './app';
import type { Config } from './config';
import { connect, type Database } from './db/connect';
import { migrate } from './db/migrate';
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
  const keys = new KeyRing(database.db, clock, { issuer: config.issuer, idTokenTtlSeconds: config.idTokenTtlSeconds });
  await keys.init();

  let accepting = true;
  const app = createApp({ config, database, clock, testClock, keys, logger, ready: () => accepting });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;

  // Background upkeep, each step idempotent so that several instances may run it at once.
  const timers = [
    setInterval(() => keys.refresh().catch((e) => logger.warn('key refresh failed', { err: String(e) })), 30_000),
    setInterval(() => settleExpiries({ db: database.db, clock, keys, config }, null).catch((e) => logger.warn('expiry sweep failed', { err: String(e) })), 60_000),
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
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Idle keep-alive sockets would hold close() open; in-flight requests still finish.
          (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        });
        await database.close();
      })();
      return closing;
    },
  };
}
