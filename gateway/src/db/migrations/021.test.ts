import { describe, expect, it } from 'vitest';
import { seedTeamWithLot, withDatabaseAt } from '../../../../test/harness/db';
import { migrate } from '../migrate';
import { foldAllUsage, foldUsage } from '../repos/usage-fold';

const T = '2026-05-01T00:00:00.000Z';
const hash = (n: number) => String(n).repeat(64).slice(0, 64);

// Migration 021 hands the usage rollups to the fold: what the backfills of 005 and 019 wrote is
// replaced by what the fold makes of the same ledger, where a refund counts on its charge's day (R15).
describe.each(['sqlite', 'postgres'] as const)('migration 021 on %s', (engine) => {
  it('folds the rollups anew from the ledger, a refund after midnight on its charge’s day and month, each entry once', async () => {
    await withDatabaseAt(engine, '020_rollups_without_rowid', async (database) => {
      const { db } = database;
      await seedTeamWithLot(database, T, 90);
      await db
        .insertInto('products')
        .values({ key: 'revit', name: 'Revit', daily_rate: 6, added_at: T, subscription_price_per_year: null })
        .execute();
      const session = (id: string, seq: number, startsAt: string) => ({
        id,
        autodesk_id: 'ann@example.com',
        product_key: 'revit',
        seq,
        team_id: 't1',
        starts_at: startsAt,
        ends_at: startsAt,
        rate: 6,
        charged: 6,
        refunded: 0,
        ended_at: null,
        last_seen_at: startsAt,
        machine: null,
        provisional_id: null,
        entitlement: '',
        entitlement_exp: startsAt,
        settled_at: null,
      });
      await db
        .insertInto('usage_sessions')
        .values([
          session('s1', 1, '2026-05-31T23:58:00.000Z'),
          session('s2', 2, '2026-06-02T09:00:00.000Z'),
          session('s3', 3, '2026-06-03T09:00:00.000Z'),
        ])
        .execute();
      const entry = (id: number, kind: 'charge' | 'refund', delta: number, at: string, sessionId: string) => ({
        id,
        team_id: 't1',
        lot_id: 'lot1',
        kind,
        delta,
        at,
        actor: 'user:ann@example.com',
        autodesk_id: 'ann@example.com',
        product_key: 'revit',
        session_id: sessionId,
        reason: kind,
        prev_hash: hash(id - 1),
        hash: hash(id),
      });
      await db
        .insertInto('ledger')
        .values([
          entry(1, 'charge', -6, '2026-05-31T23:58:00.000Z', 's1'),
          entry(2, 'refund', 6, '2026-06-01T00:01:00.000Z', 's1'),
          entry(3, 'charge', -6, '2026-06-02T09:00:00.000Z', 's2'),
          // One charge over two lots: two entries, one session.
          entry(4, 'charge', -2, '2026-06-03T09:00:00.000Z', 's3'),
          entry(5, 'charge', -4, '2026-06-03T09:00:00.000Z', 's3'),
        ])
        .execute();
      await db
        .insertInto('ledger_heads')
        .values({ team_id: 't1', last_id: 5, last_hash: hash(5), count: 5 })
        .execute();
      // As the backfills of 005 and 019 had it: the refund on 1 June, its own day.
      const pair = { team_id: 't1', autodesk_id: 'ann@example.com', product_key: 'revit' };
      await db
        .insertInto('usage_month')
        .values([
          { ...pair, month: '2026-05', tokens: 6, sessions: 1 },
          { ...pair, month: '2026-06', tokens: 0, sessions: 0 },
        ])
        .execute();
      await db
        .insertInto('usage_day_product')
        .values([
          { team_id: 't1', day: '2026-05-31', product_key: 'revit', tokens: 6, sessions: 1 },
          { team_id: 't1', day: '2026-06-01', product_key: 'revit', tokens: -6, sessions: -1 },
          { team_id: 't1', day: '2026-06-02', product_key: 'revit', tokens: 6, sessions: 1 },
        ])
        .execute();

      expect(await migrate(database)).toContain('021_usage_folds');
      const all = async () => {
        const numbers = <T extends { tokens: number; sessions: number }>(rows: T[]) =>
          rows.map((r) => ({ ...r, tokens: Number(r.tokens), sessions: Number(r.sessions) }));
        return {
          months: numbers(await db.selectFrom('usage_month').select(['month', 'tokens', 'sessions']).orderBy('month').execute()),
          products: numbers(await db.selectFrom('usage_day_product').select(['day', 'tokens', 'sessions']).orderBy('day').execute()),
          users: numbers(
            await db.selectFrom('usage_day_user').select(['day', 'autodesk_id', 'tokens', 'sessions']).orderBy('day').execute(),
          ),
        };
      };
      expect(await all()).toEqual({ months: [], products: [], users: [] });
      expect(await foldAllUsage(db)).toBe(5);
      const folded = {
        months: [
          { month: '2026-05', tokens: 0, sessions: 0 },
          { month: '2026-06', tokens: 12, sessions: 2 },
        ],
        products: [
          { day: '2026-05-31', tokens: 0, sessions: 0 },
          { day: '2026-06-02', tokens: 6, sessions: 1 },
          { day: '2026-06-03', tokens: 6, sessions: 1 },
        ],
        users: [
          { day: '2026-05-31', autodesk_id: 'ann@example.com', tokens: 0, sessions: 0 },
          { day: '2026-06-02', autodesk_id: 'ann@example.com', tokens: 6, sessions: 1 },
          { day: '2026-06-03', autodesk_id: 'ann@example.com', tokens: 6, sessions: 1 },
        ],
      };
      expect(await all()).toEqual(folded);
      // Nothing new: nothing folded again.
      expect(await foldAllUsage(db)).toBe(0);
      expect(await all()).toEqual(folded);
      // Folded afresh one entry per transaction (a large ledger's chunks), a charge's two entries
      // in one: the same rollups.
      for (const t of ['usage_day_product', 'usage_day_user', 'usage_month', 'usage_folds'] as const) await db.deleteFrom(t).execute();
      expect(await foldUsage(db, 't1', 1)).toBe(5);
      expect(await all()).toEqual(folded);
    });
  });
});
