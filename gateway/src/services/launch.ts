import type { LaunchResponse } from '@flexgate/shared';
import { findProduct } from '../db/repos/catalog';
import { appendLedger, chargeableLots, drawFromLot, expireLots, teamBalance } from '../db/repos/lots';
import { findProvisional, insertSession, openSession, sessionState } from '../db/repos/sessions';
import type { Kysely } from 'kysely';
import type { DB, SessionRow } from '../db/schema';
import { inTransaction } from '../db/tx';
import { DomainError, invalid } from '../domain/errors';
import { planDraw } from '../domain/lots';
import { type AccessDecision, decideAccess, type LicenseFact, type MembershipFact } from '../domain/precedence';
import type { LaunchFacts } from '../db/hot';
import { sessionWindow } from '../domain/sessions';
import { addMs, DAY_MS, HOUR_MS } from '../domain/time';
import { newId } from '../lib/ids';
import { resolveAccess } from './access';
import { checkAlerts } from './alerts';
import type { ServiceContext } from './context';
import { type IdempotencyRequest, remember, replay } from './idempotency';

export interface LaunchInput {
  autodeskId: string;
  product: string;
  team?: string | undefined;
  machine?: string | undefined;
  /** A launch the client granted on its own during an outage, reported afterwards (issue 3). */
  provisional?: { id: string; launchedAt: string } | undefined;
  idempotency?: IdempotencyRequest | undefined;
}

/** How late a provisional launch may be reported: its 4 hours plus a day of being offline. */
const PROVISIONAL_REPORT_WINDOW_MS = 4 * HOUR_MS + DAY_MS;

const seconds = (d: Date | string) => Math.floor(new Date(d).getTime() / 1000);

/**
 * POST /v1/launch: decides access by precedence (R9), and for Flex opens or reuses the usage
 * session (R6, R7), charging the daily rate exactly once.
 */
export async function launch(ctx: ServiceContext, input: LaunchInput): Promise<LaunchResponse> {
  const now = ctx.clock.now();
  const at = input.provisional ? provisionalInstant(input.provisional.launchedAt, now) : now;
  let decision: AccessDecision;
  let knownClosed = false;
  // A stored Idempotency-Key answer is replayed by the general path below.
  if (ctx.hot && !input.provisional && !(input.idempotency && ctx.hot.storedAnswer(input.idempotency.scope, input.idempotency.key))) {
    const facts = ctx.hot.launchFacts(input.autodeskId, input.product, input.team, now.toISOString());
    decision = decideFrom(input, facts, now);
    // R7, the common case: the session is open, so nothing is written and nothing is signed.
    if (decision.granted && decision.source === 'flex' && facts.open && facts.openBalance !== null) {
      return flexAnswer(facts.open, 0, facts.openBalance);
    }
    knownClosed = true;
  } else {
    const earlier = await replay<LaunchResponse>(ctx.db, input.idempotency);
    if (earlier) return earlier;
    decision = await resolveAccess(ctx, { autodeskId: input.autodeskId, product: input.product, team: input.team, at });
  }
  if (!decision.granted) throw new DomainError(decision.code, decision.reason, { rule: decision.rule });
  if (decision.source !== 'flex') return licensedLaunch(ctx, input.autodeskId, decision.source, decision.license, now);
  return flexLaunch(ctx, input, decision.team, at, now, knownClosed);
}

/** The same precedence rules as `resolveAccess`, over facts read by the SQLite fast path. */
function decideFrom(input: LaunchInput, facts: LaunchFacts, now: Date): AccessDecision {
  return decideAccess({
    autodeskId: input.autodeskId,
    productKey: input.product,
    product: facts.product,
    licenses: facts.licenses,
    memberships: facts.memberships,
    requestedTeam: input.team ?? null,
    now,
  });
}

function provisionalInstant(launchedAt: string, now: Date): Date {
  const at = new Date(launchedAt);
  if (at.getTime() > now.getTime() + 60_000) throw invalid('provisional.launchedAt cannot be in the future.');
  if (now.getTime() - at.getTime() > PROVISIONAL_REPORT_WINDOW_MS) {
    throw invalid('provisional.launchedAt is too old: provisional launches must be reported within 28 hours.');
  }
  return at;
}

/** R9: a subscription or trial grants without tokens; the entitlement lasts a day at most (Flex re-checks daily). */
async function licensedLaunch(
  ctx: ServiceContext,
  autodeskId: string,
  source: 'subscription' | 'trial',
  license: LicenseFact,
  now: Date,
): Promise<LaunchResponse> {
  const exp = new Date(Math.min(addMs(now, DAY_MS).getTime(), Date.parse(license.endsAt)));
  const entitlement = ctx.keys.signEntitlement({
    sub: autodeskId,
    product: license.product,
    source,
    team: null,
    sid: null,
    iat: seconds(now),
    exp: seconds(exp),
  });
  return {
    granted: true,
    source,
    charged: 0,
    session: null,
    balance: null,
    team: null,
    entitlement,
    expiresAt: new Date(seconds(exp) * 1000).toISOString(),
  };
}

