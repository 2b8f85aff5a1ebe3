import type { LedgerEntry, LotView } from '@flexgate/shared';
import { type Kysely, type Selectable, type SelectQueryBuilder, sql } from 'kysely';
import type { ForecastLot } from '../../domain/forecast';
import { drawsBefore, type LotState } from '../../domain/lots';
import { rowsOf, shaped } from '../compiled';
import { RetryTransaction } from '../errors';
import { known, type Read, read } from '../reads';
import type { DB, LedgerTable } from '../schema';
import type { Tx } from '../tx';
import { type Write, writeAll } from '../writes';
import { chainWrites, entryOf, type LedgerInput, lockLedgers } from './ledger';

export async function insertLot(
  trx: Tx,
  lot: {
    id: string;
    teamId: string;
    tokens: number;
    purchasedAt: string;
    expiresAt: string;
    originLotId: string | null;
    createdAt: string;
    /** Minor units of FLEXGATE_CURRENCY per token; null: not recorded. */
    pricePerToken: number | null;
  },
): Promise<void> {
  await trx
    .insertInto('lots')
    .values({
      id: lot.id,
      team_id: lot.teamId,
      tokens: lot.tokens,
      remaining: lot.tokens,
      purchased_at: lot.purchasedAt,
      expires_at: lot.expiresAt,
      origin_lot_id: lot.originLotId,
      created_at: lot.createdAt,
      price_per_token: lot.pricePerToken,
    })
    .execute();
}

/**
 * Writes ledger entries, chained to their teams' ledgers in the order given (db/repos/ledger.ts).
 * The usage rollups are folded from them later (db/repos/usage-fold.ts).
 */
export async function appendLedger(trx: Tx, entries: readonly LedgerInput[]): Promise<void> {
  await writeAll(trx, await ledgerWrites(trx, entries));
}

/**
 * The writes of `appendLedger`, for a transaction that sends them with others (`writeAll`): the
 * entries chained to their teams' ledgers (their heads taken and ids given first) and the moved heads.
 */
export async function ledgerWrites(trx: Tx, entries: readonly LedgerInput[]): Promise<Write[]> {
  if (entries.length === 0) return [];
  return chainWrites(trx, entries);
}

/**
 * The lots of several teams that can pay or must expire first (valid, or expired with tokens left),
 * in (team, id) order. Read under the teams' ledger heads (db/repos/ledger.ts): no other
 * transaction changes them until this one ends.
 */
const lotsQuery = shaped((db, a: { teams: string[]; now: string }) =>
  db
    .selectFrom('lots')
    .select(['id', 'team_id', 'tokens', 'remaining', 'purchased_at', 'expires_at'])
    .where('team_id', 'in', a.teams)
    .where((eb) => eb.or([eb('expires_at', '>', a.now), eb('remaining', '>', 0)]))
    .orderBy('team_id')
    .orderBy('id'),
);

export function lotsRead(trx: Tx, teamIds: readonly string[], nowIso: string): Read<(LotState & { teamId: string })[]> {
  if (teamIds.length === 0) return known([]);
  return read(lotsQuery(trx, { teams: [...teamIds], now: nowIso }), (rows) =>
    rows.map((r) => ({
      id: r.id,
      teamId: r.team_id,
      tokens: Number(r.tokens),
      remaining: Number(r.remaining),
      purchasedAt: r.purchased_at,
      expiresAt: r.expires_at,
    })),
  );
}

/** Lots that can still pay, in no particular order (the domain orders them, R2), with their price. */
export async function chargeableLots(db: Kysely<DB>, teamId: string, nowIso: string): Promise<ForecastLot[]> {
  const rows = await db
    .selectFrom('lots')
    .select(['id', 'tokens', 'remaining', 'purchased_at', 'expires_at', 'price_per_token'])
    .where('team_id', '=', teamId)
    .where('expires_at', '>', nowIso)
    .where('remaining', '>', 0)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    tokens: Number(r.tokens),
    remaining: Number(r.remaining),
    purchasedAt: r.purchased_at,
    expiresAt: r.expires_at,
    pricePerToken: r.price_per_token === null ? null : Number(r.price_per_token),
  }));
}

/**
 * Takes tokens from a lot in SQL, guarded so that a lot can never go below zero (R4) even when
 * another transaction drew from it since we read it: then nothing matches and the whole
 * transaction starts again with fresh numbers.
 */
