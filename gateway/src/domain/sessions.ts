import { FREE_CLOSE_MS, type LaunchResponse, LEASE_MS } from '@flexgate/shared';
import { addMs, DAY_MS } from './time';

/** R6: a usage session lasts 24 hours from the launch that opened it. */
export const SESSION_MS = DAY_MS;
// R7a's free window and lease: shared, since the client reads a settled day from an entitlement's life.
export { FREE_CLOSE_MS, LEASE_MS };
/** R7a: a quick close is refunded at most once per (user, product) in this long. */
export const REFUND_CAP_MS = DAY_MS;

/** R7b: only idle stretches this long count (Flex's idle awareness). */
export const IDLE_MIN_MS = 15 * 60_000;
/**
 * R7b: the most a session's end moves for idleness, in all. A client says when the product was
 * idle and the gateway cannot check it: a client that always says "idle" gets at most this much
 * more than the day it paid for.
 */
export const IDLE_MAX_PER_SESSION_MS = DAY_MS;

/**
 * R7b: how much later the session ends for `idleMs` of idleness reported at `now`. A stretch counts
 * from 15 minutes; it cannot reach further back than the previous contact plus 15 minutes (the
 * stretch may have begun just before it), nor take the session past its cap.
 */
export function idleCredit(s: { startsAt: string; endsAt: string; lastSeenAt: string }, idleMs: number, now: Date): number {
  if (!(idleMs >= IDLE_MIN_MS)) return 0;
  const sinceContact = now.getTime() - Date.parse(s.lastSeenAt) + IDLE_MIN_MS;
  const credited = Date.parse(s.endsAt) - Date.parse(s.startsAt) - SESSION_MS;
  const left = IDLE_MAX_PER_SESSION_MS - credited;
  return Math.max(0, Math.min(idleMs, sinceContact, left));
}

export interface SessionState {
  startsAt: string;
  endsAt: string;
  endedAt: string | null;
}

export function sessionWindow(start: Date): { startsAt: Date; endsAt: Date } {
  return { startsAt: start, endsAt: addMs(start, SESSION_MS) };
}

/** R7: the session answers further launches until its 24 hours run out or its product closed. */
export function isOpen(session: SessionState, now: Date): boolean {
  return session.endedAt === null && now.getTime() < Date.parse(session.endsAt);
}

/** R7a: closing within 5 minutes of opening gives the charge back. */
export function isFreeClose(session: Pick<SessionState, 'startsAt'>, closedAt: Date): boolean {
  return closedAt.getTime() - Date.parse(session.startsAt) <= FREE_CLOSE_MS;
}

/** When the free window of a session opened at `startsAt` is over. */
export function freeWindowEnd(startsAt: string): number {
  return Date.parse(startsAt) + FREE_CLOSE_MS;
}

/**
 * R7a: the entitlement of a session as it opens, reported at `now`. Within the free window, a
 * lease: 10 minutes from the start, never past the session's end. A launch reported after its
 * window (an outage) is settled at once: nothing can refund it any more, so it runs to the end.
 */
export function openingLease(startsAt: Date, endsAt: Date, now: Date): { settled: boolean; expiresAt: Date } {
  if (!isFreeClose({ startsAt: startsAt.toISOString() }, now)) return { settled: true, expiresAt: endsAt };
  return { settled: false, expiresAt: new Date(Math.min(startsAt.getTime() + LEASE_MS, endsAt.getTime())) };
}

/** A session as the settling rules see it. */
export interface LeaseState {
  startsAt: string;
  settledAt: string | null;
  endedAt: string | null;
}

/**
 * R7a: the first heartbeat, relaunch or end after the free window settles the day: no refund from
 * then on, and the entitlement runs to the session's end. A voided session settles nothing.
 */
export function needsSettling(s: LeaseState, now: Date): boolean {
  return s.settledAt === null && s.endedAt === null && !isFreeClose(s, now);
}

/**
 * Until when the day of session `s` is paid beyond recall at `now`: its end, once no close can
 * refund it any more (settled, or its free 5 minutes over: R7a). Null while a close may still
 * refund it, and for a session that is void or over.
 */
