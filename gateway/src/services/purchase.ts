import { MAX_MONEY } from '@flexgate/shared';
import { lockLedgers } from '../db/repos/ledger';
import { appendLedger, expireLots, insertLot } from '../db/repos/lots';
import { inTransaction } from '../db/tx';
import { invalid } from '../domain/errors';
import { lotExpiry } from '../domain/lots';
import { newId } from '../lib/ids';
import { checkAlerts } from './alerts';
import { type AuditOrigin, audit, originOf } from './audit';
import { type Actor, actorLabel, type ServiceContext } from './context';
import { type IdempotencyRequest, remember, replay } from './idempotency';
import { requireTeam } from './teams';

export interface PurchaseResult {
  lotId: string;
  team: string;
  tokens: number;
  purchasedAt: string;
  expiresAt: string;
  /** Minor units of FLEXGATE_CURRENCY per token; null when the purchase did not say. */
  pricePerToken: number | null;
}

/** R1: a purchase adds one lot, valid one calendar year from its purchase instant. */
export async function purchase(
  ctx: ServiceContext,
  input: {
    teamId: string;
    tokens: number;
    purchasedAt?: string;
    pricePerToken?: number;
    actor: Actor;
    /** The audit trail's who and request id; the actor's own by default. */
    origin?: AuditOrigin;
    idempotency?: IdempotencyRequest;
  },
): Promise<PurchaseResult> {
  await requireTeam(ctx, input.teamId);
  const earlier = await replay<PurchaseResult>(ctx.db, input.idempotency);
  if (earlier) return earlier;
  const now = ctx.clock.now();
  const purchasedAt = input.purchasedAt ? new Date(input.purchasedAt) : now;
  // Recording a purchase made earlier is fine (backfilling records); one in the future is a mistake.
  if (purchasedAt.getTime() > now.getTime() + 60_000) throw invalid('purchasedAt cannot be in the future.');
  // A lot's value bounded as any amount is (10^12 minor units): spend figures add lots' values up
  // as exact integers, which 10^9 tokens at 10^12 a token (10^21) took past 2^53.
  if (input.pricePerToken !== undefined && input.tokens * input.pricePerToken > MAX_MONEY)
    throw invalid("The purchase's total (tokens x pricePerToken) must be at most 1,000,000,000,000 minor units.");
  const expiresAt = lotExpiry(purchasedAt);
  const result: PurchaseResult = {
    lotId: newId('lot', 9),
    team: input.teamId,
    tokens: input.tokens,
    purchasedAt: purchasedAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
    pricePerToken: input.pricePerToken ?? null,
  };
  return inTransaction(ctx.db, async (trx) => {
    const raced = await replay<PurchaseResult>(trx, input.idempotency);
    if (raced) return raced;
    await lockLedgers(trx, [input.teamId]);
    await insertLot(trx, {
      id: result.lotId,
      teamId: input.teamId,
      tokens: input.tokens,
      purchasedAt: result.purchasedAt,
      expiresAt: result.expiresAt,
      originLotId: null,
      createdAt: now.toISOString(),
      pricePerToken: result.pricePerToken,
    });
    await appendLedger(trx, [
      {
        team_id: input.teamId,
        lot_id: result.lotId,
        kind: 'purchase',
        delta: input.tokens,
        at: now.toISOString(),
        actor: actorLabel(input.actor),
        autodesk_id: null,
        product_key: null,
        session_id: null,
        // The entry is dated when it is recorded (the ledger's order); a past purchase says its own date.
        reason: input.purchasedAt
          ? `purchase of ${input.tokens} tokens dated ${result.purchasedAt}, valid until ${result.expiresAt}`
          : `purchase of ${input.tokens} tokens, valid until ${result.expiresAt}`,
      },
    ]);
    // A lot backdated past its year is born expired: its expiry entry keeps the ledger honest.
    await expireLots(trx, input.teamId, now.toISOString());
    // R19: a purchase may end a low-balance crossing, and a backdated lot may already expire within 90 days.
    await checkAlerts(trx, input.teamId, now, { credited: true });
    await audit(trx, input.origin ?? originOf(input.actor), now.toISOString(), {
      team: input.teamId,
      action: 'tokens.purchased',
      target: result.lotId,
      after: { tokens: input.tokens, purchasedAt: result.purchasedAt, expiresAt: result.expiresAt },
    });
    await remember(trx, input.idempotency, result, now.toISOString());
    return result;
  });
}
