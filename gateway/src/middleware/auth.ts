import type { Context, MiddlewareHandler } from 'hono';
import { findAdminByKeyHash } from '../db/repos/teams';
import type { AuditOrigin } from '../domain/audit';
import { DomainError } from '../domain/errors';
import { secretMatcher, sha256 } from '../lib/secrets';
import { originOf } from '../services/audit';
import type { Actor, ServiceContext } from '../services/context';
import type { AppEnv } from './env';
import { type LimitOptions, peerAddress } from './rate-limit';

export type Principal =
  | { kind: 'operator' }
  | { kind: 'admin'; id: string; name: string; email: string; teams: string[] }
  | { kind: 'user'; autodeskId: string; family?: string | undefined };

const unauthorized = (why: string) => new DomainError('unauthorized', why);

/**
 * Reads the bearer credential once per request: the operator key, an admin key, or a user's ID token.
 * `keyFailures`: each wrong key from an address draws on its bucket, and an address whose bucket is
 * empty is refused before its key is compared. The operator key is chosen by a person (16 characters
 * at least), so it must not be guessable at the server's speed; a right key draws nothing. ID tokens
 * are signatures, not guessable: they are left to the per-user limits.
 */
export function authenticate(
  ctx: ServiceContext,
  keyFailures: Pick<LimitOptions, 'name' | 'buckets' | 'metrics'> | null,
): MiddlewareHandler<AppEnv> {
  const isOperatorKey = ctx.config.operatorKey ? secretMatcher(ctx.config.operatorKey) : () => false;
  const wrongKey = (c: Context<AppEnv>, why: string): DomainError => {
    keyFailures?.buckets.take(peerAddress(c));
    return unauthorized(why);
  };
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) {
      c.set('principal', null);
      return next();
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1] || match[1].length > 4096) throw unauthorized('Send credentials as "Authorization: Bearer <token>".');
    const token = match[1];
    if (token.split('.').length === 3) {
      const claims = await ctx.keys.verifyIdToken(token);
      c.set('principal', { kind: 'user', autodeskId: claims.sub, family: claims.fam });
      return next();
    }
    const wait = keyFailures?.buckets.wait(peerAddress(c)) ?? 0;
    if (wait > 0) {
      keyFailures?.metrics.rateLimited.inc({ limit: keyFailures.name });
      throw new DomainError('too-many-requests', `Too many wrong keys were sent from this address; retry in ${wait} s.`, {
        retryAfterSeconds: wait,
      });
    }
    if (isOperatorKey(token)) {
      c.set('principal', { kind: 'operator' });
    } else if (token.startsWith('fga_')) {
      const admin = await findAdminByKeyHash(ctx.db, sha256(token));
      if (!admin) throw wrongKey(c, 'Unknown admin key.');
      c.set('principal', { kind: 'admin', ...admin });
    } else {
      throw wrongKey(c, 'The bearer token is neither an admin key nor an ID token.');
    }
    return next();
  };
}

function principal(c: Context<AppEnv>): Principal {
  const p = c.get('principal');
  if (!p) throw unauthorized('This route needs "Authorization: Bearer <token>".');
  return p;
}

export function requireOperator(c: Context<AppEnv>): void {
  if (principal(c).kind !== 'operator') throw new DomainError('forbidden', 'Only the platform operator may do this.');
}

export function requireAnyone(c: Context<AppEnv>): Principal {
  return principal(c);
}

export function requireUser(c: Context<AppEnv>): string {
  const p = principal(c);
  if (p.kind !== 'user') throw new DomainError('forbidden', 'This route is for signed-in users (an ID token from POST /v1/signin).');
  return p.autodeskId;
}

/**
 * The operator may act on any team, an admin only on the teams it manages. The refusal is the
 * same whether or not the team exists, so an admin learns nothing about other teams.
 */
export function requireTeamAdmin(c: Context<AppEnv>, teamId: string): Actor {
  const p = principal(c);
  if (p.kind === 'operator') return { kind: 'operator' };
  if (p.kind === 'admin' && p.teams.includes(teamId)) return { kind: 'admin', id: p.id };
  throw new DomainError('forbidden', 'You do not manage this team.');
}

/** Who made this request and its id: what the audit trail records beside a change. */
export function originOfRequest(c: Context<AppEnv>, actor: Actor): AuditOrigin {
  return originOf(actor, c.get('requestId') ?? null);
}

/** The operator's origin, after `requireOperator`. */
export const operatorOrigin = (c: Context<AppEnv>): AuditOrigin => originOfRequest(c, { kind: 'operator' });

/** The signed-in user and the sign-in (refresh-token family) its access token belongs to. */
export function requireSignedIn(c: Context<AppEnv>): { autodeskId: string; family: string | undefined } {
  const p = principal(c);
  if (p.kind !== 'user') throw new DomainError('forbidden', 'This route is for signed-in users (an access token from POST /v1/signin).');
  return { autodeskId: p.autodeskId, family: p.family };
}

/** The operator, or the admin `adminId` itself. */
/** The admin making the request, as its key says (an admin key only). */
export function requireAdminSelf(c: Context<AppEnv>): { id: string; name: string; email: string; teams: string[] } {
  const p = principal(c);
  if (p.kind !== 'admin') throw new DomainError('forbidden', 'Only an admin key has an admin behind it.');
  return { id: p.id, name: p.name, email: p.email, teams: p.teams };
}

export function requireOperatorOrAdmin(c: Context<AppEnv>, adminId: string): Actor {
  const p = principal(c);
  if (p.kind === 'operator') return { kind: 'operator' };
  if (p.kind === 'admin' && p.id === adminId) return { kind: 'admin', id: p.id };
  throw new DomainError('forbidden', 'Only the operator or this admin itself may do this.');
}
