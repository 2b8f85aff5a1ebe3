import type { LaunchResponse } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import type { HotReads, Recheck } from '../db/hot';
import { findProduct } from '../db/repos/catalog';
import { accessEpoch, recheckLaunch } from '../db/repos/epoch';
import { appendLedger, chargeableLots, drawFromLot, expireLots, teamBalance } from '../db/repos/lots';
import { findProvisional, insertSession, openSession, sessionState } from '../db/repos/sessions';
import type { DB, SessionRow } from '../db/schema';
import { inTransaction } from '../db/tx';
import { DomainError, invalid } from '../domain/errors';
import { planDraw } from '../domain/lots';
import { type AccessDecision, type AccessQuestion, decideAccess } from '../domain/precedence';
import { chargeReason, flexAnswer, sessionWindow } from '../domain/sessions';
import { addMs, DAY_MS, HOUR_MS } from '../domain/time';
import { orderedId } from '../lib/ids';
import { accessFacts, resolveAccess } from './access';
import { checkAlerts } from './alerts';
import type { ServiceContext } from './context';
import { fingerprint, type IdempotencyRequest, keyReused, remember, replay } from './idempotency';
import { type WarmLaunch, WarmLaunches } from './warm-launches';

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
  if (input.provisional) {
    // Reported after an outage: decided as of when it ran, never from or into the warm cache.
    const earlier = await replay<LaunchResponse>(ctx.db, input.idempotency);
    if (earlier) return earlier;
    const at = provisionalInstant(input.provisional.launchedAt, now);
    const decision = await resolveAccess(ctx, { autodeskId: input.autodeskId, product: input.product, team: input.team, at });
    if (!decision.granted) throw new DomainError(decision.code, decision.reason, { rule: decision.rule });
    if (decision.source !== 'flex') return licensedLaunch(ctx, input.autodeskId, decision, now);
    return flexLaunch(ctx, input, decision, at, now, { knownClosed: false, cache: null });
  }
  // A stored Idempotency-Key answer replays first (the real client sends a key with every launch).
  if (input.idempotency && (!ctx.hot || ctx.hot.storedAnswer(input.idempotency.scope, input.idempotency.key))) {
    const earlier = await replay<LaunchResponse>(ctx.db, input.idempotency);
    if (earlier) return earlier;
  }
  const key = ctx.warm ? WarmLaunches.key(input.autodeskId, input.product, input.team) : null;
  if (ctx.warm && key) {
    const hit = ctx.hot ? warmFromFile(ctx.hot, ctx.warm, key, now) : await warmFromDatabase(ctx.db, ctx.warm, key, now);
    if (hit) return hit;
  }
  const nowIso = now.toISOString();
  let facts: AccessQuestion;
  let epoch: number | null = null;
  let open: { session: SessionRow; balance: number } | null = null;
  if (ctx.hot) {
    // On SQLite, through the next group of charges when there is one (see SqliteCharges.facts).
    const read =
      (ctx.charges && (await ctx.charges.facts(input.autodeskId, input.product, input.team, nowIso))) ||
      ctx.hot.launchFacts(input.autodeskId, input.product, input.team, nowIso);
    facts = { ...questionOf(input, now), product: read.product, licenses: read.licenses, memberships: read.memberships };
    epoch = read.epoch;
    if (read.open && read.openBalance !== null) open = { session: read.open, balance: read.openBalance };
  } else {
    // Read before the facts: a change committed in between shows as a newer epoch, never the reverse.
    if (ctx.warm) epoch = await accessEpoch(ctx.db);
    facts = await accessFacts(ctx, { autodeskId: input.autodeskId, product: input.product, team: input.team, at: now });
  }
  const decision = decideAccess(facts);
  if (!decision.granted) throw new DomainError(decision.code, decision.reason, { rule: decision.rule });
  if (decision.source !== 'flex') return licensedLaunch(ctx, input.autodeskId, decision, now);
  const cache = key && epoch !== null && ctx.warm && cacheable(facts) ? { warm: ctx.warm, key, epoch } : null;
  // R7, the common case: the session is open, so nothing is written and nothing is signed.
  if (open) {
    const answer = flexAnswer(open.session, 0, open.balance);
    cache?.warm.remember(cache.key, cache.epoch, answer);
    return answer;
  }
  // On SQLite the read above already found no open session; PostgreSQL looks in flexLaunch.
  return flexLaunch(ctx, input, decision, now, now, { knownClosed: Boolean(ctx.hot), cache });
}

/**
 * A decision time alone cannot change, so the warm cache may keep it until the session ends: no
 * subscription or trial on record for the product (one that starts later would take over, R9).
 * A Flex grant already implies an active membership, so no invitation can run out under it.
 */
function cacheable(facts: AccessQuestion): boolean {
  return facts.licenses.length === 0;
}

/**
 * A warm launch answered at once, or undefined: then `launch` decides it. On SQLite a launch whose
 * session is open and cached (WarmLaunches) needs only prepared statements on the read connection,
 * so it needs no promise: the launch lane answers it in the same turn as it read the request. The
 * same rules as `launch`: a provisional report or a stored Idempotency-Key answer goes there.
 */
