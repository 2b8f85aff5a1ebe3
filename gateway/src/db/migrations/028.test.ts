import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { seedTeamWithLot, withDatabaseAt } from '../../../../test/harness/db';
import { migrate } from '../migrate';
import { ledgerPage } from '../repos/lots';

const T = '2026-05-01T00:00:00.000Z';
const KINDS = ['purchase', 'charge', 'charge', 'refund', 'charge', 'transfer-out', 'transfer-in', 'expiry', 'charge'] as const;

describe.each(['sqlite', 'postgres'] as const)('migration 028 on %s', (engine) => {
  it('indexes every entry but the charges, and the kind filter reads what was written before it', async () => {
    await withDatabaseAt(engine, '027_member_name_fold', async (database) => {
      const { db } = database;
      await seedTeamWithLot(database, T, 100);
      const rows = KINDS.map((kind, i) => ({
        id: i + 1,
        team_id: 't1',
        lot_id: 'lot1',
        kind,
        delta: kind === 'charge' ? -1 : 1,
        at: T,
        actor: 'operator',
        autodesk_id: null,
        product_key: null,
        session_id: null,
        reason: kind,
        prev_hash: 'p',
        hash: 'h',
      }));
      await db.insertInto('ledger').values(rows).execute();
      expect(await migrate(database, '028_ledger_rare_by_team')).toEqual(['028_ledger_rare_by_team']);

      const definition =
        engine === 'sqlite'
          ? await sql<{ d: string }>`select sql as d from sqlite_master where name = 'ledger_rare_by_team'`.execute(db)
          : await sql<{ d: string }>`select indexdef as d from pg_indexes where indexname = 'ledger_rare_by_team'`.execute(db);
      expect(definition.rows[0]?.d.replaceAll('"', '')).toMatch(/\(team_id, kind, id\).*where.*kind.*<>.*'charge'/is);
      if (engine === 'sqlite') {
        // Only the charge-free form reaches it: SQLite matches a partial index's term as written.
        const plan = await sql<{ detail: string }>`explain query plan select * from ledger
          where team_id = 't1' and kind = 'refund' and kind <> 'charge' and id > 0 order by id limit 10`.execute(db);
        expect(plan.rows.map((r) => r.detail).join(' ')).toMatch(/ledger_rare_by_team/);
      }
      for (const kinds of [['refund'], ['expiry', 'purchase'], ['charge'], ['transfer-in', 'transfer-out', 'refund']] as const) {
        const page = await ledgerPage(db, 't1', { after: 0, limit: 100, kinds });
        expect(
          page.map((e) => e.id),
          kinds.join(','),
        ).toEqual(rows.filter((r) => (kinds as readonly string[]).includes(r.kind)).map((r) => r.id));
      }
      // Newest first below an id, as well.
      const below = await ledgerPage(db, 't1', { before: 8, limit: 2, kinds: ['expiry', 'transfer-in', 'refund', 'purchase'] });
      expect(below.map((e) => e.id)).toEqual([7, 4]);
    });
  });
});
