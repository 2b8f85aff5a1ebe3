import type { BalanceAlerts, BalanceResponse, LedgerEntry } from '@flexgate/shared';
import { lockLedgers } from '../db/repos/ledger';
import { expireLots, type LedgerFilter, ledgerPage, teamBalance, teamLots } from '../db/repos/lots';
import { inTransaction } from '../db/tx';
import { alertFlags } from './alerts';
import type { ServiceContext } from './context';

/** Writes the expiry entries that are due, so what is read next adds up (R2, R5). */
export async function settleExpiries(ctx: Pick<ServiceContext, 'db' | 'clock'>, teamId: string | null): Promise<void> {
  const nowIso = ctx.clock.now().toISOString();
  await inTransaction(ctx.db, (trx) => expireLots(trx, teamId, nowIso));
}

/** R15 + R19: the balance, its lots with their expiry, and the alert flags. */
export async function balance(ctx: ServiceContext, teamId: string): Promise<BalanceResponse & { alerts: BalanceAlerts }> {
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  const [total, lots, alerts] = await Promise.all([
    teamBalance(ctx.db, teamId, nowIso),
    teamLots(ctx.db, teamId, nowIso),
    alertFlags(ctx.db, teamId, now),
  ]);
  return { team: teamId, balance: total, lots, alerts };
}

/** R5: a page of the ledger, filtered by kind and by user (the console's and the API's one reader). */
export async function ledger(ctx: ServiceContext, teamId: string, filter: LedgerFilter): Promise<LedgerEntry[]> {
  await settleExpiries(ctx, teamId);
  return ledgerPage(ctx.db, teamId, filter);
}

/**
 * A signed checkpoint of the team's ledger (docs/ledger.md): its chain's end, its length and the
 * balance, read together under the team's ledger head after the due expiries, so that the balance
 * is exactly what the entries up to `lastId` add up to.
 */
export async function ledgerCheckpoint(ctx: ServiceContext, teamId: string): Promise<string> {
  const nowIso = ctx.clock.now().toISOString();
  const claims = await inTransaction(ctx.db, async (trx) => {
    await lockLedgers(trx, [teamId]);
    await expireLots(trx, teamId, nowIso);
    const head = (await lockLedgers(trx, [teamId])).get(teamId);
    if (!head) throw new Error(`no ledger head for team ${teamId}`);
    const total = await teamBalance(trx, teamId, nowIso);
    return { team: teamId, lastId: head.lastId, lastHash: head.lastHash, count: head.count, balance: total, at: nowIso };
  });
  return ctx.keys.signCheckpoint(claims);
}