/** The launch answer for a Flex session: its entitlement was signed once, when it opened. */
function flexAnswer(s: SessionRow, charged: number, balance: number): LaunchResponse {
  return {
    granted: true,
    source: 'flex',
    charged,
    session: { id: s.id, startsAt: s.starts_at, endsAt: s.ends_at },
    balance,
    team: s.team_id,
    entitlement: s.entitlement,
    expiresAt: s.entitlement_exp,
  };
}

/**
 * The same with the team's balance read through `db`, whatever the caller holds: inside a
 * transaction it must be that transaction, or the read would wait for a second connection (a pool
 * deadlock on PostgreSQL, the connection mutex on SQLite).
 */
export async function sessionAnswer(db: Kysely<DB>, nowIso: string, s: SessionRow, charged: number): Promise<LaunchResponse> {
  return flexAnswer(s, charged, await teamBalance(db, s.team_id, nowIso));
}

async function flexLaunch(
  ctx: ServiceContext,
  input: LaunchInput,
  team: MembershipFact,
  at: Date,
  now: Date,
  /** The caller has just read that no session is open: skip the read before the transaction. */
  knownClosed = false,
): Promise<LaunchResponse> {
  const { autodeskId, product } = input;
  const atIso = at.toISOString();
  const nowIso = now.toISOString();
  // R7, the common case: a session is open, so nothing is written and nothing is signed.
  if (!input.provisional && !knownClosed) {
    const open = await openSession(ctx.db, autodeskId, product, atIso);
    if (open) return sessionAnswer(ctx.db, nowIso, open, 0);
  }
  // The session this launch would open, signed before the transaction so the database is never
  // held while signing; if the transaction finds a session opened meanwhile, this one is dropped.
  const id = newId('ses');
  const { startsAt, endsAt } = sessionWindow(at);
  const entitlement = ctx.keys.signEntitlement({
    sub: autodeskId,
    product,
    source: 'flex',
    team: team.teamId,
    sid: id,
    iat: seconds(now),
    exp: seconds(endsAt),
  });
  return inTransaction(ctx.db, async (trx) => {
    const raced = await replay<LaunchResponse>(trx, input.idempotency);
    if (raced) return raced;
    if (input.provisional) {
      const reported = await findProvisional(trx, autodeskId, input.provisional.id);
      if (reported) return sessionAnswer(trx, nowIso, reported, 0);
    }
    // Checked again inside the transaction: a concurrent launch may have opened it meanwhile.
    const state = await sessionState(trx, autodeskId, product, atIso);
    if (state.open) return sessionAnswer(trx, nowIso, state.open, 0);

    const current = await findProduct(trx, product);
    if (!current) throw new DomainError('unknown-product', `No product "${product}" in the catalog.`);
    const rate = current.dailyRate; // R8: the rate in force when the session opens
    await expireLots(trx, team.teamId, nowIso);
    const plan = planDraw(await chargeableLots(trx, team.teamId, nowIso), rate, now);
    if (!plan.ok) {
      // R7 under READ COMMITTED (PostgreSQL): each statement sees the latest commits, so the lots
      // may show the charge of a launch of this same (user, product) that committed after
      // sessionState above saw no session: its tokens gone, its session unseen. Refusing would
      // turn away a launch that shares that session. A fresh read settles it; found: answer it.
      const late = await openSession(trx, autodeskId, product, atIso);
      if (late) return sessionAnswer(trx, nowIso, late, 0);
      throw new DomainError(
        'insufficient-tokens',
        `Team ${team.teamName} has ${plan.available} tokens left; ${current.name} needs ${rate} for a day of use. A team admin can buy more tokens.`,
        { rule: 'R4' },
      );
    }

    const session: SessionRow = {
      id,
      autodesk_id: autodeskId,
      product_key: product,
      // A racing launch that read the same last seq collides on the unique key; it retries and reuses this session.
      seq: state.lastSeq + 1,
      team_id: team.teamId,
      starts_at: startsAt.toISOString(),
      ends_at: endsAt.toISOString(),
      rate,
      charged: rate,
      refunded: 0,
      ended_at: null,
      last_seen_at: nowIso,
      machine: input.machine ?? null,
      provisional_id: input.provisional?.id ?? null,
      entitlement,
      entitlement_exp: new Date(seconds(endsAt) * 1000).toISOString(),
    };
    await insertSession(trx, session);
    for (const a of plan.allocations) {
      await drawFromLot(trx, a.lotId, a.tokens);
    }
    await appendLedger(
      trx,
      plan.allocations.map((a) => ({
        team_id: team.teamId,
        lot_id: a.lotId,
        kind: 'charge' as const,
        delta: -a.tokens,
        at: atIso,
        actor: `user:${autodeskId}`,
        autodesk_id: autodeskId,
        product_key: product,
        session_id: id,
        reason: `${current.name}: daily rate ${rate}, usage session until ${session.ends_at} (R6)${input.provisional ? ', reported after an outage' : ''}`,
      })),
    );
    // R19: only a launch that charged can cross an alert line; one call, inside this transaction.
    await checkAlerts(trx, team.teamId, now);
    const answer = await sessionAnswer(trx, nowIso, session, rate);
    await remember(trx, input.idempotency, answer, nowIso);
    return answer;
  });
}
