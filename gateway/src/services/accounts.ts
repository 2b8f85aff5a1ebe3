import { normalAutodeskId } from '@flexgate/shared';
import { type AccountRow, findAccount, insertAccount } from '../db/repos/accounts';
import { countFailure, delayUntil, forgetFailures, signInFailures } from '../db/repos/signin';
import { inTransaction } from '../db/tx';
import type { AuditOrigin } from '../domain/audit';
import { conflict, DomainError } from '../domain/errors';
import { delayAfter, FAILURE_MEMORY_MS, waitSeconds } from '../domain/signin';
import { addMs } from '../domain/time';
import { audit } from './audit';
import type { ServiceContext } from './context';
import { issueTokens, type Tokens } from './tokens';

export async function createAccount(
  ctx: ServiceContext,
  input: { autodeskId: string; name: string; password: string },
  origin: AuditOrigin,
): Promise<{ autodeskId: string; name: string; createdAt: string }> {
  const createdAt = ctx.clock.now().toISOString();
  const passwordHash = await ctx.passwords.hash(input.password);
  await inTransaction(ctx.db, async (trx) => {
    const created = await insertAccount(trx, { autodeskId: input.autodeskId, name: input.name, passwordHash, createdAt });
    if (!created) throw conflict(`An account for ${input.autodeskId} already exists.`);
    await audit(trx, origin, createdAt, { team: null, action: 'account.created', target: input.autodeskId, after: { name: input.name } });
  });
  return { autodeskId: input.autodeskId, name: input.name, createdAt };
}

/**
 * A sign-in. An unknown Autodesk ID still costs one scrypt, so the answer's timing does not tell
 * which accounts exist; repeated failures make the ID wait, on every instance (domain/signin.ts).
 */
export async function signIn(ctx: ServiceContext, input: { autodeskId: string; password: string }): Promise<Tokens> {
  const account = await checkPassword(ctx, input, 'Wrong Autodesk ID or password.');
  return issueTokens(ctx, account.autodeskId);
}

/**
 * The sign-in guard, the one way a person's password is checked: signing in, and accepting an
 * invitation for an existing account (services/invitations.ts), so that neither is a way round the
 * other's count. While the ID waits, 429 with no password checked; a wrong password (or an unknown
 * ID) counts a failure in the database and is a 401 saying `wrong`; a right one starts the count over.
 */
export async function checkPassword(
  ctx: ServiceContext,
  input: { autodeskId: string; password: string },
  wrong: string,
): Promise<AccountRow> {
  const subject = normalAutodeskId(input.autodeskId);
  const now = ctx.clock.now();
  const failed = await signInFailures(ctx.db, subject);
  const wait = waitSeconds(failed?.retryAt, now);
  if (wait > 0) {
    throw new DomainError('too-many-requests', `Too many failed sign-ins for ${input.autodeskId}; try again in ${wait} s.`, {
      retryAfterSeconds: wait,
    });
  }
  const account = await findAccount(ctx.db, input.autodeskId);
  const ok = account ? await ctx.passwords.verify(input.password, account.passwordHash) : await ctx.passwords.verifyNone(input.password);
  if (!account || !ok) {
    const at = ctx.clock.now();
    const failures = await countFailure(ctx.db, subject, at.toISOString(), addMs(at, -FAILURE_MEMORY_MS).toISOString());
    const delay = delayAfter(failures);
    if (delay > 0) await delayUntil(ctx.db, subject, addMs(at, delay).toISOString());
    throw new DomainError('unauthorized', wrong);
  }
  if (failed) await forgetFailures(ctx.db, subject);
  return account;
}
