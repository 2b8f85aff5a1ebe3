import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/harness/db';
import { connect, type Database } from './connect';
import { RetryTransaction } from './errors';
import { migrate } from './migrate';
import { drawWrite, ledgerWrites } from './repos/lots';
import { inTransaction } from './tx';
import { renumber, writeAll } from './writes';

const entry = (delta: number) => ({
  team_id: 't1',
  lot_id: 'lot1',
  kind: 'charge' as const,
  delta,
  at: '2026-12-01T10:00:00.000Z',
  actor: 'user:a@example.com',
  autodesk_id: 'a@example.com',
  product_key: 'autocad',
  session_id: null,
  reason: 'test',
});

// The last step of a charge group: on PostgreSQL one statement, on SQLite one write after the
// other. Either way, what a user relies on: all of it or none of it.
describe.each(['sqlite', 'postgres'] as const)('writeAll on %s', (engine) => {
  let store: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    store = await freshDatabase(engine);
    database = connect({ url: store.url });
    await migrate(database);
    const { db } = database;
    const at = '2026-11-01T00:00:00.000Z';
    await db.insertInto('teams').values({ id: 't1', name: 'Team', created_at: at }).execute();
    await db.insertInto('products').values({ key: 'autocad', name: 'AutoCAD', daily_rate: 7, added_at: at }).execute();
    await db
      .insertInto('lots')
      .values({
        id: 'lot1',
        team_id: 't1',
        tokens: 10,
        remaining: 10,
        purchased_at: at,
        expires_at: '2027-11-01T00:00:00.000Z',
        origin_lot_id: null,
        created_at: at,
      })
      .execute();
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  const state = async () => ({
    remaining: (await database.db.selectFrom('lots').select('remaining').where('id', '=', 'lot1').executeTakeFirstOrThrow()).remaining,
    entries: (await database.db.selectFrom('ledger').select('delta').execute()).map((r) => r.delta),
    heads: (await database.db.selectFrom('ledger_heads').select('count').execute()).map((r) => Number(r.count)),
  });

  it("writes a draw, its ledger entry and its team's head together, and counts the rows each touched", async () => {
    const counts = await inTransaction(database.db, async (trx) =>
      writeAll(trx, [drawWrite(trx, 'lot1', 3), ...(await ledgerWrites(trx, [entry(-3)]))]),
    );
    // The draw, the entry, its team's head (the usage rollups are folded from the ledger later).
    expect(counts).toEqual([1, 1, 1]);
    expect(await state()).toEqual({ remaining: 7, entries: [-3], heads: [1] });
  });

  it('a guarded draw that finds too few tokens writes nothing, not even the writes sent with it', async () => {
    const attempt = inTransaction(
      database.db,
      async (trx) => writeAll(trx, [...(await ledgerWrites(trx, [entry(-20)])), drawWrite(trx, 'lot1', 20)]),
      1,
    );
    await expect(attempt).rejects.toBeInstanceOf(RetryTransaction);
    expect(await state()).toEqual({ remaining: 7, entries: [-3], heads: [1] });
  });
});

describe('renumber', () => {
  it('moves every parameter by the offset, but not a $ inside quotes', () => {
    expect(renumber(`update "t$1" set "a" = $1, "b" = 'x$2' where "c" = $12`, 4)).toBe(
      `update "t$1" set "a" = $5, "b" = 'x$2' where "c" = $16`,
    );
  });
});
