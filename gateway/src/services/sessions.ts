import type { EntitlementClaims, LaunchResponse, SessionEndResponse } from '@flexgate/shared';
import { decodeJwt } from 'jose';
import { RetryTransaction } from '../db/errors';
import { lockLedgers } from '../db/repos/ledger';
import { appendLedger, expireLots, memberBalance, returnToLot, sessionCharges } from '../db/repos/lots';
import {
  extendSession,
  findSession,
  lastRefundOf,
  lockLiveSession,
  machinesOfSessions,
  markMachineClosed,
  markMachineRunning,
  settleSession,
} from '../db/repos/sessions';
import type { SessionRow } from '../db/schema';
import { inTransaction } from '../db/tx';
import { DomainError, notFound } from '../domain/errors';
import {
  decideEnd,
  flexAnswer,
  freeWindowEnd,
  idleCredit,
  isFreeClose,
  isOpen,
  type MachineState,
  needsSettling,
  runningMachines,
} from '../domain/sessions';
import type { ServiceContext } from './context';
import { type IdempotencyRequest, remember, replay } from './idempotency';
import type { Launch } from './launch';

async function ownSession(ctx: ServiceContext, autodeskId: string, id: string): Promise<SessionRow> {
  const s = await findSession(ctx.db, id);
  // Another user's session id gets the same answer as a made-up one.
  if (!s || s.autodesk_id !== autodeskId) throw notFound(`No usage session ${id} of yours.`);
  return s;
}

const voided = (s: SessionRow) =>
  new DomainError(
    'conflict',
    `Usage session ${s.id} was closed within 5 minutes of opening and refunded at ${s.ended_at}: it is void, and the product must stop. Launching it again opens (and charges) a new day.`,
    { rule: 'R7a' },
  );

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** A session found open, as a launch or heartbeat leaves it: settled or not, and where it runs. */
export interface KeptSession {
  row: SessionRow;
  /** Until the day is settled, the machines known to use it; null once settled (any machine may relaunch). */
  running: ReadonlySet<string> | null;
}

/**
 * R7a: what a launch or heartbeat by `machine` that finds session `s` open at `now` does first.
 * After the free window the day is settled (once) and answered with an entitlement to the
 * session's end; within it, a machine not yet known to use the session is recorded, so that a
 * close on another machine cannot refund a day still in use. `machines` are the session's rows
 * when the caller read them already. Undefined when the session was voided meanwhile.
 */
export async function keepSession(
  ctx: ServiceContext,
  s: SessionRow,
  machine: string,
  now: Date,
  machines?: readonly MachineState[],
): Promise<KeptSession | undefined> {
  if (s.settled_at !== null) return { row: s, running: null };
  const state = { startsAt: s.starts_at, settledAt: s.settled_at, endedAt: s.ended_at };
  if (needsSettling(state, now)) return settle(ctx, s, now);
  const rows = machines ?? (await machinesOfSessions(ctx.db, [s.id])).get(s.id) ?? [];
  const running = runningMachines(s.machine, rows);
  if (running.has(machine)) return { row: s, running };
  const live = await inTransaction(ctx.db, async (trx) => {
    if (!(await lockLiveSession(trx, s.id, now.toISOString()))) return false;
    await markMachineRunning(trx, s.id, machine);
    return true;
  });
  return live ? { row: s, running: new Set([...running, machine]) } : undefined;
}

/**
 * Settles the day of `s`: signs the entitlement to the session's end (outside any transaction),
 * then stores it with `settled_at`, guarded so that it happens once and never to a voided session.
 * Whoever settled first, every later answer carries the entitlement stored then.
 */