export function warmLaunchNow(ctx: ServiceContext, input: LaunchInput): LaunchResponse | undefined {
  if (!ctx.hot || !ctx.warm || input.provisional) return undefined;
  if (input.idempotency && ctx.hot.storedAnswer(input.idempotency.scope, input.idempotency.key)) return undefined;
  return warmFromFile(ctx.hot, ctx.warm, WarmLaunches.key(input.autodeskId, input.product, input.team), ctx.clock.now());
}

/** A cached warm launch, if the SQLite file still vouches for it (see WarmLaunches). */
function warmFromFile(hot: HotReads, warm: WarmLaunches, key: string, now: Date): LaunchResponse | undefined {
  const entry = warm.get(key, now.getTime());
  if (!entry) return undefined;
  // Read before the recheck: a commit in between makes the next launch recheck again, never skip one.
  const dataVersion = hot.dataVersion();
  const confirmed = entry.confirmed;
  if (confirmed?.dataVersion === dataVersion && now.getTime() < confirmed.validUntilMs) {
    // The same object each time: the launch lane serialises it once (answerJson).
    return confirmed.answer;
  }
  const answer = rechecked(warm, key, entry, hot.recheck(entry.answer.session.id, entry.answer.team, now.toISOString()));
  if (answer) entry.confirmed = { dataVersion, validUntilMs: answer.validUntilMs, answer: answer.answer };
  return answer?.answer;
}

/** The same on PostgreSQL: one statement (no data version to skip it with). */
async function warmFromDatabase(db: Kysely<DB>, warm: WarmLaunches, key: string, now: Date): Promise<LaunchResponse | undefined> {
  const entry = warm.get(key, now.getTime());
  if (!entry) return undefined;
  return rechecked(warm, key, entry, await recheckLaunch(db, entry.answer.session.id, entry.answer.team, now.toISOString()))?.answer;
}

/** The entry's answer with the balance just read, while nothing it was decided from changed. */
function rechecked(
  warm: WarmLaunches,
  key: string,
  entry: WarmLaunch,
  r: Recheck,
): { answer: LaunchResponse; validUntilMs: number } | undefined {
  if (r.epoch !== entry.epoch || !r.open) {
    warm.forget(key);
    return undefined;
  }
  return {
    answer: { ...entry.answer, balance: r.balance },
    validUntilMs: r.nextExpiry ? Date.parse(r.nextExpiry) : Number.POSITIVE_INFINITY,
  };
}

