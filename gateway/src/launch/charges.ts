import type { LaunchResponse } from '@flexgate/shared';
import { readAll } from '../db/reads';
import { alertFactsOf, alertMarkersOfTeams, movedOutOfTeams } from '../db/repos/alerts';
import { productsRead } from '../db/repos/catalog';
import { answersRead, answersWrites } from '../db/repos/idempotency';
import { idsRead, type LedgerInput, lockLedgers } from '../db/repos/ledger';
import { drawWrite, expireLots, ledgerWrites, lotsRead, teamBalance } from '../db/repos/lots';
import { findProvisional, sessionRowsOf, sessionRowsRead, sessionStateOf, sessionsWrites } from '../db/repos/sessions';
import type { SessionRow } from '../db/schema';
import type { Tx } from '../db/tx';
import { writeAll } from '../db/writes';
import { mayCrossAlert } from '../domain/alerts';
import { decideCharge } from '../domain/charge';
import type { LotState } from '../domain/lots';
import { chargeReason, flexAnswer } from '../domain/sessions';
import { recordCrossings } from '../services/alerts';
import { answerJson } from './warm';

/** A Flex launch decided and signed for: its group opens the session, or finds it open. */
export interface ChargeJob {
  autodeskId: string;
  product: string;
  teamId: string;
  /** When the session opens: the launch's instant, or a provisional launch's own (reported later). */
  at: string;
  /** When the launch is decided: lots and alerts are read as of now. */
  now: string;
  /** The session this launch would open, its entitlement signed before the transaction. */
  session: Omit<SessionRow, 'seq' | 'rate' | 'charged'>;
  /** A launch made during an outage and reported now: charged once per (user, provisional id). */
  provisionalId: string | undefined;
  /**
   * The teams the user is an active member of, as the launch's facts read them: a session found
   * open answers its team's balance only to a member of that team.
   */
  memberOf: ReadonlySet<string>;
  idempotency: { scope: string; key: string; fingerprint: string } | undefined;
}

export type ChargeResult =
  /** `charged > 0` when this launch opened the session; a found one answers `charged: 0`. `row`: the session answered. */
  | { kind: 'answer'; answer: LaunchResponse; row: SessionRow }
  /** The stored first answer of this Idempotency-Key, byte for byte. */
  | { kind: 'replayed'; body: string }
  | { kind: 'key-reused' }
  | { kind: 'unknown-product' }
  | { kind: 'insufficient'; available: number; productName: string; rate: number };

/** A group that must be taken apart (a lot expired between two of its launches' instants): each runs alone. */
class SplitGroup extends Error {}

type Lot = LotState & { teamId: string };

/**
 * One group of charges in one transaction (R4-R8, R19), on either engine. It takes its teams'
 * ledger heads, takes in the charges of those teams that arrived meanwhile (`join`), reads what
 * they need once for the whole group (stored answers, sessions, products, the teams' lots and
 * R19 markers), decides each charge in order with `decideCharge` against what the charges before
 * it left, then writes everything in a few statements: sessions, one guarded draw per lot,
 * ledger, answers. Like TigerBeetle's batches, this is the only way a charge is made: a launch
 * alone is a group of one.
 *
 * Exactly-once stays the database's job: a session is keyed by (user, product, seq), so a twin
 * opened by another instance makes this transaction fail and start over (`inTransaction`), and
 * then it finds that session. The teams' ledger heads are taken first, in team order (on PostgreSQL
 * a row lock each, db/repos/ledger.ts): groups of several instances charging one team wait for
 * each other but never deadlock, and the group's entries chain in the group's order.
 */
