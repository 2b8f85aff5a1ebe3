import type { Kysely } from 'kysely';
import { readAll } from '../db/reads';
import { productsRead } from '../db/repos/catalog';
import { epochRead } from '../db/repos/epoch';
import { licensesRead } from '../db/repos/licenses';
import { balancesOf } from '../db/repos/lots';
import { membershipsFrom, membersRead } from '../db/repos/members';
import { machinesOfSessions, sessionRowsRead, sessionStateOf } from '../db/repos/sessions';
import type { DB, SessionRow } from '../db/schema';
import type { AccessQuestion } from '../domain/precedence';
import type { MachineState } from '../domain/sessions';

/** One launch to decide: who, what, through which team (when named). */
export interface LaunchAsk {
  autodeskId: string;
  product: string;
  team: string | undefined;
}

/** What a launch is decided from, and what a warm answer needs. */
export interface LaunchFacts {
  /** Precedence's question (R9-R13), answered by `decideAccess`. */
  question: AccessQuestion;
  /**
   * The session of (user, product) open now, if any, and its team's balance (R7: a relaunch answers
   * it); until the session is settled, its machines too (R7a: a relaunch on another one records it).
   * The balance is null, and not read, when the user is no active member of the session's team
   * (removed since): the session goes on, the team's tokens are no longer theirs to see.
   */
  open: { session: SessionRow; balance: number | null; machines: MachineState[] } | undefined;
  /** The teams the user is an active member of: whose balance a session found open may answer. */
  memberOf: ReadonlySet<string>;
  /** The access epoch read before the facts: they hold while it is unchanged (migration 006). */
  epoch: number;
}

/**
 * The facts of several launches at one instant, in a fixed number of queries whatever their
 * number (ten at most): the epoch first, then products, licenses, memberships (four), open
 * sessions, the balances of their teams (those the user is still an active member of), and the
 * machines of those not settled yet. The launch engine reads a whole batch of launches at
 * once; explain and downloads read the same facts for one user.
 */
export async function loadFacts(db: Kysely<DB>, asks: readonly LaunchAsk[], now: Date): Promise<LaunchFacts[]> {
  const nowIso = now.toISOString();
  const ids = [...new Set(asks.map((a) => a.autodeskId))];
  // The epoch with the facts, in one snapshot on both engines (one statement on PostgreSQL, one read
  // transaction on SQLite): the facts are cached under the epoch they were read with.
  const [epoch, products, licenses, members, sessions] = await readAll(db, [
    epochRead(db),
    productsRead(db, [...new Set(asks.map((a) => a.product))]),
    licensesRead(db, ids, nowIso),
    membersRead(db, ids),
    sessionRowsRead(
      db,
      asks.map((a) => ({ autodeskId: a.autodeskId, product: a.product })),
      nowIso,
    ),
  ]);
  const openRows = sessionRowsOpenAt(sessions, nowIso);
  const unsettled = [...openRows.values()].filter((s) => s.settled_at === null).map((s) => s.id);
  // From the member rows themselves, so the balances are read alongside the memberships' other reads.
  const memberOf = new Map<string, Set<string>>();
  for (const m of members)
    if (m.status === 'active') memberOf.set(m.autodesk_id, (memberOf.get(m.autodesk_id) ?? new Set()).add(m.team_id));
  const shown = (s: SessionRow) => memberOf.get(s.autodesk_id)?.has(s.team_id) === true;
  const [memberships, balances, machines] = await Promise.all([
    membershipsFrom(db, members, nowIso),
    balancesOf(db, [...new Set([...openRows.values()].filter(shown).map((s) => s.team_id))], nowIso),
    machinesOfSessions(db, unsettled),
  ]);
  return asks.map((a) => {
    const product = products.get(a.product) ?? null;
    const all = memberships.get(a.autodeskId) ?? [];
    const session = openRows.get(`${a.autodeskId}\n${a.product}`);
    return {
      question: {
        autodeskId: a.autodeskId,
        productKey: a.product,
        product,
        licenses: (licenses.get(a.autodeskId) ?? []).filter((l) => l.product === a.product),
        memberships: a.team === undefined ? all : all.filter((m) => m.teamId === a.team),
        requestedTeam: a.team ?? null,
        now,
      },
      open: session
        ? { session, balance: shown(session) ? (balances.get(session.team_id) ?? 0) : null, machines: machines.get(session.id) ?? [] }
        : undefined,
      memberOf: memberOf.get(a.autodeskId) ?? none,
      epoch,
    };
  });
}

const none: ReadonlySet<string> = new Set();

/** For each (user, product), the open session that answers a launch now (R7). */
function sessionRowsOpenAt(rows: readonly SessionRow[], nowIso: string): Map<string, SessionRow> {
  const byPair = new Map<string, SessionRow[]>();
  for (const r of rows) {
    const key = `${r.autodesk_id}\n${r.product_key}`;
    byPair.set(key, [...(byPair.get(key) ?? []), r]);
  }
  const open = new Map<string, SessionRow>();
  for (const [key, pairRows] of byPair) {
    const session = sessionStateOf(pairRows, nowIso).open;
    if (session) open.set(key, session);
  }
  return open;
}
