import { type Kysely, sql } from 'kysely';
import { FREE_CLOSE_MS } from '../../domain/sessions';
import { addMs } from '../../domain/time';
import type { DB } from '../schema';
import { netSessions, usageAt } from './usage-fold';

export type UsageGrouping = 'user' | 'product' | 'day';

const dayOf = sql<string>`substr(${usageAt}, 1, 10)`;

/**
 * The usage entries that count in [from, to) are dated in [from, to + 5 minutes): a refund comes
 * at most 5 minutes after its charge (R7a). That keeps the read an index range on `at`.
 */
const datedUntil = (toIso: string) => addMs(new Date(toIso), FREE_CLOSE_MS).toISOString();

/**
 * R15: tokens consumed = charges net of refunds, counted by the ledger entries that count in
 * [from, to) (a refund on its charge's instant), so a report over any range adds up to the ledger
 * to the token. A session refunded in full (R7a) does not count as a session. Read from the ledger
 * itself: what a range's part days are answered from (services/usage.ts reads whole days from the
 * rollups, `usageFromRollups`, which give the same numbers from far fewer rows).
 */
export async function usageFromLedger(db: Kysely<DB>, teamId: string, fromIso: string, toIso: string, by: UsageGrouping) {
  const key = by === 'user' ? sql<string>`${sql.ref('autodesk_id')}` : by === 'product' ? sql<string>`${sql.ref('product_key')}` : dayOf;
  const until = datedUntil(toIso);
  const rows = await db
    .selectFrom('ledger')
    .select([key.as('key'), sql<number>`-sum(${sql.ref('delta')})`.as('tokens'), netSessions.as('sessions')])
    .where('team_id', '=', teamId)
    .where('kind', 'in', ['charge', 'refund'])
    .where('at', '>=', fromIso)
    .where('at', '<', until)
    .where(usageAt, '>=', fromIso)
    .where(usageAt, '<', toIso)
    .groupBy(key)
    .orderBy(key)
    .execute();
  return rows.map((r) => ({ key: String(r.key), tokens: Number(r.tokens), sessions: Number(r.sessions) }));
}

/** One row per (day, user, product): the grain of Flex's own usage export. */
export async function usageDetail(db: Kysely<DB>, teamId: string, fromIso: string, toIso: string) {
  const until = datedUntil(toIso);
  const rows = await db
    .selectFrom('ledger')
    .select([dayOf.as('day'), 'autodesk_id', 'product_key', sql<number>`-sum(${sql.ref('delta')})`.as('tokens')])
    .where('team_id', '=', teamId)
    .where('kind', 'in', ['charge', 'refund'])
    .where('at', '>=', fromIso)
    .where('at', '<', until)
    .where(usageAt, '>=', fromIso)
    .where(usageAt, '<', toIso)
    .groupBy([dayOf, 'autodesk_id', 'product_key'])
    .orderBy(dayOf)
    .orderBy('autodesk_id')
    .orderBy('product_key')
    .execute();
  return rows.map((r) => ({ day: String(r.day), autodeskId: r.autodesk_id ?? '', product: r.product_key ?? '', tokens: Number(r.tokens) }));
}

/**
 * People a report names: their display names (the team's member name, falling back to the account's)
 * and which of them are members of the team now (history outlives a removed member).
 */
export async function peopleOfTeam(
  db: Kysely<DB>,
  teamId: string,
  ids: readonly string[],
): Promise<{ names: Map<string, string>; members: Set<string> }> {
  const names = new Map<string, string>();
  const current = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    const [accounts, members] = await Promise.all([
      db.selectFrom('accounts').select(['autodesk_id', 'name']).where('autodesk_id', 'in', part).execute(),
      db.selectFrom('members').select(['autodesk_id', 'name']).where('team_id', '=', teamId).where('autodesk_id', 'in', part).execute(),
    ]);
    for (const a of accounts) names.set(a.autodesk_id, a.name);
    for (const m of members) {
      names.set(m.autodesk_id, m.name);
      current.add(m.autodesk_id);
    }
  }
  return { names, members: current };
}

