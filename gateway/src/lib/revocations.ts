import type { IdTokenClaims } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { revocationsAfter } from '../db/repos/refresh';
import type { DB } from '../db/schema';

/** A row of `token_revocations`, as the database holds it. */
export interface Revocation {
  kind: 'family' | 'user';
  subject: string;
  at: string;
  seq: number;
}

/**
 * What every instance must refuse among access tokens it would otherwise accept from its cache of
 * verified tokens: signed-out families, users whose sessions an operator ended. Read from the
 * database every few seconds (and applied at once on the instance that revoked), so a revoked
 * token is refused everywhere within one poll. Only revocations younger than the longest access
 * token matter: older ones are forgotten, which keeps this small.
 */
export class Revocations {
  private readonly families = new Map<string, number>();
  /** Autodesk ID → the user's last revocation: tokens of the sign-ins made before it are revoked. */
  private readonly users = new Map<string, { seq: number; at: number }>();
  /** The greatest seq read from the database; a revocation applied where it was made leaves it alone. */
  private cursor = 0;

  constructor(private readonly accessTtlMs: number) {}

  isRevoked(claims: Pick<IdTokenClaims, 'sub' | 'iat' | 'fam' | 'rev'>): boolean {
    if (this.families.size === 0 && this.users.size === 0) return false;
    if (claims.fam !== undefined && this.families.has(claims.fam)) return true;
    const user = this.users.get(claims.sub);
    if (user === undefined) return false;
    // By order: a sign-in made after the revocation carries its seq (services/tokens.ts), even in
    // the same millisecond. A token without one (an older gateway's) by its whole second, as before.
    return claims.rev !== undefined ? claims.rev < user.seq : claims.iat <= Math.floor(user.at / 1000);
  }

  apply(r: Revocation): void {
    const at = Date.parse(r.at);
    if (r.kind === 'family') {
      this.families.set(r.subject, at);
      return;
    }
    const known = this.users.get(r.subject);
    if (known === undefined || r.seq > known.seq) this.users.set(r.subject, { seq: r.seq, at });
  }

  async poll(db: Kysely<DB>, now: Date): Promise<void> {
    const since = now.getTime() - this.accessTtlMs - 60_000;
    for (const r of await revocationsAfter(db, this.cursor, new Date(since).toISOString())) {
      this.apply(r);
      this.cursor = Math.max(this.cursor, r.seq);
    }
    for (const [family, at] of this.families) if (at < since) this.families.delete(family);
    for (const [user, { at }] of this.users) if (at < since) this.users.delete(user);
  }
}
