import { randomBytes } from 'node:crypto';
import type { Config } from '@flexgate/gateway';
import { type RunningGateway, startGateway, testConfig } from '@flexgate/gateway';
import { Agent } from 'undici';
import { freshDatabase, type TestDatabase, testEngine, testKek } from './db';
import { Api } from './http';

export interface TestGateway {
  url: string;
  operatorKey: string;
  /** Calls as the platform operator. */
  op: Api;
  /** Calls with no credentials. */
  anon: Api;
  database: TestDatabase;
  running: RunningGateway;
  /** Stops the gateway and starts it again on the same database (keys, ledger, sessions kept). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** The engine of a fresh database (default: the suite's, FLEXGATE_TEST_DATABASE). */
  engine?: 'sqlite' | 'postgres';
  /**
   * What the test clock runs on (default: real time). A clock that stands still makes the gateway
   * time move only with `POST /v1/test/clock`, so that gateways fed one history answer the same instants.
   */
  clock?: { now(): Date };
}

/**
 * A real gateway on a real database, listening on an ephemeral 127.0.0.1 port, with the test
 * clock enabled. Tests talk to it only over HTTP.
 */
export async function startTestGateway(
  overrides: Partial<Config> = {},
  /** Another instance's gateway to share a database (and operator key) with; it keeps ownership of the database. */
  sharing?: TestGateway,
  options: TestGatewayOptions = {},
): Promise<TestGateway> {
  const database = sharing?.database ?? (await freshDatabase(options.engine ?? testEngine()));
  const start = options.clock ? { clock: options.clock } : {};
  const operatorKey = sharing?.operatorKey ?? `op_${randomBytes(16).toString('hex')}`;
  const config = testConfig({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: database.url,
    operatorKey,
    testClock: true,
    rateLimit: false,
    logLevel: 'silent',
    scryptN: 1024,
    // Tests jump the clock by days; ID-token expiry has tests of its own.
    idTokenTtlSeconds: 7 * 86400,
    kek: testKek,
    ...overrides,
  });
  let running = await startGateway(config, start);
  const pool = { agent: new Agent({ connections: 256 }) };
  const gw: TestGateway = {
    url: running.url,
    operatorKey,
    op: new Api(running.url, operatorKey, pool),
    anon: new Api(running.url, undefined, pool),
    database,
    running,
    async restart() {
      await running.close();
      const old = pool.agent;
      pool.agent = new Agent({ connections: 256 });
      await old.close();
      running = await startGateway({ ...config, port: running.port }, start);
      gw.running = running;
    },
    async close() {
      await running.close();
      await pool.agent.close();
      if (sharing) return;
      await database.drop();
    },
  };
  return gw;
}

/** Rate limits high enough to stay out of a test's way, but for those it sets (`rateLimit: true` turns them on). */
export const rateLimitsWith = (l: Partial<Config['rateLimits']>): Config['rateLimits'] => ({
  signinPerUser: 1000,
  signinPerIp: 1000,
  launchPerUser: 1000,
  launchPerIp: 1000,
  lookupPerAdmin: 1000,
  invitePerAdmin: 1000,
  inviteBulkPerHour: 1000,
  ...l,
});
