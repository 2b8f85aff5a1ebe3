import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/harness/db';
import { connect, type Database } from './connect';
import { migrate } from './migrate';
import { readOne } from './reads';
import { epochRead } from './repos/epoch';

// On PostgreSQL the launch's prepared statements are planned once, generically; every other
// statement with parameters is planned with its values, or an admin's list of thousands of keys
// is compared key by key on every row (an import of 10,000 members took five times as long).
describe('plans on PostgreSQL', () => {
  let store: TestDatabase;
  let database: Database;
  // One connection: the setting is the session's.
  beforeAll(async () => {
    store = await freshDatabase('postgres');
    database = connect({ url: store.url, poolSize: 1 });
    await migrate(database);
  });
  afterAll(async () => {
    await database.close();
    await store.drop();
  });
  const mode = async () => (await sql<{ plan_cache_mode: string }>`show plan_cache_mode`.execute(database.db)).rows[0]?.plan_cache_mode;
  const launchStatement = () => readOne(database.db, epochRead(database.db));
  const adminStatement = () =>
    sql`select count(*) from members where autodesk_id in (${'a@example.com'}, ${'b@example.com'})`.execute(database.db);

  it('plans a launch statement generically and any other with its values, in turn', async () => {
    await launchStatement();
    expect(await mode()).toBe('force_generic_plan');
    await adminStatement();
    expect(await mode()).toBe('auto');
    await launchStatement();
    expect(await mode()).toBe('force_generic_plan');
  });

  it('knows the setting again after a transaction that changed it rolled back', async () => {
    await adminStatement();
    await expect(
      database.db.transaction().execute(async (trx) => {
        await readOne(trx, epochRead(trx)); // generic, inside the transaction
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    // The rollback undid the transaction's SET: the session plans with values again.
    expect(await mode()).toBe('auto');
    await launchStatement();
    expect(await mode()).toBe('force_generic_plan');
  });
});

describe('PostgreSQL sessions', () => {
  let store: TestDatabase;
  beforeAll(async () => {
    store = await freshDatabase('postgres');
  });
  afterAll(async () => store.drop());
  const jitOf = async (url: string) => {
    const database = connect({ url, poolSize: 1 });
    try {
      return (await sql<{ jit: string }>`show jit`.execute(database.db)).rows[0]?.jit;
    } finally {
      await database.close();
    }
  };

  it("compile no statement just in time, unless DATABASE_URL's options say otherwise", async () => {
    expect(await jitOf(store.url)).toBe('off');
    const url = new URL(store.url);
    url.searchParams.set('options', '-c jit=on');
    expect(await jitOf(url.toString())).toBe('on');
  });
});