const drawQuery = shaped((db, a: { lot: string; tokens: number }) =>
  db
    .updateTable('lots')
    .set({ remaining: sql`remaining - ${a.tokens}` })
    .where('id', '=', a.lot)
    .where('remaining', '>=', a.tokens),
);

/** A guarded draw: a lot that no longer holds `tokens` starts the transaction over. */
export function drawWrite(trx: Tx, lotId: string, tokens: number): Write {
  return { query: drawQuery(trx, { lot: lotId, tokens }), expect: { rows: 1, lost: `lot ${lotId} changed under the charge` } };
}

export async function drawFromLot(trx: Tx, lotId: string, tokens: number): Promise<void> {
  await writeAll(trx, [drawWrite(trx, lotId, tokens)]);
}

export async function returnToLot(trx: Tx, lotId: string, tokens: number): Promise<void> {
  await trx
    .updateTable('lots')
    .set({ remaining: sql`remaining + ${tokens}` })
    .where('id', '=', lotId)
    .execute();
}

/**
 * R2/R5: tokens of lots whose year has run out leave the balance through a ledger entry dated at
 * the expiry instant, so the ledger keeps adding up to what the lots hold.
 */
export async function expireLots(trx: Tx, teamId: string | null, nowIso: string): Promise<number> {
  let q = trx
    .selectFrom('lots')
    .select(['id', 'team_id', 'remaining', 'expires_at'])
    .where('expires_at', '<=', nowIso)
    .where('remaining', '>', 0);
  if (teamId !== null) q = q.where('team_id', '=', teamId);
  const expired = await q.orderBy('team_id').orderBy('id').execute();
  if (expired.length === 0) return 0;
  // Their teams' heads before their lots, like every ledger writer (db/repos/ledger.ts).
  await lockLedgers(
    trx,
    expired.map((l) => l.team_id),
  );
  for (const lot of expired) {
    const tokens = Number(lot.remaining);
    const res = await trx
      .updateTable('lots')
      .set({ remaining: 0 })
      .where('id', '=', lot.id)
      .where('remaining', '=', tokens)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new RetryTransaction(`lot ${lot.id} changed while expiring`);
    await appendLedger(trx, [
      {
        team_id: lot.team_id,
        lot_id: lot.id,
        kind: 'expiry',
        delta: -tokens,
        at: lot.expires_at,
        actor: 'system',
        autodesk_id: null,
        product_key: null,
        session_id: null,
        reason: `${tokens} unused tokens expired one year after purchase`,
      },
    ]);
  }
  return expired.length;
}

export async function teamBalance(db: Kysely<DB>, teamId: string, nowIso: string): Promise<number> {
  return (await balancesOf(db, [teamId], nowIso)).get(teamId) ?? 0;
}

const balancesQuery = shaped((db, a: { teams: string[]; now: string }) =>
  db
    .selectFrom('lots')
    .select((eb) => ['team_id', eb.fn.sum<number>('remaining').as('balance')])
    .where('team_id', 'in', a.teams)
    .where('expires_at', '>', a.now)
    .groupBy('team_id'),
);

/** The balances of several teams (their unexpired lots, R2), in one query; a team without lots has 0. */
export async function balancesOf(db: Kysely<DB>, teamIds: readonly string[], nowIso: string): Promise<Map<string, number>> {
  const out = new Map<string, number>(teamIds.map((t) => [t, 0]));
  if (teamIds.length === 0) return out;
  for (const r of await rowsOf(db, balancesQuery, { teams: [...new Set(teamIds)], now: nowIso }))
    out.set(r.team_id, Number(r.balance ?? 0));
  return out;
}

const memberBalanceQuery = shaped((db, a: { team: string; user: string; now: string }) =>
  db
    .selectFrom('members')
    .select((eb) =>
      eb
        .selectFrom('lots')
        .select((l) => l.fn.sum<number>('remaining').as('b'))
        .where('team_id', '=', a.team)
        .where('expires_at', '>', a.now)
        .as('balance'),
    )
    .where('team_id', '=', a.team)
    .where('autodesk_id', '=', a.user)
    .where('status', '=', 'active'),
);

/**
 * The team's balance as `autodeskId` may read it, in one statement: the balance for an active
 * member of the team, null for anyone else (a member removed since, an invitee).
 */
