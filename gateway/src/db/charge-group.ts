import type SQLite from 'better-sqlite3';
import { alertState } from '../domain/alerts';
import { planDraw } from '../domain/lots';
import { chargeReason, flexAnswer } from '../domain/sessions';
import { type LaunchFacts, launchFactsStatements } from './hot';
import { alertFactsOf } from './repos/alerts';
import { sessionStateOf } from './repos/sessions';
import type { SessionRow } from './schema';

/** A charge the launch has decided on and signed for; the group opens it or finds it opened. */
export interface ChargeJob {
  autodeskId: string;
  product: string;
  teamId: string;
  nowIso: string;
  /** The session this launch would open (its entitlement signed before, outside any transaction). */
  session: Omit<SessionRow, 'seq' | 'rate' | 'charged'>;
  /** With an Idempotency-Key: the answer of an opened session is stored in the same transaction. */
  idempotency: { scope: string; key: string; fingerprint: string } | undefined;
}

export type ChargeOutcome =
  | { kind: 'opened'; session: SessionRow; balance: number }
  | { kind: 'found'; session: SessionRow; balance: number }
  | { kind: 'replayed'; body: string }
  | { kind: 'conflict' }
  | { kind: 'unknown-product' }
  | { kind: 'insufficient'; available: number; productName: string; rate: number }
  /** Not the common case (lots to expire first, an R19 e-mail to send): the Kysely path handles it. */
  | { kind: 'fallback'; why: string };

export type GroupTask =
  | { kind: 'facts'; autodeskId: string; product: string; team: string | undefined; nowIso: string }
  | { kind: 'charge'; job: ChargeJob };

/**
 * A task's result. A task that failed unexpectedly reports its message, and its launch takes the
 * general path, which meets the same condition and answers it properly (or succeeds).
 */
export type GroupResult = { ok: LaunchFacts | ChargeOutcome } | { failed: string };

class Fallback extends Error {}

/**
 * Issue 7, cold launches on SQLite: the charge of `flexLaunch` as statements prepared once on the
 * writer connection, run synchronously, and committed in groups. Every launch that must charge
 * while the previous group runs joins one write transaction, so the pages they share (the team's
 * lots, rollups, the ends of the indexes) are written to the WAL once per group instead of once
 * per charge. `charge-floor.ts` measured the SQL alone at about 100 µs per charge committed singly
 * and 27 µs in groups of 50 (on the faster machine of BENCHMARKS.md).
 *
 * It writes exactly what the Kysely path writes (session, guarded lot draws, ledger entries, both
 * usage rollups, the idempotency answer) and answers the same; whatever else a charge may need
 * (expiring lots, an R19 crossing to record and e-mail) returns `fallback` before anything is
 * written, and the caller runs the general path. The launch's facts are read here too, so a cold
 * launch reads what the last group just wrote from this connection's page cache.
 *
 * Returns the group runner: it throws when the group could not commit (nothing of it was written).
 */
