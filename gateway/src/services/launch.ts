import type { LaunchResponse } from '@flexgate/shared';
import type { Recheck } from '../db/repos/epoch';
import type { StoredAnswer } from '../db/repos/idempotency';
import { noteLicenseDay } from '../db/repos/spend';
import type { SessionRow } from '../db/schema';
import { DomainError, invalid } from '../domain/errors';
import { type AccessDecision, type AccessQuestion, decideAccess } from '../domain/precedence';
import { flexAnswer, openingLease, sessionWindow } from '../domain/sessions';
import { addMs, DAY_MS, HOUR_MS } from '../domain/time';
import type { ChargeResult } from '../launch/charges';
import type { LaunchStore } from '../launch/store';
import { type WarmLaunch, WarmLaunches, warmAnswerOf } from '../launch/warm';
import { orderedId } from '../lib/ids';
import type { WarmCounts } from '../lib/metrics';
import { acceptReport } from './allowance';
import type { ServiceContext } from './context';
import { fingerprint, type IdempotencyRequest, keyReused } from './idempotency';
import { type KeptSession, keepSession, unsettledUntil } from './sessions';

export interface LaunchInput {
  autodeskId: string;
  product: string;
  team?: string | undefined;
  machine?: string | undefined;
  /** A launch the client granted on its own during an outage, reported afterwards. */
  provisional?: { id: string; launchedAt: string } | undefined;
  idempotency?: IdempotencyRequest | undefined;
}

/**
 * POST /v1/launch: decides access by precedence (R9), and for Flex opens or reuses the usage
 * session (R6, R7), charging the daily rate exactly once. An answer, or a promise of one: the
 * launch goes as far as it can without waiting (a stored Idempotency-Key answer, a warm answer the
 * store vouches for), so the launch lane answers the common case in the turn that read it.
 */
export type Launch = (input: LaunchInput) => LaunchResponse | Promise<LaunchResponse>;

/** How late a provisional launch may be reported: its 4 hours plus a day of being offline. */
const PROVISIONAL_REPORT_WINDOW_MS = 4 * HOUR_MS + DAY_MS;

const seconds = (d: Date | string) => Math.floor(new Date(d).getTime() / 1000);
const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => v instanceof Promise;

/**
 * The launch, one way through on every engine: a stored answer replays; a warm answer (session open,
 * cached, vouched for) answers; otherwise the facts are read with the other launches of the turn,
 * precedence decides, and a Flex grant is signed and charged with the other charges of its group.
 */
