import type { IdTokenClaims } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { revocationsAfter } from '../db/repos/refresh';
import type { DB } from '../db/schema';

/**
 * What every instance must refuse among access tokens it would otherwise accept from its cache of
 * verified tokens: signed-out families, users whose sessions an operator ended. Read from the
 * database every few seconds (and applied at once on the instance that revoked), so a revoked
 * token is refused everywhere within one poll. Only revocations younger than the longest access
 * token matter: older ones are forgotten, which keeps this small.
 */
export class Revocations {
  private readonly families = new Map<string, number>();
  /** Autodesk ID → tokens issued at or before this (seconds) are revoked. */
  private readonly users = new Map<string, number>();
  private seq = 0;

  constructor(private readonly accessTtlMs: number) {}

  isRevoked(claims: Pick<IdTokenClaims, 'sub' | 'iat' | 'fam'>): boolean {
    if (this.families.size === 0 && this.users.size === 0) return false;
    if (claims.fam !== undefined && this.families.has(claims.fam)) return true;
    const before = this.users.get(claims.sub);
    return before !== undefined && claims.iat <= before;
  }

  apply(r: { kind: 'family' | 'user'; subject: string; at: string; seq?: number }): void {
    const at = Date.parse(r.at);
    if (r.kind === 'family') this.families.set(r.subject, at);
    else this.users.set(r.subject, Math.max(this.users.get(r.subject) ?? 0, Math.floor(at / 1000)));
    if (r.seq !== undefined) this.seq = Math.max(this.seq, r.seq);
  }

  async poll(db: Kysely<DB>, now: Date): Promise<void> {
    const since = now.getTime() - this.accessTtlMs - 60_000;
    for (const r of await revocationsAfter(db, this.seq, new Date(since).toISOString())) this.apply(r);
    for (const [family, at] of this.families) if (at < since) this.families.delete(family);
    for (const [user, at] of this.users) if (at * 1000 < since) this.users.delete(user);
  }
}
