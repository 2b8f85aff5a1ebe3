import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { seedTeamWithLot, withDatabaseAt } from '../../../../test/harness/db';
import { migrate } from '../migrate';

const T = '2026-05-01T00:00:00.000Z';
const hash = (n: number) => String(n).repeat(64).slice(0, 64);

// A rolling upgrade: a gateway from before the ledger chain (016) still running on a database the
// new version migrated writes entries without prev_hash and hash; the team's chain then broke for
// good. Migration 023 makes the database refuse such an entry.
describe.each(['sqlite', 'postgres'] as const)('migration 023 on %s', (engine) => {
  it('an entry written as a gateway older than the chain would write it is refused; the chain unbroken; an earlier break does not stop the migration', async () => {
    await withDatabaseAt(engine, '022_expected_rows', async (database) => {
      const { db } = database;
      await seedTeamWithLot(database, T, 100);
      const entry = {
        team_id: 't1',
        lot_id: 'lot1',
        kind: 'purchase' as const,
        delta: 50,
        at: T,
        actor: 'operator',
        autodesk_id: null,
        product_key: null,
        session_id: null,
        reason: 'purchase',
      };
      // A break that happened before this migration: it stays readable, and the migration runs.
      await db
        .insertInto('ledger')
        .values({ ...entry, id: 1, prev_hash: null as unknown as string, hash: null as unknown as string })
        .execute();
      expect(await migrate(database, '023_ledger_chain_required')).toEqual(['023_ledger_chain_required']);

      // The old writer: the columns it knew, nothing of the chain.
      const old = sql`insert into ledger (id, team_id, lot_id, kind, delta, at, actor, autodesk_id, product_key, session_id, reason)
        values (2, 't1', 'lot1', 'purchase', 50, ${T}, 'operator', null, null, null, 'purchase')`;
      await expect(old.execute(db)).rejects.toThrow(/ledger_chained|prev_hash and hash/);
      // Half of it is no better.
      await expect(
        db
          .insertInto('ledger')
          .values({ ...entry, id: 3, prev_hash: hash(1), hash: null as unknown as string })
          .execute(),
      ).rejects.toThrow();
      // What this code writes goes in.
      await db
        .insertInto('ledger')
        .values({ ...entry, id: 4, prev_hash: hash(1), hash: hash(4) })
        .execute();
      const ids = (await db.selectFrom('ledger').select('id').orderBy('id').execute()).map((r) => Number(r.id));
      expect(ids).toEqual([1, 4]);
    });
  });
});