export function launcher(ctx: ServiceContext, store: LaunchStore, cacheSize: number, counts: WarmCounts): Launch {
  const warm = cacheSize > 0 ? new WarmLaunches(cacheSize) : null;
  // (license, day) pairs this process already recorded: a subscription's relaunches write nothing more that day.
  const licenseDaysSeen = new Set<string>();

  const launch: Launch = (input) => {
    if (input.provisional) return reported(input, input.provisional);
    const idem = input.idempotency;
    if (!idem) return afterStored(input);
    // A stored Idempotency-Key answer replays first (the stock client sends a key with every launch).
    const stored = store.storedAnswer(idem.scope, idem.key);
    if (isPromise(stored)) return stored.then((s) => (s ? replay(s, idem) : afterStored(input)));
    return stored ? replay(stored, idem) : afterStored(input);
  };

  const afterStored = (input: LaunchInput): LaunchResponse | Promise<LaunchResponse> => {
    const key = warm ? WarmLaunches.key(input.autodeskId, input.product, input.team) : null;
    const hit = key ? warmAnswer(key, input.machine ?? '', ctx.clock.now()) : undefined;
    if (isPromise(hit)) return hit.then((h) => h ?? decide(input, key));
    return hit ?? decide(input, key);
  };

  /** A cached warm launch, if the store vouches for it: without a read while nothing was committed, else one recheck. */
  const warmAnswer = (key: string, machine: string, now: Date): LaunchResponse | undefined | Promise<LaunchResponse | undefined> => {
    const entry = warm?.get(key, now.getTime(), machine);
    if (!entry) return undefined;
    // Read before the recheck: a commit in between makes the next launch recheck again, never skip one.
    const version = store.version(entry.answer.team);
    const confirmed = entry.confirmed;
    // The same object each time: the launch lane serialises it once (answerJson).
    if (confirmed?.version === version && now.getTime() < confirmed.validUntilMs) {
      counts.cached++;
      return confirmed.answer;
    }
    const r = store.recheck(entry.answer.session.id, now.toISOString());
    return isPromise(r) ? r.then((x) => confirm(key, entry, version, x)) : confirm(key, entry, version, r);
  };

  /** The entry's answer with the balance just read (when it is the caller's to see), while nothing it was decided from changed. */
  const confirm = (key: string, entry: WarmLaunch, version: number, r: Recheck): LaunchResponse | undefined => {
    // R7a: a machine of an unsettled session closed: a relaunch must be recorded again (the slow path).
    if (r.epoch !== entry.epoch || !r.open || (entry.machines !== null && r.machineClosed)) {
      warm?.forget(key);
      return undefined;
    }
    // The last confirmed answer again while the balance read is its own: its JSON is made once
    // (answerJson), where PostgreSQL, which rechecks every warm launch, serialised each one.
    const last = entry.confirmed?.answer;
    const balance = entry.balanceShown ? r.balance : null;
    const answer = last && last.balance === balance ? last : warmAnswerOf(entry.answer, entry.answer.session, entry.answer.team, balance);
    entry.confirmed = { version, validUntilMs: r.nextExpiry ? Date.parse(r.nextExpiry) : Number.POSITIVE_INFINITY, answer };
    counts.rechecked++;
    return answer;
  };

  const decide = async (input: LaunchInput, key: string | null): Promise<LaunchResponse> => {
    const facts = await store.facts({ autodeskId: input.autodeskId, product: input.product, team: input.team });
    const now = facts.question.now;
    const decision = granted(decideAccess(facts.question));
    if (decision.source !== 'flex') return licensedLaunch(input.autodeskId, decision, now);
    const cache = key && warm && cacheable(facts.question) ? { key, epoch: facts.epoch } : null;
    const machine = input.machine ?? '';
    // R7a: a session found open is settled first when its free window is over (then this answer
    // carries the entitlement to its end), or records this machine within it. Undefined: voided meanwhile.
    const open = facts.open && (await keepSession(ctx, facts.open.session, machine, now, facts.open.machines));
    // R7, the common case: the session is open, so nothing is written and nothing is signed. With an
    // Idempotency-Key the answer goes through the charge's group, which stores it under the key (or
    // replays the answer a twin of this launch stored meanwhile).
    if (facts.open && open && !input.idempotency) return kept(cache, flexAnswer(open.row, 0, facts.open.balance), open);
    const { answer, row } = await charge(input, decision, facts.memberOf, now, now);
    if (row?.id === open?.row.id || answer.charged > 0 || !row) return kept(cache, answer, open);
    // A session opened meanwhile by a launch on another machine: this machine uses it too (R7a).
    return kept(cache, answer, await keepSession(ctx, row, machine, now));
  };

  /** A launch reported after an outage: decided as of when it ran, never from or into the warm cache. */
  const reported = async (input: LaunchInput, provisional: { id: string; launchedAt: string }): Promise<LaunchResponse> => {
    const idem = input.idempotency;
    const stored = idem && (await store.storedAnswer(idem.scope, idem.key));
    if (idem && stored) return replay(stored, idem);
    const now = ctx.clock.now();
    const at = provisionalInstant(provisional.launchedAt, now);
    // Only a launch made under an offline allowance this gateway issued to the user is charged.
    const { autodeskId, product, team } = input;
    await acceptReport(ctx, { autodeskId, product, team, provisionalId: provisional.id, launchedAt: at });
    const facts = await store.facts({ autodeskId: input.autodeskId, product: input.product, team: input.team }, at);
    const decision = granted(decideAccess(facts.question));
    if (decision.source !== 'flex') return licensedLaunch(input.autodeskId, decision, now);
    return (await charge(input, decision, facts.memberOf, at, now)).answer;
  };

  /**
   * A Flex grant: the session it would open is signed first (never inside a transaction), then
   * charged with its group. The answer, and the session it answered from when it is Flex.
   */
  const charge = async (
    input: LaunchInput,
    { team, productName }: Extract<AccessDecision, { source: 'flex' }>,
    memberOf: ReadonlySet<string>,
    at: Date,
    now: Date,
  ): Promise<{ answer: LaunchResponse; row?: SessionRow }> => {
    const id = orderedId('ses');
    const { startsAt, endsAt } = sessionWindow(at);
    // R7a: a lease until the day is settled; a launch reported after its free window is settled at once.
    const lease = openingLease(startsAt, endsAt, now);
    const entitlement = await ctx.keys.signEntitlement({
      sub: input.autodeskId,
      product: input.product,
      productName,
      source: 'flex',
      team: team.teamId,
      teamName: team.teamName,
      sid: id,
      iat: seconds(now),
      exp: seconds(lease.expiresAt),
    });
    const idem = input.idempotency;
    const nowIso = now.toISOString();
    const result = await store.charge({
      autodeskId: input.autodeskId,
      product: input.product,
      teamId: team.teamId,
      at: at === now ? nowIso : at.toISOString(),
      now: nowIso,
      provisionalId: input.provisional?.id,
      memberOf,
      session: {
        id,
        autodesk_id: input.autodeskId,
        product_key: input.product,
        team_id: team.teamId,
        starts_at: startsAt.toISOString(),
        ends_at: endsAt.toISOString(),
        refunded: 0,
        ended_at: null,
        last_seen_at: nowIso,
        machine: input.machine ?? null,
        provisional_id: input.provisional?.id ?? null,
        entitlement,
        entitlement_exp: new Date(seconds(lease.expiresAt) * 1000).toISOString(),
        settled_at: lease.settled ? nowIso : null,
      },
      idempotency: idem && { scope: idem.scope, key: idem.key, fingerprint: fingerprint(idem.request) },
    });
    return result.kind === 'answer' ? { answer: result.answer, row: result.row } : { answer: answerOf(result, input, team.teamName) };
  };

  /**
   * Keeps a relaunch's answer warm: a settled session's until it ends, an unsettled one's until its
   * free window does and for the machines known to use it (R7a). A launch that just charged is not
   * kept: most products launch once a day, so the entry would only cost memory. Its relaunch, if any, is.
   */
  const kept = (cache: { key: string; epoch: number } | null, answer: LaunchResponse, session: KeptSession | undefined): LaunchResponse => {
    if (!cache || answer.charged !== 0 || !session || answer.session?.id !== session.row.id) return answer;
    const untilMs = session.running ? unsettledUntil(session.row) : Number.POSITIVE_INFINITY;
    warm?.remember(cache.key, cache.epoch, answer, { untilMs, machines: session.running });
    return answer;
  };

  const licensedLaunch = async (
    autodeskId: string,
    { source, license, productName }: Extract<AccessDecision, { source: 'subscription' | 'trial' }>,
    now: Date,
  ): Promise<LaunchResponse> => {
    // R9: no tokens; the entitlement lasts a day at most (Flex re-checks daily).
    const exp = new Date(Math.min(addMs(now, DAY_MS).getTime(), Date.parse(license.endsAt)));
    // The days a license is used feed the right-sizing advice (services/advice.ts).
    const seen = `${license.id}\n${now.toISOString().slice(0, 10)}`;
    if (!licenseDaysSeen.has(seen)) {
      await noteLicenseDay(ctx.db, license.id, now.toISOString().slice(0, 10));
      if (licenseDaysSeen.size >= 100_000) licenseDaysSeen.clear();
      licenseDaysSeen.add(seen);
    }
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
    const expiresAt = new Date(seconds(exp) * 1000).toISOString();
    return { granted: true, source, charged: 0, session: null, balance: null, team: null, entitlement, expiresAt };
  };

  return launch;
}

