import { sql } from 'kysely';
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
    entries: (await database.db.selectFrom('ledger').select('delta').orderBy('id').execute()).map((r) => r.delta),
    heads: (await database.db.selectFrom('ledger_heads').select('count').execute()).map((r) => Number(r.count)),
  });
  // Each test reads the state it starts from: any order of the tests leaves the same checks.
  type State = Awaited<ReturnType<typeof state>>;
  const drawn = (s: State, tokens: number): State => ({
    remaining: s.remaining - tokens,
    entries: [...s.entries, -tokens],
    heads: [(s.heads[0] ?? 0) + 1],
  });

  it("writes a draw, its ledger entry and its team's head together, and counts the rows each touched", async () => {
    const before = await state();
    const counts = await inTransaction(database.db, async (trx) =>
      writeAll(trx, [drawWrite(trx, 'lot1', 3), ...(await ledgerWrites(trx, [entry(-3)]))]),
    );
    // The draw, the entry, its team's head (the usage rollups are folded from the ledger later).
    expect(counts).toEqual([1, 1, 1]);
    expect(await state()).toEqual(drawn(before, 3));
  });

  it('a guarded draw that finds too few tokens writes nothing, not even the writes sent with it', async () => {
    const before = await state();
    const attempt = inTransaction(
      database.db,
      async (trx) => writeAll(trx, [...(await ledgerWrites(trx, [entry(-20)])), drawWrite(trx, 'lot1', 20)]),
      1,
    );
    await expect(attempt).rejects.toBeInstanceOf(RetryTransaction);
    expect(await state()).toEqual(before);
  });

  // A charge group sends its COMMIT behind its writes (PostgreSQL), before it knows what they touched.
  it('with the commit sent along, a lost race still commits nothing, and a won one commits all', async () => {
    const before = await state();
    const lost = inTransaction(
      database.db,
      async (trx) => writeAll(trx, [...(await ledgerWrites(trx, [entry(-20)])), drawWrite(trx, 'lot1', 20)], { commit: true }),
      1,
    );
    await expect(lost).rejects.toBeInstanceOf(RetryTransaction);
    expect(await state()).toEqual(before);
    const counts = await inTransaction(database.db, async (trx) =>
      writeAll(trx, [drawWrite(trx, 'lot1', 2), ...(await ledgerWrites(trx, [entry(-2)]))], { commit: true }),
    );
    expect(counts).toEqual([1, 1, 1]);
    expect(await state()).toEqual(drawn(before, 2));
  });

  // The BEGIN goes out with the transaction's first statement (PostgreSQL): still one transaction.
  it('a transaction that fails after its first statement leaves nothing, whether that statement read or wrote', async () => {
    const before = await state();
    expect(before.remaining).toBeGreaterThan(0);
    for (const readFirst of [true, false]) {
      const failed = inTransaction(database.db, async (trx) => {
        if (readFirst) await trx.selectFrom('lots').select('remaining').where('id', '=', 'lot1').executeTakeFirstOrThrow();
        await trx.updateTable('lots').set({ remaining: 0 }).where('id', '=', 'lot1').execute();
        throw new Error('the service gives up');
      });
      await expect(failed).rejects.toThrow('the service gives up');
      expect(await state()).toEqual(before);
    }
  });

  if (engine === 'postgres') {
    it('a commit that PostgreSQL turned into a rollback is an error, not a success', async () => {
      const before = await state();
      expect(before.remaining).toBeGreaterThan(0);
      // A failed statement whose error was swallowed aborts a PostgreSQL transaction: its COMMIT rolls back.
      const swallowed = inTransaction(database.db, async (trx) => {
        await trx.updateTable('lots').set({ remaining: 0 }).where('id', '=', 'lot1').execute();
        await sql`select 1 / 0`.execute(trx).catch(() => undefined);
      });
      await expect(swallowed).rejects.toThrow(/rolled back/);
      expect(await state()).toEqual(before);
    });

    it('a statement after the commit sent ahead is refused, never run on its own', async () => {
      const before = await state();
      const late = inTransaction(
        database.db,
        async (trx) => {
          await writeAll(trx, [drawWrite(trx, 'lot1', 1), ...(await ledgerWrites(trx, [entry(-1)]))], { commit: true });
          await trx.updateTable('lots').set({ remaining: 0 }).where('id', '=', 'lot1').execute();
        },
        1,
      );
      await expect(late).rejects.toThrow(/committed ahead/);
      // The writes sent with the commit stand; the late one did not run.
      expect(await state()).toEqual(drawn(before, 1));
    });
  }
});

describe('renumber', () => {
  it('moves every parameter by the offset, but not a $ inside quotes', () => {
    expect(renumber(`update "t$1" set "a" = $1, "b" = 'x$2' where "c" = $12`, 4)).toBe(
      `update "t$1" set "a" = $5, "b" = 'x$2' where "c" = $16`,
    );
  });
});