async function settle(ctx: ServiceContext, s: SessionRow, now: Date): Promise<KeptSession | undefined> {
  // The claims are the gateway's own, from its own row; only the lifetime and the instant change.
  const { iss: _iss, aud: _aud, jti: _jti, ...claims } = decodeJwt(s.entitlement) as unknown as EntitlementClaims;
  const entitlement = await ctx.keys.signEntitlement({ ...claims, iat: Math.floor(now.getTime() / 1000), exp: seconds(s.ends_at) });
  const settledAt = now.toISOString();
  const entitlementExp = new Date(seconds(s.ends_at) * 1000).toISOString();
  if (await settleSession(ctx.db, { id: s.id, settledAt, entitlement, entitlementExp })) {
    return { row: { ...s, settled_at: settledAt, entitlement, entitlement_exp: entitlementExp }, running: null };
  }
  const again = (await findSession(ctx.db, s.id)) as SessionRow;
  return again.ended_at === null ? { row: again, running: null } : undefined;
}

/**
 * R7a: settles `s`, open at `now` past its free window, before an offline allowance lists its day
 * as paid: a close decided afterwards on a clock still within the window (another instance) then
 * finds the day settled, not refundable. Undefined when such a close voided it first.
 */
export async function settleListed(ctx: ServiceContext, s: SessionRow, now: Date): Promise<SessionRow | undefined> {
  return s.settled_at !== null ? s : (await settle(ctx, s, now))?.row;
}

/**
 * R7b: a settled session reported idle ends later by the idle time (domain/sessions.ts bounds it),
 * with an entitlement to its new end; undefined when nothing moves.
 */
async function idle(ctx: ServiceContext, s: SessionRow, idleMs: number, now: Date): Promise<SessionRow | undefined> {
  if (s.settled_at === null || idleMs <= 0) return undefined;
  const credit = idleCredit({ startsAt: s.starts_at, endsAt: s.ends_at, lastSeenAt: s.last_seen_at }, idleMs, now);
  if (credit <= 0) return undefined;
  const endsAt = new Date(Date.parse(s.ends_at) + credit).toISOString();
  const { iss: _iss, aud: _aud, jti: _jti, ...claims } = decodeJwt(s.entitlement) as unknown as EntitlementClaims;
  const entitlement = await ctx.keys.signEntitlement({ ...claims, iat: Math.floor(now.getTime() / 1000), exp: seconds(endsAt) });
  const entitlementExp = new Date(seconds(endsAt) * 1000).toISOString();
  const lastSeenAt = now.toISOString();
  if (!(await extendSession(ctx.db, { id: s.id, fromEndsAt: s.ends_at, endsAt, entitlement, entitlementExp, lastSeenAt })))
    return undefined;
  return { ...s, ends_at: endsAt, entitlement, entitlement_exp: entitlementExp, last_seen_at: lastSeenAt };
}

/**
 * The product is still running on `machine`. Within the 24 hours nothing is charged: after the free
 * window the first heartbeat settles the day and answers the entitlement to the session's end;
 * within it the machine is recorded (R7a). Past the 24 hours, R7 opens the next session (access
 * checked again, the daily rate charged again) as a fresh launch would. A retried heartbeat
 * carries the same Idempotency-Key and so gets the same next session back. A voided session is
 * refused: the product must stop.
 */
export async function heartbeat(
  ctx: ServiceContext,
  launch: Launch,
  autodeskId: string,
  id: string,
  machine: string,
  idempotency?: IdempotencyRequest,
  idleSeconds = 0,
): Promise<LaunchResponse> {
  const s = await ownSession(ctx, autodeskId, id);
  if (s.ended_at !== null) throw voided(s);
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  if (isOpen({ startsAt: s.starts_at, endsAt: s.ends_at, endedAt: s.ended_at }, now)) {
    const earlier = await replay<LaunchResponse>(ctx.db, idempotency);
    if (earlier) return earlier;
    const kept = await keepSession(ctx, s, machine, now);
    if (!kept) throw voided((await findSession(ctx.db, id)) as SessionRow);
    const row = (await idle(ctx, kept.row, idleSeconds * 1000, now)) ?? kept.row;
    if (row === kept.row) await ctx.db.updateTable('usage_sessions').set({ last_seen_at: nowIso }).where('id', '=', id).execute();
    // The team's balance only to an active member of it: a member removed since keeps the session
    // to the end of the day paid for (R12), not a view of the team's tokens.
    const answer = flexAnswer(row, 0, await memberBalance(ctx.db, s.team_id, autodeskId, nowIso));
    // R7b's credit moved the end: a retry of this heartbeat answers the same, and moves nothing again.
    if (row !== kept.row) await inTransaction(ctx.db, (trx) => remember(trx, idempotency, answer, nowIso));
    return answer;
  }
  return launch({ autodeskId, product: s.product_key, team: s.team_id, machine, idempotency });
}