function granted(decision: AccessDecision): Exclude<AccessDecision, { granted: false }> {
  if (!decision.granted) throw new DomainError(decision.code, decision.reason, { rule: decision.rule });
  return decision;
}

function replay(stored: StoredAnswer, idem: IdempotencyRequest): LaunchResponse {
  if (stored.fingerprint !== fingerprint(idem.request)) throw keyReused(idem.key);
  return JSON.parse(stored.body) as LaunchResponse;
}

function answerOf(result: Exclude<ChargeResult, { kind: 'answer' }>, input: LaunchInput, teamName: string): LaunchResponse {
  switch (result.kind) {
    case 'replayed':
      return JSON.parse(result.body) as LaunchResponse;
    case 'key-reused':
      throw keyReused(input.idempotency?.key ?? '');
    case 'unknown-product':
      throw new DomainError('unknown-product', `No product "${input.product}" in the catalog.`);
    case 'insufficient':
      throw new DomainError(
        'insufficient-tokens',
        `Team ${teamName} has ${result.available} tokens left; ${result.productName} needs ${result.rate} for a day of use. A team admin can buy more tokens.`,
        { rule: 'R4' },
      );
  }
}

/**
 * A decision time alone cannot change, so the warm cache may keep it until the session ends: no
 * subscription or trial on record for the product (one that starts later would take over, R9).
 * A Flex grant already implies an active membership, so no invitation can run out under it.
 */
function cacheable(q: AccessQuestion): boolean {
  return q.licenses.length === 0;
}

/**
 * When a reported launch ran. One dated after the report can only come from a client clock ahead of
 * ours (a short outage): it ran by now at the latest, so it is charged from now. Refused, the
 * client would drop the report and the day would go unpaid.
 */
function provisionalInstant(launchedAt: string, now: Date): Date {
  const at = new Date(launchedAt);
  if (at.getTime() > now.getTime()) return now;
  if (now.getTime() - at.getTime() > PROVISIONAL_REPORT_WINDOW_MS) {
    throw invalid('provisional.launchedAt is too old: provisional launches must be reported within 28 hours.');
  }
  return at;
}
