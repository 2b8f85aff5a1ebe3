import type { Kysely } from 'kysely';
import type { AlertFacts } from '../../domain/alerts';
import type { DB } from '../schema';

/** The marker of the low-balance crossing in progress; a closed crossing gets a unique marker (R19). */
export const OPEN_CROSSING = 'open';

import type { Tx } from '../tx';

/** What R19 needs about a team, in two queries: its valid lots and what was transferred out of them. */
export async function alertFacts(db: Kysely<DB>, teamId: string, nowIso: string): Promise<AlertFacts> {
  const [lots, moved] = await Promise.all([
    db
      .selectFrom('lots')
      .select(['id', 'tokens', 'remaining', 'expires_at'])
      .where('team_id', '=', teamId)
      .where('expires_at', '>', nowIso)
      .execute(),
    movedOutOfTeams(db, [teamId], nowIso),
  ]);
  return alertFactsOf(lots, moved.get(teamId) ?? 0);
}

/** R19's facts from a team's valid lots and the (negative) sum of its transfer-out entries. */
export function alertFactsOf(
  lots: readonly { id: string; tokens: number; remaining: number; expires_at: string }[],
  movedOut: number,
): AlertFacts {
  const bought = lots.reduce((s, l) => s + Number(l.tokens), 0);
  return {
    balance: lots.reduce((s, l) => s + Number(l.remaining), 0),
    // Tokens moved to another team (R3) are that team's now: they leave this team's basis.
    validBought: bought + movedOut,
    lots: lots.map((l) => ({ id: l.id, remaining: Number(l.remaining), expiresAt: l.expires_at })),
  };
}

/** Tokens moved out of each team's still-valid lots (negative sums; R3 tokens are the other team's now). */
export async function movedOutOfTeams(db: Kysely<DB>, teamIds: readonly string[], nowIso: string): Promise<Map<string, number>> {
  if (teamIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('ledger')
    .innerJoin('lots', 'lots.id', 'ledger.lot_id')
    .select((eb) => ['ledger.team_id', eb.fn.sum<number>('ledger.delta').as('delta')])
    .where('ledger.team_id', 'in', [...teamIds])
    .where('ledger.kind', '=', 'transfer-out')
    .where('lots.expires_at', '>', nowIso)
    .groupBy('ledger.team_id')
    .execute();
  return new Map(rows.map((r) => [r.team_id, Number(r.delta ?? 0)]));
}

/** The R19 crossings recorded for several teams: an open low-balance crossing, and the lots already announced. */
export async function alertMarkersOfTeams(
  db: Kysely<DB>,
  teamIds: readonly string[],
): Promise<Map<string, { lowBalance: boolean; expiringLots: Set<string> }>> {
  const out = new Map(teamIds.map((t) => [t, { lowBalance: false, expiringLots: new Set<string>() }]));
  if (teamIds.length === 0) return out;
  const rows = await db
    .selectFrom('team_alerts')
    .select(['team_id', 'kind', 'marker'])
    .where('team_id', 'in', [...teamIds])
    .where((eb) => eb.or([eb.and([eb('kind', '=', 'low-balance'), eb('marker', '=', OPEN_CROSSING)]), eb('kind', '=', 'expiring')]))
    .execute();
  for (const r of rows) {
    const t = out.get(r.team_id);
    if (!t) continue;
    if (r.kind === 'low-balance') t.lowBalance = true;
    else t.expiringLots.add(r.marker);
  }
  return out;
}

/** Records one crossing; false when it was recorded already (the primary key decides, even under races). */
export async function recordAlert(trx: Tx, teamId: string, kind: string, marker: string, atIso: string): Promise<boolean> {
  const res = await trx
    .insertInto('team_alerts')
    .values({ team_id: teamId, kind, marker, sent_at: atIso })
    .onConflict((oc) => oc.columns(['team_id', 'kind', 'marker']).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Ends a crossing: the row is renamed so that the next crossing can insert its own. */
export async function closeAlert(trx: Tx, teamId: string, kind: string, marker: string, closedMarker: string): Promise<void> {
  await trx
    .updateTable('team_alerts')
    .set({ marker: closedMarker })
    .where('team_id', '=', teamId)
    .where('kind', '=', kind)
    .where('marker', '=', marker)
    .execute();
}

/** Teams with tokens that expire within the warning window: the periodic sweep checks only those. */
export async function teamsWithLotsExpiringBefore(db: Kysely<DB>, nowIso: string, horizonIso: string): Promise<string[]> {
  const rows = await db
    .selectFrom('lots')
    .select('team_id')
    .distinct()
    .where('expires_at', '>', nowIso)
    .where('expires_at', '<=', horizonIso)
    .where('remaining', '>', 0)
    .execute();
  return rows.map((r) => r.team_id);
}
