import type { LaunchResponse } from '@flexgate/shared';

/** A launch answered from an open Flex session, as it stands apart from the balance. */
export interface WarmLaunch {
  /** `access_epoch.v` read no later than the facts this answer was decided from. */
  epoch: number;
  /** The answer, charged 0; its balance is read again on every use. */
  answer: LaunchResponse & { session: NonNullable<LaunchResponse['session']>; team: string };
  /**
   * Whether the answer carries its team's balance: not when it was decided for a user who is no
   * active member of the session's team (removed since; the relaunch named another team). That is
   * access data, so it holds while the epoch does; the recheck's balance is then left out.
   */
  balanceShown: boolean;
  /**
   * How long the answer holds: the session's end (past it, the next launch opens and charges a new
   * one, R6); for a session not settled yet, the end of its free window (R7a: the next launch
   * settles it, which only the slow path does).
   */
  endsAtMs: number;
  /**
   * Until the day is settled, the machines known to use the session: another machine goes the slow
   * path, which records it, so that a close elsewhere cannot refund a day in use on it. Null once settled.
   */
  machines: ReadonlySet<string> | null;
  /**
   * The store's version of the team's data when this entry was last rechecked (`LaunchStore.version`),
   * and the answer with the balance read then. While the version is unchanged nothing this answer
   * depends on was committed, by any process or instance, until the next of the team's lots
   * expires (`validUntilMs`): that lowers the balance unwritten.
   */
  confirmed: { version: number; validUntilMs: number; answer: LaunchResponse } | null;
}

/**
 * A warm entry's answer (charged 0) with `balance`. Field by field, not `{ ...answer, balance }`:
 * on Node 20 a property written after a spread makes the literal tens of times slower (BENCHMARKS.md).
 */
export function warmAnswerOf(
  a: LaunchResponse,
  session: NonNullable<LaunchResponse['session']>,
  team: string,
  balance: number | null,
): WarmLaunch['answer'] {
  return { granted: true, source: a.source, charged: 0, session, balance, team, entitlement: a.entitlement, expiresAt: a.expiresAt };
}

/**
 * The JSON of an answer object, made once per object: a confirmed warm entry answers with the same
 * object until anything is committed, so its relaunches skip JSON.stringify (about 1 KB with the
 * entitlement). Callers never mutate an answer.
 */
const serialized = new WeakMap<LaunchResponse, string>();
export function answerJson(answer: LaunchResponse): string {
  let json = serialized.get(answer);
  if (json === undefined) {
    json = JSON.stringify(answer);
    serialized.set(answer, json);
  }
  return json;
}

/**
 * Decided warm launches, by (user, product, team asked for), so a launch whose session is open
 * reads one row instead of the nine an access decision needs, or none. An entry is made by a launch
 * that found its session open (a relaunch), not by the launch that charged. An entry is used only
 * after `recheck` confirms, in one statement, that:
 * - the access epoch is unchanged: no product, team, license, member, assignment, default or
 *   invitation changed anywhere since (a trigger bumps it, migration 006), on any instance;
 * - the session is still open (an end or a void shows at once), and its end time is not past;
 * - until the day is settled: no machine of it closed (a relaunch there must be recorded again).
 * An unsettled session is answered only within its free window, and only to machines known to
 * use it. The recheck itself is skipped while the store's version of the team says nothing was committed
 * since the last one (SQLite: the file's commit counter; PostgreSQL has no such signal in time, so
 * every warm launch there rechecks, with the others of its turn: launch/coherence.ts).
 * Only decisions that time alone cannot change are kept: Flex grants with no subscription or
 * trial on record for the product (one starting later would take over, R9). Bounded; the oldest
 * entry goes first.
 */
export class WarmLaunches {
  private readonly entries = new Map<string, WarmLaunch>();
  constructor(private readonly max: number) {}

  static key(autodeskId: string, product: string, team: string | undefined): string {
    return `${autodeskId}\n${product}\n${team ?? ''}`;
  }

  get(key: string, nowMs: number, machine: string): WarmLaunch | undefined {
    const e = this.entries.get(key);
    if (e && e.endsAtMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e?.machines && !e.machines.has(machine) ? undefined : e;
  }

  /** `lease`: until when the answer holds and, for a session not settled yet, the machines known to use it. */
  remember(key: string, epoch: number, answer: LaunchResponse, lease: { untilMs: number; machines: ReadonlySet<string> | null }): void {
    if (this.max <= 0 || answer.source !== 'flex' || !answer.session || answer.team === null) return;
    if (this.entries.size >= this.max && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, {
      epoch,
      answer: warmAnswerOf(answer, answer.session, answer.team, answer.balance),
      // A Flex answer's balance is null only when it is withheld (facts.ts).
      balanceShown: answer.balance !== null,
      endsAtMs: Math.min(lease.untilMs, Date.parse(answer.session.endsAt)),
      machines: lease.machines,
      confirmed: null,
    });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
