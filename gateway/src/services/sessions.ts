import type { LaunchResponse, SessionEndResponse } from '@flexgate/shared';
import { RetryTransaction } from '../db/errors';
import { appendLedger, expireLots, returnToLot, sessionCharges, teamBalance } from '../db/repos/lots';
import { findSession } from '../db/repos/sessions';
import type { SessionRow } from '../db/schema';
import { inTransaction } from '../db/tx';
import { conflict, notFound } from '../domain/errors';
import { flexAnswer, isFreeClose, isOpen } from '../domain/sessions';
import type { ServiceContext } from './context';
import type { IdempotencyRequest } from './idempotency';
import type { Launch } from './launch';

async function ownSession(ctx: ServiceContext, autodeskId: string, id: string): Promise<SessionRow> {
  const s = await findSession(ctx.db, id);
  // Another user's session id gets the same answer as a made-up one.
  if (!s || s.autodesk_id !== autodeskId) throw notFound(`No usage session ${id} of yours.`);
  return s;
}

/**
 * The product is still running. Within the 24 hours it changes nothing; past them, R7 opens the
 * next session (access checked again, the daily rate charged again) as a fresh launch would. A
 * retried heartbeat carries the same Idempotency-Key and so gets the same next session back.
 */
export async function heartbeat(
  ctx: ServiceContext,
  launch: Launch,
  autodeskId: string,
  id: string,
  idempotency?: IdempotencyRequest,
): Promise<LaunchResponse> {
  const s = await ownSession(ctx, autodeskId, id);
  if (s.ended_at !== null) {
    throw conflict(`Usage session ${id} was closed within 5 minutes and refunded at ${s.ended_at}; launch the product again.`);
  }
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  if (isOpen({ startsAt: s.starts_at, endsAt: s.ends_at, endedAt: s.ended_at }, now)) {
    await ctx.db.updateTable('usage_sessions').set({ last_seen_at: nowIso }).where('id', '=', id).execute();
    return flexAnswer(s, 0, await teamBalance(ctx.db, s.team_id, nowIso));
  }
  return launch({ autodeskId, product: s.product_key, team: s.team_id, machine: s.machine ?? undefined, idempotency });
}

/**
 * The product closed. R7a: within 5 minutes of opening, the charge goes back to the lots it came
 * from and the session is void (the next launch opens and charges a new one). Later than that the
 * day stays paid: as in Flex, closing and reopening within the 24 hours costs nothing more, so the
 * session stays open for relaunches until it ends.
 */
export async function endSession(ctx: ServiceContext, autodeskId: string, id: string): Promise<SessionEndResponse> {
  await ownSession(ctx, autodeskId, id);
  return inTransaction(ctx.db, async (trx) => {
    const s = (await findSession(trx, id)) as SessionRow;
    if (s.ended_at !== null) {
      return { session: id, charged: s.charged - s.refunded, refunded: s.refunded, endedAt: s.ended_at };
    }
    const now = ctx.clock.now();
    const nowIso = now.toISOString();
    if (s.charged === 0 || !isFreeClose({ startsAt: s.starts_at, endsAt: s.ends_at, endedAt: null }, now)) {
      await trx.updateTable('usage_sessions').set({ last_seen_at: nowIso }).where('id', '=', id).execute();
      return { session: id, charged: s.charged, refunded: 0, endedAt: nowIso };
    }
    const voided = await trx
      .updateTable('usage_sessions')
      .set({ ended_at: nowIso })
      .where('id', '=', id)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    if (Number(voided.numUpdatedRows) !== 1) throw new RetryTransaction('session closed concurrently');
    const charges = await sessionCharges(trx, id);
    for (const c of charges) await returnToLot(trx, c.lotId, c.tokens);
    await appendLedger(
      trx,
      charges.map((c) => ({
        team_id: c.teamId,
        lot_id: c.lotId,
        kind: 'refund' as const,
        delta: c.tokens,
        at: nowIso,
        actor: `user:${autodeskId}`,
        autodesk_id: autodeskId,
        product_key: s.product_key,
        session_id: id,
        reason: 'closed within 5 minutes of opening: the day is free',
      })),
    );
    const refunded = charges.reduce((sum, c) => sum + c.tokens, 0);
    await trx.updateTable('usage_sessions').set({ refunded }).where('id', '=', id).execute();
    // A lot that expired in those 5 minutes takes its refund straight back out, through the ledger.
    await expireLots(trx, s.team_id, nowIso);
    return { session: id, charged: s.charged - refunded, refunded, endedAt: nowIso };
  });
}
