import { randomBytes } from 'node:crypto';
import {
  findRefreshToken,
  insertRefreshToken,
  insertRevocation,
  isRevoked,
  lastUserRevocation,
  lockSignIns,
  useRefreshToken,
} from '../db/repos/refresh';
import { inTransaction } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { conflict, DomainError } from '../domain/errors';
import { decideRefresh, REFRESH_TTL_MS } from '../domain/refresh';
import { addMs } from '../domain/time';
import { newId } from '../lib/ids';
import { sha256 } from '../lib/secrets';
import { audit } from './audit';
import type { ServiceContext } from './context';

/** What a sign-in and a refresh answer: a short-lived access token and the next refresh token. */
export interface Tokens {
  token: string;
  expiresAt: string;
  refreshToken: string;
  autodeskId: string;
}

const unauthorized = (why: string) => new DomainError('unauthorized', why);

function newRefreshSecret(): string {
  return `fgr_${randomBytes(32).toString('base64url')}`;
}

/**
 * A new sign-in: a new family. Its refresh token is stored as a hash only (256 random bits: no KDF
 * needed). It comes after the user's revocations committed so far, and before any other: the
 * family and its access tokens carry the last one's seq, which an operator's revocation compares
 * (not the clock, whose whole-second `iat` cannot tell a sign-in just after it from one just before).
 */
export async function issueTokens(ctx: ServiceContext, autodeskId: string): Promise<Tokens> {
  const family = newId('fam');
  const secret = newRefreshSecret();
  const after = await lastUserRevocation(ctx.db, autodeskId);
  const now = ctx.clock.now();
  await insertRefreshToken(ctx.db, {
    token_hash: sha256(secret),
    family,
    autodesk_id: autodeskId,
    created_at: now.toISOString(),
    expires_at: addMs(now, REFRESH_TTL_MS).toISOString(),
    used_at: null,
    signed_in_after: after,
  });
  const { token, expiresAt } = await ctx.keys.signIdToken(autodeskId, { family, after }, now);
  return { token, expiresAt: expiresAt.toISOString(), refreshToken: secret, autodeskId };
}

/** POST /v1/token/refresh: rotates the refresh token (domain/refresh.ts); a second use revokes the family. */
export async function refresh(ctx: ServiceContext, secret: string): Promise<Tokens> {
  const hash = sha256(secret);
  const now = ctx.clock.now();
  const row = await findRefreshToken(ctx.db, hash);
  const decision = decideRefresh(
    { token: row && { expiresAt: row.expires_at, usedAt: row.used_at, familyRevoked: row.familyRevoked } },
    now,
  );
  if (!row || decision === 'unknown') throw unauthorized('Unknown refresh token; sign in again.');
  switch (decision) {
    case 'expired':
      throw unauthorized(`This refresh token expired on ${row.expires_at} (30 days without use); sign in again.`);
    case 'revoked':
      throw unauthorized('This sign-in was ended (signed out or revoked); sign in again.');
    case 'raced':
      throw conflict('This refresh token was used by another request a moment ago; use the refresh token that request received.');
    case 'reused':
      await revokeFamily(ctx, row.family);
      throw unauthorized(
        'This refresh token was used before: a copy of it exists, so this sign-in is ended on every device; sign in again.',
      );
    case 'rotate':
      break;
  }
  const next = newRefreshSecret();
  // Under the user's lock, and read again: a revocation committed since the read above ends this
  // sign-in, and one made after this commits has a greater seq than the sign-in came after, so it
  // ends what this answers.
  const issued = await inTransaction(ctx.db, async (trx) => {
    await lockSignIns(trx, row.autodesk_id);
    if (await isRevoked(trx, row)) return 'revoked';
    const at = ctx.clock.now();
    if (!(await useRefreshToken(trx, hash, at.toISOString()))) return 'raced';
    await insertRefreshToken(trx, {
      token_hash: sha256(next),
      family: row.family,
      autodesk_id: row.autodesk_id,
      created_at: at.toISOString(),
      expires_at: addMs(at, REFRESH_TTL_MS).toISOString(),
      used_at: null,
      signed_in_after: row.signed_in_after,
    });
    return at;
  });
  if (issued === 'revoked') throw unauthorized('This sign-in was ended (signed out or revoked); sign in again.');
  if (issued === 'raced') {
    throw conflict('This refresh token was used by another request a moment ago; use the refresh token that request received.');
  }
  const { token, expiresAt } = await ctx.keys.signIdToken(row.autodesk_id, { family: row.family, after: row.signed_in_after }, issued);
  return { token, expiresAt: expiresAt.toISOString(), refreshToken: next, autodeskId: row.autodesk_id };
}

/** Ends one sign-in: its refresh tokens and its access tokens, on every instance within a poll. */
export async function revokeFamily(ctx: ServiceContext, family: string): Promise<void> {
  const r = { kind: 'family' as const, subject: family, at: ctx.clock.now().toISOString() };
  const seq = await insertRevocation(ctx.db, r);
  ctx.keys.revocations.apply({ ...r, seq });
}

/** An operator ends every sign-in of a user made until now, with their tokens; none made after it. */
export async function revokeUser(
  ctx: ServiceContext,
  autodeskId: string,
  origin: AuditOrigin,
): Promise<{ autodeskId: string; revokedAt: string }> {
  const r = await inTransaction(ctx.db, async (trx) => {
    await lockSignIns(trx, autodeskId);
    // Dated once the lock is held: after every refresh that committed before it.
    const revocation = { kind: 'user' as const, subject: autodeskId, at: ctx.clock.now().toISOString() };
    const seq = await insertRevocation(trx, revocation);
    await audit(trx, origin, revocation.at, {
      team: null,
      action: 'user.revoked',
      target: autodeskId,
      after: { revokedAt: revocation.at },
    });
    return { ...revocation, seq };
  });
  ctx.keys.revocations.apply(r);
  return { autodeskId, revokedAt: r.at };
}