function questionOf(input: LaunchInput, now: Date): Omit<AccessQuestion, 'product' | 'licenses' | 'memberships'> {
  return { autodeskId: input.autodeskId, productKey: input.product, requestedTeam: input.team ?? null, now };
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
  { source, license, productName }: Extract<AccessDecision, { source: 'subscription' | 'trial' }>,
  now: Date,
): Promise<LaunchResponse> {
  const exp = new Date(Math.min(addMs(now, DAY_MS).getTime(), Date.parse(license.endsAt)));
  const entitlement = await ctx.keys.signEntitlement({
    sub: autodeskId,
    product: license.product,
    productName,
    source,
    team: null,
    teamName: null,
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

const unknownProduct = (product: string) => new DomainError('unknown-product', `No product "${product}" in the catalog.`);

const insufficientTokens = (teamName: string, available: number, productName: string, rate: number) =>
  new DomainError(
    'insufficient-tokens',
    `Team ${teamName} has ${available} tokens left; ${productName} needs ${rate} for a day of use. A team admin can buy more tokens.`,
    { rule: 'R4' },
  );

/**
 * The same with the team's balance read through `db`, whatever the caller holds: inside a
 * transaction it must be that transaction, or the read would wait for a second connection (a pool
 * deadlock on PostgreSQL, the connection mutex on SQLite).
 */
export async function sessionAnswer(db: Kysely<DB>, nowIso: string, s: SessionRow, charged: number): Promise<LaunchResponse> {
  return flexAnswer(s, charged, await teamBalance(db, s.team_id, nowIso));
}

/**
 * Keeps a warm answer for the next launches, when the decision may be cached. A module function,
 * not a closure per launch: under tsx every named closure costs an `Object.defineProperty`.
 */
function kept(cache: { warm: WarmLaunches; key: string; epoch: number } | null, answer: LaunchResponse): LaunchResponse {
  cache?.warm.remember(cache.key, cache.epoch, answer);
  return answer;
}

async function flexLaunch(
  ctx: ServiceContext,
  input: LaunchInput,
  { team, productName }: Extract<AccessDecision, { source: 'flex' }>,
  at: Date,
  now: Date,
  opts: {
    /** The caller has just read that no session is open: skip the read before the transaction. */
    knownClosed: boolean;
    /** Where to keep the answer for the next launches, when the decision may be cached. */
    cache: { warm: WarmLaunches; key: string; epoch: number } | null;
  },
): Promise<LaunchResponse> {
  const { autodeskId, product } = input;
  const atIso = at.toISOString();
  const nowIso = now.toISOString();
  // R7, the common case: a session is open, so nothing is written and nothing is signed.
  if (!input.provisional && !opts.knownClosed) {
    const open = await openSession(ctx.db, autodeskId, product, atIso);
    if (open) return kept(opts.cache, await sessionAnswer(ctx.db, nowIso, open, 0));
  }
  // The session this launch would open, signed before the transaction so the database is never
  // held while signing; if the transaction finds a session opened meanwhile, this one is dropped.
  const id = orderedId('ses');
  const { startsAt, endsAt } = sessionWindow(at);
  const entitlement = await ctx.keys.signEntitlement({
    sub: autodeskId,
    product,
    productName,
    source: 'flex',
    team: team.teamId,
    teamName: team.teamName,
    sid: id,
    iat: seconds(now),
    exp: seconds(endsAt),
  });
  const sessionFields = {
    id,
    autodesk_id: autodeskId,
    product_key: product,
    team_id: team.teamId,
    starts_at: startsAt.toISOString(),
    ends_at: endsAt.toISOString(),
    refunded: 0,
    ended_at: null,
    last_seen_at: nowIso,
    machine: input.machine ?? null,
    provisional_id: input.provisional?.id ?? null,
    entitlement,
    entitlement_exp: new Date(seconds(endsAt) * 1000).toISOString(),
  };
  // SQLite: the charge joins the next group commit (db/sqlite-charges.ts).
  if (ctx.charges && !input.provisional) {
    const idem = input.idempotency;
    const outcome = await ctx.charges.charge({
      autodeskId,
      product,
      teamId: team.teamId,
      nowIso,
      session: sessionFields,
      idempotency: idem && { scope: idem.scope, key: idem.key, fingerprint: fingerprint(idem.request) },
    });
    switch (outcome.kind) {
      case 'opened':
        return flexAnswer(outcome.session, outcome.session.rate, outcome.balance);
      case 'found':
        return kept(opts.cache, flexAnswer(outcome.session, 0, outcome.balance));
      case 'replayed':
        return JSON.parse(outcome.body) as LaunchResponse;
      case 'conflict':
        throw keyReused(idem?.key ?? '');
      case 'unknown-product':
        throw unknownProduct(product);
      case 'insufficient':
        throw insufficientTokens(team.teamName, outcome.available, outcome.productName, outcome.rate);
      case 'fallback':
        break;
    }
  }
  // `fresh`: the answer comes from this transaction's reads or writes, not a replayed one, so it
  // may be kept once the transaction has committed (never before: a rollback would leave it behind).
  const { answer, fresh } = await inTransaction(ctx.db, async (trx): Promise<{ answer: LaunchResponse; fresh: boolean }> => {
    const raced = await replay<LaunchResponse>(trx, input.idempotency);
    if (raced) return { answer: raced, fresh: false };
    if (input.provisional) {
      const reported = await findProvisional(trx, autodeskId, input.provisional.id);
      if (reported) return { answer: await sessionAnswer(trx, nowIso, reported, 0), fresh: false };
    }
    // Checked again inside the transaction: a concurrent launch may have opened it meanwhile.
    const state = await sessionState(trx, autodeskId, product, atIso);
    if (state.open) return { answer: await sessionAnswer(trx, nowIso, state.open, 0), fresh: true };

    const current = await findProduct(trx, product);
    if (!current) throw unknownProduct(product);
    const rate = current.dailyRate; // R8: the rate in force when the session opens
    await expireLots(trx, team.teamId, nowIso);
    const plan = planDraw(await chargeableLots(trx, team.teamId, nowIso), rate, now);
    if (!plan.ok) {
      // R7 under READ COMMITTED (PostgreSQL): each statement sees the latest commits, so the lots
      // may show the charge of a launch of this same (user, product) that committed after
      // sessionState above saw no session: its tokens gone, its session unseen. Refusing would
      // turn away a launch that shares that session. A fresh read settles it; found: answer it.
      const late = await openSession(trx, autodeskId, product, atIso);
      if (late) return { answer: await sessionAnswer(trx, nowIso, late, 0), fresh: true };
      throw insufficientTokens(team.teamName, plan.available, current.name, rate);
    }

    // A racing launch that read the same last seq collides on the unique key; it retries and reuses this session.
    const session: SessionRow = { ...sessionFields, seq: state.lastSeq + 1, rate, charged: rate };
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
        reason: chargeReason(current.name, rate, sessionFields.ends_at, Boolean(input.provisional)),
      })),
    );
    // R19: only a launch that charged can cross an alert line; one call, inside this transaction.
    await checkAlerts(trx, team.teamId, now);
    const charged = await sessionAnswer(trx, nowIso, session, rate);
    await remember(trx, input.idempotency, charged, nowIso);
    return { answer: charged, fresh: true };
  });
  // A launch that just charged is not kept: most products launch once a day, so the entry would
  // only cost memory (17k entries, about 25 MB, in the cold benchmark). Its relaunch, if any, is.
  return fresh && answer.charged === 0 ? kept(opts.cache, answer) : answer;
}
