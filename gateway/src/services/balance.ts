import type { BalanceResponse, LedgerEntry } from '@flexgate/shared';
import { expireLots, ledgerPage, teamBalance, teamLots } from '../db/repos/lots';
import { inTransaction } from '../db/tx';
import type { ServiceContext } from './context';

/** Writes the expiry entries that are due, so what is read next adds up (R2, R5). */
export async function settleExpiries(ctx: ServiceContext, teamId: string | null): Promise<void> {
  const nowIso = ctx.clock.now().toISOString();
  await inTransaction(ctx.db, (trx) => expireLots(trx, teamId, nowIso));
}

export async function balance(ctx: ServiceContext, teamId: string): Promise<BalanceResponse> {
  const nowIso = ctx.clock.now().toISOString();
  const [total, lots] = await Promise.all([teamBalance(ctx.db, teamId, nowIso), teamLots(ctx.db, teamId, nowIso)]);
  return { team: teamId, balance: total, lots };
}

export async function ledger(ctx: ServiceContext, teamId: string, after: number, limit: number): Promise<LedgerEntry[]> {
  await settleExpiries(ctx, teamId);
  return ledgerPage(ctx.db, teamId, after, limit);
}
