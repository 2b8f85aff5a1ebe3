import type { TransferResponse } from '@flexgate/shared';
import { lockLedgers } from '../db/repos/ledger';
import { appendLedger, chargeableLots, drawFromLot, expireLots, insertLot } from '../db/repos/lots';
import { inTransaction } from '../db/tx';
import { conflict, invalid } from '../domain/errors';
import { planDraw } from '../domain/lots';
import { newId } from '../lib/ids';
import { checkAlerts } from './alerts';
import { type AuditOrigin, audit, originOf } from './audit';
import { type Actor, actorLabel, type ServiceContext } from './context';
import { type IdempotencyRequest, remember, replay } from './idempotency';
import { requireTeam } from './teams';

/**
 * R3: moves tokens between two teams, oldest-expiring lots first (R2's order), as one transaction.
 * Each part drawn from a source lot becomes a new lot of the target with the same purchase and
 * expiry instants and `origin_lot_id` pointing back, so moved tokens keep their expiry; both
 * sides get ledger entries (R5). The draws are guarded like a charge's, so a concurrent launch
 * can never make a lot negative: the loser starts again with fresh numbers.
 */
export async function transfer(
  ctx: ServiceContext,
  input: {
    fromTeam: string;
    toTeam: string;
    tokens: number;
    actor: Actor;
    /** The audit trail's who and request id; the actor's own by default. */
    origin?: AuditOrigin;
    idempotency?: IdempotencyRequest | undefined;
  },
): Promise<TransferResponse> {
  if (input.fromTeam === input.toTeam) throw invalid('toTeam is this very team; a transfer needs two different teams.');
  const [from, to] = await Promise.all([requireTeam(ctx, input.fromTeam), requireTeam(ctx, input.toTeam)]);
  const earlier = await replay<TransferResponse>(ctx.db, input.idempotency);
  if (earlier) return earlier;
  return inTransaction(ctx.db, async (trx) => {
    const raced = await replay<TransferResponse>(trx, input.idempotency);
    if (raced) return raced;
    const now = ctx.clock.now();
    const nowIso = now.toISOString();
    // Both teams' ledger heads before any lot, in team order like every writer: no deadlock.
    await lockLedgers(trx, [from.id, to.id]);
    await expireLots(trx, from.id, nowIso);
    const sources = await chargeableLots(trx, from.id, nowIso);
    const plan = planDraw(sources, input.tokens, now);
    if (!plan.ok) {
      throw conflict(`Team ${from.name} has ${plan.available} valid tokens; it cannot transfer ${input.tokens}.`);
    }
    const actor = actorLabel(input.actor);
    const answer: TransferResponse = { from: from.id, to: to.id, tokens: input.tokens, at: nowIso, lots: [] };
    for (const a of plan.allocations) {
      const source = sources.find((l) => l.id === a.lotId);
      if (!source) throw new Error(`lot ${a.lotId} vanished inside the transaction`);
      await drawFromLot(trx, a.lotId, a.tokens);
      const toLot = newId('lot', 9);
      await insertLot(trx, {
        id: toLot,
        teamId: to.id,
        tokens: a.tokens,
        purchasedAt: source.purchasedAt,
        expiresAt: source.expiresAt,
        originLotId: a.lotId,
        createdAt: nowIso,
        // The moved tokens were paid for at their lot's price: forecasts and advice value them so.
        pricePerToken: source.pricePerToken,
      });
      const common = { at: nowIso, actor, autodesk_id: null, product_key: null, session_id: null };
      await appendLedger(trx, [
        {
          ...common,
          team_id: from.id,
          lot_id: a.lotId,
          kind: 'transfer-out',
          delta: -a.tokens,
          reason: `${a.tokens} tokens moved to team ${to.name} (${to.id}), lot ${toLot}`,
        },
        {
          ...common,
          team_id: to.id,
          lot_id: toLot,
          kind: 'transfer-in',
          delta: a.tokens,
          reason: `${a.tokens} tokens from team ${from.name} (${from.id}), lot ${a.lotId}, still expiring ${source.expiresAt}`,
        },
      ]);
      answer.lots.push({ fromLot: a.lotId, toLot, tokens: a.tokens, expiresAt: source.expiresAt });
    }
    // R19: the source may have gone low; the target's new lots may expire within 90 days.
    await checkAlerts(trx, from.id, now);
    await checkAlerts(trx, to.id, now, { credited: true });
    // Both teams' trails show the move: each admin sees tokens leave or arrive.
    const moved = { from: from.id, to: to.id, tokens: input.tokens, lots: answer.lots };
    const origin = input.origin ?? originOf(input.actor);
    await audit(
      trx,
      origin,
      nowIso,
      { team: from.id, action: 'tokens.transferred', target: to.id, after: moved },
      { team: to.id, action: 'tokens.transferred', target: from.id, after: moved },
    );
    await remember(trx, input.idempotency, answer, nowIso);
    return answer;
  });
}