export function paidUntil(s: SessionState & { settledAt: string | null }, now: Date): Date | null {
  if (!isOpen(s, now)) return null;
  if (s.settledAt === null && isFreeClose(s, now)) return null;
  return new Date(s.endsAt);
}

/** What the gateway knows of one machine of a session (table `session_machines`). */
export interface MachineState {
  machine: string;
  /** When it closed the product within the free window; null while it uses the session. */
  endedAt: string | null;
}

/**
 * The machines that used a session within its free window: the one that opened it (`opener`,
 * '' for an unnamed machine), which has a row of its own only once it closed or came back, and
 * every other machine recorded by a launch or heartbeat.
 */
export function machinesOf(opener: string | null, rows: readonly MachineState[]): MachineState[] {
  const own = opener ?? '';
  return rows.some((r) => r.machine === own) ? [...rows] : [{ machine: own, endedAt: null }, ...rows];
}

/** The machines that still use the session (none ended), by name. */
export function runningMachines(opener: string | null, rows: readonly MachineState[]): Set<string> {
  return new Set(
    machinesOf(opener, rows)
      .filter((m) => m.endedAt === null)
      .map((m) => m.machine),
  );
}

/** What a close (`POST /v1/sessions/:id/end`) does to a session that is not void. */
export type EndDecision =
  /** After the free window, or settled already: the day stays paid and the session open (settled if not yet). */
  | { kind: 'paid' }
  /** Within the window while another machine still uses the session: this machine is marked closed, nothing else. */
  | { kind: 'machine-closed' }
  /** Every machine closed within the window: the session is void and its charge goes back to its lots. */
  | { kind: 'refund' }
  /** As a refund, but another quick close of (user, product) was refunded within 24 hours: the day stays paid. */
  | { kind: 'refund-capped' };

export interface EndFacts {
  session: LeaseState & { charged: number; machine: string | null };
  /** The session's rows in `session_machines`. */
  machines: readonly MachineState[];
  /** The machine that closes ('' when unnamed). */
  machine: string;
  /** When another session of the same (user, product) was last refunded, if ever. */
  lastRefundAt: string | null;
  now: Date;
}

/**
 * R7a: a close within the free window refunds only when it is the last machine of the session to
 * close, and at most once per (user, product) in 24 hours: otherwise a client that opens and closes
 * again and again would run on 10-minute leases all day for nothing. A close after the window, or
 * of a settled session, leaves the day paid.
 */
export function decideEnd(f: EndFacts): EndDecision {
  const s = f.session;
  if (s.settledAt !== null || s.charged === 0 || !isFreeClose(s, f.now)) return { kind: 'paid' };
  const stillRunning = machinesOf(s.machine, f.machines).some((m) => m.endedAt === null && m.machine !== f.machine);
  if (stillRunning) return { kind: 'machine-closed' };
  return refundAllowed(f.lastRefundAt, f.now) ? { kind: 'refund' } : { kind: 'refund-capped' };
}

/** R7a's cap: no quick-close refund of (user, product) within 24 hours of the previous one. */
export function refundAllowed(lastRefundAt: string | null, now: Date): boolean {
  return lastRefundAt === null || now.getTime() - Date.parse(lastRefundAt) >= REFUND_CAP_MS;
}

/** What a launch answers with from a usage session's row. */
export interface AnsweredSession {
  id: string;
  team_id: string;
  starts_at: string;
  ends_at: string;
  entitlement: string;
  entitlement_exp: string;
}

/**
 * The launch answer for a Flex session: its entitlement as the row holds it (the lease, or the
 * settled day's). `balance` is its team's, null when the caller is no active member of that team.
 */
export function flexAnswer(s: AnsweredSession, charged: number, balance: number | null): LaunchResponse {
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

/** The ledger's reason for a session's charge (R6, R8: the rate in force when it opened). */
export function chargeReason(productName: string, rate: number, endsAt: string, provisional: boolean): string {
  return `${productName}: daily rate ${rate}, usage session until ${endsAt}${provisional ? ', reported after an outage' : ''}`;
}