export async function memberBalance(db: Kysely<DB>, teamId: string, autodeskId: string, nowIso: string): Promise<number | null> {
  const [row] = await rowsOf(db, memberBalanceQuery, { team: teamId, user: autodeskId, now: nowIso });
  return row ? Number(row.balance ?? 0) : null;
}

export async function teamLots(db: Kysely<DB>, teamId: string, nowIso: string): Promise<LotView[]> {
  const rows = await db.selectFrom('lots').selectAll().where('team_id', '=', teamId).execute();
  return rows
    .map((r) => ({
      id: r.id,
      tokens: Number(r.tokens),
      remaining: Number(r.remaining),
      purchasedAt: r.purchased_at,
      expiresAt: r.expires_at,
      expired: r.expires_at <= nowIso,
      pricePerToken: r.price_per_token === null ? null : Number(r.price_per_token),
    }))
    .sort(drawsBefore); // R2's own order: SQL would compare ids by the database's collation
}

export interface LedgerFilter {
  /** Entries after this id (oldest first), or before it (newest first). */
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
  kinds?: readonly LedgerEntry['kind'][] | undefined;
  autodeskId?: string | undefined;
}

/** A page of the team's ledger (R5): oldest first from `after`, or newest first below `before`. */
export async function ledgerPage(db: Kysely<DB>, teamId: string, f: LedgerFilter): Promise<LedgerEntry[]> {
  const kinds = [...new Set(f.kinds ?? [])];
  // The one order and bound of every form below (its id written out: the user's form joins its sessions).
  const id = sql.ref('ledger.id');
  const page = <TB extends keyof DB>(q: SelectQueryBuilder<DB, TB, Selectable<LedgerTable>>) =>
    (f.before !== undefined ? q.where(id, '<', f.before).orderBy(id, 'desc') : q.where(id, '>', f.after ?? 0).orderBy(id, 'asc')).limit(
      f.limit,
    );
  let rows: Selectable<LedgerTable>[];
  if (f.autodeskId !== undefined) {
    // Only charges and refunds name a user, each with the session it charged or refunded, the user's
    // own: read from the user's sessions, as many as they have (in this join order: SQLite's
    // planner would walk the team's entries instead).
    let q = db
      .selectFrom('usage_sessions')
      .crossJoin('ledger')
      .selectAll('ledger')
      .where('usage_sessions.autodesk_id', '=', f.autodeskId)
      .whereRef('ledger.session_id', '=', 'usage_sessions.id')
      .where('ledger.team_id', '=', teamId)
      .where('ledger.autodesk_id', '=', f.autodeskId);
    if (kinds.length > 0) q = q.where('ledger.kind', 'in', kinds);
    rows = await page(q).execute();
  } else if (kinds.length > 0 && !kinds.includes('charge')) {
    // Each kind in id order through ledger_rare_by_team (028), whose term SQLite needs written out,
    // then the kinds' pages merged: at most a page a kind read, however rare the kinds.
    const arms = kinds.map((kind) =>
      page(
        db.selectFrom('ledger').selectAll().where('team_id', '=', teamId).where('kind', '=', kind).where(sql<boolean>`kind <> 'charge'`),
      ),
    );
    const [only] = arms;
    if (only && arms.length === 1) rows = await only.execute();
    else {
      const merged = arms.map((arm, i) => db.selectFrom(arm.as(`k${i}`)).selectAll()).reduce((all, arm) => all.unionAll(arm));
      rows = await (f.before !== undefined ? merged.orderBy('id', 'desc') : merged.orderBy('id', 'asc')).limit(f.limit).execute();
    }
  } else {
    // Charges are nearly every entry: the team's own index in id order finds a page of them at once.
    let q = db.selectFrom('ledger').selectAll().where('team_id', '=', teamId);
    if (kinds.length > 0) q = q.where('kind', 'in', kinds);
    rows = await page(q).execute();
  }
  return rows.map(entryOf);
}

/** The charge entries of one session, to give back exactly what was taken from each lot (R7a). */
export async function sessionCharges(trx: Tx, sessionId: string): Promise<{ lotId: string; tokens: number; teamId: string }[]> {
  const rows = await trx
    .selectFrom('ledger')
    .select(['lot_id', 'delta', 'team_id'])
    .where('session_id', '=', sessionId)
    .where('kind', '=', 'charge')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ lotId: r.lot_id, tokens: -Number(r.delta), teamId: r.team_id }));
}
