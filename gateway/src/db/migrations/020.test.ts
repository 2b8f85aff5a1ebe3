import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { withDatabaseAt } from '../../../../test/harness/db';
import { migrate } from '../migrate';

// Migration 020 rebuilds tables that already hold a deployment's rollups: not a row may change.
describe('migration 020 on SQLite', () => {
  it('keeps every rollup row and head, and stores each table in its key alone', async () => {
    await withDatabaseAt('sqlite', '019_spend', async (database) => {
      const { db } = database;
      await db.insertInto('teams').values({ id: 't1', name: 'Team', created_at: '2026-01-01T00:00:00.000Z' }).execute();
      await db
        .insertInto('usage_day_product')
        .values([
          { team_id: 't1', day: '2026-11-02', product_key: 'autocad', tokens: 7, sessions: 1 },
          { team_id: 't1', day: '2026-11-01', product_key: 'revit', tokens: 12, sessions: 2 },
        ])
        .execute();
      await db
        .insertInto('usage_day_user')
        .values({ team_id: 't1', day: '2026-11-01', autodesk_id: 'a@example.com', tokens: 19, sessions: 3 })
        .execute();
      await db
        .insertInto('usage_month')
        .values({ team_id: 't1', month: '2026-11', autodesk_id: 'a@example.com', product_key: 'revit', tokens: 12, sessions: 2 })
        .execute();
      await db.insertInto('license_days').values({ license_id: 'lic1', day: '2026-11-03' }).execute();
      await db
        .insertInto('ledger_heads')
        .values({ team_id: 't1', last_id: 4, last_hash: 'ab'.repeat(32), count: 4 })
        .execute();
      const tables = ['usage_day_product', 'usage_day_user', 'usage_month', 'license_days', 'ledger_heads'] as const;
      const rowsOf = async () =>
        Object.fromEntries(
          await Promise.all(
            tables.map(async (t) => [t, (await sql`select * from ${sql.table(t)} order by 1, 2`.execute(db)).rows] as const),
          ),
        );
      const before = await rowsOf();

      expect(await migrate(database, '020_rollups_without_rowid')).toEqual(['020_rollups_without_rowid']);
      expect(await rowsOf()).toEqual(before);
      const defs = await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'table'`.execute(db);
      for (const t of tables) expect(defs.rows.find((r) => r.name === t)?.sql).toMatch(/without rowid$/i);
      // Upserts still find their row by key.
      await db
        .insertInto('usage_month')
        .values({ team_id: 't1', month: '2026-11', autodesk_id: 'a@example.com', product_key: 'revit', tokens: 5, sessions: 1 })
        .onConflict((oc) =>
          oc.columns(['team_id', 'month', 'autodesk_id', 'product_key']).doUpdateSet({ tokens: sql`usage_month.tokens + excluded.tokens` }),
        )
        .execute();
      expect(await db.selectFrom('usage_month').select('tokens').executeTakeFirst()).toEqual({ tokens: 17 });
    });
  });
});