export function chargeGroup(handle: SQLite.Database): (tasks: GroupTask[]) => GroupResult[] {
  const q = {
    stored: handle.prepare<[string, string], { fingerprint: string; body: string }>(
      'select fingerprint, body from idempotency_keys where scope = ? and key = ?',
    ),
    state: handle.prepare<[string, string, string, string, string], SessionRow>(
      'select * from usage_sessions s where s.autodesk_id = ? and s.product_key = ? and ((s.ended_at is null and s.ends_at > ?) or s.seq = (select max(m.seq) from usage_sessions m where m.autodesk_id = ? and m.product_key = ?))',
    ),
    product: handle.prepare<[string], { name: string; daily_rate: number }>('select name, daily_rate from products where key = ?'),
    lots: handle.prepare<[string, string], { id: string; tokens: number; remaining: number; expires_at: string }>(
      'select id, tokens, remaining, expires_at from lots where team_id = ? and expires_at > ?',
    ),
    // The valid lots, and the expired ones still holding tokens (to expire first: the general path).
    teamLots: handle.prepare<[string, string], LotRow>(
      'select id, tokens, remaining, purchased_at, expires_at from lots where team_id = ? and (expires_at > ? or remaining > 0)',
    ),
    insertSession: handle.prepare(
      'insert into usage_sessions (id, autodesk_id, product_key, seq, team_id, starts_at, ends_at, rate, charged, refunded, ended_at, last_seen_at, machine, provisional_id, entitlement, entitlement_exp) values (@id, @autodesk_id, @product_key, @seq, @team_id, @starts_at, @ends_at, @rate, @charged, @refunded, @ended_at, @last_seen_at, @machine, @provisional_id, @entitlement, @entitlement_exp)',
    ),
    draw: handle.prepare<[number, string, number]>('update lots set remaining = remaining - ? where id = ? and remaining >= ?'),
    ledger: handle.prepare(
      "insert into ledger (team_id, lot_id, kind, delta, at, actor, autodesk_id, product_key, session_id, reason) values (?, ?, 'charge', ?, ?, ?, ?, ?, ?, ?)",
    ),
    byProduct: handle.prepare(
      'insert into usage_day_product (team_id, day, product_key, tokens, sessions) values (?, ?, ?, ?, 1) on conflict (team_id, day, product_key) do update set tokens = tokens + excluded.tokens, sessions = sessions + 1',
    ),
    byUser: handle.prepare(
      'insert into usage_day_user (team_id, day, autodesk_id, tokens, sessions) values (?, ?, ?, ?, 1) on conflict (team_id, day, autodesk_id) do update set tokens = tokens + excluded.tokens, sessions = sessions + 1',
    ),
    movedOut: handle.prepare<[string, string], { delta: number }>(
      "select coalesce(sum(ledger.delta), 0) as delta from ledger join lots on lots.id = ledger.lot_id where ledger.team_id = ? and ledger.kind = 'transfer-out' and lots.expires_at > ?",
    ),
    alerted: handle.prepare<[string, string, string], { n: number }>(
      'select count(*) as n from team_alerts where team_id = ? and kind = ? and marker = ?',
    ),
    remember: handle.prepare(
      'insert into idempotency_keys (scope, key, fingerprint, status, body, created_at) values (?, ?, ?, 200, ?, ?)',
    ),
  };

  type LotRow = { id: string; tokens: number; remaining: number; purchased_at: string; expires_at: string };
  // What the charges of one group share, read once per group: nothing but this group writes while
  // it holds the write lock, and the draws below are applied to `lots` as they are written. A
  // team's entry holds from the instant it was read until the next of its lots' expiry instants
  // (the valid set changes there); a launch timed outside that window (launches may queue out of
  // order by a few milliseconds) reads again.
  let products = new Map<string, { name: string; daily_rate: number } | undefined>();
  let teams = new Map<string, { lots: LotRow[]; movedOut: number; from: string; until: string }>();
  const teamOf = (teamId: string, nowIso: string) => {
    const known = teams.get(teamId);
    if (known && known.from <= nowIso && nowIso < known.until) return known;
    const lots = q.teamLots.all(teamId, nowIso).map((l) => ({ ...l, tokens: Number(l.tokens), remaining: Number(l.remaining) }));
    const until = lots.reduce((min, l) => (l.expires_at > nowIso && l.expires_at < min ? l.expires_at : min), '9999');
    const entry = { lots, movedOut: Number(q.movedOut.get(teamId, nowIso)?.delta ?? 0), from: nowIso, until };
    teams.set(teamId, entry);
    return entry;
  };

  const charge = (job: ChargeJob): ChargeOutcome => {
    const { nowIso } = job;
    const now = new Date(nowIso);
    if (job.idempotency) {
      const stored = q.stored.get(job.idempotency.scope, job.idempotency.key);
      if (stored)
        return stored.fingerprint === job.idempotency.fingerprint ? { kind: 'replayed', body: stored.body } : { kind: 'conflict' };
    }
    // R7: the session state under the write lock is final: no other writer can open one now.
    const { open, lastSeq } = sessionStateOf(q.state.all(job.autodeskId, job.product, nowIso, job.autodeskId, job.product), nowIso);
    if (open)
      return { kind: 'found', session: open, balance: q.lots.all(open.team_id, nowIso).reduce((sum, l) => sum + Number(l.remaining), 0) };
    if (!products.has(job.product)) products.set(job.product, q.product.get(job.product));
    const product = products.get(job.product);
    if (!product) return { kind: 'unknown-product' };
    const team = teamOf(job.teamId, nowIso);
    if (team.lots.some((l) => l.expires_at <= nowIso && l.remaining > 0)) throw new Fallback('lots to expire first');
    const valid = team.lots.filter((l) => l.expires_at > nowIso);
    const rate = product.daily_rate; // R8: the rate in force when the session opens
    const plan = planDraw(
      valid
        .filter((l) => l.remaining > 0)
        .map((l) => ({
          id: l.id,
          tokens: l.tokens,
          remaining: l.remaining,
          purchasedAt: l.purchased_at,
          expiresAt: l.expires_at,
        })),
      rate,
      now,
    );
    if (!plan.ok) return { kind: 'insufficient', available: plan.available, productName: product.name, rate };
    // R19 as checkAlerts decides it, on the lots as the draws leave them, before anything is
    // written: a crossing to record (and e-mail) goes the general way.
    const drawn = new Map(plan.allocations.map((a) => [a.lotId, a.tokens]));
    const after = valid.map((l) => ({ ...l, remaining: l.remaining - (drawn.get(l.id) ?? 0) }));
    const facts = alertFactsOf(after, team.movedOut);
    const state = alertState(facts, now);
    if (state.lowBalance && (q.alerted.get(job.teamId, 'low-balance', 'open')?.n ?? 0) === 0) throw new Fallback('low-balance crossing');
    for (const lot of state.expiring) {
      if ((q.alerted.get(job.teamId, 'expiring', lot.id)?.n ?? 0) === 0) throw new Fallback('expiry warning');
    }
    // From here on nothing may fail part-way: an error aborts the whole group (see `run`).
    const session: SessionRow = { ...job.session, seq: lastSeq + 1, rate, charged: rate };
    q.insertSession.run(session);
    const reason = chargeReason(product.name, rate, session.ends_at, false);
    for (const a of plan.allocations) {
      if (q.draw.run(a.tokens, a.lotId, a.tokens).changes !== 1) throw new Error(`lot ${a.lotId} changed under a grouped charge`);
      const lot = team.lots.find((l) => l.id === a.lotId);
      if (lot) lot.remaining -= a.tokens;
      q.ledger.run(job.teamId, a.lotId, -a.tokens, nowIso, `user:${job.autodeskId}`, job.autodeskId, job.product, session.id, reason);
    }
    // The rollups of appendLedger: one cell per (team, day, product) and (team, day, user); one session.
    const day = nowIso.slice(0, 10);
    q.byProduct.run(job.teamId, day, job.product, rate);
    q.byUser.run(job.teamId, day, job.autodeskId, rate);
    const { balance } = facts;
    if (job.idempotency) {
      const body = JSON.stringify(flexAnswer(session, rate, balance));
      q.remember.run(job.idempotency.scope, job.idempotency.key, job.idempotency.fingerprint, body, nowIso);
    }
    return { kind: 'opened', session, balance };
  };

  // No savepoint per task (two statements each): facts only read, and a charge decides everything
  // (refusal, fallback) before its first write. Whatever fails after that, or unexpectedly in a
  // charge, aborts the whole group: nothing of it is written, and every launch of the group takes
  // the general path, which meets the same condition alone and answers it properly.
  const read = launchFactsStatements(handle);
  const run = (t: GroupTask): GroupResult => {
    if (t.kind === 'facts') {
      try {
        return { ok: read(t.autodeskId, t.product, t.team, t.nowIso) };
      } catch (error) {
        return { failed: error instanceof Error ? error.message : String(error) };
      }
    }
    try {
      return { ok: charge(t.job) };
    } catch (error) {
      if (error instanceof Fallback) return { ok: { kind: 'fallback', why: error.message } };
      throw error;
    }
  };
  const group = handle.transaction((tasks: GroupTask[]) => {
    products = new Map();
    teams = new Map();
    return tasks.map(run);
  });
  return (tasks) => group.immediate(tasks);
}
