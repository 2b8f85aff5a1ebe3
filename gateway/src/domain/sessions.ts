import type { LaunchResponse } from '@flexgate/shared';
import { addMs, DAY_MS } from './time';

/** R6: a usage session lasts 24 hours from the launch that opened it. */
export const SESSION_MS = DAY_MS;
/** R7a: a session closed within 5 minutes of opening is free. */
export const FREE_CLOSE_MS = 5 * 60_000;

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
export function isFreeClose(session: SessionState, closedAt: Date): boolean {
  return closedAt.getTime() - Date.parse(session.startsAt) <= FREE_CLOSE_MS;
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

/** The launch answer for a Flex session: its entitlement was signed once, when it opened. */
export function flexAnswer(s: AnsweredSession, charged: number, balance: number): LaunchResponse {
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
