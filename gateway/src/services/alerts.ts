import type { BalanceAlerts } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { alertFacts, closeAlert, OPEN_CROSSING, recordAlert, teamsWithLotsExpiringBefore } from '../db/repos/alerts';
import { enqueueMail } from '../db/repos/outbox';
import { adminEmailsOfTeam, findTeam } from '../db/repos/teams';
import type { DB } from '../db/schema';
import { inTransaction, type Tx } from '../db/tx';
import { type AlertFacts, type AlertLot, type AlertState, alertState, EXPIRY_WARNING_MS } from '../domain/alerts';
import { expiringMail, lowBalanceMail } from '../domain/mails';
import { addMs } from '../domain/time';
import { alertOutlook, type BurnProduct } from './forecast';

/**
 * R19, called inside the transaction that changed a balance (a charge, a purchase, a transfer;
 * `credited` when tokens came in):
 * e-mails the team's admins when the balance has just gone below 20% of the valid tokens bought,
 * and when lots come within 90 days of expiring. "Once per crossing" is a unique insert into
 * team_alerts (one open low-balance crossing per team, one expiry warning per lot), so two
 * racing launches cannot both send; the mail is in the outbox iff the change committed.
 */
export async function checkAlerts(trx: Tx, teamId: string, now: Date, opts: { credited?: boolean } = {}): Promise<void> {
  await recordCrossings(trx, teamId, await alertFacts(trx, teamId, now.toISOString()), now, opts);
}

/**
 * R19 as `checkAlerts` applies it, on facts the caller already holds: a group of charges passes
 * the team's lots as each charge leaves them, and the products it charged the team (`charging`:
 * its ledger entries are written after), so that a crossing is recorded and mailed as it would be
 * had every charge committed alone. Returns the state it recorded against.
 */
export async function recordCrossings(
  trx: Tx,
  teamId: string,
  facts: AlertFacts,
  now: Date,
  opts: { credited?: boolean; charging?: readonly BurnProduct[] } = {},
): Promise<AlertState> {
  const nowIso = now.toISOString();
  const state = alertState(facts, now);
  const lowCrossed = state.lowBalance && (await recordAlert(trx, teamId, 'low-balance', OPEN_CROSSING, nowIso));
  // Back above the line: the next fall below is a new crossing. Only tokens coming in (a purchase,
  // a transfer in) lift a balance back up, so a charge skips this write and keeps launches cheap.
  if (!state.lowBalance && opts.credited)
    await closeAlert(trx, teamId, 'low-balance', OPEN_CROSSING, `closed:${nowIso}:${Math.random().toString(36).slice(2, 8)}`);
  const expiring: AlertLot[] = [];
  for (const lot of state.expiring) {
    if (await recordAlert(trx, teamId, 'expiring', lot.id, nowIso)) expiring.push(lot);
  }
  if (!lowCrossed && expiring.length === 0) return state;

  // The forecast is read only when an e-mail goes out: a few rollup rows, never on a plain charge.
  const [team, admins, { outlook, outOfReach, stranded }] = await Promise.all([
    findTeam(trx, teamId),
    adminEmailsOfTeam(trx, teamId),
    alertOutlook(trx, teamId, now, facts.lots, opts.charging),
  ]);
  const teamName = team?.name ?? teamId;
  const low = { teamName, balance: facts.balance, validBought: facts.validBought, outlook, outOfReach, stranded };
  const mails = admins.flatMap((to) => [
    ...(lowCrossed ? [lowBalanceMail({ to, ...low })] : []),
    ...(expiring.length > 0 ? [expiringMail({ to, teamName, lots: expiring, outlook })] : []),
  ]);
  await enqueueMail(trx, mails, nowIso);
  return state;
}

/** The R19 flags shown with a team's balance (computed live, no e-mail). */
export async function alertFlags(db: Kysely<DB>, teamId: string, now: Date): Promise<BalanceAlerts> {
  const facts = await alertFacts(db, teamId, now.toISOString());
  const s = alertState(facts, now);
  return {
    lowBalance: s.lowBalance,
    lowBalanceThreshold: s.lowBalanceThreshold,
    validBought: facts.validBought,
    expiringSoon: s.expiring.length > 0,
    expiringTokens: s.expiringTokens,
    nextExpiry: s.nextExpiry,
  };
}

/**
 * Lots come within 90 days of expiry by time passing alone, with no charge to notice it: a
 * periodic sweep checks the teams that have such lots (idempotent, safe on several instances).
 */
export async function sweepAlerts(db: Kysely<DB>, now: Date): Promise<void> {
  const teams = await teamsWithLotsExpiringBefore(db, now.toISOString(), addMs(now, EXPIRY_WARNING_MS).toISOString());
  for (const teamId of teams) await inTransaction(db, (trx) => checkAlerts(trx, teamId, now));
}
