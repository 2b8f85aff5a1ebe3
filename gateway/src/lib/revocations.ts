import type { IdTokenClaims } from '@flexgate/shared';
import type { Kysely } from 'kysely';
import { lastRevocationSeq, revocationsAfter } from '../db/repos/refresh';
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
  /**
   * Seqs below the cursor not read yet, and since when: on PostgreSQL a seq is taken at the insert
   * and seen at the commit, so a revocation may commit after a greater one was read. Asked for again
   * until read, or until no transaction can still hold it (a rolled-back insert leaves a hole).
   */
  private readonly holes = new Map<number, number>();
  private started = false;

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
    const rows = await revocationsAfter(db, this.cursor, [...this.holes.keys()], new Date(since).toISOString());
    for (const r of rows) {
      this.apply(r);
      this.holes.delete(r.seq);
      // Seqs skipped between the cursor and this one: in flight elsewhere, or never to be.
      if (this.started) for (let s = this.cursor + 1; s < r.seq && this.holes.size < MAX_HOLES; s++) this.holes.set(s, now.getTime());
      this.cursor = Math.max(this.cursor, r.seq);
    }
    // The first read counts from the last seq given so far (older ones are older than they need be).
    if (!this.started) this.cursor = Math.max(this.cursor, await lastRevocationSeq(db));
    this.started = true;
    for (const [seq, missed] of this.holes) if (missed < now.getTime() - HOLE_MS) this.holes.delete(seq);
    for (const [family, at] of this.families) if (at < since) this.families.delete(family);
    for (const [user, { at }] of this.users) if (at < since) this.users.delete(user);
  }
}

/** How long a seq not read is asked for again: longer than any transaction that revokes may stay open. */
const HOLE_MS = 60_000;
/** Holes tracked at most: a jump of the sequence (a server restart skips some) is not thousands of revocations. */
const MAX_HOLES = 1000;
