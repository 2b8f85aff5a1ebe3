import { DAY_MS } from './time';

/**
 * Refresh tokens (OAuth 2.0 security best practice, RFC 9700 section 4.14): single-use and
 * rotating; each use returns a new one of the same family (one family per sign-in). A token used a
 * second time means a copy exists: the whole family is revoked, whoever holds it. A token unused
 * for 30 days expires.
 */
export const REFRESH_TTL_MS = 30 * DAY_MS;
/**
 * A second use this soon after the first is one client racing itself (two products refreshing at
 * once), not a stolen copy: refused, but the family lives on.
 */
export const RACE_GRACE_MS = 5_000;

export interface RefreshFacts {
  /** The token's row, if the secret is one of ours. */
  token: { expiresAt: string; usedAt: string | null; familyRevoked: boolean } | undefined;
}

export type RefreshDecision = 'rotate' | 'unknown' | 'expired' | 'revoked' | 'raced' | 'reused';

export function decideRefresh(f: RefreshFacts, now: Date): RefreshDecision {
  const t = f.token;
  if (!t) return 'unknown';
  if (t.familyRevoked) return 'revoked';
  if (t.usedAt !== null) return now.getTime() - Date.parse(t.usedAt) <= RACE_GRACE_MS ? 'raced' : 'reused';
  if (Date.parse(t.expiresAt) <= now.getTime()) return 'expired';
  return 'rotate';
}
