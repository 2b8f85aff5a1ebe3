import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { connect, type Database } from '../../gateway/src/db/connect';
import { migrate } from '../../gateway/src/db/migrate';

/**
 * Which engine the suite runs on: `FLEXGATE_TEST_DATABASE=postgres` selects PostgreSQL. Read at each
 * call: test files share a worker's modules (vitest `isolate: false`), and the project sets it per file.
 */
export const testEngine = (): 'sqlite' | 'postgres' => (process.env.FLEXGATE_TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite');

/** The server every PostgreSQL test database is created on (CI: 127.0.0.1:5432, trust auth). */
export const pgAdminUrl = process.env.FLEXGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * FLEXGATE_KEK of every gateway this test process starts, in process or spawned: gateways sharing
 * a database, or restarted on one, must open what the others sealed.
 */
export const testKek = randomBytes(32).toString('base64url');

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database for one gateway (or a group of instances sharing it). */
export async function freshDatabase(engine = testEngine()): Promise<TestDatabase> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'flexgate-test-'));
    return { url: `sqlite:${join(dir, 'flexgate.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `flexgate_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgAdminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: pgAdminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A fresh database of `engine` migrated up to `upTo` and no further, for a migration's own test:
 * `fn` writes what a deployment would hold then, runs the next migrations and checks them. Closed
 * and dropped afterwards, whatever happens.
 */
export async function withDatabaseAt(
  engine: 'sqlite' | 'postgres',
  upTo: string,
  fn: (database: Database) => Promise<void>,
): Promise<void> {
  const store = await freshDatabase(engine);
  try {
    const database = connect({ url: store.url });
    try {
      await migrate(database, upTo);
      await fn(database);
    } finally {
      await database.close();
    }
  } finally {
    await store.drop();
  }
}

/** Team `t1` with one lot `lot1` of 100 tokens (`remaining` left), as the migrations' tests start from. */
export async function seedTeamWithLot(database: Database, at: string, remaining: number): Promise<void> {
  await database.db.insertInto('teams').values({ id: 't1', name: 'Team', created_at: at }).execute();
  await database.db
    .insertInto('lots')
    .values({
      id: 'lot1',
      team_id: 't1',
      tokens: 100,
      remaining,
      purchased_at: at,
      expires_at: '2027-05-01T00:00:00.000Z',
      origin_lot_id: null,
      created_at: at,
      price_per_token: null,
    })
    .execute();
}

/**
 * A fresh database of `engine`, migrated, for the tests of one describe block: the returned function
 * gives it once the block's `beforeAll` ran; it is closed and dropped after the block.
 */
export function migratedDatabase(engine: 'sqlite' | 'postgres'): () => Database {
  let store: TestDatabase | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    store = await freshDatabase(engine);
    database = connect({ url: store.url });
    await migrate(database);
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });
  return () => {
    if (!database) throw new Error('migratedDatabase: read before its beforeAll ran');
    return database;
  };
}
