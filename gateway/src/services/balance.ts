import type { BalanceAlerts, BalanceResponse, LedgerEntry } from '@flexgate/shared';
import { lockLedgers } from '../db/repos/ledger';
import { expireLots, type LedgerFilter, ledgerPage, teamBalance, teamLots } from '../db/repos/lots';
import { inTransaction } from '../db/tx';
import { bytesOf, jsonArraySteps } from '../lib/bodies';
import { pagesInTurns } from '../lib/turns';
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

/**
 * A page of the ledger after the due expiries, read `PAGE_ROWS` entries a statement with a turn
 * between them. A team's entries take ids in the order they commit, so those appended meanwhile
 * come after the ones read: oldest first, the steps read what one statement would at the last
 * step; newest first, what it would at the first (the first step fixes the upper end).
 */
async function* ledgerSteps(ctx: ServiceContext, teamId: string, filter: LedgerFilter): AsyncGenerator<LedgerEntry[]> {
  await settleExpiries(ctx, teamId);
  const newestFirst = filter.before !== undefined;
  yield* pagesInTurns(filter.limit, (limit, last: LedgerEntry | undefined) =>
    ledgerPage(ctx.db, teamId, { ...filter, limit, ...(last ? (newestFirst ? { before: last.id } : { after: last.id }) : {}) }),
  );
}

/** R5: a page of the ledger, filtered by kind and by user (the console's and the API's one reader). */
export async function ledger(ctx: ServiceContext, teamId: string, filter: LedgerFilter): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  for await (const step of ledgerSteps(ctx, teamId, filter)) for (const e of step) entries.push(e);
  return entries;
}

/**
 * The same page as the bytes of its JSON (the text `JSON.stringify` gives), each step encoded as it
 * is read: 10,000 entries are megabytes. `count` and `lastId` for the Link to the next page.
 */
export async function ledgerJson(
  ctx: ServiceContext,
  teamId: string,
  filter: LedgerFilter,
): Promise<{ body: Uint8Array<ArrayBuffer>; count: number; lastId: number | null }> {
  const seen = { count: 0, lastId: null as number | null };
  async function* counted(): AsyncGenerator<LedgerEntry[]> {
    for await (const step of ledgerSteps(ctx, teamId, filter)) {
      seen.count += step.length;
      seen.lastId = step.at(-1)?.id ?? seen.lastId;
      yield step;
    }
  }
  const body = await bytesOf(jsonArraySteps(counted()));
  return { body, ...seen };
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