export async function chargeGroup(
  trx: Tx,
  first: readonly ChargeJob[],
  join: (teams: ReadonlySet<string>) => readonly ChargeJob[] = () => first,
): Promise<ChargeResult[]> {
  const teamIds = [...new Set(first.map((j) => j.teamId))].sort();
  // The teams' heads first: on PostgreSQL their locks order this group after every change to these
  // teams' lots, so what it reads next is as the last of them left it. Then the charges of these
  // teams that arrived while it waited join it: a contended head is taken once for all of them.
  await lockLedgers(trx, teamIds);
  const jobs = join(new Set(teamIds));
  const results: (ChargeResult | undefined)[] = new Array(jobs.length);
  // The earliest instants of the group: what it reads is then what every one of its charges may need.
  const minNow = jobs.map((j) => j.now).sort()[0] ?? '';
  const minAt = jobs.map((j) => j.at).sort()[0] ?? '';
  // Everything the group decides from, in one statement on PostgreSQL, with ids for the entries it
  // will likely append (one per charge; more are taken if needed). A session opened elsewhere after
  // this read makes the group's insert of the same (user, product, seq) fail, and the group starts
  // over and finds it: exactly once stays the unique key's job.
  const keyed = jobs.flatMap((j) => (j.idempotency ? [j.idempotency] : []));
  const [stored, products, sessionRows, lots] = await readAll(trx, [
    answersRead(trx, keyed),
    productsRead(trx, [...new Set(jobs.map((j) => j.product))]),
    sessionRowsRead(trx, uniquePairs(jobs), minAt),
    lotsRead(trx, teamIds, minNow),
    idsRead(trx, jobs.length),
  ]);
  const lotsOf = new Map<string, Lot[]>(teamIds.map((t) => [t, lots.filter((l) => l.teamId === t)]));
  // R19's basis only for the teams this group could take across a line (rarely): two reads fewer.
  const spendOf = (t: string) => jobs.reduce((s, j) => (j.teamId === t ? s + (products.get(j.product)?.dailyRate ?? 0) : s), 0);
  const alerting = teamIds.filter((t) => mayCrossAlert(lotsOf.get(t) ?? [], spendOf(t), new Date(minNow)));
  const [movedOut, markers] = await Promise.all([movedOutOfTeams(trx, alerting, minNow), alertMarkersOfTeams(trx, alerting)]);
  const rowsOf = new Map<string, SessionRow[]>();
  for (const r of sessionRows) pushTo(rowsOf, pairKey(r.autodesk_id, r.product_key), r);

  const opened: SessionRow[] = [];
  const drawn = new Map<string, number>();
  const ledger: LedgerInput[] = [];
  const answered = new Map<string, number>();

  for (const [i, job] of jobs.entries()) {
    const idem = job.idempotency;
    const idemKey = idem && `${idem.scope}\n${idem.key}`;
    const earlier = idemKey ? stored.get(idemKey) : undefined;
    if (idem && earlier) {
      results[i] = earlier.fingerprint === idem.fingerprint ? { kind: 'replayed', body: earlier.body } : { kind: 'key-reused' };
      continue;
    }
    // The same key twice in one group: the second replays the first.
    const twin = idemKey ? answered.get(idemKey) : undefined;
    if (idem && twin !== undefined) {
      const first = results[twin];
      const sameRequest = jobs[twin]?.idempotency?.fingerprint === idem.fingerprint;
      results[i] = !sameRequest
        ? { kind: 'key-reused' }
        : first?.kind === 'answer'
          ? { kind: 'replayed', body: answerJson(first.answer) }
          : first;
      continue;
    }
    const teamLots = lotsOf.get(job.teamId) ?? [];
    const now = new Date(job.now);
    const balance = () => teamLots.reduce((s, l) => (l.expiresAt > job.now ? s + l.remaining : s), 0);
    // A session found open answers, whichever of the user's teams it was opened through (R7); its
    // team's balance only to an active member of that team (null to one removed since).
    const balanceOf = async (session: SessionRow): Promise<number | null> =>
      session.team_id === job.teamId
        ? balance()
        : job.memberOf.has(session.team_id)
          ? await teamBalance(trx, session.team_id, job.now)
          : null;
    if (job.provisionalId) {
      // Reported before (the client retried, or another instance took the same report): that session.
      const reported =
        opened.find((s) => s.autodesk_id === job.autodeskId && s.provisional_id === job.provisionalId) ??
        (await findProvisional(trx, job.autodeskId, job.provisionalId));
      if (reported) {
        results[i] = { kind: 'answer', answer: flexAnswer(reported, 0, await balanceOf(reported)), row: reported };
        if (idemKey) answered.set(idemKey, i);
        continue;
      }
    }
    let { open, lastSeq } = sessionStateOf(rowsOf.get(pairKey(job.autodeskId, job.product)) ?? [], job.at);
    const product = products.get(job.product);
    // A team left out of `alerting` cannot cross a line in this group: as if everything was announced.
    const marks = markers.get(job.teamId) ?? { lowBalance: true, expiringLots: new Set(teamLots.map((l) => l.id)) };
    const moved = movedOut.get(job.teamId) ?? 0;
    let decision = decideCharge({ open, product, lots: teamLots, movedOut: moved, alerted: marks }, now);
    if (decision.kind === 'expire-first') {
      // Expired with tokens left: they leave the balance through the ledger first (the one expiry
      // path). Only lots this group has not drawn from: otherwise the group is taken apart.
      if (decision.lotIds.some((id) => drawn.has(id))) throw new SplitGroup('a lot expired between two charges of one group');
      await expireLots(trx, job.teamId, job.now);
      for (const l of teamLots) if (decision.lotIds.includes(l.id)) l.remaining = 0;
      decision = decideCharge({ open, product, lots: teamLots, movedOut: moved, alerted: marks }, now);
    }
    if (decision.kind === 'insufficient') {
      // R7 before R4: the lots, read under their lock, may show the charge of a launch of this same
      // (user, product) whose session committed after the sessions were read. Read again: found, it answers.
      const rows = await sessionRowsOf(trx, [{ autodeskId: job.autodeskId, product: job.product }], job.at);
      rowsOf.set(pairKey(job.autodeskId, job.product), rows);
      ({ open, lastSeq } = sessionStateOf(rows, job.at));
      if (open) decision = decideCharge({ open, product, lots: teamLots, movedOut: moved, alerted: marks }, now);
    }
    switch (decision.kind) {
      case 'found': {
        const session = open as SessionRow;
        results[i] = { kind: 'answer', answer: flexAnswer(session, 0, await balanceOf(session)), row: session };
        break;
      }
      case 'unknown-product':
        results[i] = { kind: 'unknown-product' };
        break;
      case 'insufficient':
        results[i] = { kind: 'insufficient', available: decision.available, productName: decision.productName, rate: decision.rate };
        break;
      case 'expire-first':
        throw new SplitGroup('lots expired again after expiring them');
      case 'open': {
        const session = openedRow(job.session, lastSeq + 1, decision.rate);
        opened.push(session);
        pushTo(rowsOf, pairKey(job.autodeskId, job.product), session);
        const reason = chargeReason(decision.productName, decision.rate, session.ends_at, Boolean(job.provisionalId));
        for (const a of decision.allocations) {
          drawn.set(a.lotId, (drawn.get(a.lotId) ?? 0) + a.tokens);
          const lot = teamLots.find((l) => l.id === a.lotId);
          if (lot) lot.remaining -= a.tokens;
          ledger.push({
            team_id: job.teamId,
            lot_id: a.lotId,
            kind: 'charge',
            delta: -a.tokens,
            at: job.at,
            actor: `user:${job.autodeskId}`,
            autodesk_id: job.autodeskId,
            product_key: job.product,
            session_id: session.id,
            reason,
          });
        }
        if (decision.crossesAlert) {
          // R19 once per crossing, on the lots as this charge leaves them (as if it committed alone):
          // the shared check records it (a unique marker) and e-mails the admins. The group's charges
          // of the team are not in the ledger yet: their products go with it, as launched today.
          const valid = teamLots.filter((l) => l.expiresAt > job.now);
          const charging = [...new Set(ledger.flatMap((e) => (e.team_id === job.teamId && e.product_key ? [e.product_key] : [])))];
          const state = await recordCrossings(
            trx,
            job.teamId,
            alertFactsOf(
              valid.map((l) => ({ id: l.id, tokens: l.tokens, remaining: l.remaining, expires_at: l.expiresAt })),
              moved,
            ),
            now,
            { charging: charging.flatMap((key) => products.get(key) ?? []) },
          );
          if (state.lowBalance) marks.lowBalance = true;
          for (const l of state.expiring) marks.expiringLots.add(l.id);
        }
        results[i] = { kind: 'answer', answer: flexAnswer(session, decision.rate, decision.balanceAfter), row: session };
        break;
      }
    }
    if (idemKey) answered.set(idemKey, i);
  }

  // The group's writes in one go, its last (one statement on PostgreSQL, its COMMIT sent with it:
  // the lots stay locked until the commit, and every round trip before it is time the other
  // instances wait). Sessions in (user, product) order and lots in id order: two groups writing
  // the same rows take them alike.
  const sessions = [...opened].sort((a, b) => (pairKey(a.autodesk_id, a.product_key) < pairKey(b.autodesk_id, b.product_key) ? -1 : 1));
  const draws = [...drawn.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await writeAll(
    trx,
    [
      ...sessionsWrites(trx, sessions),
      ...draws.map(([lotId, tokens]) => drawWrite(trx, lotId, tokens)),
      ...(await ledgerWrites(trx, ledger)),
      ...answersWrites(trx, keyedAnswers(jobs, results)),
    ],
    { commit: true },
  );
  return results.map((r) => r ?? { kind: 'unknown-product' });
}

/** Every keyed answer of the group, once per key; one answered elsewhere meanwhile makes the group start over, to replay it. */
function keyedAnswers(jobs: readonly ChargeJob[], results: readonly (ChargeResult | undefined)[]) {
  const answers = jobs.flatMap((j, i) => {
    const r = results[i];
    if (!j.idempotency || r?.kind !== 'answer') return [];
    const { scope, key, fingerprint } = j.idempotency;
    // answerJson: the text stored is the one the launch lane then sends, made once.
    return [{ scope, key, fingerprint, status: 200, body: answerJson(r.answer), createdAt: j.now }];
  });
  return [...new Map(answers.map((a) => [`${a.scope}\n${a.key}`, a])).values()];
}

/**
 * The row of a session a charge opens. Field by field, not `{ ...s, seq, rate, charged }`: on Node
 * 20 a property written after a spread makes the literal tens of times slower (BENCHMARKS.md).
 */
function openedRow(s: ChargeJob['session'], seq: number, rate: number): SessionRow {
  return {
    id: s.id,
    autodesk_id: s.autodesk_id,
    product_key: s.product_key,
    seq,
    team_id: s.team_id,
    starts_at: s.starts_at,
    ends_at: s.ends_at,
    rate,
    charged: rate,
    refunded: s.refunded,
    ended_at: s.ended_at,
    last_seen_at: s.last_seen_at,
    machine: s.machine,
    provisional_id: s.provisional_id,
    entitlement: s.entitlement,
    entitlement_exp: s.entitlement_exp,
    settled_at: s.settled_at,
  };
}

const pairKey = (autodeskId: string, product: string) => `${autodeskId}\n${product}`;

function uniquePairs(jobs: readonly ChargeJob[]): { autodeskId: string; product: string }[] {
  const seen = new Map<string, { autodeskId: string; product: string }>();
  for (const j of jobs) seen.set(pairKey(j.autodeskId, j.product), { autodeskId: j.autodeskId, product: j.product });
  return [...seen.values()];
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