/**
 * The product closed on `machine`. R7a: within 5 minutes of opening, when no other machine still
 * uses the session, the charge goes back to the lots it came from and the session is void (the
 * next launch opens and charges a new one); while another machine uses it, only this machine is
 * marked closed. A quick close is refunded at most once per (user, product) in 24 hours. Otherwise
 * the day stays paid (and is settled): as in Flex, closing and reopening within the 24 hours costs
 * nothing more, so the session stays open for relaunches until it ends.
 */
export async function endSession(ctx: ServiceContext, autodeskId: string, id: string, machine: string): Promise<SessionEndResponse> {
  await ownSession(ctx, autodeskId, id);
  const outcome = await inTransaction(ctx.db, async (trx) => {
    const now = ctx.clock.now();
    const nowIso = now.toISOString();
    // The row lock first: a close and a machine recorded, or two closes, never decide on what the other is changing.
    const live = await lockLiveSession(trx, id, nowIso);
    const s = (await findSession(trx, id)) as SessionRow;
    if (!live || s.ended_at !== null) {
      return { s, answer: { session: id, charged: s.charged - s.refunded, refunded: s.refunded, endedAt: s.ended_at ?? nowIso } };
    }
    const paid = { s, answer: { session: id, charged: s.charged, refunded: 0, endedAt: nowIso } };
    const unsettled = s.settled_at === null && s.charged > 0 && isFreeClose({ startsAt: s.starts_at }, now);
    const [machines, lastRefundAt] = unsettled
      ? await Promise.all([machinesOfSessions(trx, [id]).then((m) => m.get(id) ?? []), lastRefundOf(trx, autodeskId, s.product_key, id)])
      : [[], null];
    const decision = decideEnd({
      session: { startsAt: s.starts_at, settledAt: s.settled_at, endedAt: s.ended_at, charged: s.charged, machine: s.machine },
      machines,
      machine,
      lastRefundAt,
      now,
    });
    if (decision.kind === 'paid') return { ...paid, settle: s.settled_at === null };
    await markMachineClosed(trx, id, machine, nowIso);
    // Capped: the day stays paid, as after the window; settled below, so no later close refunds it either.
    if (decision.kind === 'refund-capped') return { ...paid, settle: true };
    if (decision.kind === 'machine-closed') return paid;
    const voidedNow = await trx
      .updateTable('usage_sessions')
      .set({ ended_at: nowIso })
      .where('id', '=', id)
      .where('ended_at', 'is', null)
      .where('settled_at', 'is', null)
      .executeTakeFirst();
    if (Number(voidedNow.numUpdatedRows) !== 1) throw new RetryTransaction('session closed or settled concurrently');
    const charges = await sessionCharges(trx, id);
    await lockLedgers(trx, [s.team_id, ...charges.map((c) => c.teamId)]);
    for (const c of charges) await returnToLot(trx, c.lotId, c.tokens);
    // R5: the refund is dated when it happened; R15 counts it on the day of the charge it reverses.
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
    return { s, answer: { session: id, charged: s.charged - refunded, refunded, endedAt: nowIso } };
  });
  if ('settle' in outcome && outcome.settle) await settle(ctx, outcome.s, ctx.clock.now());
  return outcome.answer;
}

/** When the warm cache may answer an unsettled session's launches without asking: until its free window ends. */
export function unsettledUntil(s: SessionRow): number {
  return Math.min(freeWindowEnd(s.starts_at), Date.parse(s.ends_at));
}