/** Display names for a report: the team's member names, falling back to account names. */
export async function peopleNames(db: Kysely<DB>, teamId: string, ids: readonly string[]): Promise<Map<string, string>> {
  return (await peopleOfTeam(db, teamId, ids)).names;
}

/** Balance-changing events other than usage (purchases, transfers, expiries) since `fromIso`. */
export async function tokenEvents(db: Kysely<DB>, teamId: string, fromIso: string, limit: number) {
  const rows = await db
    .selectFrom('ledger')
    .select(['at', 'kind', 'delta', 'lot_id', 'reason'])
    .where('team_id', '=', teamId)
    .where('kind', 'in', ['purchase', 'transfer-in', 'transfer-out', 'expiry'])
    .where('at', '>=', fromIso)
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ at: r.at, kind: r.kind, tokens: Number(r.delta), lotId: r.lot_id, reason: r.reason }));
}

/**
 * Tokens of the still-valid lots: bought (less transferred out) and used (charges net of refunds).
 * R5: a lot's `remaining` is the sum of its ledger entries, so what its charges and refunds took
 * is what its other entries (purchases, transfers, expiries) brought less `remaining`. That reads
 * the few non-usage entries through `ledger_by_team_kind_at`, never the team's every charge.
 */
export async function validLotTotals(db: Kysely<DB>, teamId: string, nowIso: string) {
  const remaining = db
    .selectFrom('lots')
    .select(sql<number>`coalesce(sum(${sql.ref('remaining')}), 0)`.as('remaining'))
    .where('team_id', '=', teamId)
    .where('expires_at', '>', nowIso);
  const row = await db
    .selectFrom('ledger')
    .innerJoin('lots', 'lots.id', 'ledger.lot_id')
    .select([
      sql<number>`coalesce(sum(case when ${sql.ref('ledger.kind')} = 'expiry' then 0 else ${sql.ref('ledger.delta')} end), 0)`.as('bought'),
      sql<number>`coalesce(sum(${sql.ref('ledger.delta')}), 0) - (${remaining})`.as('used'),
    ])
    .where('ledger.team_id', '=', teamId)
    .where('ledger.kind', 'in', ['purchase', 'transfer-in', 'transfer-out', 'expiry'])
    .where('lots.expires_at', '>', nowIso)
    .executeTakeFirst();
  return { bought: Number(row?.bought ?? 0), used: Number(row?.used ?? 0) };
}

/** R15: `usageFromLedger`'s figures over the whole UTC days [fromDay, toDay), from the daily rollups (the caller folds them up to the ledger first, `foldUsage`). */
export async function usageFromRollups(db: Kysely<DB>, teamId: string, fromDay: string, toDay: string, by: UsageGrouping) {
  const sums = [sql<number>`sum(tokens)`.as('tokens'), sql<number>`sum(sessions)`.as('sessions')] as const;
  const rows =
    by === 'user'
      ? await db
          .selectFrom('usage_day_user')
          .select([sql<string>`autodesk_id`.as('key'), ...sums])
          .where('team_id', '=', teamId)
          .where('day', '>=', fromDay)
          .where('day', '<', toDay)
          .groupBy('autodesk_id')
          .orderBy('autodesk_id')
          .execute()
      : await db
          .selectFrom('usage_day_product')
          .select([sql<string>`${sql.ref(by === 'day' ? 'day' : 'product_key')}`.as('key'), ...sums])
          .where('team_id', '=', teamId)
          .where('day', '>=', fromDay)
          .where('day', '<', toDay)
          .groupBy(by === 'day' ? 'day' : 'product_key')
          .orderBy(by === 'day' ? 'day' : 'product_key')
          .execute();
  return rows.map((r) => ({ key: String(r.key), tokens: Number(r.tokens), sessions: Number(r.sessions) }));
}
